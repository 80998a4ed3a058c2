"""Host-key policies: verify against known_hosts; ``accept-new`` only when asked; never silent auto-add.

paramiko itself raises ``BadHostKeyException`` when a known host presents a different key, whatever
the policy: that case is never accepted. The policies below decide only for *unknown* hosts, and
both refuse first a key that known_hosts marks ``@revoked`` (see :mod:`agent.transport.known_hosts`:
revoked keys are never among the known keys, so a revoked key always reaches a policy or
``BadHostKeyException``, before any authentication is sent).
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import threading
from collections.abc import Sequence
from pathlib import Path

import paramiko

from agent.errors import RemoteError
from agent.hints import opt


class HostKeyError(RemoteError):
    """The server's host key is unknown or does not match known_hosts. Never retried."""


def fingerprint(key: paramiko.PKey) -> str:
    """OpenSSH-style SHA256 fingerprint."""
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


def is_revoked(key: paramiko.PKey, revoked: Sequence[paramiko.PKey]) -> bool:
    blob = key.asbytes()
    return any(r.asbytes() == blob for r in revoked)


def revoked_error(hostname: str, key: paramiko.PKey, known_hosts: Path) -> HostKeyError:
    """The refusal for a server that presents a key known_hosts marks ``@revoked``."""
    return HostKeyError(
        f"host key for {hostname} is REVOKED in {known_hosts} ({key.get_name()} {fingerprint(key)}): "
        "refusing to connect. The key may have been stolen, or the guest is not the one you think",
        hint="give the guest a new host key and record it in known_hosts (check its fingerprint out of "
        "band); never remove the @revoked line to get past this",
    )


class RejectUnknownHost(paramiko.MissingHostKeyPolicy):
    """Refuse a host whose key is not in known_hosts, saying how to proceed."""

    def __init__(
        self, known_hosts: Path, revoked: Sequence[paramiko.PKey] = (), *, cert_authorities: int = 0
    ) -> None:
        self.known_hosts = known_hosts
        self.revoked = revoked
        self.cert_authorities = cert_authorities

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey) -> None:
        if is_revoked(key, self.revoked):
            raise revoked_error(hostname, key, self.known_hosts)
        ca = (
            "; its @cert-authority lines are not used (host certificates are not supported: the host's "
            "own key must be listed)"
            if self.cert_authorities
            else ""
        )
        raise HostKeyError(
            f"host key for {hostname} is not in {self.known_hosts} ({key.get_name()} {fingerprint(key)})"
            + ca,
            hint="check that fingerprint out of band (on the guest: ssh-keygen -lf "
            f"/etc/ssh/ssh_host_ed25519_key.pub), then rerun with {opt('accept_new_host_key')}",
        )


_APPEND_LOCK = threading.Lock()


class AcceptNewHost(paramiko.MissingHostKeyPolicy):
    """OpenSSH's ``StrictHostKeyChecking=accept-new``: record an unknown host's key in known_hosts."""

    def __init__(self, known_hosts: Path, revoked: Sequence[paramiko.PKey] = ()) -> None:
        self.known_hosts = known_hosts
        self.revoked = revoked
        self.accepted: list[str] = []

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey) -> None:
        if is_revoked(key, self.revoked):
            raise revoked_error(hostname, key, self.known_hosts)
        client.get_host_keys().add(hostname, key.get_name(), key)
        self.known_hosts.parent.mkdir(parents=True, exist_ok=True)
        line = f"{hostname} {key.get_name()} {key.get_base64()}\n"
        # fleet runs accept keys from several threads, and other processes may append too: one line per
        # write, under a lock of this process and an flock of the file
        with _APPEND_LOCK, self.known_hosts.open("a") as f:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX)
            f.write(line)
            f.flush()
        self.accepted.append(f"{hostname} {key.get_name()} {fingerprint(key)}")
