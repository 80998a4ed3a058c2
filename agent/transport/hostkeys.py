"""Host-key policies: verify against known_hosts; ``accept-new`` only when asked; never silent auto-add.

paramiko itself raises ``BadHostKeyException`` when a known host presents a different key, whatever
the policy: that case is never accepted. The policies below decide only for *unknown* hosts.
"""

from __future__ import annotations

import base64
import hashlib
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


class RejectUnknownHost(paramiko.MissingHostKeyPolicy):
    """Refuse a host whose key is not in known_hosts, saying how to proceed."""

    def __init__(self, known_hosts: Path) -> None:
        self.known_hosts = known_hosts

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey) -> None:
        raise HostKeyError(
            f"host key for {hostname} is not in {self.known_hosts} ({key.get_name()} {fingerprint(key)})",
            hint="check that fingerprint out of band (on the guest: ssh-keygen -lf "
            f"/etc/ssh/ssh_host_ed25519_key.pub), then rerun with {opt('accept_new_host_key')}",
        )


class AcceptNewHost(paramiko.MissingHostKeyPolicy):
    """OpenSSH's ``StrictHostKeyChecking=accept-new``: record an unknown host's key in known_hosts."""

    def __init__(self, known_hosts: Path) -> None:
        self.known_hosts = known_hosts
        self.accepted: list[str] = []

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey) -> None:
        client.get_host_keys().add(hostname, key.get_name(), key)
        self.known_hosts.parent.mkdir(parents=True, exist_ok=True)
        with self.known_hosts.open("a") as f:
            f.write(f"{hostname} {key.get_name()} {key.get_base64()}\n")
        self.accepted.append(f"{hostname} {key.get_name()} {fingerprint(key)}")
