"""The one command protocol every transport implements, after labgrid's ``CommandProtocol``.

SSH (:mod:`agent.transport.ssh`) and the serial console (:mod:`agent.console.commands`) both give a
task the same three things: run a script (as the login user or as root, with a timeout and optional
stdin), write a file, read a file. One result type. File contents travel on stdin (or the console's
checked base64 channel), never in a command line, where ``ps`` and sudo's log would show them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable


@dataclass(frozen=True)
class Result:
    """What one script did. ``stderr`` is empty where the transport cannot separate it (the console
    folds it into ``stdout``)."""

    status: int
    stdout: str
    stderr: str = ""
    seconds: float = field(default=0.0, compare=False)  # timing is not part of what a script did

    @property
    def ok(self) -> bool:
        return self.status == 0

    @property
    def output(self) -> str:
        """stdout and stderr together."""
        return self.stdout + self.stderr


@runtime_checkable
class CommandProtocol(Protocol):
    """A connected guest."""

    #: a short description for messages: "SSH admin@127.0.0.1:2222", "console tcp:127.0.0.1:4555"
    label: str
    #: remote commands run so far (the ``--json`` results report it)
    commands_run: int

    def run(
        self,
        script: str,
        *,
        root: bool = False,
        stdin: bytes | None = None,
        timeout: float | None = None,
    ) -> Result:
        """Run ``script`` with ``sh`` (as root with ``root=True``, through the one sudo path when the
        login user is not root); ``stdin`` is the script's standard input (else it reads nothing).
        Raises the transport's error when the connection is lost or ``timeout`` passes; a sudo refusal
        raises :class:`agent.transport.sudo.SudoError` (the script never ran)."""
        ...

    def write_file(self, path: str, data: bytes, *, mode: int = 0o600) -> None:
        """Write ``data`` to ``path`` as root, atomically (a temporary file renamed over it)."""
        ...

    def read_file(self, path: str) -> bytes:
        """The content of ``path``, read as root."""
        ...


@runtime_checkable
class BeginsRoot(Protocol):
    """A transport whose root shell can start in the background (SSH: sudo's PAM takes most of a second on
    a slow guest): ``begin_root`` sends sudo its password and returns; the first ``run(root=True)``
    waits for the shell (and raises sudo's refusal). Meanwhile ``run`` without root runs on its own
    channel, so what needs no root is read while sudo authenticates."""

    def begin_root(self) -> None: ...
