"""One SSH connection per guest per task, with verified host keys and sudo without a pty.

Built on Fabric's ``Connection`` (which honours ``~/.ssh/config`` and ssh-agent) with its silent
``AutoAddPolicy`` replaced: unknown hosts are refused unless ``accept_new_host_key`` is given, and a
changed key is always refused. Failures are sorted into classes the callers act on: unreachable
(retriable), authentication and host key (never retried).
"""

from __future__ import annotations

import io
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import paramiko
from fabric import Connection
from invoke.exceptions import CommandTimedOut

from agent.core.sudo import sudo_failure, wrap
from agent.errors import RemoteError
from agent.remote.hostkeys import AcceptNewHost, HostKeyError, RejectUnknownHost, fingerprint

# paramiko logs connection failures with tracebacks from its transport thread; the caller reports
# them as one clear line instead.
logging.getLogger("paramiko").addHandler(logging.NullHandler())
logging.getLogger("paramiko").propagate = False


class SshUnreachable(RemoteError):
    """Connection refused, timed out, or no SSH banner: worth retrying while a guest comes up."""


class SshTimeout(RemoteError):
    """A remote command did not finish in time (the connection may be stalled)."""


class SshAuthError(RemoteError):
    """The server refused our credentials. Never retried."""


@dataclass(frozen=True)
class SshTarget:
    """Where and as whom to connect. Unset fields come from ~/.ssh/config, then defaults."""

    host: str
    port: int | None = None
    user: str | None = None
    identity_file: Path | None = None
    known_hosts: Path | None = None
    connect_timeout: float = 10.0


@dataclass(frozen=True)
class CommandResult:
    exit_code: int
    stdout: str
    stderr: str
    seconds: float


class SshSession:
    """A connected guest. Use as a context manager; ``commands_run`` counts remote commands."""

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

    @property
    def label(self) -> str:
        return f"{self.conn.user}@{self.conn.host}:{self.conn.port}"

    def _known_hosts_file(self) -> Path:
        if self.target.known_hosts is not None:
            return self.target.known_hosts.expanduser()
        from_config = self.conn.ssh_config.get("userknownhostsfile")
        if from_config:
            return Path(str(from_config).split()[0]).expanduser()
        return Path("~/.ssh/known_hosts").expanduser()

    def open(self) -> SshSession:
        client: paramiko.SSHClient = self.conn.client
        if self.target.known_hosts is None and Path("/etc/ssh/ssh_known_hosts").exists():
            client.load_system_host_keys("/etc/ssh/ssh_known_hosts")
        if self.known_hosts.exists():
            client.load_host_keys(str(self.known_hosts))
        policy: paramiko.MissingHostKeyPolicy
        if self.accept_new_host_key:
            policy = accept = AcceptNewHost(self.known_hosts)
        else:
            policy = RejectUnknownHost(self.known_hosts)
        client.set_missing_host_key_policy(policy)
        # ProxyJump hops: Fabric gives each gateway its own client with AutoAddPolicy and no known_hosts.
        gateway = self.conn.gateway
        while isinstance(gateway, Connection):
            if self.known_hosts.exists():
                gateway.client.load_host_keys(str(self.known_hosts))
            gateway.client.set_missing_host_key_policy(RejectUnknownHost(self.known_hosts))
            gateway = gateway.gateway
        where = f"{self.conn.host}:{self.conn.port}"
        try:
            self.conn.open()
        except HostKeyError:
            raise
        except paramiko.BadHostKeyException as e:
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
            raise SshUnreachable(
                f"cannot reach SSH on {where}: {reason}",
                hint="is the guest up and its network configured? "
                "(after a disk was attached: invoke fix-netplan)",
            ) from None
        if self.accept_new_host_key:
            self.accepted_host_keys = list(accept.accepted)
        return self

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> SshSession:
        return self.open()

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def run(self, command: str, *, stdin: str | None = None, timeout: float | None = None) -> CommandResult:
        """Run one remote command without a pty; ``stdin`` is written then closed (never echoed)."""
        self.commands_run += 1
        t0 = time.monotonic()
        try:
            r = self.conn.run(
                command,
                hide=True,
                warn=True,
                pty=False,
                in_stream=io.StringIO(stdin or ""),
                echo_stdin=False,
                timeout=timeout,
            )
        except CommandTimedOut as e:
            raise SshTimeout(f"remote command timed out after {e.timeout}s on {self.label}") from None
        except (OSError, paramiko.SSHException, EOFError) as e:
            raise SshUnreachable(f"SSH connection to {self.label} lost: {e}") from None
        return CommandResult(int(r.exited), r.stdout, r.stderr, time.monotonic() - t0)

    def run_as_root(self, script: str, *, timeout: float | None = None) -> CommandResult:
        """Run a shell script as root (sudo -S with the password on stdin, or -n without one)."""
        user = str(self.conn.user)
        w = wrap(script, remote_user_is_root=user == "root", password=self._sudo_password)
        result = self.run(w.command, stdin=w.stdin, timeout=timeout)
        failure = sudo_failure(
            result.exit_code, result.stderr, password_env=self._sudo_password_env, user=user
        )
        if failure is not None:
            raise failure
        return result
