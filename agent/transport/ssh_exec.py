"""One command line on a plain SSH exec channel (no pty): its stdin sent, then end-of-file; its status,
stdout and stderr read until it exits. A lost connection or a timeout raises the transport's error with
the stdout received so far."""

from __future__ import annotations

import select
import threading
import time

import paramiko

from agent.transport.ssh_types import SshTimeout, SshUnreachable, with_partial

_CHUNK = 65536


def _send_stdin(channel: paramiko.Channel, data: bytes) -> None:
    try:
        channel.sendall(data)
        channel.shutdown_write()
    except (OSError, EOFError, paramiko.SSHException):
        pass  # the command exited without reading it all; its status says what happened


def exec_channel(
    transport: paramiko.Transport,
    command: str,
    stdin: bytes | None,
    timeout: float | None,
    *,
    address: str,
    label: str,
    open_timeout: float,
) -> tuple[int, bytes, bytes]:
    """Run ``command`` on a new channel of ``transport``: (status, stdout, stderr)."""
    deadline = None if timeout is None else time.monotonic() + timeout
    out, err = bytearray(), bytearray()
    try:
        channel = transport.open_session(timeout=open_timeout)
    except (OSError, EOFError, paramiko.SSHException) as e:
        raise SshUnreachable(f"SSH connection to {address} lost: {e or type(e).__name__}") from None
    try:
        channel.exec_command(command)
        if stdin:
            threading.Thread(target=_send_stdin, args=(channel, stdin), daemon=True).start()
        else:
            channel.shutdown_write()
        while True:
            while channel.recv_ready():
                out += channel.recv(_CHUNK)
            while channel.recv_stderr_ready():
                err += channel.recv_stderr(_CHUNK)
            if channel.exit_status_ready() and not (channel.recv_ready() or channel.recv_stderr_ready()):
                return channel.recv_exit_status(), bytes(out), bytes(err)
            if not transport.is_active() or (channel.closed and not channel.exit_status_ready()):
                raise with_partial(SshUnreachable(f"SSH connection to {address} lost"), out)
            if deadline is not None and time.monotonic() > deadline:
                raise with_partial(SshTimeout(f"remote command timed out after {timeout:g}s on {label}"), out)
            select.select([channel], [], [], 0.05)
    except (OSError, EOFError, paramiko.SSHException) as e:
        lost = SshUnreachable(f"SSH connection to {address} lost: {e or type(e).__name__}")
        raise with_partial(lost, out) from None
    finally:
        channel.close()
