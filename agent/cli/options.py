"""Options: help, an explicit short flag, and a type that validates the value.

invoke picks short flags itself (the first free letter of the name, even ``-`` of ``vm-name``, which
gave ``--=STRING``; and ``-h`` for ``--host-compat``, which broke ``format -h``). :class:`GdaTask` takes
them from :class:`Opt` instead: no short flag unless one is given, never ``-h`` (help) or ``-V``, and two
options of a task never share one (nor a long name: ``aliases`` are more long names of one option).

A bad value (``--fs btrfs``) is found by the option's type while parsing, and raised as a
:class:`~agent.errors.UsageError` (exit 2) when the task starts, so the task's ``--json`` applies to it,
under ``gda`` and under ``invoke`` alike.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from invoke.parser.argument import Argument
from invoke.tasks import Task

from agent.core.values import parse_size
from agent.errors import UsageError
from agent.hints import opt

Check = Callable[[str], Any]

RESERVED_SHORT = frozenset("hV")
"""Short flags a task may not take: ``-h`` is help on every task, ``-V`` the version."""


@dataclass(frozen=True)
class Opt:
    """One task option: ``help``, an optional ``short`` flag (one letter), a ``check`` that turns the
    text into the value or raises ``ValueError`` / :class:`UsageError` (``None``: the text as is),
    ``aliases``: more long names (dashed, e.g. ``host-port`` for ``port``) for the same option, and
    ``repeat``: the option may be given several times (``-g a -g b``); the task gets the list (``[]`` when
    not given), each value checked. invoke's ``iterable=[...]`` task argument means the same."""

    help: str
    short: str | None = None
    check: Check | None = None
    aliases: tuple[str, ...] = ()
    repeat: bool = False


# ---------------------------------------------------------------------------------------------------
# value types


def choice(*values: str) -> Check:
    """One of ``values``."""

    def check(text: str) -> str:
        if text not in values:
            raise ValueError(f"takes {' or '.join(values)}, not {text!r}")
        return text

    check.__name__ = "|".join(values)
    return check


def port(text: str) -> int:
    """A TCP port, 1..65535."""
    n = int(text)
    if not 1 <= n <= 65535:
        raise ValueError(f"is a TCP port (1..65535), not {text}")
    return n


def pci_slot(text: str) -> int:
    """A PCI slot number of the lab's bus, 3..31."""
    n = int(text)
    if not 3 <= n <= 31:
        raise ValueError(f"is a PCI slot 3..31, not {text}")
    return n


def nic_count(text: str) -> int:
    """A number of NICs in one PCI slot (its functions), 1..8."""
    n = int(text)
    if not 1 <= n <= 8:
        raise ValueError(f"is a number of NICs in one slot (1..8), not {text}")
    return n


def seconds(text: str) -> float:
    """A positive number of seconds."""
    s = float(text)
    if not s > 0:
        raise ValueError(f"is a positive number of seconds, not {text}")
    return s


def local_path(text: str) -> Path:
    """A path on this machine (``~`` expanded); it need not exist (a known_hosts file to create)."""
    if not text:
        raise ValueError("takes a path, not an empty string")
    return Path(text).expanduser()


def existing_file(text: str) -> Path:
    """A file on this machine that exists (``~`` expanded), such as an SSH private key."""
    path = local_path(text)
    if not path.is_file():
        why = "not a file" if path.exists() else "missing"
        raise ValueError(f"takes an existing file; {path} is {why}")
    return path


FORKS_MAX = 100


def forks(text: str) -> int:
    """How many guests run at once, 1..100."""
    n = int(text)
    if not 1 <= n <= FORKS_MAX:
        raise ValueError(f"takes a number of guests at once, 1..{FORKS_MAX}, not {text}")
    return n


def size(text: str) -> str:
    """A size such as 4G or 512MiB (kept as text; checked with :func:`agent.core.values.parse_size`)."""
    parse_size(text)
    return text


_INT_CHECKS = (port, pci_slot, nic_count, forks)

# ---------------------------------------------------------------------------------------------------
# parsing


@dataclass(frozen=True)
class Invalid:
    """The value of an option whose text its type refused: the task raises ``error`` when it starts."""

    error: UsageError


def first_invalid(values: Iterable[object]) -> UsageError | None:
    return next((v.error for v in values if isinstance(v, Invalid)), None)


class CheckedArgument(Argument):  # type: ignore[misc]
    """An invoke argument whose value goes through ``check``; a refusal is kept as :class:`Invalid`.
    With ``kind=list`` (a repeatable option: invoke collects every occurrence) each value given is
    checked, and the first refusal stands for the whole option."""

    def __init__(self, *, check: Check | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.check = check

    def set_value(self, value: Any, cast: bool = True) -> None:
        if isinstance(self._value, Invalid):
            return  # a repeated option already refused: its first refusal stands
        try:
            super().set_value(value, cast=cast)
            if self.check is None or not cast or self._value is None:
                return
            if self.kind is list:
                self._value[-1] = self.check(self._value[-1])
            else:
                self._value = self.check(self._value)
        except UsageError as e:
            self._value = Invalid(e)
        except ValueError as e:
            self._value = Invalid(UsageError(f"{opt(str(self.attr_name or self.name))} {_reason(e)}"))


def _reason(e: ValueError) -> str:
    text = str(e)
    if text.startswith(("invalid literal", "could not convert")):
        return "takes a number, not " + text.rsplit(":", 1)[-1].strip()
    return text


class GdaTask(Task):  # type: ignore[misc,type-arg]
    """An invoke task whose options come from :class:`Opt`: explicit short flags, typed values."""

    def __init__(self, body: Callable[..., Any], *, opts: Mapping[str, Opt] | None = None, **kwargs: Any):
        self.opts = dict(opts or {})
        kwargs.setdefault("help", {name.replace("_", "-"): o.help for name, o in self.opts.items()})
        kwargs["auto_shortflags"] = False
        super().__init__(body, **kwargs)
        params = set(self.argspec(body).parameters)
        unknown = set(self.opts) - params
        if unknown:
            raise TypeError(f"{body.__name__}: options for missing parameters: {sorted(unknown)}")
        shorts = [o.short for o in self.opts.values() if o.short]
        if len(shorts) != len(set(shorts)) or RESERVED_SHORT & set(shorts):
            raise TypeError(f"{body.__name__}: short flags collide or are reserved: {shorts}")
        longs = [p.replace("_", "-") for p in params] + [a for o in self.opts.values() for a in o.aliases]
        if len(longs) != len(set(longs)) or any(len(a) < 2 for o in self.opts.values() for a in o.aliases):
            raise TypeError(f"{body.__name__}: long option names collide: {sorted(longs)}")

    def get_arguments(self, ignore_unknown_help: bool | None = None) -> list[Argument]:
        help = dict(self.help)
        args: list[Argument] = []
        for param in self.argspec(self.body).parameters.values():
            o = self.opts.get(param.name)
            dashed = param.name.replace("_", "-")
            names = [dashed, *(o.aliases if o else ()), *([o.short] if o and o.short else [])]
            kwargs: dict[str, Any] = {
                "names": names,
                "attr_name": param.name if "_" in param.name else None,
                "help": help.pop(dashed, None) or help.pop(param.name, None),
                "positional": param.name in self.positional,
            }
            default = param.default
            if o is not None and o.check in _INT_CHECKS:
                kwargs["kind"] = int  # shown as INT in the help
            if default is not inspect.Parameter.empty:
                kwargs["default"] = default
                if default is not None:
                    kwargs["kind"] = type(default) if isinstance(default, bool | int) else str
            if (o is not None and o.repeat) or param.name in self.iterable:
                kwargs["kind"], kwargs["default"] = list, []  # shown without a value in the help
            args.append(CheckedArgument(check=o.check if o else None, **kwargs))
        if help and not ignore_unknown_help:
            raise ValueError(f"help for missing parameters: {sorted(help)}")
        return args
