"""From an inventory guest to a connected transport, built once per task.

A :class:`Connector` holds what every (re)connection needs: the guest, the sudo password (resolved once:
from ``$<sudo_password_env>``, else a prompt on a terminal) and whether an unknown host key may be
accepted. A task that loses SSH on purpose (fix-netplan's apply) calls :meth:`Connector.wait_for_ssh`
without prompting again or passing the guest around.

A serial console takes one client at a time: in a fleet run two guests whose inventory names the same
console endpoint (:func:`console_endpoint`) never have it open at once; the second waits its turn
(:func:`console_lock`).
"""

from __future__ import annotations

import contextlib
import getpass
import os
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from tenacity import retry, retry_if_exception_type, stop_after_delay, wait_exponential

from agent.errors import UsageError
from agent.inventory import DEFAULT_INVENTORY, ConsoleSettings, Guest, load_inventory, resolve_secret
from agent.transport import early_open
from agent.transport.ssh import SshSession, SshTarget, SshUnreachable

if TYPE_CHECKING:  # the console modules (pexpect) load only for a task that opens a console
    from agent.console.commands import ConsoleCommands
    from agent.console.transports import ConsoleSpec


def load_guest(inventory: str | None, guest: str | None) -> tuple[str, Guest]:
    """The chosen guest from the inventory file (default ./inventory.yaml) and the guest's name."""
    return load_inventory(Path(inventory) if inventory else DEFAULT_INVENTORY).choose(guest)


def _prompt() -> Callable[[str], str] | None:
    return getpass.getpass if sys.stdin.isatty() else None


def resolve_sudo_password(guest: Guest) -> str | None:
    """The sudo password from ``$<sudo_password_env>``, else a prompt on a terminal, else None (sudo -n).

    A guest whose inventory names no variable is assumed to have NOPASSWD sudo (or to be root).
    """
    if not guest.sudo_password_env:
        return None
    return resolve_secret(
        guest.sudo_password_env,
        what=f"sudo password (${guest.sudo_password_env})",
        env=os.environ,
        prompt=_prompt(),
    )


def resolve_console_password(guest: Guest) -> str | None:
    env_name = guest.console.password_env if guest.console else None
    return resolve_secret(
        env_name,
        what="console password" + (f" (${env_name})" if env_name else ""),
        env=os.environ,
        prompt=_prompt(),
    )


def ssh_target(guest: Guest, *, connect_timeout: float = 10.0) -> SshTarget:
    return SshTarget(
        host=guest.host,
        port=guest.port,
        user=guest.user,
        identity_file=guest.identity_file,
        known_hosts=guest.known_hosts,
        connect_timeout=connect_timeout,
    )


def console_spec(console: ConsoleSettings) -> ConsoleSpec:
    from agent.console.transports import ConsoleSpec

    if console.ssh is not None:
        s = console.ssh
        return ConsoleSpec(kind="ssh", target=s.command, host=s.host, port=s.port, user=s.user)
    if console.tcp is not None:
        return ConsoleSpec(kind="tcp", target=str(console.tcp))
    if console.unix is not None:
        return ConsoleSpec(kind="unix", target=str(console.unix))
    assert console.command is not None
    return ConsoleSpec(kind="command", target=console.command)


ConsoleEndpoint = tuple[str, ...]


def console_endpoint(console: ConsoleSettings) -> ConsoleEndpoint:
    """What identifies the console itself: its kind and target (the TCP address, the socket path, the
    command), plus, for an SSH console, the host and port it runs on."""
    spec = console_spec(console)
    if spec.kind == "ssh":
        return (spec.kind, str(spec.host), str(spec.port), spec.target)
    return (spec.kind, spec.target)


_CONSOLE_LOCKS: dict[ConsoleEndpoint, threading.Lock] = {}
_CONSOLE_LOCKS_GUARD = threading.Lock()


@contextlib.contextmanager
def console_lock(endpoint: ConsoleEndpoint) -> Iterator[None]:
    """Hold ``endpoint`` for this thread: another thread of the process waits until it is released."""
    with _CONSOLE_LOCKS_GUARD:
        lock = _CONSOLE_LOCKS.setdefault(endpoint, threading.Lock())
    with lock:
        yield


def console_session_options(console: ConsoleSettings) -> dict[str, Any]:
    """The inventory's console settings as :class:`ConsoleSession` keyword arguments: the extra prompt
    regexes and the timeouts."""
    from agent.console.login_states import ConsolePrompts

    return {
        "prompts": ConsolePrompts(
            login=console.login_prompt,
            password=console.password_prompt,
            login_incorrect=console.login_incorrect,
            shell=console.shell_prompt,
        ),
        "prompt_timeout": console.prompt_timeout,
        "command_timeout": console.command_timeout,
        "login_timeout": console.login_timeout,
    }


class _Ask:
    """Marker: resolve the sudo password when the Connector is built."""


ASK = _Ask()


class Connector:
    """Everything needed to reach one guest, resolved once: ``.ssh()``, ``.wait_for_ssh()``,
    ``.console()``."""

    def __init__(
        self,
        guest: Guest,
        *,
        accept_new_host_key: bool = False,
        sudo_password: str | _Ask | None = ASK,
        console_password: str | _Ask | None = ASK,
    ) -> None:
        self.guest = guest
        self.accept_new_host_key = accept_new_host_key
        self._sudo_password = (
            resolve_sudo_password(guest) if isinstance(sudo_password, _Ask) else sudo_password
        )
        self._console_password = console_password

    @classmethod
    def from_inventory(
        cls, inventory: str | None, guest: str | None, *, accept_new_host_key: bool = False
    ) -> tuple[str, Connector]:
        name, g = load_guest(inventory, guest)
        return name, cls(g, accept_new_host_key=accept_new_host_key)

    # ------------------------------------------------------------------------------------ SSH

    def ssh(self, *, connect_timeout: float = 10.0) -> SshSession:
        """An unopened session (use ``with``): one SSH connection for the whole task. The first may be the
        one the program began while it loaded, when it is for this very target
        (:mod:`agent.transport.early_open`): opening it waits for its outcome."""
        target = ssh_target(self.guest, connect_timeout=connect_timeout)
        early = early_open.claim(target, accept_new_host_key=self.accept_new_host_key)
        if early is not None:
            early.use_sudo_password(self._sudo_password, self.guest.sudo_password_env)
            return early
        return SshSession(
            target,
            accept_new_host_key=self.accept_new_host_key,
            sudo_password=self._sudo_password,
            sudo_password_env=self.guest.sudo_password_env,
        )

    def wait_for_ssh(self, deadline: float, *, connect_timeout: float = 4.0) -> SshSession:
        """An open session once SSH answers, polled with a short exponential backoff for ``deadline``
        seconds. Unreachable is retried; a host key or authentication failure is not."""

        @retry(
            retry=retry_if_exception_type(SshUnreachable),
            wait=wait_exponential(multiplier=0.25, min=0.25, max=3),
            stop=stop_after_delay(deadline),
            reraise=True,
        )
        def attempt() -> SshSession:
            return self.ssh(connect_timeout=connect_timeout).open()

        return attempt()

    # ------------------------------------------------------------------------------------ console

    def console_password(self) -> str | None:
        if isinstance(self._console_password, _Ask):
            self._console_password = resolve_console_password(self.guest)
        return self._console_password

    @contextlib.contextmanager
    def console(self, *, transcript: IO[str] | None = None) -> Iterator[ConsoleCommands]:
        """Log in on the guest's serial console; log out (and detach) when done, also on error."""
        console = self.guest.console
        if console is None:
            raise UsageError(
                "the guest has no console: in inventory.yaml",
                hint="add console: {tcp: HOST:PORT} (or unix/command/ssh), user and password_env",
            )
        from agent.console.commands import ConsoleCommands
        from agent.console.session import ConsoleSession
        from agent.console.transports import open_console

        password = self.console_password()
        spec = console_spec(console)
        with contextlib.ExitStack() as stack:
            stack.enter_context(console_lock(console_endpoint(console)))
            client = None
            if console.ssh is not None:
                s = console.ssh
                target = SshTarget(
                    host=s.host,
                    port=s.port,
                    user=s.user,
                    identity_file=s.identity_file,
                    known_hosts=s.known_hosts,
                )
                hv = stack.enter_context(SshSession(target, accept_new_host_key=self.accept_new_host_key))
                client = hv.client
            spawn = open_console(spec, ssh_client=client)
            stack.callback(spawn.close)
            session = ConsoleSession(
                spawn,
                transcript=transcript,
                secrets=[password] if password else [],
                **console_session_options(console),
            )
            stack.enter_context(session)
            session.login(console.user, password)
            yield ConsoleCommands(session, user=console.user, label=spec.describe())
