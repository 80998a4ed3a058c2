"""The network facts fix-netplan needs, gathered in one run (over SSH or the console). Pure.

``agent/scripts/net_facts.sh`` prints, in the common framing (:mod:`agent.core.marker`, header kind
``NET``), the netplan files (base64, so any byte survives a serial line, each with its SHA-256, checked
here: console noise must never reach the YAML that is rewritten), ``ip -j -d link show``,
``ip -j addr show`` and the sysfs listing that :mod:`agent.core.net.interfaces` reads.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass

from agent.core import marker, script_render
from agent.core.net.interfaces import Interface, gather_interfaces
from agent.errors import RemoteError
from agent.hints import opt

KIND = "NET"
SCRIPT = "net_facts"
NETPLAN_DIRS = ("/lib/netplan", "/etc/netplan", "/run/netplan")


def render_netfacts_script(
    netplan_file: str | None = None, nonce: str | None = None, *, files: bool = True
) -> str:
    """The script that prints every fact; ``netplan_file`` limits the files read to that one, and
    ``files=False`` reads none (the interfaces alone need no root: ``ip`` and sysfs)."""
    argv = NETPLAN_DIRS if files else ()
    values = {"NETPLAN_FILE": (netplan_file or "") if files else ""}
    return script_render.render(SCRIPT, values, nonce=nonce, argv=argv)


@dataclass(frozen=True)
class NetFacts:
    files: dict[str, str]  # path -> text
    interfaces: list[Interface]


def _cut_short() -> RemoteError:
    return RemoteError(
        "the guest's network facts were cut short", hint=f"rerun; see {opt('transcript')} for details"
    )


def _optional(section: marker.Section | None) -> str | None:
    """A section's output, or None when it is missing, failed or printed nothing."""
    if section is None or not section.ok or not section.stdout.strip():
        return None
    return section.stdout


_SHA256_RE = re.compile(r"[0-9a-f]{64}")


def _checked_file(name: str, encoded: str, checksum: marker.Section | None) -> str:
    """A FILE section's text, decoded and checked against its SHA256 section."""
    if checksum is None or not checksum.ok:
        raise RemoteError(
            f"the guest sent {name} without its checksum (sha256sum failed or the output was cut short)",
            hint="rerun; the file is never rewritten from unchecked content",
        )
    words = checksum.stdout.split()
    expected = words[0].lower() if words else ""
    try:
        data = base64.b64decode("".join(encoded.split()), validate=True)
    except (binascii.Error, ValueError):
        raise RemoteError(
            f"{name} arrived damaged from the guest (invalid base64)",
            hint="rerun (console noise?); the file is never rewritten from damaged content",
        ) from None
    if not _SHA256_RE.fullmatch(expected) or hashlib.sha256(data).hexdigest() != expected:
        raise RemoteError(
            f"{name} arrived damaged from the guest (its SHA-256 does not match the guest's)",
            hint="rerun (console noise?); the file is never rewritten from damaged content",
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise RemoteError(f"{name} on the guest is not UTF-8 text: {e}") from None


def parse_netfacts(text: str) -> NetFacts:
    """Parse the script's output; RemoteError when it is cut short or malformed."""
    framed = marker.parse(text, KIND, what="the network facts script")
    link = framed.get("LINK")
    if not framed.complete or link is None or link.rc is None:
        raise _cut_short()
    if not link.ok:
        why = link.stderr.strip() or link.stdout.strip()
        raise RemoteError(f"`ip -j -d link show` failed on the guest (exit {link.rc}): {why}")
    files: dict[str, str] = {}
    for section in framed.all("FILE"):
        name = section.arg
        if not section.ok:
            raise RemoteError(
                f"could not read {name} on the guest: {section.stderr.strip() or 'base64 failed'}"
            )
        files[name] = _checked_file(name, section.stdout, framed.get("SHA256", name))
    interfaces = gather_interfaces(link.stdout, _optional(framed.get("ADDR")), _optional(framed.get("SYSFS")))
    return NetFacts(files, interfaces)
