"""What a serial console shows: the states a login can be in, and the kernel lines printed over it (pure).

Each :class:`ConsoleState` has a pattern matched against what the console printed last (pexpect picks
the earliest match); the states that end a login attempt carry the message and hint the user sees.
"""

from __future__ import annotations

import enum
import re

# A kernel message printed on the console: "[   12.345678] nvme nvme0: ...".
KMSG = r"\[\s*\d+\.\d+\] [^\r\n]*"
# Kernel messages that may follow a prompt before we see it settle.
KMSG_TAIL = rf"(?:\r*\n?{KMSG}\r*\n)*"
_KERNEL_LINE_RE = re.compile(rf"^{KMSG}(?:\n|\Z)", re.MULTILINE)


class ConsoleState(enum.Enum):
    """What the console shows after a wake."""

    LOGIN = "login prompt"
    PASSWORD = "password prompt"
    LOGIN_INCORRECT = "Login incorrect"
    SHELL = "shell prompt"
    PASSWORD_CHANGE = "forced password change"
    ACCOUNT_EXPIRED = "account expired"
    ACCOUNT_LOCKED = "account locked"
    NO_LOGIN = "account not available"
    CONTINUATION = "shell continuation prompt"


# Order matters only for matches starting at the same place; pexpect picks the earliest match in the
# output, so "You are required to change your password ... Current password:" is a PASSWORD_CHANGE.
STATE_PATTERNS: list[tuple[ConsoleState, re.Pattern[str]]] = [
    (
        ConsoleState.PASSWORD_CHANGE,
        re.compile(
            r"(?i)you are required to change your password|your password has expired"
            r"|password change required|you must change your password|\(current\) unix password:"
            rf"|current password: ?{KMSG_TAIL}\Z|new password: ?{KMSG_TAIL}\Z"
        ),
    ),
    (ConsoleState.ACCOUNT_EXPIRED, re.compile(r"(?i)your account has expired")),
    (ConsoleState.ACCOUNT_LOCKED, re.compile(r"(?i)account (?:is |has been |temporarily )?locked")),
    (ConsoleState.NO_LOGIN, re.compile(r"(?i)this account is currently not available")),
    (ConsoleState.LOGIN_INCORRECT, re.compile(r"Login incorrect")),
    (ConsoleState.LOGIN, re.compile(rf"(?i)login: ?{KMSG_TAIL}\Z")),
    (ConsoleState.PASSWORD, re.compile(rf"(?i)password(?: for [^\r\n:]*)?: ?{KMSG_TAIL}\Z")),
    (ConsoleState.SHELL, re.compile(rf"[#$] {KMSG_TAIL}\Z")),
    (ConsoleState.CONTINUATION, re.compile(rf"(?:\A|[\r\n])(?:\x1b\[[0-9;?]*[A-Za-z])*> {KMSG_TAIL}\Z")),
]

FAILURES = {
    ConsoleState.PASSWORD_CHANGE: (
        "the password must be changed before logging in (expired or administrator-enforced); "
        "the change was aborted",
        "change the password on the console by hand, then update the stored console password",
    ),
    ConsoleState.ACCOUNT_EXPIRED: ("the account has expired", "renew it with `chage -E` on the guest"),
    ConsoleState.ACCOUNT_LOCKED: ("the account is locked", "unlock it (faillock --reset / passwd -u)"),
    ConsoleState.NO_LOGIN: ("the account has no login shell", "use an account with a shell"),
}


STATES = [pattern for _, pattern in STATE_PATTERNS]


def state_at(index: int) -> ConsoleState:
    """The state of ``STATES[index]``."""
    return STATE_PATTERNS[index][0]


def pattern_of(state: ConsoleState) -> re.Pattern[str]:
    return dict(STATE_PATTERNS)[state]


def strip_kernel_messages(text: str) -> str:
    """Normalise ``\\r\\n`` to ``\\n`` and drop kernel console lines (``[   12.345678] ...``)."""
    text = re.sub(r"\r+\n", "\n", text)
    return _KERNEL_LINE_RE.sub("", text)
