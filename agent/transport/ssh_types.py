"""What the SSH transport's callers name: where to connect (:class:`SshTarget`) and the failures they act
on (unreachable: retriable, exit 4; a timeout; an authentication refusal: never retried). Loads no
paramiko."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from agent.errors import RemoteError, Unreachable


class SshUnreachable(Unreachable):
    """Connection refused, timed out, lost, or no SSH banner: worth retrying while a guest comes up."""

    #: what the command had printed on stdout before the connection was lost (a command that did start)
    partial_stdout: str = ""


class SshTimeout(RemoteError):
    """A remote command did not finish in time (the connection may be stalled)."""

    #: what the command had printed on stdout before the time ran out
    partial_stdout: str = ""


def with_partial(error: SshUnreachable | SshTimeout, out: bytes | bytearray) -> SshUnreachable | SshTimeout:
    """``error`` carrying the stdout received so far (the caller may read how far the command got)."""
    error.partial_stdout = bytes(out).decode("utf-8", "replace")
    return error


class SshAuthError(RemoteError):
    """The server refused our credentials. Never retried."""


@dataclass(frozen=True)
class SshTarget:
    """Where and as whom to connect. Unset fields come from ~/.ssh/config, then defaults."""

    host: str
    port: int | None = None
    user: str | None = None
    identity_file: Path | None = None
    known_hosts: Path | None = None
    connect_timeout: float = 10.0
