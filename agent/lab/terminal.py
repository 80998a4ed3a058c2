"""``invoke lab.console``: attach this terminal to the guest's serial console on a TCP port."""

from __future__ import annotations

import os
import select
import socket
import sys
import termios
import tty

from agent.errors import AgentError

ESCAPE = b"\x1d"  # Ctrl-]


def attach(host: str, port: int) -> None:
    """Bridge stdin/stdout and the console socket until Ctrl-] (or the socket closes)."""
    try:
        sock = socket.create_connection((host, port), timeout=5)
    except OSError as e:
        raise AgentError(
            f"cannot connect to the console at {host}:{port}: {e}", hint="invoke lab.status"
        ) from None
    if not sys.stdin.isatty():
        raise AgentError("lab.console needs a terminal", hint="for scripted use, see agent.console")
    fd = sys.stdin.fileno()
    saved = termios.tcgetattr(fd)
    sys.stderr.write(f"connected to {host}:{port}; press Enter for a prompt, Ctrl-] to leave\r\n")
    try:
        tty.setraw(fd)
        sock.sendall(b"\r")
        while True:
            ready, _, _ = select.select([fd, sock], [], [])
            if sock in ready:
                data = sock.recv(4096)
                if not data:
                    break
                os.write(sys.stdout.fileno(), data)
            if fd in ready:
                data = os.read(fd, 1024)
                if ESCAPE in data:
                    break
                sock.sendall(data)
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)
        sock.close()
        sys.stderr.write("\ndisconnected from the console\n")
