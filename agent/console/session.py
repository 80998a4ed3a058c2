"""A shell session on a guest's serial console, modelled on labgrid's ShellDriver.

The session logs in on an agetty/login console (or takes over a shell already logged in), makes the shell
machine-friendly (a unique prompt, no echo, no bracketed paste, a wide terminal, a quiet kernel), then runs
each command between unique start/end markers so its output and exit status are exact even when the
kernel prints on the console in the middle. Files go over as base64 chunks.

Rules kept everywhere:

* every wait is an ``expect()`` on what the console prints, with a timeout; no fixed sleeps;
* a timeout raises :class:`ConsoleTimeout` (a :class:`ConsoleError`) whose message ends with the last
  console lines;
* secrets (the password and any ``secrets=``) never reach the transcript, the log or an exception: they
  read ``********``, and a password typed at the console is recorded as ``<password>``;
* no line sent ever begins with ``~`` (the escape character of ``cu``, which vm-bhyve's ``vm console`` runs).

Typical use::

    with ConsoleSession(open_console(spec), transcript=fh, secrets=[]) as console:
        console.login("root", password)
        result = console.run("ip -j link")
        console.write_file("/etc/netplan/50-cloud-init.yaml", data)
    # logged out here, on error too (best effort)
"""

from __future__ import annotations

import base64
import binascii
import enum
import hashlib
import logging
import posixpath
import re
import secrets as _secrets
import shlex
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from types import TracebackType
from typing import IO

import pexpect

from agent.console.links import ConsoleSpawn
from agent.errors import ConsoleError

__all__ = [
    "DEFAULT_COMMAND_TIMEOUT",
    "DEFAULT_PROMPT_TIMEOUT",
    "PASSWORD_PLACEHOLDER",
    "REDACTED",
    "CommandResult",
    "ConsoleSession",
    "ConsoleState",
    "ConsoleTimeout",
    "strip_kernel_messages",
]

log = logging.getLogger(__name__)

REDACTED = "********"
PASSWORD_PLACEHOLDER = "<password>"
DEFAULT_PROMPT_TIMEOUT = 10.0
DEFAULT_COMMAND_TIMEOUT = 60.0
#: base64 characters per sent line in write_file().
CHUNK_CHARS = 512
#: console lines quoted in error messages.
ERROR_LINES = 15
_TAIL_CHARS = 16384
_WAKE_ATTEMPTS = 3
_LOGIN_STEPS = 8

# Characters after which ``cu``/``tip`` treat the next character as the start of a line.
_LINE_STARTS = frozenset("\r\n\x03\x04\x15")

# A kernel message printed on the console: "[   12.345678] nvme nvme0: ...".
_KMSG = r"\[\s*\d+\.\d+\] [^\r\n]*"
# Kernel messages that may follow a prompt before we see it settle.
_KMSG_TAIL = rf"(?:\r*\n?{_KMSG}\r*\n)*"
_KERNEL_LINE_RE = re.compile(rf"^{_KMSG}(?:\n|\Z)", re.MULTILINE)
_PROTOCOL_RE = re.compile(r"@@GDA-(?:START|END)-[0-9a-f]+-\d+(?:-\d+)?@@|\[gda-[0-9a-f]+\](?:#|\$|\\\$) ?")
_ANSI_RE = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|[@-Z\\-_])")
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


class ConsoleTimeout(ConsoleError):
    """A wait on the console timed out (the message ends with the last console lines)."""


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
_STATE_PATTERNS: list[tuple[ConsoleState, re.Pattern[str]]] = [
    (
        ConsoleState.PASSWORD_CHANGE,
        re.compile(
            r"(?i)you are required to change your password|your password has expired"
            r"|password change required|you must change your password|\(current\) unix password:"
            rf"|current password: ?{_KMSG_TAIL}\Z|new password: ?{_KMSG_TAIL}\Z"
        ),
    ),
    (ConsoleState.ACCOUNT_EXPIRED, re.compile(r"(?i)your account has expired")),
    (ConsoleState.ACCOUNT_LOCKED, re.compile(r"(?i)account (?:is |has been |temporarily )?locked")),
    (ConsoleState.NO_LOGIN, re.compile(r"(?i)this account is currently not available")),
    (ConsoleState.LOGIN_INCORRECT, re.compile(r"Login incorrect")),
    (ConsoleState.LOGIN, re.compile(rf"(?i)login: ?{_KMSG_TAIL}\Z")),
    (ConsoleState.PASSWORD, re.compile(rf"(?i)password(?: for [^\r\n:]*)?: ?{_KMSG_TAIL}\Z")),
    (ConsoleState.SHELL, re.compile(rf"[#$] {_KMSG_TAIL}\Z")),
    (ConsoleState.CONTINUATION, re.compile(rf"(?:\A|[\r\n])(?:\x1b\[[0-9;?]*[A-Za-z])*> {_KMSG_TAIL}\Z")),
]

_FAILURES = {
    ConsoleState.PASSWORD_CHANGE: (
        "the password must be changed before logging in (expired or administrator-enforced); "
        "the change was aborted",
        "change the password on the console by hand, then update the stored console password",
    ),
    ConsoleState.ACCOUNT_EXPIRED: ("the account has expired", "renew it with `chage -E` on the guest"),
    ConsoleState.ACCOUNT_LOCKED: ("the account is locked", "unlock it (faillock --reset / passwd -u)"),
    ConsoleState.NO_LOGIN: ("the account has no login shell", "use an account with a shell"),
}


@dataclass(frozen=True)
class CommandResult:
    """The exit status and output (``\\n`` line ends, kernel messages removed) of one command."""

    exit_status: int
    output: str

    @property
    def ok(self) -> bool:
        return self.exit_status == 0


def strip_kernel_messages(text: str) -> str:
    """Normalise ``\\r\\n`` to ``\\n`` and drop kernel console lines (``[   12.345678] ...``)."""
    text = re.sub(r"\r+\n", "\n", text)
    return _KERNEL_LINE_RE.sub("", text)


def _shell_quote(text: str) -> str:
    """Quote ``text`` as one shell word that, when sent, is printable ASCII on one line.

    Plain printable ASCII uses :func:`shlex.quote`; anything else (newlines, tabs, control characters,
    non-ASCII) uses bash's ``$'...'`` with ``\\xHH`` escapes, so no raw newline (and so no line that could
    begin with ``~``), no tab (readline completion) and no 8-bit byte (readline meta keys) is ever typed.
    """
    if all(" " <= ch <= "~" for ch in text):
        return shlex.quote(text)
    out = ["$'"]
    for byte in text.encode("utf-8"):
        ch = chr(byte)
        if ch == "\\":
            out.append("\\\\")
        elif ch == "'":
            out.append("\\'")
        elif " " <= ch <= "~":
            out.append(ch)
        else:
            out.append(f"\\x{byte:02x}")
    out.append("'")
    return "".join(out)


def _visible(text: str) -> str:
    """A sent string as a transcript line: the final CR dropped, control characters as ^X."""
    if text.endswith("\r"):
        text = text[:-1]
    return "".join(f"^{chr(ord(c) + 64)}" if ord(c) < 0x20 else c for c in text) or "<enter>"


class _Recorder:
    """pexpect ``logfile_read`` target: keeps the console tail for errors and writes the transcript.

    Read text is written line by line (a secret split across two reads is still redacted); sent text is
    written as ``>>> ...`` lines, already redacted by the session.
    """

    def __init__(self, transcript: IO[str] | None, redact: Callable[[str], str]) -> None:
        self._transcript = transcript
        self._redact = redact
        self._pending = ""
        self._tail = ""
        self._at_line_start = True

    def write(self, data: str) -> int:
        self._tail = (self._tail + data)[-_TAIL_CHARS:]
        if self._transcript is not None:
            self._pending += data
            cut = self._pending.rfind("\n") + 1
            if cut:
                self._emit(self._pending[:cut])
                self._pending = self._pending[cut:]
        return len(data)

    def flush(self) -> None:
        """pexpect flushes after every read; the partial line is kept until it is complete."""

    def _emit(self, text: str) -> None:
        if self._transcript is None or not text:
            return
        text = self._redact(text).replace("\r\n", "\n")
        self._transcript.write(text)
        self._transcript.flush()
        self._at_line_start = text.endswith("\n")

    def finish_line(self) -> None:
        self._emit(self._pending)
        self._pending = ""

    def sent(self, shown: str) -> None:
        if self._transcript is None:
            return
        self.finish_line()
        prefix = "" if self._at_line_start else "\n"
        self._transcript.write(f"{prefix}>>> {shown}\n")
        self._transcript.flush()
        self._at_line_start = True

    def last_lines(self, count: int) -> list[str]:
        text = _ANSI_RE.sub("", self._redact(self._tail))
        text = re.sub(r"\r+\n", "\n", text)
        lines = [
            _CONTROL_RE.sub("", line.rsplit("\r", 1)[-1] if line.rstrip("\r") else line)
            for line in text.split("\n")
        ]
        while lines and not lines[-1].strip():
            lines.pop()
        return lines[-count:]


class ConsoleSession:
    """A logged-in shell on a serial console.

    ``spawn`` is a text-mode pexpect spawn (see :func:`agent.console.links.open_console`); it stays the
    caller's to close. The session installs itself as the spawn's ``logfile_read`` and clears ``logfile``
    and ``logfile_send`` (they would record the password). ``transcript`` receives everything read and
    sent, redacted. ``prompt_timeout`` bounds each wait for a prompt (it must exceed login's failure delay,
    about 3 s); ``command_timeout`` is run()'s default. ``guard_tilde`` refuses to send a ``~`` at the
    start of a line (cu's escape); leave it on.
    """

    def __init__(
        self,
        spawn: ConsoleSpawn,
        *,
        transcript: IO[str] | None = None,
        secrets: Iterable[str] = (),
        prompt_timeout: float = DEFAULT_PROMPT_TIMEOUT,
        command_timeout: float = DEFAULT_COMMAND_TIMEOUT,
        guard_tilde: bool = True,
    ) -> None:
        if getattr(spawn, "encoding", None) is None:
            raise TypeError("ConsoleSession needs a text-mode spawn (created with encoding=...)")
        self._spawn = spawn
        self._secrets: list[str] = []
        for secret in secrets:
            self.add_secret(secret)
        self.prompt_timeout = prompt_timeout
        self.command_timeout = command_timeout
        self.guard_tilde = guard_tilde
        self._recorder = _Recorder(transcript, self.redact)
        for attr in ("logfile", "logfile_send"):
            if getattr(spawn, attr, None) is not None:
                setattr(spawn, attr, None)
        spawn.logfile_read = self._recorder
        self._nonce = _secrets.token_hex(4)
        self._seq = 0
        self._prompt = f"[gda-{self._nonce}]"
        self._prompt_re = re.compile(re.escape(self._prompt) + r"(?:#|\$|\\\$) ")
        self._last_sent = "\r"  # the start of the connection counts as the start of a line
        self._in_shell = False
        self._shell_unsure = False
        self.user: str | None = None

    # ------------------------------------------------------------------------------------ redaction

    def add_secret(self, secret: str) -> None:
        """Redact ``secret`` from the transcript, logs and errors from now on."""
        if secret and secret.strip() and secret not in self._secrets:
            self._secrets.append(secret)
            self._secrets.sort(key=len, reverse=True)

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        return text

    def last_lines(self, count: int = ERROR_LINES) -> list[str]:
        """The last console lines (redacted, control sequences removed)."""
        return self._recorder.last_lines(count)

    def _context(self) -> str:
        # our own markers and prompt say nothing to a reader: keep what the guest printed
        lines = [
            line
            for line in (_PROTOCOL_RE.sub("", line) for line in self.last_lines(3 * ERROR_LINES))
            if line.strip()
        ][-ERROR_LINES:]
        if not lines:
            return "\n(the console printed nothing)"
        return "\nlast console lines:\n" + "\n".join(f"  | {line}" for line in lines)

    def _error(self, message: str, hint: str | None = None, *, timeout: bool = False) -> ConsoleError:
        cls = ConsoleTimeout if timeout else ConsoleError
        return cls(self.redact(message) + self._context(), hint)

    # ------------------------------------------------------------------------------------ low level

    def _send(self, text: str, *, shown: str | None = None) -> None:
        if self.guard_tilde:
            prev = self._last_sent
            for ch in text:
                if ch == "~" and prev in _LINE_STARTS:
                    raise ConsoleError(
                        "refusing to send a line that begins with '~' (the escape character "
                        "of cu, which would act on it)"
                    )
                prev = ch
        shown_text = shown if shown is not None else self.redact(_visible(text))
        self._recorder.sent(shown_text)
        log.debug("console send: %s", shown_text)
        try:
            self._spawn.send(text)
        except (pexpect.ExceptionPexpect, OSError, ValueError) as exc:
            raise self._error(
                f"the console connection was lost while sending ({type(exc).__name__})"
            ) from None
        if text:
            self._last_sent = text[-1]

    def _expect(self, patterns: list[re.Pattern[str]], timeout: float, what: str) -> int:
        """Wait for one of ``patterns``; its index. Raises ConsoleTimeout / ConsoleError (closed)."""
        index = self._expect_or_timeout(patterns, timeout, what)
        if index is None:
            raise self._error(f"timed out after {timeout:g}s waiting for {what}", timeout=True)
        return index

    def _expect_or_timeout(self, patterns: list[re.Pattern[str]], timeout: float, what: str) -> int | None:
        try:
            index = self._spawn.expect([*patterns, pexpect.TIMEOUT, pexpect.EOF], timeout=max(timeout, 0.0))
        except (pexpect.ExceptionPexpect, OSError, ValueError) as exc:
            raise self._error(
                f"console read failed while waiting for {what} ({type(exc).__name__})"
            ) from None
        if index == len(patterns):
            return None
        if index == len(patterns) + 1:
            self._in_shell = False
            raise self._error(f"the console connection closed while waiting for {what}")
        return index

    def _drain(self) -> None:
        """Consume what the console already printed, so a wake matches only the answer to it."""
        for _ in range(64):
            self._expect_or_timeout([], 0.0, "pending console output")
            if not self._spawn.before:
                return

    def _expect_state(self, timeout: float, what: str, *, required: bool = True) -> ConsoleState | None:
        patterns = [pattern for _, pattern in _STATE_PATTERNS]
        index = (
            self._expect(patterns, timeout, what)
            if required
            else self._expect_or_timeout(patterns, timeout, what)
        )
        return None if index is None else _STATE_PATTERNS[index][0]

    # ------------------------------------------------------------------------------------ wake / login

    def wake(self, *, attempts: int = _WAKE_ATTEMPTS, interrupt: bool = False) -> ConsoleState:
        """Press Enter until the console shows a state we know, and return it.

        A shell continuation prompt (``> ``) is cleared with Ctrl-C. With ``interrupt`` the last attempt
        sends Ctrl-C first (only for a console known to hold nothing precious). Nothing recognisable after
        ``attempts`` wakes → ConsoleError "console busy".
        """
        self._drain()
        for attempt in range(attempts):
            if interrupt and attempt and attempt == attempts - 1:
                self._send("\x03")
            self._send("\r")
            state = self._expect_state(self.prompt_timeout, "a login or shell prompt", required=False)
            if state is ConsoleState.CONTINUATION:
                self._send("\x03")
                continue
            if state is not None:
                log.debug("console state: %s", state.value)
                return state
        raise self._error(
            f"console busy: no login or shell prompt after {attempts} wakes",
            "a program holds the console; stop it on the console, or log out of it",
            timeout=True,
        )

    def login(self, user: str, password: str | None = None) -> None:
        """Log in as ``user`` (or take over a shell already logged in as ``user``), then set the shell up.

        Tries once: "Login incorrect", a forced password change (aborted with Ctrl-C), an expired or locked
        account each raise ConsoleError at once.
        """
        if password:
            self.add_secret(password)
        took_over = self._login(user, password)
        self._setup_shell()
        whoami = self.run("id -un").output.strip()
        if whoami != user:
            if not took_over:
                raise self._error(f"console login as {user} gave a shell of {whoami!r}")
            log.info("the console shell belongs to %r, not %r: logging it out", whoami, user)
            self.logout()
            self._login(user, password, allow_shell=False)
            self._setup_shell()
            whoami = self.run("id -un").output.strip()
            if whoami != user:
                raise self._error(f"console login as {user} gave a shell of {whoami!r}")
        self.user = user
        log.info("logged in on the console as %s", user)

    def _login(self, user: str, password: str | None, *, allow_shell: bool = True) -> bool:
        """Reach a shell prompt; True when an existing shell was taken over."""
        state: ConsoleState | None = self.wake()
        if state is ConsoleState.SHELL and allow_shell:
            self._in_shell = True
            return True
        user_sent = password_sent = user_resent = False
        waiting = "a login prompt"
        for _ in range(_LOGIN_STEPS):
            if state is ConsoleState.SHELL:
                if not user_sent:
                    raise self._error("the console shows a shell prompt where a login prompt was expected")
                self._in_shell = True
                return False
            if state is ConsoleState.LOGIN:
                if user_sent:
                    # Typed ahead into a getty that was just starting, the name may still be read by a
                    # second prompt: see what follows. A prompt that stays is really waiting: type it again.
                    following = self._expect_state(self.prompt_timeout, waiting, required=False)
                    if following is not None:
                        state = following
                        continue
                    if user_resent:
                        raise self._error(f"console login failed for user {user}: the login prompt came back")
                    user_resent = True
                self._send(user + "\r")
                user_sent, waiting = True, "the password prompt"
                state = self._after_user_name(user)
                continue
            elif state is ConsoleState.PASSWORD:
                if not user_sent:  # a stale prompt from an earlier attempt: answer it empty
                    self._send("\r")
                    waiting = "the login prompt"
                elif password_sent:
                    self._abort_login()
                    raise self._error(f"console login failed for user {user}: the password was asked again")
                elif password is None:
                    self._abort_login()
                    raise self._error(
                        f"console login for user {user} asks for a password and none was given",
                        "set the console password (password_env)",
                    )
                else:
                    self._send(password + "\r", shown=PASSWORD_PLACEHOLDER)
                    password_sent, waiting = True, "a shell prompt after the password"
            elif state is ConsoleState.LOGIN_INCORRECT:
                if user_sent:
                    self._settle_at_login()
                    raise self._error(
                        f"console login failed for user {user}: Login incorrect",
                        "check the console user and password",
                    )
                waiting = "the login prompt"
            elif state is ConsoleState.CONTINUATION:
                self._send("\x03")
            elif state is not None and state in _FAILURES:
                reason, hint = _FAILURES[state]
                if state is ConsoleState.PASSWORD_CHANGE:
                    self._abort_login()
                raise self._error(f"console login failed for user {user}: {reason}", hint)
            state = self._expect_state(self.prompt_timeout, waiting)
        raise self._error(f"console login as {user} did not reach a shell after {_LOGIN_STEPS} steps")

    def _after_user_name(self, user: str) -> ConsoleState:
        """The state after the user name was sent. getty echoes the name: a login prompt seen before that
        echo is a stale one (printed before our wake reached getty), not getty asking again."""
        patterns = [re.compile(rf"{re.escape(user)}\r*\n"), *(pattern for _, pattern in _STATE_PATTERNS)]
        for _ in range(3):
            index = self._expect(patterns, self.prompt_timeout, "the password prompt")
            if index == 0:
                index = self._expect(patterns[1:], self.prompt_timeout, "the password prompt")
                return _STATE_PATTERNS[index][0]
            state = _STATE_PATTERNS[index - 1][0]
            if state is not ConsoleState.LOGIN:
                return state
        raise self._error(f"console login for user {user}: getty keeps showing the login prompt")

    def _abort_login(self) -> None:
        """Ctrl-C out of login / passwd; best effort, and wait for the login prompt if it comes."""
        try:
            self._send("\x03")
            self._settle_at_login()
        except ConsoleError:
            pass

    def _settle_at_login(self) -> None:
        """After a failed login, wait (bounded, no error) for the login prompt to come back."""
        login_re = dict(_STATE_PATTERNS)[ConsoleState.LOGIN]
        self._expect_or_timeout([login_re], self.prompt_timeout, "the login prompt")

    def _setup_shell(self) -> None:
        """Deterministic prompt, no echo; then (through run()) no bracketed paste, wide terminal, dumb
        terminal, no pager, no history file and no history expansion, kernel messages off the console."""
        head, tail = self._prompt[:4], self._prompt[4:]
        set_prompt = f"PS1='{head}''{tail}\\$ '; PS2=''; unset PROMPT_COMMAND\r"
        self._send(set_prompt)
        if self._expect_or_timeout([self._prompt_re], self.prompt_timeout, "the new shell prompt") is None:
            # The prompt we woke to was an older one and the shell is in the middle of a line (an open
            # quote, say): clear the line with Ctrl-C and set the prompt again, once.
            self._send("\x03")
            shell_re = dict(_STATE_PATTERNS)[ConsoleState.SHELL]
            self._expect([shell_re], self.prompt_timeout, "the shell prompt after Ctrl-C")
            self._send(set_prompt)
            self._expect([self._prompt_re], self.prompt_timeout, "the new shell prompt")
        self._send("stty -echo\r")
        self._expect([self._prompt_re], self.prompt_timeout, "the shell prompt after stty -echo")
        self._in_shell = True
        self._shell_unsure = False
        self.run(
            "bind 'set enable-bracketed-paste off' 2>/dev/null; set +H; stty cols 500 rows 50; "
            "export TERM=dumb PAGER=cat SYSTEMD_PAGER=cat; unset HISTFILE; "
            "dmesg -n 1 2>/dev/null || sudo -n dmesg -n 1 2>/dev/null; true",
            timeout=self.prompt_timeout,
        )

    # ------------------------------------------------------------------------------------ commands

    def run(
        self, cmd: str, timeout: float | None = None, *, keep_kernel_lines: bool = False
    ) -> CommandResult:
        """Run ``cmd`` in the logged-in shell (through ``eval``: comments, ``&&``, multi-line text all
        work); return its exit status and output. On a timeout the command is interrupted (Ctrl-C) and
        ConsoleTimeout is raised.

        Output lines that look like kernel console messages (``[   12.345678] ...`` at a line start) are
        dropped; pass ``keep_kernel_lines=True`` for commands that print such lines themselves (``dmesg``),
        accepting that a message printed by the kernel meanwhile stays in too."""
        if not self._in_shell:
            raise ConsoleError("the console session is not logged in")
        if self._shell_unsure:
            raise ConsoleError("the console shell did not come back after an interrupted command")
        self._seq += 1
        tag = f"{self._nonce}-{self._seq}"
        # The markers are split by quotes in the sent line, so an echo of the line can never match.
        line = f"echo '@@GDA''-START-{tag}@@'; eval {_shell_quote(cmd)}; echo \"@@GDA\"\"-END-{tag}-$?@@\""
        start_re = re.compile(re.escape(f"@@GDA-START-{tag}@@") + r"\r*\n")
        end_re = re.compile(re.escape(f"@@GDA-END-{tag}-") + r"(\d+)@@")
        limit = self.command_timeout if timeout is None else timeout
        deadline = time.monotonic() + limit
        what = f"command {self.redact(cmd)!r}"
        self._send(line + "\r")
        try:
            self._expect([start_re], deadline - time.monotonic(), f"the start of {what}")
            self._expect([end_re], deadline - time.monotonic(), f"the end of {what}")
        except ConsoleTimeout:
            self._interrupt()
            raise self._error(
                f"{what} timed out after {limit:g}s (interrupted with Ctrl-C)", timeout=True
            ) from None
        output = str(self._spawn.before)
        status = int(self._spawn.match.group(1))
        self._expect([self._prompt_re], self.prompt_timeout, f"the shell prompt after {what}")
        if keep_kernel_lines:
            return CommandResult(status, re.sub(r"\r+\n", "\n", output))
        return CommandResult(status, strip_kernel_messages(output))

    def start(self, cmd: str, timeout: float | None = None) -> RunningCommand:
        """Start ``cmd`` and return while it runs, for programs that talk to the terminal (``netplan
        try``): wait on what it prints with :meth:`RunningCommand.expect`, answer with ``send``, and
        collect the exit status with ``wait``."""
        if not self._in_shell or self._shell_unsure:
            raise ConsoleError("the console session is not logged in")
        self._seq += 1
        tag = f"{self._nonce}-{self._seq}"
        line = f"echo '@@GDA''-START-{tag}@@'; eval {_shell_quote(cmd)}; echo \"@@GDA\"\"-END-{tag}-$?@@\""
        self._send(line + "\r")
        self._shell_unsure = True  # a program owns the terminal: never type commands or "exit" into it
        self._expect(
            [re.compile(re.escape(f"@@GDA-START-{tag}@@") + r"\r*\n")],
            self.prompt_timeout if timeout is None else timeout,
            f"the start of {self.redact(cmd)!r}",
        )
        return RunningCommand(self, tag, cmd)

    def _interrupt(self) -> None:
        """Ctrl-C a command that timed out and wait for the prompt; if it does not come, stop running."""
        try:
            self._send("\x03")
            if (
                self._expect_or_timeout([self._prompt_re], self.prompt_timeout, "the prompt after Ctrl-C")
                is None
            ):
                self._shell_unsure = True
        except ConsoleError:
            self._shell_unsure = True

    def run_checked(self, cmd: str, timeout: float | None = None) -> str:
        """run(); its output, or ConsoleError (with the output) when the exit status is not 0."""
        result = self.run(cmd, timeout)
        if result.exit_status != 0:
            output = self.redact(result.output.rstrip("\n"))
            lines = output.split("\n")[-ERROR_LINES:] if output else []
            detail = ("\n" + "\n".join(f"  | {line}" for line in lines)) if lines else " (no output)"
            raise ConsoleError(
                f"console command {self.redact(cmd)!r} failed with exit status {result.exit_status}:{detail}"
            )
        return result.output

    # ------------------------------------------------------------------------------------ files

    def write_file(self, path: str, data: bytes, mode: int = 0o600) -> None:
        """Write ``data`` to ``path`` atomically: base64 chunks appended to a hidden temp file next to it,
        decoded to a second temp file, checked with sha256sum, chmod'ed, then renamed over ``path``."""
        q = shlex.quote
        directory, name = posixpath.split(path)
        if not name:
            raise ConsoleError(f"write_file: {path!r} names a directory")
        stem = posixpath.join(directory, f".{name}.gda-{self._nonce}")
        tmp, new = f"{stem}.b64", f"{stem}.new"
        digest = hashlib.sha256(data).hexdigest()
        encoded = base64.b64encode(data).decode("ascii")
        try:
            self.run_checked(f"(umask 077 && : > {q(tmp)})")
            for offset in range(0, len(encoded), CHUNK_CHARS):
                self.run_checked(f"printf %s '{encoded[offset : offset + CHUNK_CHARS]}' >> {q(tmp)}")
            self.run_checked(f"(umask 077 && base64 -d < {q(tmp)} > {q(new)})")
            got = self.run_checked(f"sha256sum < {q(new)}").split()
            if not got or got[0] != digest:
                raise ConsoleError(
                    f"write {path}: the checksum on the guest does not match what was sent "
                    f"(sent {digest[:16]}, got {got[0][:16] if got else 'nothing'})"
                )
            self.run_checked(f"chmod {mode:04o} {q(new)} && mv -f {q(new)} {q(path)}")
        finally:
            if self._in_shell and not self._shell_unsure:
                try:
                    self.run(f"rm -f {q(tmp)} {q(new)}", timeout=self.prompt_timeout)
                except ConsoleError as exc:
                    log.warning("could not remove the temporary files of %s: %s", path, exc.message)

    def read_file(self, path: str) -> bytes:
        """The content of ``path`` (sent back as base64, checked with sha256sum)."""
        q = shlex.quote
        lines = self.run_checked(f"base64 < {q(path)} && sha256sum < {q(path)}").split()
        if not lines:
            raise ConsoleError(f"read {path}: no output from base64/sha256sum")
        digest = lines[-2] if len(lines) >= 2 and lines[-1] == "-" else ""
        body = "".join(lines[:-2])
        try:
            data = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise ConsoleError(f"read {path}: the console returned damaged base64") from None
        if hashlib.sha256(data).hexdigest() != digest:
            raise ConsoleError(f"read {path}: the checksum does not match the content received")
        return data

    # ------------------------------------------------------------------------------------ logout

    def logout(self) -> None:
        """``exit`` the shell (nested shells too) until the login prompt is back."""
        if not self._in_shell:
            return
        if self._shell_unsure:
            self._send("\x03")
        for _ in range(3):
            self._send("exit\r")
            state = self._expect_state(self.prompt_timeout, "the login prompt after exit")
            if state is ConsoleState.LOGIN:
                self._in_shell = False
                self._shell_unsure = False
                self.user = None
                log.info("logged out of the console")
                return
            if state is not ConsoleState.SHELL:
                break
        self._in_shell = False
        raise self._error("console logout did not bring back the login prompt")

    def close(self) -> None:
        """Write out the transcript's last partial line. The spawn stays open (it is the caller's)."""
        self._recorder.finish_line()

    def __enter__(self) -> ConsoleSession:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            self.logout()
        except ConsoleError as err:
            log.warning("console logout failed: %s", err.message)
        except Exception as err:  # best effort: never mask the original error
            log.warning("console logout failed: %s", type(err).__name__)
        finally:
            self.close()


class RunningCommand:
    """A command started with :meth:`ConsoleSession.start` that is still running on the console."""

    def __init__(self, session: ConsoleSession, tag: str, cmd: str) -> None:
        self._s = session
        self._end_re = re.compile(re.escape(f"@@GDA-END-{tag}-") + r"(\d+)@@")
        self.cmd = cmd
        self.output = ""
        self.exit_status: int | None = None

    def expect(self, patterns: list[str], timeout: float) -> int | None:
        """Wait until the command prints one of ``patterns`` (regexes): its index; None when the
        command ended first (see ``exit_status``). Raises ConsoleTimeout."""
        if self.exit_status is not None:
            return None
        compiled = [re.compile(p) for p in patterns]
        index = self._s._expect([*compiled, self._end_re], timeout, f"{patterns} from {self.cmd!r}")
        self.output += str(self._s._spawn.before) + (
            str(self._s._spawn.after) if index < len(patterns) else ""
        )
        if index == len(patterns):
            self._finished()
            return None
        return index

    def send(self, text: str, *, shown: str | None = None) -> None:
        """Type ``text`` into the running program (e.g. ``"\\r"`` to confirm, ``"\\x03"`` to interrupt)."""
        self._s._send(text, shown=shown)

    def wait(self, timeout: float) -> CommandResult:
        """Wait for the command to end; its exit status and everything it printed."""
        if self.exit_status is None:
            self._s._expect([self._end_re], timeout, f"the end of {self.cmd!r}")
            self.output += str(self._s._spawn.before)
            self._finished()
        assert self.exit_status is not None
        return CommandResult(self.exit_status, strip_kernel_messages(self.output))

    def _finished(self) -> None:
        match = self._s._spawn.match
        self.exit_status = int(match.group(1))
        self._s._expect([self._s._prompt_re], self._s.prompt_timeout, "the shell prompt")
        self._s._shell_unsure = False
