"""A shell session on a guest's serial console, modelled on labgrid's ShellDriver.

The session logs in on an agetty/login console (or takes over a shell already logged in,
:mod:`agent.console.login`), makes the shell machine-friendly (a unique prompt, no echo, no bracketed
paste, a wide terminal, a quiet kernel), then runs each command between unique start/end markers so its
output and exit status are exact even when the kernel prints on the console in the middle. Files go
over as base64 chunks, checked with sha256. The low level (send, expect, redaction, the rules every wait
keeps) is :mod:`agent.console.console_io`; the task-facing protocol is
:class:`agent.console.commands.ConsoleCommands`.

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
import hashlib
import posixpath
import re
import shlex
import time
from types import TracebackType

from agent.console.console_io import ERROR_LINES, MAX_LINE, ConsoleTimeout, log, shell_quote
from agent.console.login import ConsoleLogin
from agent.console.login_states import ConsoleState, strip_kernel_messages
from agent.console.recorder import payload_summary
from agent.core.guest_text import clean
from agent.errors import ConsoleError
from agent.transport.protocol import Result

__all__ = ["ConsoleSession", "RunningCommand"]

#: the fewest base64 characters per command write_file() sends (a temp path too long for more is refused)
MIN_CHUNK_CHARS = 256


def chunk_chars(tmp_quoted: str) -> int:
    """base64 characters per command in write_file(): as many as keep the typed line within MAX_LINE
    (each command is one round trip on a slow serial line; a longer one would itself go over as a file).
    Pure."""
    probe = f"printf %s '' >> {tmp_quoted}"
    room = MAX_LINE - len(f"eval {shell_quote(probe)}") - len("(umask 077 && )") - 16
    return room // 4 * 4


class ConsoleSession(ConsoleLogin):
    """A logged-in shell on a serial console (see :class:`agent.console.console_io.ConsoleIO` for the
    constructor's arguments)."""

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
            shell_res = self._state_patterns(ConsoleState.SHELL)
            self._expect(shell_res, self.prompt_timeout, "the shell prompt after Ctrl-C")
            self._send(set_prompt)
            self._expect([self._prompt_re], self.prompt_timeout, "the new shell prompt")
        self._send("stty -echo\r")
        self._expect([self._prompt_re], self.prompt_timeout, "the shell prompt after stty -echo")
        self._in_shell = True
        self._shell_unsure = False
        self.run(
            "bind 'set enable-bracketed-paste off' 2>/dev/null; case $- in *H*) set +H;; esac; "
            "stty cols 500 rows 50; "
            "export TERM=dumb PAGER=cat SYSTEMD_PAGER=cat; unset HISTFILE; "
            "dmesg -n 1 2>/dev/null || sudo -n dmesg -n 1 2>/dev/null; true",
            timeout=self.prompt_timeout,
        )

    # ------------------------------------------------------------------------------------ commands

    def run(
        self,
        cmd: str,
        timeout: float | None = None,
        *,
        keep_kernel_lines: bool = False,
        shown: str | None = None,
    ) -> Result:
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
        line = self._command_line(cmd, tag)
        start_re = re.compile(re.escape(f"@@GDA-START-{tag}@@") + r"\r*\n")
        end_re = re.compile(re.escape(f"@@GDA-END-{tag}-") + r"(\d+)@@")
        limit = self.command_timeout if timeout is None else timeout
        deadline = time.monotonic() + limit
        # shown: what the transcript and errors say instead of cmd (a file payload: its length and sha256)
        what = f"command {self.redact(cmd if shown is None else shown)!r}"
        self._send(line + "\r", shown=None if shown is None else self.redact(shown))
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
        text = re.sub(r"\r+\n", "\n", output) if keep_kernel_lines else strip_kernel_messages(output)
        return Result(status, text, seconds=time.monotonic() - (deadline - limit))

    def start(self, cmd: str, timeout: float | None = None) -> RunningCommand:
        """Start ``cmd`` and return while it runs, for programs that talk to the terminal (``netplan
        try``): wait on what it prints with :meth:`RunningCommand.expect`, answer with ``send``, and
        collect the exit status with ``wait``."""
        if not self._in_shell or self._shell_unsure:
            raise ConsoleError("the console session is not logged in")
        self._seq += 1
        tag = f"{self._nonce}-{self._seq}"
        line = self._command_line(cmd, tag)
        self._send(line + "\r")
        self._shell_unsure = True  # a program owns the terminal: never type commands or "exit" into it
        self._expect(
            [re.compile(re.escape(f"@@GDA-START-{tag}@@") + r"\r*\n")],
            self.prompt_timeout if timeout is None else timeout,
            f"the start of {self.redact(cmd)!r}",
        )
        return RunningCommand(self, tag, cmd)

    def _command_line(self, cmd: str, tag: str) -> str:
        """The line that runs ``cmd`` between its markers, in the login shell (``eval``, POSIX quoting). A
        command too long for one line (a shell reading in canonical mode, dash, keeps 4095 characters) is
        written to a private file first through write_file()'s checked channel and read back into a variable,
        so it is evaluated the same way."""
        body = f"eval {shell_quote(cmd)}"
        if len(body) > MAX_LINE:
            staged = f"/tmp/.gda-cmd-{tag}"
            self.write_file(staged, cmd.encode("utf-8"), mode=0o600)
            q = shlex.quote(staged)
            body = f'_gda_cmd=$(cat {q}; echo x); rm -f {q}; eval "${{_gda_cmd%x}}"'
        return f"echo '@@GDA''-START-{tag}@@'; {body}; echo \"@@GDA\"\"-END-{tag}-$?@@\""

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

    def run_checked(self, cmd: str, timeout: float | None = None, *, shown: str | None = None) -> str:
        """run(); its output, or ConsoleError (with the output) when the exit status is not 0."""
        result = self.run(cmd, timeout, shown=shown)
        if result.status != 0:
            output = self.redact(result.output.rstrip("\n"))
            lines = output.split("\n")[-ERROR_LINES:] if output else []
            detail = ("\n" + "\n".join(f"  | {clean(line)}" for line in lines)) if lines else " (no output)"
            raise ConsoleError(
                f"console command {self.redact(cmd if shown is None else shown)!r} failed with exit status "
                f"{result.status}:{detail}"
            )
        return result.output

    # ------------------------------------------------------------------------------------ files

    def write_file(self, path: str, data: bytes, mode: int = 0o600) -> None:
        """Write ``data`` to ``path`` atomically: base64 chunks written to a hidden temp file next to it
        (mode 0600 from the first), decoded to a second temp file and checked with sha256sum in one
        command, then chmod'ed and renamed over ``path`` (the temp file removed) in another."""
        q = shlex.quote
        directory, name = posixpath.split(path)
        if not name:
            raise ConsoleError(f"write_file: {path!r} names a directory")
        stem = posixpath.join(directory, f".{name}.gda-{self._nonce}")
        tmp, new = f"{stem}.b64", f"{stem}.new"
        digest = hashlib.sha256(data).hexdigest()
        encoded = base64.b64encode(data).decode("ascii")
        payload = payload_summary(data)[1:-1]  # the transcript shows the file's length and sha256 only
        per_command = chunk_chars(q(tmp))
        if per_command < MIN_CHUNK_CHARS:
            raise ConsoleError(f"write_file: the path {path!r} is too long to write over the console")
        done = False
        try:
            if not encoded:
                self.run_checked(f"(umask 077 && : > {q(tmp)})")
            for offset in range(0, len(encoded), per_command):
                chunk = encoded[offset : offset + per_command]
                n = offset // per_command + 1
                if offset == 0:  # the first chunk creates the file, 0600
                    cmd = f"(umask 077 && printf %s '{chunk}' > {q(tmp)})"
                    shown = f"(umask 077 && printf %s <chunk {n} of {payload}> > {q(tmp)})"
                else:
                    cmd = f"printf %s '{chunk}' >> {q(tmp)}"
                    shown = f"printf %s <chunk {n} of {payload}> >> {q(tmp)}"
                self.run_checked(cmd, shown=shown)
            got = self.run_checked(
                f"(umask 077 && base64 -d < {q(tmp)} > {q(new)}) && sha256sum < {q(new)}"
            ).split()
            if not got or got[0] != digest:
                raise ConsoleError(
                    f"write {path}: the checksum on the guest does not match what was sent "
                    f"(sent {digest[:16]}, got {got[0][:16] if got else 'nothing'})"
                )
            self.run_checked(f"chmod {mode:04o} {q(new)} && mv -f {q(new)} {q(path)} && rm -f {q(tmp)}")
            done = True
        finally:
            if not done and self._in_shell and not self._shell_unsure:
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
        self.status: int | None = None

    def expect(self, patterns: list[str], timeout: float) -> int | None:
        """Wait until the command prints one of ``patterns`` (regexes): its index; None when the
        command ended first (see ``status``). Raises ConsoleTimeout."""
        if self.status is not None:
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

    def wait(self, timeout: float) -> Result:
        """Wait for the command to end; its exit status and everything it printed."""
        if self.status is None:
            self._s._expect([self._end_re], timeout, f"the end of {self.cmd!r}")
            self.output += str(self._s._spawn.before)
            self._finished()
        assert self.status is not None
        return Result(self.status, strip_kernel_messages(self.output))

    def _finished(self) -> None:
        match = self._s._spawn.match
        self.status = int(match.group(1))
        self._s._expect([self._s._prompt_re], self._s.prompt_timeout, "the shell prompt")
        self._s._shell_unsure = False
