"""The SSH transport: one connection per guest per task, verified host keys, sudo without a pty.

:class:`SshSession` implements :class:`agent.transport.protocol.CommandProtocol`. It is built on Fabric's
``Connection`` (which honours ``~/.ssh/config``, ProxyJump and ssh-agent) with its silent
``AutoAddPolicy`` replaced: unknown hosts are refused unless ``accept_new_host_key`` is given, and a
changed key is always refused. Commands run on a plain exec channel (no pty) with their stdin sent as
bytes, so file contents travel on stdin, never in a command line. Failures are sorted into classes the
callers act on: unreachable (retriable, exit 4), authentication and host key (never retried).
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

import paramiko
from fabric import Connection

from agent.errors import RemoteError
from agent.transport.file_transfer import decode_read, read_script, write_script
from agent.transport.hostkeys import (
    AcceptNewHost,
    HostKeyError,
    RejectUnknownHost,
    fingerprint,
    is_revoked,
    revoked_error,
)
from agent.transport.known_hosts import KnownHosts, load_known_hosts
from agent.transport.protocol import Result
from agent.transport.ssh_exec import exec_channel
from agent.transport.ssh_root_shell import SshRootShell
from agent.transport.ssh_types import SshAuthError, SshTarget, SshTimeout, SshUnreachable, with_partial
from agent.transport.sudo import SUDO_PROMPT, shell_command, sudo_failure, wrap

if TYPE_CHECKING:
    from agent.transport.early_open import PreSocket

__all__ = ["SshAuthError", "SshSession", "SshTarget", "SshTimeout", "SshUnreachable"]

# paramiko logs connection failures with tracebacks from its transport thread; the caller reports
# them as one clear line instead.
logging.getLogger("paramiko").addHandler(logging.NullHandler())
logging.getLogger("paramiko").propagate = False


def _install_keys(client: paramiko.SSHClient, known: KnownHosts) -> None:
    """Give a client the keys read from known_hosts (revoked ones are not among them)."""
    keys = client.get_host_keys()
    for hostname, by_type in known.keys.items():
        for keytype, key in by_type.items():
            keys.add(hostname, keytype, key)


class SshSession:
    """A connected guest over SSH. Use as a context manager; ``commands_run`` counts remote commands."""

    def __init__(
        self,
        target: SshTarget,
        *,
        accept_new_host_key: bool = False,
        sudo_password: str | None = None,
        sudo_password_env: str | None = None,
    ) -> None:
        self.target = target
        self.accept_new_host_key = accept_new_host_key
        self._sudo_password = sudo_password
        self._sudo_password_env = sudo_password_env
        self.commands_run = 0
        self.accepted_host_keys: list[str] = []
        self._root_shell: SshRootShell | None = None
        #: seconds spent connecting and starting the root shell (sudo), for ``--timings``
        self.connect_seconds = 0.0
        self.sudo_seconds = 0.0
        #: root sessions started (each a sudo when the login user is not root): the root shell is one
        self.sudo_sessions = 0
        connect_kwargs: dict[str, object] = {
            "banner_timeout": target.connect_timeout,
            "auth_timeout": target.connect_timeout,
        }
        if target.identity_file is not None:
            connect_kwargs["key_filename"] = [str(target.identity_file)]
        self.conn = Connection(
            host=target.host,
            user=target.user,
            port=target.port,
            connect_timeout=int(max(1, target.connect_timeout)),
            connect_kwargs=connect_kwargs,
        )
        self.known_hosts = self._known_hosts_file()
        self.label = f"SSH {self.address}"
        # an open begun in the background (begin_open): its thread, its failure, whether it is over and
        # whether the session was closed meanwhile (the thread then closes what it opened)
        self._opening: threading.Thread | None = None
        self._open_error: BaseException | None = None
        self._opening_lock = threading.Lock()
        self._opening_over = True
        self._abandoned = False
        #: set once the server's banner arrived (or the open ended) on an open that watches for it:
        #: ``open(on_banner=...)``, or ``begin_open(..., watch_banner=True)``, which began at ``open_began``
        self.banner_heard = threading.Event()
        self.open_began: float | None = None

    @property
    def address(self) -> str:
        return f"{self.conn.user}@{self.conn.host}:{self.conn.port}"

    @property
    def user(self) -> str:
        return str(self.conn.user)

    @property
    def client(self) -> paramiko.SSHClient:
        """The connected paramiko client (for a console reached through this host)."""
        client: paramiko.SSHClient = self.conn.client
        return client

    def _known_hosts_file(self) -> Path:
        if self.target.known_hosts is not None:
            return self.target.known_hosts.expanduser()
        from_config = self.conn.ssh_config.get("userknownhostsfile")
        if from_config:
            return Path(str(from_config).split()[0]).expanduser()
        return Path("~/.ssh/known_hosts").expanduser()

    # ------------------------------------------------------------------------------------ connection

    def open(self, *, on_banner: Callable[[], None] | None = None) -> SshSession:
        """Connect and authenticate. ``on_banner`` is called as soon as the server's banner has arrived,
        before the key exchange and authentication (a direct connection only: not through a gateway).

        After :meth:`begin_open`: wait for that open and return or raise its outcome; ``connect_seconds``
        is then the time waited."""
        t0 = time.monotonic()
        opening, self._opening = self._opening, None
        try:
            if opening is not None:
                opening.join()
                if self._open_error is not None:
                    raise self._open_error
                return self
            return self._open(on_banner)
        finally:
            self.connect_seconds = time.monotonic() - t0

    def begin_open(self, presocket: PreSocket, *, watch_banner: bool = False) -> None:
        """Connect and authenticate on a thread of its own (:mod:`agent.transport.early_open`), on
        ``presocket``'s TCP connection when it goes where this session connects (directly: no gateway,
        the host and port ``~/.ssh/config`` gives); :meth:`open` waits for it. ``watch_banner``:
        :attr:`banner_heard` is set when the banner arrives (``--via auto``'s probe), as
        ``open(on_banner=...)`` would call it."""
        self.open_began = time.monotonic()

        def run() -> None:
            try:
                self._open(self.banner_heard.set if watch_banner else None, presocket)
            except BaseException as e:  # open() raises it in the task's thread
                self._open_error = e
            finally:
                presocket.close()  # unless the connection took it
                self.banner_heard.set()  # the open is over: nothing more to wait for
            with self._opening_lock:
                self._opening_over = True
                abandoned = self._abandoned
            if abandoned:
                self._close_now()

        self._opening_over = False
        self._opening = threading.Thread(target=run, name="gda-early-ssh", daemon=True)
        self._opening.start()

    def use_sudo_password(self, password: str | None, env_name: str | None) -> None:
        """The sudo password (and the variable it came from) for a session built before it was known."""
        self._sudo_password = password
        self._sudo_password_env = env_name

    def _unreachable(self, reason: str) -> SshUnreachable:
        return SshUnreachable(
            f"cannot reach SSH on {self.conn.host}:{self.conn.port}: {reason}",
            hint="is the guest up and its network configured? "
            "(after a disk was attached: the fix-netplan task)",
        )

    def _socket_with_banner(self) -> socket.socket:
        """A TCP connection to the server on which its banner has begun to arrive (peeked at, left for
        paramiko to read)."""
        timeout = self.target.connect_timeout
        try:
            sock = socket.create_connection((self.conn.host, int(self.conn.port)), timeout=timeout)
        except OSError as e:
            raise self._unreachable(str(e.strerror or e)) from None
        self._await_banner(sock)
        return sock

    def _await_banner(self, sock: socket.socket) -> None:
        """Wait (the socket's timeout, the target's connect timeout) until the server's banner has begun
        to arrive on ``sock``: peeked at, left for paramiko to read; closed and unreachable when it does
        not."""
        timeout = self.target.connect_timeout
        sock.settimeout(timeout)
        try:
            first = sock.recv(1, socket.MSG_PEEK)
        except OSError:  # a timeout too: a port forwarder accepts, and nothing answers behind it
            sock.close()
            raise self._unreachable(f"no SSH banner within {timeout:g}s") from None
        if not first:
            sock.close()
            raise self._unreachable("the connection was closed before the SSH banner")

    def _open(
        self, on_banner: Callable[[], None] | None = None, presocket: PreSocket | None = None
    ) -> SshSession:
        client = self.client
        # Read known_hosts ourselves: paramiko's loader fails on @cert-authority/@revoked lines and
        # does not enforce @revoked (agent.transport.known_hosts).
        files = [self.known_hosts]
        if self.target.known_hosts is None:
            files.insert(0, Path("/etc/ssh/ssh_known_hosts"))
        known = load_known_hosts(files)
        _install_keys(client, known)
        policy: paramiko.MissingHostKeyPolicy
        accept = AcceptNewHost(self.known_hosts, known.revoked)
        reject = RejectUnknownHost(self.known_hosts, known.revoked, cert_authorities=known.cert_authorities)
        policy = accept if self.accept_new_host_key else reject
        client.set_missing_host_key_policy(policy)
        # ProxyJump hops: Fabric gives each gateway its own client with AutoAddPolicy and no known_hosts.
        gateway = self.conn.gateway
        while isinstance(gateway, Connection):
            _install_keys(gateway.client, known)
            gateway.client.set_missing_host_key_policy(RejectUnknownHost(self.known_hosts, known.revoked))
            gateway = gateway.gateway
        where_host, where_port = str(self.conn.host), int(self.conn.port)
        where = f"{where_host}:{where_port}"
        sock = None
        direct = self.conn.gateway is None
        if presocket is not None and direct and (presocket.host, presocket.port) == (where_host, where_port):
            try:
                sock = self.conn.connect_kwargs["sock"] = presocket.result()
            except OSError as e:
                raise self._unreachable(str(e.strerror or e)) from None
        elif presocket is not None:
            presocket.close()  # it went elsewhere than ~/.ssh/config says: connect as always
        if on_banner is not None and direct:
            if sock is None:
                sock = self.conn.connect_kwargs["sock"] = self._socket_with_banner()
            else:
                self._await_banner(sock)
            on_banner()
        try:
            self._connect(where, known)
        except BaseException:
            if sock is not None:
                sock.close()
            raise
        if self.accept_new_host_key:
            self.accepted_host_keys = list(accept.accepted)
        return self

    def _connect(self, where: str, known: KnownHosts) -> None:
        """Fabric's open (key exchange, host key, authentication), its failures in the project's words."""
        try:
            self.conn.open()
        except HostKeyError:
            raise
        except paramiko.BadHostKeyException as e:
            if is_revoked(e.key, known.revoked):
                raise revoked_error(where, e.key, self.known_hosts) from None
            raise HostKeyError(
                f"host key for {where} does NOT match {self.known_hosts}: got {e.key.get_name()} "
                f"{fingerprint(e.key)}, expected {fingerprint(e.expected_key)}. Someone may be "
                "impersonating the guest, or it was reinstalled",
                hint=f"if the change is expected, remove the old line: ssh-keygen -R '[{self.conn.host}]:"
                f"{self.conn.port}' -f {self.known_hosts}",
            ) from None
        except paramiko.AuthenticationException as e:
            raise SshAuthError(
                f"SSH authentication as {self.conn.user} on {where} failed: {e}",
                hint="check user and identity_file in inventory.yaml (ssh-agent keys are tried too)",
            ) from None
        except (paramiko.SSHException, OSError, EOFError) as e:
            reason = str(e) or type(e).__name__
            if isinstance(e, paramiko.SSHException):
                # A port forwarder (QEMU's, a NAT) accepts the connection but nothing answers behind it.
                reason = f"no SSH banner within {self.target.connect_timeout:g}s ({reason})"
            raise self._unreachable(reason) from None

    def close(self) -> None:
        """Close the connection; one still opening in the background is closed by its thread."""
        with self._opening_lock:
            if not self._opening_over:
                self._abandoned = True
                return
        self._close_now()

    def _close_now(self) -> None:
        if self._root_shell is not None:
            self._root_shell.close()
            self._root_shell = None
        self.conn.close()

    def __enter__(self) -> SshSession:
        return self.open()

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # ------------------------------------------------------------------------------------ commands

    def _exec(self, command: str, stdin: bytes | None, timeout: float | None) -> tuple[int, bytes, bytes]:
        transport = self.client.get_transport()
        if transport is None or not transport.is_active():
            raise SshUnreachable(f"the SSH connection to {self.address} is not open")
        return exec_channel(
            transport,
            command,
            stdin,
            timeout,
            address=self.address,
            label=self.label,
            open_timeout=self.target.connect_timeout,
        )

    def run(
        self,
        script: str,
        *,
        root: bool = False,
        stdin: bytes | None = None,
        timeout: float | None = None,
    ) -> Result:
        """Run ``script`` with ``sh`` (as root through :mod:`agent.transport.sudo` with ``root=True``)."""
        self.commands_run += 1
        t0 = time.monotonic()
        if root and stdin is None:
            return self._run_in_root_shell(script, timeout, t0)
        if root:
            self.sudo_sessions += 1
            w = wrap(
                script, remote_user_is_root=self.user == "root", password=self._sudo_password, stdin=stdin
            )
            command, data = w.command, w.stdin
        else:
            command, data = shell_command(script, reads_stdin=stdin is not None), stdin
        status, out, err = self._exec(command, data, timeout)
        stderr = err.decode("utf-8", "replace")
        if root and stderr.startswith(SUDO_PROMPT):
            stderr = stderr[len(SUDO_PROMPT) :]
        result = Result(status, out.decode("utf-8", "replace"), stderr, time.monotonic() - t0)
        if root:
            failure = sudo_failure(status, stderr, password_env=self._sudo_password_env, user=self.user)
            if failure is not None:
                raise failure
        return result

    def begin_root(self) -> None:
        """Start the task's root shell (its one sudo) without waiting for it: sudo's PAM runs while the
        task reads what needs no root on another channel. The first root script waits for it (and
        raises sudo's refusal). A no-op when the shell is already running or starting."""
        shell = self._root_shell
        if shell is not None and (shell.started or shell.alive):
            return
        self._root_shell = self._new_root_shell()
        self.sudo_sessions += 1
        self._root_shell.start()

    def _shell(self) -> SshRootShell:
        """The task's root shell, ready: the one :meth:`begin_root` started, else one started now (one
        sudo) for the first root script without input."""
        shell = self._root_shell
        if shell is None or not (shell.started or shell.alive):
            self.begin_root()
            shell = self._root_shell
            assert shell is not None
        if shell.started:
            try:
                shell.wait_ready()
            except BaseException:
                shell.close()  # sudo's refusal closed it already; an interrupt leaves it to close here
                self._root_shell = None
                raise
            self.sudo_seconds += shell.open_seconds
        return shell

    def _new_root_shell(self) -> SshRootShell:
        transport = self.client.get_transport()
        if transport is None or not transport.is_active():
            raise SshUnreachable(f"the SSH connection to {self.address} is not open")

        def lost(message: str, out: bytes) -> RemoteError:
            return with_partial(SshUnreachable(message), out)

        def timed_out(message: str, out: bytes) -> RemoteError:
            return with_partial(SshTimeout(message), out)

        return SshRootShell(
            transport,
            remote_user_is_root=self.user == "root",
            password=self._sudo_password,
            password_env=self._sudo_password_env,
            user=self.user,
            label=self.label,
            lost=lost,
            timed_out=timed_out,
            open_timeout=self.target.connect_timeout,
        )

    def _run_in_root_shell(self, script: str, timeout: float | None, t0: float) -> Result:
        reply = self._shell().run(script, timeout)
        return Result(
            reply.status,
            reply.stdout.decode("utf-8", "replace"),
            reply.stderr.decode("utf-8", "replace"),
            time.monotonic() - t0,
        )

    def write_file(self, path: str, data: bytes, *, mode: int = 0o600) -> None:
        r = self.run(write_script(path, data, mode=mode), root=True, stdin=data, timeout=120)
        if not r.ok:
            raise RemoteError(f"could not write {path} on the guest: {r.output.strip()[-400:]}")

    def read_file(self, path: str) -> bytes:
        r = self.run(read_script(path), root=True, timeout=120)
        return decode_read(r.stdout + (f"\n{r.stderr}" if not r.ok else ""), path)
