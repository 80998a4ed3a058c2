"""A task's SSH connection begun before the task asked for it, while the program still loads.

``gda format`` and ``gda disks`` spend about 0.35 s starting Python and importing (invoke, pydantic for
the inventory, the task's modules) before they connect, and the connection then waits about as long for
the guest: its sshd forks for the banner, then the key exchange and the authentication run on the
guest's CPU. :mod:`agent.cli.early` starts both at once: a :class:`PreSocket` connects with the plain
``socket`` module a few milliseconds into the process, and an :class:`~agent.transport.ssh.SshSession`
for the same address opens on it in the background (:meth:`~agent.transport.ssh.SshSession.begin_open`)
once paramiko is loaded, and is offered here.

The task takes it with :func:`claim` only when it is the very session the task would have opened: the
same :class:`~agent.transport.ssh.SshTarget` (host, port, user, identity file, known_hosts, timeout),
and no ``--accept-new-host-key`` (the early session refuses unknown host keys, so it has no side
effect to undo). Its outcome is then the task's: an open session, or the error the task's own attempt
would have raised (unreachable, a host key, an authentication refusal), found by the same code. Anything
else is closed unused (:func:`discard`, also at exit): the task connects as it always did.

This module loads nothing but ``socket`` and ``threading``: it runs before paramiko is imported.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from agent.transport.ssh import SshSession, SshTarget


class PreSocket:
    """A TCP connection to ``host``:``port`` made on a thread of its own, started at once."""

    def __init__(self, host: str, port: int, *, timeout: float) -> None:
        self.host = host
        self.port = port
        self._sock: socket.socket | None = None
        self._error: OSError | None = None
        self._closed = False
        self._lock = threading.Lock()
        self._thread = threading.Thread(
            target=self._connect, args=(timeout,), name="gda-preconnect", daemon=True
        )
        self._thread.start()

    def _connect(self, timeout: float) -> None:
        try:
            sock = socket.create_connection((self.host, self.port), timeout=timeout)
        except OSError as e:
            self._error = e
            return
        with self._lock:
            if self._closed:
                sock.close()
            else:
                self._sock = sock

    def result(self) -> socket.socket:
        """The connected socket (waits for the connect); its failure is raised as the ``OSError``."""
        self._thread.join()
        if self._error is not None:
            raise self._error
        with self._lock:
            sock, self._sock = self._sock, None  # the caller owns it now
        if sock is None:
            raise OSError("the early connection was closed")
        return sock

    def close(self) -> None:
        """Close the socket unless :meth:`result` handed it over (now, or as soon as its connect
        returns)."""
        with self._lock:
            self._closed = True
            sock, self._sock = self._sock, None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.close()


_offered: SshSession | None = None
_guard = threading.Lock()


def offer(session: SshSession) -> None:
    """Make ``session`` (opening in the background) the one :func:`claim` may hand out."""
    global _offered
    with _guard:
        previous, _offered = _offered, session
    if previous is not None:
        previous.close()


def claim(target: SshTarget, *, accept_new_host_key: bool) -> SshSession | None:
    """The offered session if it is the one for ``target`` (and no new host key may be accepted); else
    None, the offered one closed. Claimed at most once."""
    global _offered
    with _guard:
        session, _offered = _offered, None
    if session is None:
        return None
    if accept_new_host_key or session.accept_new_host_key or session.target != target:
        session.close()
        return None
    return session


def discard() -> None:
    """Close an offered session nobody claimed (the task stopped before connecting, or took another)."""
    global _offered
    with _guard:
        session, _offered = _offered, None
    if session is not None:
        session.close()
