"""Logging in on a serial console: wake it, then walk agetty/login's prompts to a shell.

One attempt only: "Login incorrect", a forced password change (aborted with Ctrl-C), an expired or
locked account each end it at once with a clear message; a password typed at the console is recorded as
``<password>`` in the transcript.
"""

from __future__ import annotations

import re
import time

from agent.console.console_io import ConsoleIO, log
from agent.console.login_states import FAILURES, ConsoleState
from agent.errors import ConsoleError

PASSWORD_PLACEHOLDER = "<password>"
_WAKE_ATTEMPTS = 3
_LOGIN_STEPS = 8


class ConsoleLogin(ConsoleIO):
    """Wake and log in (the shell set-up and the commands are :class:`ConsoleSession`'s)."""

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

    def _login(self, user: str, password: str | None, *, allow_shell: bool = True) -> bool:
        """Reach a shell prompt (within ``login_timeout`` when set); True when an existing shell was taken
        over."""
        if self.login_timeout is not None:
            self._deadline = time.monotonic() + self.login_timeout
        try:
            return self._login_steps(user, password, allow_shell=allow_shell)
        finally:
            self._deadline = None

    def _login_steps(self, user: str, password: str | None, *, allow_shell: bool) -> bool:
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
            elif state is not None and state in FAILURES:
                reason, hint = FAILURES[state]
                if state is ConsoleState.PASSWORD_CHANGE:
                    self._abort_login()
                raise self._error(f"console login failed for user {user}: {reason}", hint)
            state = self._expect_state(self.prompt_timeout, waiting)
        raise self._error(f"console login as {user} did not reach a shell after {_LOGIN_STEPS} steps")

    def _after_user_name(self, user: str) -> ConsoleState:
        """The state after the user name was sent. getty echoes the name: a login prompt seen before that
        echo is a stale one (printed before our wake reached getty), not getty asking again."""
        patterns = [re.compile(rf"{re.escape(user)}\r*\n"), *self._states]
        for _ in range(3):
            index = self._expect(patterns, self.prompt_timeout, "the password prompt")
            if index == 0:
                index = self._expect(patterns[1:], self.prompt_timeout, "the password prompt")
                return self._state_at(index)
            state = self._state_at(index - 1)
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
        """After a failed login, wait (bounded, no error) for the login prompt to come back; past the
        login_timeout too, so the failure is what gets reported."""
        deadline, self._deadline = self._deadline, None
        try:
            self._expect_or_timeout(
                self._state_patterns(ConsoleState.LOGIN), self.prompt_timeout, "the login prompt"
            )
        finally:
            self._deadline = deadline
