"""Read OpenSSH known_hosts files ourselves, markers included.

paramiko's ``HostKeys.load`` takes ``@cert-authority`` and ``@revoked`` lines for malformed keys and
raises, so one such line broke every task; and it has no notion of revoked keys. Here:

* plain lines become host keys (hashed ``|1|`` names work as in paramiko; wildcard patterns are
  not supported, as in paramiko);
* ``@revoked`` lines are collected: such a key is refused for every host, whatever the line's host
  pattern (stricter than needed, never weaker);
* ``@cert-authority`` lines are skipped: host certificates are not supported, so a host known only
  through a CA is an unknown host (refused unless ``accept_new_host_key``);
* a malformed plain line is skipped as OpenSSH does (its host then counts as unknown: refused);
  a malformed ``@revoked`` line is an error, since skipping it would accept the key it revokes;
* the file is read as bytes and split on ``\\n`` only; bytes that are not UTF-8 cannot be part of
  a key and only make that line malformed. A file that cannot be read is a host-key error.
"""

from __future__ import annotations

import binascii
from dataclasses import dataclass, field
from pathlib import Path

import paramiko

from agent.transport.hostkeys import HostKeyError, is_revoked


class KnownHostsError(HostKeyError):
    """known_hosts cannot be read or holds a revocation we cannot enforce. Never retried."""


@dataclass
class KnownHosts:
    """The usable content of one or more known_hosts files."""

    entries: list[paramiko.hostkeys.HostKeyEntry] = field(default_factory=list)
    revoked: list[paramiko.PKey] = field(default_factory=list)
    cert_authorities: int = 0
    skipped: list[str] = field(default_factory=list)

    def is_revoked(self, key: paramiko.PKey) -> bool:
        return is_revoked(key, self.revoked)

    @property
    def keys(self) -> paramiko.HostKeys:
        """The plain host keys, without any key revoked in any of the files read."""
        keys = paramiko.HostKeys()
        for entry in self.entries:
            if not self.is_revoked(entry.key):
                for name in entry.hostnames:
                    keys.add(name, entry.key.get_name(), entry.key)
        return keys


def _entry(text: str) -> paramiko.hostkeys.HostKeyEntry | None:
    try:
        return paramiko.hostkeys.HostKeyEntry.from_line(text)
    except (paramiko.hostkeys.InvalidHostKey, paramiko.SSHException, binascii.Error, ValueError):
        return None


def parse_known_hosts(data: bytes, source: str, into: KnownHosts | None = None) -> KnownHosts:
    """Parse known_hosts bytes (``source`` names the file in messages), adding to ``into``.

    Revoked keys (from any file read) are left out of ``keys``, so paramiko never takes them for
    known; the policies in
    :mod:`agent.transport.hostkeys` refuse them when the server presents one.
    """
    kh = into if into is not None else KnownHosts()
    for lineno, raw in enumerate(data.split(b"\n"), 1):
        line = raw.decode("utf-8", errors="replace").strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("@"):
            marker, _, rest = line.partition(" ")
            rest = rest.strip()
            if marker == "@cert-authority":
                kh.cert_authorities += 1
                kh.skipped.append(f"{source}:{lineno}: @cert-authority (host certificates are not supported)")
            elif marker == "@revoked":
                entry = _entry(rest)
                if entry is None:
                    raise KnownHostsError(
                        f"{source} line {lineno}: a @revoked line whose key cannot be read; "
                        "refusing to connect, since the key it revokes could not be refused",
                        hint=f"fix or remove line {lineno} of {source}",
                    )
                kh.revoked.append(entry.key)
            else:
                kh.skipped.append(f"{source}:{lineno}: unknown marker {marker[:40]!r}")
            continue
        entry = _entry(line)
        if entry is None:
            kh.skipped.append(f"{source}:{lineno}: not a key line this tool can read")
        else:
            kh.entries.append(entry)
    return kh


def load_known_hosts(paths: list[Path]) -> KnownHosts:
    """Read the given known_hosts files (missing ones are skipped) into one :class:`KnownHosts`."""
    kh = KnownHosts()
    for path in paths:
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            continue
        except OSError as e:
            raise KnownHostsError(
                f"cannot read known_hosts {path}: {e.strerror or e}",
                hint="check the file (and known_hosts in inventory.yaml)",
            ) from None
        parse_known_hosts(data, str(path), kh)
    return kh
