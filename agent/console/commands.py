"""The serial console as a :class:`agent.transport.protocol.CommandProtocol` (labgrid's CommandMixin).

Each script runs in a child ``sh`` (nothing in it, ``exec``, ``exit`` or ``cd``, touches the login
shell), its stderr folded into stdout. As root through the one sudo path (:mod:`agent.transport.sudo`,
``sudo -n``: nobody types a password into a sudo prompt on the console) when the console user is not
root. A script's stdin is staged in a private temporary file through the session's checked base64
channel, and so, once per login, is the shared part of each rendered script (its libraries and body);
files are written and read by the same scripts as over SSH (:mod:`agent.transport.file_transfer`),
except that a root console writes a file with the session's own checked channel (the same steps:
a private temporary file next to it, its sha256 checked, chmod, rename), one transfer instead of two.
"""

from __future__ import annotations

import shlex
import time
from collections.abc import Sequence

from agent.console.console_io import MAX_LINE, ConsoleTimeout
from agent.console.session import ConsoleSession, RunningCommand
from agent.core.script_render import split_shared
from agent.errors import ConsoleError, RemoteError
from agent.transport.file_transfer import decode_read, read_script, write_script
from agent.transport.protocol import Result
from agent.transport.sudo import shell_command, sudo_failure, wrap


class ConsoleCommands:
    """Commands through a logged-in :class:`ConsoleSession` (the session stays the caller's)."""

    def __init__(self, session: ConsoleSession, *, user: str, label: str) -> None:
        self.session = session
        self.user = user
        self.is_root = user == "root"
        self.label = f"console {label}"
        self.commands_run = 0
        self._staged = 0

    def run(
        self,
        script: str,
        *,
        root: bool = False,
        stdin: bytes | None = None,
        timeout: float | None = None,
    ) -> Result:
        self.commands_run += 1
        t0 = time.monotonic()
        script = self._sourcing_shared(script)
        # No password ever travels on the console, so a script without input of its own keeps the
        # console's terminal as stdin (``tty`` answers, as in a login shell) instead of /dev/null.
        command = self._command(script, root=root)
        staged = self._stage(stdin) if stdin is not None else None
        if staged is None:
            r = self.session.run(f"{command} 2>&1", timeout=timeout)
        else:
            q = shlex.quote(staged)
            r = self.session.run(
                f"{command} <{q} 2>&1; _gda_rc=$?; rm -f {q}; (exit $_gda_rc)", timeout=timeout
            )
        result = Result(r.status, r.stdout, seconds=time.monotonic() - t0)
        if root and not self.is_root:
            failure = sudo_failure(result.status, result.stdout, password_env=None, user=self.user)
            if failure is not None:
                raise failure
        return result

    def _sourcing_shared(self, script: str) -> str:
        """A rendered script with its shared part (libraries and body, the same at every rendering) staged
        once per login and sourced (``. FILE``): each script goes over the slow line once, and only its
        prelude at every run after. Any other text is returned as it is."""
        parts = split_shared(script)
        if parts is None or len(script) <= MAX_LINE // 2:
            return script
        head, shared = parts
        [path] = self.session.stage_once(shared.encode())
        return head + f". {shlex.quote(path)}\n"

    def preload(self, scripts: Sequence[str]) -> None:
        """Stage the shared parts of the rendered ``scripts`` the task is about to run, all in one
        transfer (one decode and check on the guest instead of one per script)."""
        shared = [parts[1].encode() for s in scripts if (parts := split_shared(s)) is not None]
        if shared:
            self.session.stage_once(*shared)

    def _stage(self, data: bytes) -> str:
        """``data`` in a private file of the console user's (mode 0600), for a script's stdin."""
        self._staged += 1
        path = f"/tmp/.gda-stdin-{self.session.nonce}-{self._staged}"
        self.session.write_file(path, data, mode=0o600)
        return path

    def write_file(self, path: str, data: bytes, *, mode: int = 0o600) -> None:
        if self.is_root:  # the session's own checked channel writes the same way (temp, sha256, chmod, mv)
            self.commands_run += 1
            try:
                self.session.write_file(path, data, mode=mode)
            except ConsoleError as e:
                raise RemoteError(f"could not write {path} on the guest: {e.message}") from None
            return
        r = self.run(write_script(path, data, mode=mode), root=True, stdin=data, timeout=120)
        if not r.ok:
            raise RemoteError(f"could not write {path} on the guest: {r.output.strip()[-400:]}")

    def write_files_then_run(
        self, files: Sequence[tuple[str, bytes, int]], script: str, *, timeout: float | None = None
    ) -> Result:
        """Write ``files`` (path, data, mode), then run ``script`` as root once they are all in place:
        on a root console the last chunk, the files' decode and check, and the script are ONE typed
        line (one round trip fewer); otherwise :meth:`write_file` each, then :meth:`run`."""
        if not self.is_root:
            for path, data, mode in files:
                self.write_file(path, data, mode=mode)
            return self.run(script, root=True, timeout=timeout)
        self.commands_run += 2
        t0 = time.monotonic()
        command = self._command(self._sourcing_shared(script), root=True)
        try:
            r = self.session.write_files(files, then=f"{command} 2>&1", timeout=timeout)
        except ConsoleTimeout:
            raise  # the line (the script, perhaps) did not end: not a write that failed
        except ConsoleError as e:
            raise RemoteError(
                f"could not write {', '.join(p for p, _d, _m in files)} on the guest: {e.message}"
            ) from None
        return Result(r.status, r.stdout, seconds=time.monotonic() - t0)

    def read_file(self, path: str) -> bytes:
        return decode_read(self.run(read_script(path), root=True, timeout=120).stdout, path)

    def release(self) -> None:
        """The task needs the console no more: log out in the background (see
        :meth:`ConsoleSession.logout_soon`) while it finishes over SSH."""
        self.session.logout_soon()

    def start(self, script: str, *, root: bool = False) -> RunningCommand:
        """Start ``script`` in the foreground of the console (``netplan try``: it talks to the terminal)."""
        self.commands_run += 1
        return self.session.start(self._command(script, root=root))

    def _command(self, script: str, *, root: bool) -> str:
        """The command line that runs ``script`` in a child shell, as root (through the one sudo path, when
        the console user is not root) or as the console user; its stdin is the console's terminal."""
        if root:
            return wrap(script, remote_user_is_root=self.is_root, password=None, stdin=b"").command
        return shell_command(script, reads_stdin=True)
