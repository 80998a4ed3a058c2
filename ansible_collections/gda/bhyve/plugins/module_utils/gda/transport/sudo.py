# GENERATED from agent/transport/sudo.py by `python -m agent.collection_build`: do not edit.
"""The one sudo path: wrap a remote script to run as root, and read sudo's refusals (pure).

SSH and the serial console both go through :func:`wrap`. The script is one shell-quoted argument to
``sh -c`` (never through a pty, so mkfs sees no terminal). The sudo password, when there is one, is the
first line on stdin (``sudo -S``), never on a command line or in a log; without one ``sudo -n`` fails at
once instead of hanging on a prompt.

sudo may not read the password line (NOPASSWD, a cached ticket), so the script cannot know where its own
input starts: when it has input, a random *nonce line* follows the password line and the script skips
every line up to and including it (``read`` takes one byte at a time from a pipe, so nothing after the
nonce line is consumed). A script without input reads ``/dev/null``.
"""

from __future__ import annotations

import secrets
import shlex
from dataclasses import dataclass

from ansible_collections.gda.bhyve.plugins.module_utils.gda.errors import RemoteError

SUDO_PROMPT = "[gda-sudo]"
#: exit status of a wrapped script whose stdin ended before the nonce line (nothing ran)
NO_NONCE_STATUS = 125


class SudoError(RemoteError):
    """sudo refused: wrong or missing password, or the user may not sudo. Nothing ran."""


@dataclass(frozen=True)
class Wrapped:
    command: str
    stdin: bytes | None  # may hold the password: never log it


def _skip_to(nonce: str) -> str:
    return (
        f'_gda_ok=0; while IFS= read -r _gda_l; do if [ "$_gda_l" = {nonce} ]; then _gda_ok=1; break; fi; '
        f'done; [ "$_gda_ok" = 1 ] || exit {NO_NONCE_STATUS}; unset _gda_ok _gda_l\n'
    )


def shell_command(script: str, *, reads_stdin: bool, prefix: str = "") -> str:
    """``sh -c 'script'``; without input the script reads /dev/null."""
    head = prefix if reads_stdin else "exec </dev/null\n"
    return f"sh -c {shlex.quote(head + script)}"


def wrap(
    script: str,
    *,
    remote_user_is_root: bool,
    password: str | None,
    stdin: bytes | None = None,
) -> Wrapped:
    """The command line and stdin that run ``script`` as root on the remote side with ``stdin`` as its
    input (None: no input)."""
    reads = stdin is not None
    if remote_user_is_root:
        return Wrapped(shell_command(script, reads_stdin=reads), stdin)
    if password is None:
        return Wrapped(f"sudo -n -- {shell_command(script, reads_stdin=reads)}", stdin)
    sudo = f"sudo -S -p {shlex.quote(SUDO_PROMPT)} --"
    if not reads:
        return Wrapped(f"{sudo} {shell_command(script, reads_stdin=False)}", (password + "\n").encode())
    nonce = "gda-" + secrets.token_hex(8)
    command = f"{sudo} {shell_command(script, reads_stdin=True, prefix=_skip_to(nonce))}"
    return Wrapped(command, (password + "\n" + nonce + "\n").encode() + (stdin or b""))


def sudo_asks_again(stderr: str) -> bool:
    """sudo -S rejected the password and prompts for another one (it would wait for more input, so the
    caller stops it rather than waiting for a root shell that cannot start). Pure."""
    return "Sorry, try again" in stderr or stderr.count(SUDO_PROMPT) >= 2


def sudo_failure(status: int, stderr: str, *, password_env: str | None, user: str) -> SudoError | None:
    """A SudoError when sudo itself refused (the script never ran); else None. ``stderr`` may be the
    whole output where the transport folds stderr into stdout (the console)."""
    if status == 0:
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
    if status == NO_NONCE_STATUS and not text.strip():
        return SudoError("sudo consumed the script's input (it asked for the password more than once)")
    return None
