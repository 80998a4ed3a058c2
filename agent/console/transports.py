"""Console transports: open a guest's serial console as a pexpect-compatible spawn object.

One transport per console (inventory ``console:``):

* ``tcp: host:port``     a serial port served on TCP (QEMU ``-serial tcp:127.0.0.1:4555,server,nowait``)
* ``unix: /path``        a unix stream socket (QEMU ``-serial unix:/path,server,nowait``)
* ``command: argv...``   a local command attached to the console (``virsh console xdev``); split with
                         :func:`shlex.split` and run on a pty, never through a shell
* ``ssh: {host, command, port?, user?}``
                         a command run on the hypervisor host over SSH with a pty (vm-bhyve's
                         ``sudo vm console xdev``, which is ``cu`` on an nmdm device). The caller passes an
                         already-connected :class:`paramiko.SSHClient`: host-key verification and the
                         connection belong to the caller, this module never creates clients.

Every spawn returned here works in text mode (UTF-8, undecodable bytes replaced) and never sleeps before a
send. ``close()`` first sends the console's *detach* sequence when there is one (``\\r~.`` for ``cu``,
Ctrl-] for ``virsh console``), so the program on the other side lets go of the serial line.
"""

from __future__ import annotations

import contextlib
import socket
from typing import TYPE_CHECKING, Any, Protocol, cast

import pexpect
from pexpect.spawnbase import SpawnBase

from agent.console.console_spec import (
    CU_DETACH,
    VIRSH_DETACH,
    ConsoleKind,
    ConsoleSpec,
    default_detach,
)
from agent.errors import ConsoleError, Unreachable

if TYPE_CHECKING:
    import paramiko

__all__ = [
    "CU_DETACH",
    "VIRSH_DETACH",
    "ChannelSpawn",
    "CommandSpawn",
    "ConsoleKind",
    "ConsoleSpawn",
    "ConsoleSpec",
    "ConsoleUnreachable",
    "SocketSpawn",
    "default_detach",
    "open_console",
]

DEFAULT_CONNECT_TIMEOUT = 10.0
_ENCODING = "utf-8"
_MAXREAD = 4096


class ConsoleSpawn(Protocol):
    """What :class:`agent.console.session.ConsoleSession` needs from a spawn object (any pexpect spawn,
    in text mode, fits)."""

    before: Any
    after: Any
    match: Any
    logfile_read: Any
    encoding: str | None

    def send(self, s: str) -> int: ...

    def expect(self, pattern: Any, timeout: float | None = -1, searchwindowsize: int | None = -1) -> int: ...

    def close(self) -> None: ...


class ConsoleUnreachable(ConsoleError, Unreachable):
    """The console cannot be opened (nothing listens, the command failed): exit 4."""

    exit_code = Unreachable.exit_code
    kind = Unreachable.kind


# --------------------------------------------------------------------------------------------- spawns


class _StreamSpawn(SpawnBase):  # type: ignore[misc]
    """A pexpect spawn over a byte stream (socket, SSH channel): subclasses supply _recv/_sendall/_shutdown.

    Unlike pexpect's own SocketSpawn (4.9), reads are decoded and logged like every other spawn, so text
    mode and ``logfile_read`` work.
    """

    def __init__(self, *, name: str, timeout: float, detach: str | None, maxread: int = _MAXREAD) -> None:
        super().__init__(timeout=timeout, maxread=maxread, encoding=_ENCODING, codec_errors="replace")
        self.name = name
        self.detach = detach
        self.delaybeforesend = None
        self.delayafterread = None
        self.closed = False

    # subclass hooks
    def _recv(self, size: int, timeout: float | None) -> bytes:  # pragma: no cover - abstract
        raise NotImplementedError

    def _sendall(self, data: bytes) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _shutdown(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def read_nonblocking(self, size: int = 1, timeout: float | None = -1) -> str:
        if self.closed:
            raise ValueError("I/O operation on closed console")
        if timeout == -1:
            timeout = self.timeout
        try:
            data = self._recv(size, timeout)
        except (TimeoutError, BlockingIOError):
            raise pexpect.TIMEOUT("Timeout exceeded.") from None
        except (ConnectionError, EOFError) as exc:
            self.flag_eof = True
            raise pexpect.EOF(f"console connection lost: {exc}") from None
        if not data:
            self.flag_eof = True
            raise pexpect.EOF("console connection closed")
        text = cast(str, self._decoder.decode(data, final=False))
        self._log(text, "read")
        return text

    def send(self, s: str | bytes) -> int:
        if self.closed:
            raise ValueError("I/O operation on closed console")
        s = self._coerce_send_string(s)
        self._log(s, "send")
        data = cast(bytes, self._encoder.encode(s, final=False))
        try:
            self._sendall(data)
        except OSError as exc:
            self.flag_eof = True
            raise pexpect.EOF(f"console connection lost: {exc}") from None
        return len(data)

    def sendline(self, s: str = "") -> int:
        return self.send(s + self.linesep)

    def isalive(self) -> bool:
        return not self.closed and not self.flag_eof

    def close(self) -> None:
        if self.closed:
            return
        if self.detach and not self.flag_eof:
            with contextlib.suppress(OSError, EOFError):
                self._sendall(self.detach.encode())
        self.closed = True
        with contextlib.suppress(OSError, EOFError):
            self._shutdown()

    def __enter__(self) -> _StreamSpawn:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class SocketSpawn(_StreamSpawn):
    """A connected stream socket (TCP or unix) as a spawn; ``close()`` closes the socket."""

    def __init__(self, sock: socket.socket, *, name: str, timeout: float = 30.0, detach: str | None = None):
        super().__init__(name=name, timeout=timeout, detach=detach)
        self.socket = sock
        self.child_fd = sock.fileno()

    def _recv(self, size: int, timeout: float | None) -> bytes:
        self.socket.settimeout(timeout)
        return self.socket.recv(size)

    def _sendall(self, data: bytes) -> None:
        self.socket.settimeout(self.timeout)
        self.socket.sendall(data)

    def _shutdown(self) -> None:
        try:
            with contextlib.suppress(OSError):
                self.socket.shutdown(socket.SHUT_RDWR)
        finally:
            self.socket.close()
            self.child_fd = -1


class ChannelSpawn(_StreamSpawn):
    """A paramiko Channel (a command with a pty on the hypervisor host) as a spawn.

    ``close()`` sends the detach sequence (``cu``'s ``~.``) and closes the channel, never the SSH client.
    """

    def __init__(
        self, channel: paramiko.Channel, *, name: str, timeout: float = 30.0, detach: str | None = None
    ) -> None:
        super().__init__(name=name, timeout=timeout, detach=detach)
        self.channel = channel

    def _recv(self, size: int, timeout: float | None) -> bytes:
        self.channel.settimeout(timeout)
        return self.channel.recv(size)

    def _sendall(self, data: bytes) -> None:
        self.channel.settimeout(self.timeout)
        self.channel.sendall(data)

    def _shutdown(self) -> None:
        self.channel.close()

    @property
    def exit_status(self) -> int | None:
        """The remote command's exit status once it has ended, else None."""
        if self.channel.exit_status_ready():
            return self.channel.recv_exit_status()
        return None


class CommandSpawn(pexpect.spawn):  # type: ignore[misc]
    """``pexpect.spawn`` of a local console command whose ``close()`` sends the detach sequence first."""

    def __init__(self, argv: list[str], *, timeout: float = 30.0, detach: str | None = None) -> None:
        super().__init__(
            argv[0],
            argv[1:],
            timeout=timeout,
            maxread=_MAXREAD,
            encoding=_ENCODING,
            codec_errors="replace",
            dimensions=(50, 500),
        )
        self.detach = detach
        self.delaybeforesend = None
        self.delayafterread = None

    def close(self, force: bool = True) -> None:
        if not self.closed and self.detach and self.isalive():
            with contextlib.suppress(OSError):
                super().send(self.detach)
        super().close(force=force)


def _connect_error(spec: ConsoleSpec, exc: BaseException) -> ConsoleUnreachable:
    reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else (str(exc) or type(exc).__name__)
    return ConsoleUnreachable(
        f"cannot open console {spec.describe()}: {reason}",
        hint="is the guest running with its serial console served there?",
    )


def open_console(
    spec: ConsoleSpec,
    *,
    ssh_client: paramiko.SSHClient | None = None,
    timeout: float = DEFAULT_CONNECT_TIMEOUT,
) -> ConsoleSpawn:
    """Open the console transport ``spec`` and return a text-mode spawn object.

    ``timeout`` bounds the connection (and is the spawn's default expect timeout). For ``ssh`` pass the
    caller's connected ``ssh_client`` (host keys verified by the caller). Raises :class:`ConsoleError` when
    the console cannot be opened.
    """
    if spec.kind == "tcp":
        host, port = spec.tcp_address
        try:
            sock = socket.create_connection((host, port), timeout=timeout)
        except OSError as exc:
            raise _connect_error(spec, exc) from None
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return SocketSpawn(
            sock, name=f"<console {spec.describe()}>", timeout=timeout, detach=spec.detach_sequence
        )
    if spec.kind == "unix":
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        try:
            sock.connect(spec.target)
        except OSError as exc:
            sock.close()
            raise _connect_error(spec, exc) from None
        return SocketSpawn(
            sock, name=f"<console {spec.describe()}>", timeout=timeout, detach=spec.detach_sequence
        )
    if spec.kind == "command":
        try:
            return CommandSpawn(spec.argv, timeout=timeout, detach=spec.detach_sequence)
        except (pexpect.ExceptionPexpect, OSError) as exc:
            raise _connect_error(spec, exc) from None
    # ssh
    if ssh_client is None:
        raise ConsoleError(f"console {spec.describe()}: no SSH connection to the console host was given")
    transport = ssh_client.get_transport()
    if transport is None or not transport.is_active():
        raise ConsoleError(f"console {spec.describe()}: the SSH connection to {spec.host} is not open")
    try:
        channel = transport.open_session(timeout=timeout)
        channel.get_pty(term="vt100", width=500, height=50)
        channel.exec_command(spec.target)
    except Exception as exc:  # paramiko raises SSHException, EOFError, socket errors
        raise _connect_error(spec, exc) from None
    return ChannelSpawn(
        channel, name=f"<console {spec.describe()}>", timeout=timeout, detach=spec.detach_sequence
    )
