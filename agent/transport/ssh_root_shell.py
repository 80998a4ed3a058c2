"""The root shell (:mod:`agent.transport.root_shell`) on one SSH exec channel: started once per session
through the one sudo path, then fed every root script of the task.

A failure leaves nothing half-known: a timeout or a lost channel raises the transport's error with the
stdout received so far (``partial_stdout``, as a plain exec channel does) and the shell is closed, so
the next root script starts a new one; a sudo refusal raises :class:`agent.transport.sudo.SudoError`
before any script was sent.
"""

from __future__ import annotations

import contextlib
import select
import time
from collections.abc import Callable

import paramiko

from agent.errors import RemoteError
from agent.transport import root_shell
from agent.transport.sudo import SUDO_PROMPT, SudoError, sudo_asks_again, sudo_failure, wrap

_CHUNK = 65536

#: builds the transport's error for "lost" / "timed out" with the stdout so far
LostError = Callable[[str, bytes], RemoteError]


class SshRootShell:
    """One running root shell. ``start`` sends sudo its command, ``wait_ready`` waits for its READY line;
    ``run`` sends one request."""

    def __init__(
        self,
        transport: paramiko.Transport,
        *,
        remote_user_is_root: bool,
        password: str | None,
        password_env: str | None,
        user: str,
        label: str,
        lost: LostError,
        timed_out: LostError,
        open_timeout: float,
    ) -> None:
        self._transport = transport
        self._root = remote_user_is_root
        self._password = password
        self._password_env = password_env
        self._user = user
        self._label = label
        self._lost = lost
        self._timed_out = timed_out
        self._open_timeout = open_timeout
        self._channel: paramiko.Channel | None = None
        self._out = bytearray()
        self._err = bytearray()
        self._ready_nonce: str | None = None  # set between start and wait_ready
        self._mode = root_shell.FRAMED  # how the shell reads requests: its READY line says
        self._t0 = 0.0
        #: seconds the start took (sudo's PAM included): ``--timings`` shows it as "sudo"
        self.open_seconds = 0.0

    @property
    def alive(self) -> bool:
        ch = self._channel
        return ch is not None and not ch.closed and not ch.exit_status_ready()

    @property
    def started(self) -> bool:
        """The shell's command and the password have been sent; :meth:`wait_ready` has not returned."""
        return self._ready_nonce is not None

    def start(self) -> None:
        """Send the shell's command (and the password): sudo authenticates while the caller goes on
        (another channel's unprivileged reads); :meth:`wait_ready` waits for the shell."""
        self._t0 = time.monotonic()
        nonce = root_shell.new_id()
        w = wrap(
            root_shell.shell_program(nonce),
            remote_user_is_root=self._root,
            password=self._password,
            stdin=b"",
        )
        try:
            channel = self._transport.open_session(timeout=self._open_timeout)
            channel.exec_command(w.command)
            if w.stdin:
                channel.sendall(w.stdin)
        except (OSError, EOFError, paramiko.SSHException) as e:
            why = e or type(e).__name__
            raise self._lost(f"SSH connection lost while starting the root shell: {why}", b"") from None
        self._channel = channel
        self._ready_nonce = nonce

    def wait_ready(self) -> None:
        """Wait for the READY line of the shell :meth:`start` began; sudo's refusal raises here."""
        channel, nonce, t0 = self._channel, self._ready_nonce, self._t0
        if channel is None or nonce is None:
            raise self._lost(f"the root shell on {self._label} was not started", b"")
        self._ready_nonce = None
        deadline = time.monotonic() + self._open_timeout + 60  # sudo's PAM may be slow
        while (ready := root_shell.ready(self._out, nonce)) is None:
            self._pump()
            if channel.exit_status_ready() and not channel.recv_ready():
                status = channel.recv_exit_status()
                stderr = self._err.decode("utf-8", "replace").replace(SUDO_PROMPT, "")
                self.close()
                failure = sudo_failure(status, stderr, password_env=self._password_env, user=self._user)
                raise failure or SudoError(
                    f"the root shell on {self._label} ended before it started (status {status}): "
                    f"{stderr.strip()[-300:] or 'no message'}"
                )
            err = self._err.decode("utf-8", "replace")
            if sudo_asks_again(err):  # a wrong password: sudo waits for another one that never comes
                self.close()
                failure = sudo_failure(1, err, password_env=self._password_env, user=self._user)
                raise failure or SudoError(f"sudo on {self._label} asked for the password again")
            if time.monotonic() > deadline:
                self.close()
                raise self._timed_out(f"sudo did not start a root shell within {deadline - t0:.0f}s", b"")
            self._wait(0.05)
        self._mode, end = ready
        del self._out[:end]
        self._err.clear()  # sudo's prompt
        self.open_seconds = time.monotonic() - t0

    def run(self, script: str, timeout: float | None) -> root_shell.Reply:
        channel = self._channel
        if channel is None or not self.alive:
            raise self._lost(f"the root shell on {self._label} is not running", b"")
        rid = root_shell.new_id()
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            channel.sendall(root_shell.request(rid, script, self._mode))
            while True:
                self._pump()
                done = root_shell.reply(self._out, self._err, rid)
                if done is not None:
                    self._out.clear()
                    self._err.clear()
                    return done
                if channel.exit_status_ready() and not (channel.recv_ready() or channel.recv_stderr_ready()):
                    partial = bytes(self._out)
                    self.close()
                    raise self._lost(f"the root shell on {self._label} ended during a script", partial)
                if not self._transport.is_active() or channel.closed:
                    partial = bytes(self._out)
                    self.close()
                    raise self._lost(f"SSH connection to {self._label} lost", partial)
                if deadline is not None and time.monotonic() > deadline:
                    partial = bytes(self._out)
                    self.close()
                    why = f"remote command timed out after {timeout:g}s on {self._label}"
                    raise self._timed_out(why, partial)
                self._wait(0.05)
        except (OSError, EOFError, paramiko.SSHException) as e:
            partial = bytes(self._out)
            self.close()
            why = f"SSH connection to {self._label} lost: {e or type(e).__name__}"
            raise self._lost(why, partial) from None

    def close(self) -> None:
        ch, self._channel = self._channel, None
        if ch is not None:
            with contextlib.suppress(OSError, EOFError, paramiko.SSHException):
                ch.shutdown_write()  # end of requests: the shell's read loop ends, sudo exits
            ch.close()

    def _pump(self) -> None:
        ch = self._channel
        if ch is None:
            return
        while ch.recv_ready():
            self._out += ch.recv(_CHUNK)
        while ch.recv_stderr_ready():
            self._err += ch.recv_stderr(_CHUNK)

    def _wait(self, seconds: float) -> None:
        if self._channel is not None:
            select.select([self._channel], [], [], seconds)
