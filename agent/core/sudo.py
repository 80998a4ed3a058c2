"""Wrap a remote script for privilege, and read sudo's failures. Pure.

The script is passed as one shell-quoted argument to ``sh -c`` (never through a pty, so mkfs sees no
terminal); the sudo password, when there is one, goes on stdin (``sudo -S``) and never on a command
line or in a log. Without a password ``sudo -n`` fails at once instead of hanging on a prompt.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass

from agent.errors import RemoteError

SUDO_PROMPT = "[gda-sudo]"


class SudoError(RemoteError):
    """sudo refused: wrong or missing password, or the user may not sudo. Nothing ran."""


@dataclass(frozen=True)
class Wrapped:
    command: str
    stdin: str | None  # holds the password: never log it


def wrap(script: str, *, remote_user_is_root: bool, password: str | None) -> Wrapped:
    """The command line (and stdin) that runs ``script`` as root on the remote side."""
    # stdin may still hold the password line when sudo did not ask for it (NOPASSWD, cached): the script
    # never gets to read it.
    body = f"sh -c {shlex.quote('exec </dev/null' + chr(10) + script)}"
    if remote_user_is_root:
        return Wrapped(body, None)
    if password is None:
        return Wrapped(f"sudo -n -- {body}", None)
    return Wrapped(f"sudo -S -p {shlex.quote(SUDO_PROMPT)} -- {body}", password + "\n")


def sudo_failure(exit_code: int, stderr: str, *, password_env: str | None, user: str) -> SudoError | None:
    """A SudoError when sudo itself refused (the script never ran); else None."""
    if exit_code == 0:
        return None
    text = stderr.replace(SUDO_PROMPT, "")
    env = password_env or "the sudo password variable"
    if "incorrect password" in text or "Sorry, try again" in text:
        return SudoError(
            f"sudo rejected the password for {user} (from ${env}); nothing was changed",
            hint=f"check the value of {env}",
        )
    if "a password is required" in text or "no password was provided" in text:
        return SudoError(
            f"sudo on the guest needs a password for {user}; nothing was changed",
            hint=f"export {password_env or 'XDEV_SUDO_PASSWORD'}=... and name it in inventory.yaml as "
            "sudo_password_env (or give the user NOPASSWD in sudoers)",
        )
    if "is not in the sudoers file" in text or "is not allowed to run sudo" in text:
        return SudoError(
            f"{user} may not use sudo on the guest; nothing was changed",
            hint="add the user to the sudo group, or connect as a user who may",
        )
    if "sudo: command not found" in text or "sudo: not found" in text:
        return SudoError(
            "sudo is not installed on the guest", hint="apt-get install sudo, or connect as root"
        )
    return None
