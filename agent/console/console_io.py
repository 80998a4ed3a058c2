"""The low level of a console session: send and expect on a pexpect spawn, redaction, errors.

Rules kept everywhere:

* every wait is an ``expect()`` on what the console prints, with a timeout; no fixed sleeps;
* a timeout raises :class:`ConsoleTimeout` (a :class:`ConsoleError`) whose message ends with the last
  console lines;
* secrets (the password and any ``secrets=``) never reach the transcript, the log or an exception: they
  read ``********``;
* no line sent ever begins with ``~`` (the escape character of ``cu``, which vm-bhyve's ``vm console`` runs).
"""

from __future__ import annotations

import logging
import re
import secrets as _secrets
import shlex
import threading
import time
from collections.abc import Iterable
from typing import IO

import pexpect

from agent.console.login_states import ConsolePrompts, ConsoleState, patterns_of
from agent.console.recorder import REDACTED, Recorder, visible
from agent.console.transports import ConsoleSpawn
from agent.errors import ConsoleError

log = logging.getLogger("agent.console.session")

DEFAULT_PROMPT_TIMEOUT = 10.0
DEFAULT_COMMAND_TIMEOUT = 60.0
#: the longest command line typed at the shell: a shell without line editing (dash) reads the terminal in
#: canonical mode, whose line buffer holds 4095 characters (the markers around a command take about 90
#: more; the rest is margin); longer commands go over as a checked file.
MAX_LINE = 3584
#: console lines quoted in error messages.
ERROR_LINES = 15

# Characters after which ``cu``/``tip`` treat the next character as the start of a line.
_LINE_STARTS = frozenset("\r\n\x03\x04\x15")
_PROTOCOL_RE = re.compile(r"@@GDA-(?:START|END)-[0-9a-f]+-\d+(?:-\d+)?@@|\[gda-[0-9a-f]+\](?:#|\$|\\\$) ?")


class ConsoleTimeout(ConsoleError):
    """A wait on the console timed out (the message ends with the last console lines)."""


def shell_quote(text: str) -> str:
    """Quote ``text`` as one shell word that, when sent, is printable ASCII on one line.

    Plain printable ASCII uses :func:`shlex.quote`; anything else (newlines, tabs, control characters,
    non-ASCII) is ``"$(printf '...')"`` with ``\\NNN`` octal escapes: POSIX printf, so dash, bash, ksh and
    zsh all read it (bash's ``$'...'`` is not POSIX: dash, often root's /bin/sh, rejects it). No raw
    newline (and so no line that could begin with ``~``), no tab (readline completion) and no 8-bit byte
    (readline meta keys) is ever typed. A command substitution drops trailing newlines: meant for
    ``eval``, where they do not matter.
    """
    if all(" " <= ch <= "~" for ch in text):
        return shlex.quote(text)
    out = []
    for byte in text.encode("utf-8"):
        ch = chr(byte)
        out.append(ch if " " <= ch <= "~" and ch not in "\\'%!" else f"\\{byte:03o}")
    return "\"$(printf '" + "".join(out) + "')\""


class ConsoleIO:
    """Sending to and expecting from a console spawn, for :class:`agent.console.session.ConsoleSession`.

    ``spawn`` is a text-mode pexpect spawn (see :func:`agent.console.transports.open_console`); it stays
    the caller's to close. The session installs itself as the spawn's ``logfile_read`` and clears
    ``logfile`` and ``logfile_send`` (they would record the password). ``transcript`` receives everything
    read and sent, redacted. ``prompt_timeout`` bounds each wait for a prompt (it must exceed login's
    failure delay, about 3 s); ``command_timeout`` is run()'s default; ``login_timeout`` (None: no bound
    but the prompt waits) bounds a whole login. ``prompts`` adds the inventory's prompt regexes to the
    built-in ones. ``guard_tilde`` refuses to send a ``~`` at the start of a line (cu's escape); leave it on.
    """

    def __init__(
        self,
        spawn: ConsoleSpawn,
        *,
        transcript: IO[str] | None = None,
        secrets: Iterable[str] = (),
        prompt_timeout: float = DEFAULT_PROMPT_TIMEOUT,
        command_timeout: float = DEFAULT_COMMAND_TIMEOUT,
        login_timeout: float | None = None,
        prompts: ConsolePrompts | None = None,
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
        self.login_timeout = login_timeout
        self._state_table = (prompts or ConsolePrompts()).patterns()
        self._states = [pattern for _, pattern in self._state_table]
        self._deadline: float | None = None  # set while logging in (login_timeout)
        self.guard_tilde = guard_tilde
        self._recorder = Recorder(transcript, self.redact)
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
        self._gzip = False  # the logged-in guest has gzip (the session's set-up asks)
        self._tar = False  # ... and tar too
        self._staged_once: list[str] = []  # names of the files stage_once() wrote this login
        self._stage_folder = ""  # the private folder they are in, once made
        self._logout_thread: threading.Thread | None = None  # a logout_soon() under way
        self._logout_error: BaseException | None = None

    @property
    def usable(self) -> bool:
        """Logged in, with the shell at its prompt (no program holds the console)."""
        return self._in_shell and not self._shell_unsure

    @property
    def nonce(self) -> str:
        """This session's random tag (in its prompt, markers and temporary file names)."""
        return self._nonce

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
        shown_text = shown if shown is not None else self.redact(visible(text))
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
        if index is None and self._deadline is not None and time.monotonic() >= self._deadline:
            raise self._login_timeout_error(what)
        if index is None:
            raise self._error(f"timed out after {timeout:g}s waiting for {what}", timeout=True)
        return index

    def _login_timeout_error(self, what: str) -> ConsoleError:
        return self._error(
            f"console login did not reach a shell within login_timeout ({self.login_timeout:g}s) "
            f"while waiting for {what}",
            "raise console.login_timeout in the inventory if the guest is only slow",
            timeout=True,
        )

    def _expect_or_timeout(self, patterns: list[re.Pattern[str]], timeout: float, what: str) -> int | None:
        if self._deadline is not None:
            left = self._deadline - time.monotonic()
            if left <= 0:
                raise self._login_timeout_error(what)
            timeout = min(timeout, left)
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

    def _state_patterns(self, state: ConsoleState) -> list[re.Pattern[str]]:
        """The patterns (built-in, then the inventory's) that mean ``state``."""
        return patterns_of(state, self._state_table)

    def _state_at(self, index: int) -> ConsoleState:
        return self._state_table[index][0]

    def _expect_state(self, timeout: float, what: str, *, required: bool = True) -> ConsoleState | None:
        patterns = self._states
        index = (
            self._expect(patterns, timeout, what)
            if required
            else self._expect_or_timeout(patterns, timeout, what)
        )
        return None if index is None else self._state_at(index)
