"""Which console to open, from plain inventory values (pure): :class:`ConsoleSpec`.

One transport per console (inventory ``console:``): ``tcp: host:port``, ``unix: /path``, ``command: argv...``
(a local command on a pty) or ``ssh: {host, command, port?, user?}`` (a command with a pty on the
hypervisor host, e.g. vm-bhyve's ``sudo vm console xdev``). Opening one is
:func:`agent.console.transports.open_console`.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, get_args

from agent.core.values import parse_host_port
from agent.errors import UsageError

ConsoleKind = Literal["tcp", "unix", "command", "ssh"]
CONSOLE_KINDS: tuple[ConsoleKind, ...] = get_args(ConsoleKind)

#: ``cu``/``tip`` leave on ``~.`` typed at the start of a line (the CR makes the line fresh).
CU_DETACH = "\r~."
#: ``virsh console`` leaves on Ctrl-].
VIRSH_DETACH = "\x1d"


def default_detach(argv: list[str]) -> str | None:
    """The detach sequence for a console command: ``cu`` (and vm-bhyve's ``vm console``) → ``\\r~.``,
    ``virsh console`` → Ctrl-], anything else → None."""
    words = [w.rsplit("/", 1)[-1] for w in argv]
    for i, word in enumerate(words):
        if word in ("cu", "tip"):
            return CU_DETACH
        nxt = words[i + 1] if i + 1 < len(words) else ""
        if word == "vm" and nxt == "console":
            return CU_DETACH
        if word == "virsh" and "console" in words[i + 1 :]:
            return VIRSH_DETACH
    return None


def _parse_host_port(target: str) -> tuple[str, int]:
    try:
        hp = parse_host_port(target)
    except ValueError as exc:
        raise UsageError(f"console tcp: {exc}") from None
    return hp.host, hp.port


@dataclass(frozen=True)
class ConsoleSpec:
    """One console transport, built from plain inventory values.

    ``kind`` is the transport and ``target`` its main value: ``host:port`` (tcp), a socket path (unix), a
    command line (command) or the command run on the hypervisor host (ssh). For ssh, ``host``/``port``/
    ``user`` name the hypervisor host the caller connects to. ``detach`` is what ``close()`` sends to let go
    of the console: None picks it from the command (see :func:`default_detach`), "" sends nothing.
    """

    kind: ConsoleKind
    target: str
    host: str | None = None
    port: int | None = None
    user: str | None = None
    detach: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in CONSOLE_KINDS:
            raise UsageError(f"unknown console transport {self.kind!r} (one of: {', '.join(CONSOLE_KINDS)})")
        if not self.target.strip():
            raise UsageError(f"console {self.kind}: empty value")
        if self.kind == "tcp":
            _parse_host_port(self.target)
        elif self.kind in ("command", "ssh"):
            try:
                argv = shlex.split(self.target)
            except ValueError as exc:
                raise UsageError(f"console {self.kind} command {self.target!r}: {exc}") from None
            if not argv:
                raise UsageError(f"console {self.kind}: empty command")
        if self.kind == "ssh":
            if not self.host:
                raise UsageError("console ssh: needs a host")
            if self.port is not None and not 0 < self.port < 65536:
                raise UsageError(f"console ssh: bad port {self.port}")
        elif self.host is not None or self.port is not None or self.user is not None:
            raise UsageError(f"console {self.kind}: host/port/user only apply to ssh")

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> ConsoleSpec:
        """Build from an inventory ``console:`` mapping holding exactly one transport key; other keys
        (``user``, ``password_env``, ...) are ignored."""
        kinds = [k for k in CONSOLE_KINDS if data.get(k) is not None]
        if len(kinds) != 1:
            found = ", ".join(kinds) if kinds else "none"
            raise UsageError(f"console: exactly one of {', '.join(CONSOLE_KINDS)} is needed (found: {found})")
        kind = kinds[0]
        value = data[kind]
        if kind != "ssh":
            if not isinstance(value, str):
                raise UsageError(f"console {kind}: expected a string, got {type(value).__name__}")
            return cls(kind=kind, target=value)
        if not isinstance(value, Mapping):
            raise UsageError("console ssh: expected a mapping {host, command, port?, user?}")
        unknown = sorted(set(value) - {"host", "command", "port", "user", "detach"})
        if unknown:
            raise UsageError(f"console ssh: unknown keys {', '.join(map(str, unknown))}")
        host, command, port = value.get("host"), value.get("command"), value.get("port")
        user, detach = value.get("user"), value.get("detach")
        if not isinstance(host, str) or not isinstance(command, str):
            raise UsageError("console ssh: host and command are required strings")
        if port is not None and (isinstance(port, bool) or not isinstance(port, int)):
            raise UsageError(f"console ssh: port must be an integer, got {port!r}")
        if user is not None and not isinstance(user, str):
            raise UsageError("console ssh: user must be a string")
        if detach is not None and not isinstance(detach, str):
            raise UsageError("console ssh: detach must be a string")
        return cls(kind="ssh", target=command, host=host, port=port, user=user, detach=detach)

    @property
    def argv(self) -> list[str]:
        """The command as an argument vector (command and ssh transports)."""
        return shlex.split(self.target)

    @property
    def tcp_address(self) -> tuple[str, int]:
        return _parse_host_port(self.target)

    @property
    def detach_sequence(self) -> str | None:
        if self.detach is not None:
            return self.detach or None
        if self.kind in ("command", "ssh"):
            return default_detach(self.argv)
        return None

    def describe(self) -> str:
        if self.kind == "ssh":
            user = f"{self.user}@" if self.user else ""
            port = f":{self.port}" if self.port else ""
            return f"ssh {user}{self.host}{port}: {self.target}"
        return f"{self.kind} {self.target}"
