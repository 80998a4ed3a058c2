"""A shell session on a guest's serial console, modelled on labgrid's ShellDriver.

The session logs in on an agetty/login console (or takes over a shell already logged in,
:mod:`agent.console.login`), makes the shell machine-friendly (a unique prompt, no echo, no bracketed
paste, a wide terminal, a quiet kernel), then runs each command between unique start/end markers so its
output and exit status are exact even when the kernel prints on the console in the middle. Files go
over as base64 chunks, checked with sha256 (:mod:`agent.console.file_channel`). The low level (send,
expect, redaction, the rules every wait keeps) is :mod:`agent.console.console_io`; the task-facing
protocol is :class:`agent.console.commands.ConsoleCommands`.

Typical use::

    with ConsoleSession(open_console(spec), transcript=fh, secrets=[]) as console:
        console.login("root", password)
        result = console.run("ip -j link")
        console.write_file("/etc/netplan/50-cloud-init.yaml", data)
    # logged out here, on error too (best effort)
"""

from __future__ import annotations

import hashlib
import re
import shlex
import threading
import time
from collections.abc import Sequence
from types import TracebackType

from agent.console import file_channel
from agent.console.console_io import ERROR_LINES, MAX_LINE, ConsoleTimeout, log, shell_quote
from agent.console.login import ConsoleLogin
from agent.console.login_states import ConsoleState, strip_kernel_messages
from agent.core.guest_text import clean
from agent.errors import ConsoleError
from agent.transport.protocol import Result

__all__ = ["ConsoleSession", "RunningCommand"]


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
        whoami = self._setup_shell()
        if whoami != user:
            if not took_over:
                raise self._error(f"console login as {user} gave a shell of {whoami!r}")
            log.info("the console shell belongs to %r, not %r: logging it out", whoami, user)
            self.logout()
            self._login(user, password, allow_shell=False)
            whoami = self._setup_shell()
            if whoami != user:
                raise self._error(f"console login as {user} gave a shell of {whoami!r}")
        self.user = user
        log.info("logged in on the console as %s", user)

    def _setup_shell(self) -> str:
        """Deterministic prompt, no echo (one line); then (one run()) no bracketed paste, wide terminal,
        dumb terminal, no pager, no history file and no history expansion, kernel messages off the
        console, and who the shell belongs to (returned)."""
        head, tail = self._prompt[:4], self._prompt[4:]
        set_prompt = f"PS1='{head}''{tail}\\$ '; PS2=''; unset PROMPT_COMMAND; stty -echo\r"
        self._send(set_prompt)
        if self._expect_or_timeout([self._prompt_re], self.prompt_timeout, "the new shell prompt") is None:
            # The prompt we woke to was an older one and the shell is in the middle of a line (an open
            # quote, say): clear the line with Ctrl-C and set the prompt again, once.
            self._send("\x03")
            shell_res = self._state_patterns(ConsoleState.SHELL)
            self._expect(shell_res, self.prompt_timeout, "the shell prompt after Ctrl-C")
            self._send(set_prompt)
            self._expect([self._prompt_re], self.prompt_timeout, "the new shell prompt")
        self._in_shell = True
        self._shell_unsure = False
        setup = self.run(
            "bind 'set enable-bracketed-paste off' 2>/dev/null; case $- in *H*) set +H;; esac; "
            "stty cols 500 rows 50; "
            "export TERM=dumb PAGER=cat SYSTEMD_PAGER=cat; unset HISTFILE; "
            "dmesg -n 1 2>/dev/null || sudo -n dmesg -n 1 2>/dev/null; "
            f"command -v gzip >/dev/null 2>&1 && echo {file_channel.GZIP_SEEN}; "
            f"command -v tar >/dev/null 2>&1 && echo {file_channel.TAR_SEEN}; echo gda-user=$(id -un)",
            timeout=self.prompt_timeout,
        )
        self._gzip = file_channel.GZIP_SEEN in setup.output
        self._tar = self._gzip and file_channel.TAR_SEEN in setup.output
        return setup.output.rpartition("gda-user=")[2].strip()

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
        if not self._in_shell or self._logout_thread is not None:
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
        if not self.usable or self._logout_thread is not None:
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
        """Write ``data`` to ``path`` atomically, checked (:func:`agent.console.file_channel.write_file`)."""
        file_channel.write_file(self, path, data, mode)

    def write_files(
        self, files: Sequence[tuple[str, bytes, int]], *, then: str, timeout: float | None = None
    ) -> Result:
        """Write ``files`` atomically, checked, then run ``then`` in the same typed line
        (:func:`agent.console.file_channel.write_files`); ``then``'s result."""
        return file_channel.write_files(self, files, then=then, timeout=timeout)

    def read_file(self, path: str) -> bytes:
        """The content of ``path`` (:func:`agent.console.file_channel.read_file`)."""
        return file_channel.read_file(self, path)

    def stage_once(self, *datas: bytes) -> list[str]:
        """Private files (mode 0600, in a folder of this login's, mode 0700) holding each of ``datas``,
        written once per login (those not yet written go over together, as one archive when the guest has
        tar) and named by their sha256: the shared parts of the scripts a task runs (see
        :class:`agent.console.commands.ConsoleCommands`). Removed at logout."""
        folder = f"/tmp/.gda-stage-{self._nonce}"
        names = [hashlib.sha256(d).hexdigest()[:16] for d in datas]
        todo = {n: d for n, d in zip(names, datas, strict=True) if n not in self._staged_once}
        if todo:
            if self._tar:  # the first unpack makes the folder (a strict mkdir: one there is not ours)
                file_channel.unpack_files(self, folder, todo, make_dir=not self._stage_folder)
                self._stage_folder = folder
            else:
                if not self._stage_folder:
                    self.run_checked(f"mkdir -m 700 {shlex.quote(folder)}")  # fails if it is there: not ours
                    self._stage_folder = folder
                file_channel.write_files(self, [(f"{folder}/{n}", d, 0o600) for n, d in todo.items()])
            self._staged_once.extend(todo)
        return [f"{folder}/{n}" for n in names]

    @property
    def has_gzip(self) -> bool:
        """Whether the logged-in guest has gzip (asked by the shell set-up)."""
        return self._gzip

    # ------------------------------------------------------------------------------------ logout

    def logout(self) -> None:
        """``exit`` the shell (nested shells too) until the login prompt is back; the files
        :meth:`stage_once` wrote are removed first. After :meth:`logout_soon`: wait for that logout
        (its error is raised here)."""
        pending, self._logout_thread = self._logout_thread, None
        if pending is not None:
            pending.join()
            error, self._logout_error = self._logout_error, None
            if error is not None:
                raise error
            return
        self._logout_now()

    def _logout_now(self) -> None:
        if not self._in_shell:
            return
        cleanup = ""
        if self._shell_unsure:
            self._send("\x03")
        elif self._stage_folder:
            cleanup = f"rm -rf {shlex.quote(self._stage_folder)}; "
            self._staged_once.clear()
            self._stage_folder = ""
        # The login shell says so on its way out, and that is the logout, without waiting the second or
        # more getty takes to print its prompt again under emulation. The login shell is the terminal's
        # session leader (util-linux login makes it one), or the child of login(1) which is (shadow's
        # login, Debian 12's): when it exits, so does login, and the kernel hangs the terminal up; no
        # shell is left on it. A nested shell says nothing and its parent's prompt comes back: exit again.
        bye = f"@@GDA-BYE-{self._nonce}@@"
        leader = (  # /proc/PID/stat after "(comm) ": state ppid pgrp session
            'read -r _gda_s < /proc/$$/stat && _gda_s=${_gda_s##*") "} && set -- $_gda_s && '
            '{ [ "$4" = $$ ] || { [ "$4" = "$2" ] && read -r _gda_p < "/proc/$2/stat" && '
            '[ "${_gda_p%%") "*}" = "$2 (login" ]; }; } && '
            f"trap 'echo {bye[:5]}''{bye[5:]}' EXIT; "
        )
        patterns = [re.compile(re.escape(bye)), *self._states]
        for _ in range(3):
            self._send(cleanup + leader + "exit\r")
            cleanup = ""
            index = self._expect(patterns, self.prompt_timeout, "the login prompt after exit")
            state = None if index == 0 else self._state_at(index - 1)
            if index == 0 or state is ConsoleState.LOGIN:
                self._in_shell = False
                self._shell_unsure = False
                self.user = None
                log.info("logged out of the console")
                return
            if state is not ConsoleState.SHELL:
                break
        self._in_shell = False
        raise self._error("console logout did not bring back the login prompt")

    def logout_soon(self) -> None:
        """Log out in a thread of its own while the caller goes on with other work (over SSH: getty takes
        a second or more to come back under emulation). The session is not used after this; logout() and
        leaving the ``with`` wait for it."""
        if not self._in_shell or self._logout_thread is not None:
            return
        self._logout_thread = threading.Thread(target=self._logout_in_thread, name="gda-console-logout")
        self._logout_thread.daemon = True  # a Ctrl-C of the task does not wait for it
        self._logout_thread.start()

    def _logout_in_thread(self) -> None:
        try:
            self._logout_now()
        except BaseException as exc:  # raised again by logout() in the caller's thread
            self._logout_error = exc

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
