"""From inventory to a connected guest: load and choose the guest, resolve secrets, open SSH once."""

from __future__ import annotations

import getpass
import os
import sys
from collections.abc import Callable
from pathlib import Path

from agent.inventory import DEFAULT_INVENTORY, Guest, load_inventory, resolve_secret
from agent.remote.ssh import SshSession, SshTarget


def load_guest(inventory: str | None, guest: str | None) -> tuple[str, Guest]:
    """The chosen guest from ``--inventory`` (default ./inventory.yaml) and ``--guest``."""
    return load_inventory(Path(inventory) if inventory else DEFAULT_INVENTORY).choose(guest)


def _prompt() -> Callable[[str], str] | None:
    return getpass.getpass if sys.stdin.isatty() else None


def sudo_password(guest: Guest) -> str | None:
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


def console_password(guest: Guest) -> str | None:
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


class _Ask:
    """Marker: resolve the sudo password now (environment, else a prompt)."""


ASK = _Ask()


def ssh_session(
    guest: Guest,
    *,
    accept_new_host_key: bool,
    connect_timeout: float = 10.0,
    password: str | _Ask | None = ASK,
) -> SshSession:
    """An unopened session (use ``with``): one SSH connection for the whole task. Pass ``password`` when
    it was resolved already (a task that reconnects must not prompt again)."""
    return SshSession(
        ssh_target(guest, connect_timeout=connect_timeout),
        accept_new_host_key=accept_new_host_key,
        sudo_password=sudo_password(guest) if isinstance(password, _Ask) else password,
        sudo_password_env=guest.sudo_password_env,
    )
