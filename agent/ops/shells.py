"""A root shell on the guest, over SSH or the serial console: the two ways fix-netplan acts."""

from __future__ import annotations

import base64
import contextlib
import shlex
from collections.abc import Iterator
from typing import IO, Protocol

from agent.console.links import ConsoleSpec, open_console
from agent.console.session import ConsoleSession
from agent.errors import ConsoleError, RemoteError, UsageError
from agent.inventory import ConsoleSettings
from agent.remote.ssh import SshSession, SshTarget


class RootShell(Protocol):
    label: str

    def sh(self, script: str, timeout: float | None = None) -> tuple[int, str]:
        """Run ``script`` as root; exit status and output (stdout and stderr)."""
        ...

    def write_file(self, path: str, data: bytes, mode: int) -> None: ...


class SshShell:
    def __init__(self, session: SshSession) -> None:
        self.session = session
        self.label = f"SSH {session.label}"

    def sh(self, script: str, timeout: float | None = None) -> tuple[int, str]:
        r = self.session.run_as_root(script, timeout=timeout)
        return r.exit_code, r.stdout + r.stderr

    def write_file(self, path: str, data: bytes, mode: int) -> None:
        q = shlex.quote
        tmp = f"{path}.gda-new"
        b64 = base64.b64encode(data).decode()
        rc, out = self.sh(
            f"umask 077; printf %s {q(b64)} | base64 -d > {q(tmp)} && chmod {mode:04o} {q(tmp)} "
            f"&& mv -f {q(tmp)} {q(path)}"
        )
        if rc != 0:
            raise RemoteError(f"could not write {path} on the guest: {out.strip()}")


class ConsoleShell:
    def __init__(self, session: ConsoleSession, *, user: str, label: str) -> None:
        self.session = session
        self.root = user == "root"
        self.label = f"console {label}"

    def sh(self, script: str, timeout: float | None = None) -> tuple[int, str]:
        # A child shell, so that nothing in the script (exec, exit, cd) touches the login shell.
        sudo = "" if self.root else "sudo -n "
        r = self.session.run(f"{sudo}sh -c {shlex.quote(script)} 2>&1", timeout=timeout)
        return r.exit_status, r.output

    def write_file(self, path: str, data: bytes, mode: int) -> None:
        if not self.root:
            raise ConsoleError(
                "writing files through the console needs the console user to be root",
                hint="set console: user: root in inventory.yaml",
            )
        self.session.write_file(path, data, mode)


def console_spec(console: ConsoleSettings) -> ConsoleSpec:
    if console.ssh is not None:
        s = console.ssh
        return ConsoleSpec(kind="ssh", target=s.command, host=s.host, port=s.port, user=s.user)
    if console.tcp is not None:
        return ConsoleSpec(kind="tcp", target=str(console.tcp))
    if console.unix is not None:
        return ConsoleSpec(kind="unix", target=str(console.unix))
    assert console.command is not None
    return ConsoleSpec(kind="command", target=console.command)


@contextlib.contextmanager
def console_shell(
    console: ConsoleSettings | None,
    password: str | None,
    *,
    transcript: IO[str] | None,
    accept_new_host_key: bool,
) -> Iterator[ConsoleShell]:
    """Log in on the guest's serial console; log out (and detach) when done, also on error."""
    if console is None:
        raise UsageError(
            "the guest has no console: in inventory.yaml",
            hint="add console: {tcp: HOST:PORT} (or unix/command/ssh), user and password_env",
        )
    spec = console_spec(console)
    with contextlib.ExitStack() as stack:
        client = None
        if console.ssh is not None:
            s = console.ssh
            hv = SshSession(
                SshTarget(
                    host=s.host,
                    port=s.port,
                    user=s.user,
                    identity_file=s.identity_file,
                    known_hosts=s.known_hosts,
                ),
                accept_new_host_key=accept_new_host_key,
            )
            stack.enter_context(hv)
            client = hv.conn.client
        spawn = open_console(spec, ssh_client=client)
        stack.callback(spawn.close)
        session = ConsoleSession(
            spawn, transcript=transcript, secrets=[password] if password else [], command_timeout=120
        )
        stack.enter_context(session)
        session.login(console.user, password)
        yield ConsoleShell(session, user=console.user, label=spec.describe())
