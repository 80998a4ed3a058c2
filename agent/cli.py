"""What the user sees: messages on stderr, results on stdout, and no traceback for expected errors."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from typing import Any, TypeVar

from invoke.exceptions import Exit
from rich.console import Console
from rich.markup import escape

from agent.errors import AgentError, Refused

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

F = TypeVar("F", bound=Callable[..., Any])


def info(msg: str) -> None:
    err.print(msg, markup=False)


def fail(e: AgentError) -> Exit:
    head, *rest = e.message.split("\n", 1)
    kind = "refused" if isinstance(e, Refused) else "error"
    err.print(f"[bold red]{kind}:[/bold red] {escape(head)}")
    if rest:
        err.print(rest[0], markup=False)
    if e.hint:
        err.print(f"[cyan]hint:[/cyan] {escape(e.hint)}")
    return Exit(code=e.exit_code)


def print_json(data: object) -> None:
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")


def guarded(fn: F) -> F:
    """Turn AgentError (and Ctrl-C) into a message and an exit code instead of a traceback."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except AgentError as e:
            raise fail(e) from None
        except KeyboardInterrupt:
            err.print("[red]interrupted[/red]")
            raise Exit(code=130) from None

    return wrapper  # type: ignore[return-value]


_SEVERITY_STYLE = {"ERROR": "bold red", "WARNING": "yellow", "INFO": "cyan"}


def render_findings(report: Any, *, origin: str) -> None:
    """Print a vm-bhyve config report, severities in colour."""
    from agent.core.vmfindings import render_report

    out.print(f"[bold]{escape(origin)}[/bold]")
    for line in render_report(report):
        word = line.split(" ", 1)[0]
        style = _SEVERITY_STYLE.get(word)
        if style:
            out.print(f"[{style}]{word}[/{style}]{escape(line[len(word) :])}")
        else:
            out.print(line, markup=False)
