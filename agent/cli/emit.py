"""What the user sees: messages on stderr, results on stdout, no traceback ever.

* ``emit(result, json=...)``: a task's result as JSON (``{"ok": true, ...}``) or as its human rendering;
* ``report_failure(exc, json=...)``: any exception as a message (or ``{"ok": false, "error": {...}}`` on
  stdout with ``--json``) and its exit code from :class:`agent.errors.ExitCode`: an
  :class:`~agent.errors.AgentError` its own, Ctrl-C 130, anything else one line naming a bug, 70 (a
  closed stdout pipe, ``gda ... | head``, ends quietly with 0).

Every text printed goes through :func:`agent.hints.render_options` (``{opt:force}`` → ``--force``), and
through :func:`agent.core.guest_text.clean` (:class:`~agent.cli.safe_console.SafeConsole`): no control
character reaches the terminal raw. JSON output escapes them itself (``\\u001b``). The consoles ``out``
(stdout) and ``err`` (stderr) are made on first use, so a ``--json`` run never loads rich.
"""

from __future__ import annotations

import contextlib
import json as jsonlib
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import agent
from agent.errors import AgentError, ExitCode, Refused
from agent.hints import render_options

if TYPE_CHECKING:
    from agent.cli.safe_console import SafeConsole

    out: SafeConsole
    err: SafeConsole


def _console(name: str) -> SafeConsole:
    """The console ``out`` or ``err`` (a module global once made), made and rich loaded on first use."""
    console: SafeConsole | None = globals().get(name)
    if console is None:
        from agent.cli import safe_console

        console = safe_console.stdout_console() if name == "out" else safe_console.stderr_console()
        globals()[name] = console
    return console


def __getattr__(name: str) -> Any:  # PEP 562: ``emit.out`` and ``from agent.cli.emit import err``
    if name in ("out", "err"):
        return _console(name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def escape(text: str) -> str:
    """``text`` escaped for rich markup (:func:`rich.markup.escape`; rich loaded on first use)."""
    from rich.markup import escape

    return escape(text)


def info(msg: str) -> None:
    """A progress message (stderr)."""
    _console("err").print(render_options(msg), markup=False)


def say(msg: str) -> None:
    """A plain line of a human result (stdout), options rendered."""
    _console("out").print(render_options(msg), markup=False)


def rendered(data: Any) -> Any:
    """``data`` with ``{opt:name}`` rendered in every string (dict keys stay)."""
    if isinstance(data, str):
        return render_options(data)
    if isinstance(data, Mapping):
        return {k: rendered(v) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [rendered(v) for v in data]
    return data


def print_json(data: object) -> None:
    sys.stdout.write(jsonlib.dumps(rendered(data), indent=2, sort_keys=True, default=str) + "\n")
    sys.stdout.flush()


@dataclass(frozen=True)
class Result:
    """A task's result: ``data`` for ``--json`` (a dict; ``"ok": true`` is added unless it says), ``human``
    prints it for people; ``exit_code`` when the result itself is not a clean 0 (check-vm-config's
    findings)."""

    data: Mapping[str, object]
    human: Callable[[], None] = field(default=lambda: None)
    exit_code: int = ExitCode.OK


def emit(result: Result, *, json: bool) -> int:
    """Print ``result``; return its exit code."""
    if json:
        print_json({"ok": True, **result.data})
    else:
        result.human()
    return int(result.exit_code)


# ---------------------------------------------------------------------------------------------------
# failures


def _bug_message(e: BaseException) -> str:
    first = str(e).strip().splitlines()[0] if str(e).strip() else ""
    what = type(e).__name__ + (f": {first}" if first else "")
    return f"bug in guest-disk-agent {agent.__version__}: {what} (please report it)"


def _error_json(kind: str, message: str, hint: str | None, code: int) -> dict[str, object]:
    return {"ok": False, "error": {"kind": kind, "message": message, "hint": hint, "exit_code": code}}


def report_failure(e: BaseException, *, json: bool) -> int:
    """Show ``e`` the one way (message on stderr; JSON on stdout with ``json``); return its exit code."""
    if isinstance(e, AgentError):
        code = int(e.exit_code)
        if json:
            print_json({"ok": False, "error": e.to_json()})
        head, *rest = render_options(e.message).split("\n", 1)
        word = "refused" if isinstance(e, Refused) else "error"
        err = _console("err")
        err.print(f"[bold red]{word}:[/bold red] {escape(head)}")
        if rest:
            err.print(rest[0], markup=False)
        if e.hint:
            err.print(f"[cyan]hint:[/cyan] {escape(render_options(e.hint))}")
        return code
    if isinstance(e, BrokenPipeError):  # the reader went away (``gda ... | head``): nothing to tell anyone
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return int(ExitCode.OK)
    if isinstance(e, KeyboardInterrupt):
        if json:
            print_json(_error_json("interrupted", "interrupted", None, ExitCode.INTERRUPTED))
        _console("err").print("[red]interrupted[/red]")
        return int(ExitCode.INTERRUPTED)
    message = _bug_message(e)
    if json:
        print_json(_error_json("bug", message, None, ExitCode.BUG))
    _console("err").print(message, markup=False)
    return int(ExitCode.BUG)
