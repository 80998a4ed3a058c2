"""The network facts fix-netplan needs, gathered in one command (over SSH or the console). Pure.

The script prints the netplan files (base64, so any byte survives a serial line), ``ip -j -d link``,
``ip -j addr`` and the sysfs listing of :mod:`agent.core.links`, each between nonce-carrying markers
that nothing in a file or an interface name can forge.
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
import shlex
from dataclasses import dataclass

from agent.core.links import SYSFS_LISTING_SCRIPT, Interface, gather_interfaces
from agent.errors import RemoteError

NETPLAN_DIRS = ("/lib/netplan", "/etc/netplan", "/run/netplan")


def render_netfacts_script(netplan_file: str | None = None, nonce: str | None = None) -> str:
    """POSIX sh that prints every fact; ``netplan_file`` limits the files read to that one."""
    n = nonce or secrets.token_hex(6)
    files = shlex.quote(netplan_file) if netplan_file else " ".join(f"{d}/*.yaml" for d in NETPLAN_DIRS)
    return f"""PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin; export PATH
exec </dev/null
m() {{ printf '@@GDA-NET-%s %s@@\\n' {n} "$*"; }}
for f in {files}; do
  [ -f "$f" ] || continue
  m FILE "$f"; base64 "$f"; m END
done
m LINK; ip -j -d link show; m END
m ADDR; ip -j addr show; m END
m SYSFS
{SYSFS_LISTING_SCRIPT}
m END
m DONE
"""


@dataclass(frozen=True)
class NetFacts:
    files: dict[str, str]  # path -> text
    interfaces: list[Interface]


_MARK = re.compile(r"^@@GDA-NET-(?P<nonce>[0-9a-f]+) (?P<what>[A-Z]+)(?: (?P<arg>.*))?@@$")


def parse_netfacts(text: str) -> NetFacts:
    """Parse the script's output; RemoteError when it is cut short or malformed."""
    sections: dict[str, list[str]] = {}
    files: dict[str, str] = {}
    current: tuple[str, str] | None = None
    buf: list[str] = []
    done = False
    for line in text.replace("\r\n", "\n").split("\n"):
        m = _MARK.match(line.strip())
        if not m:
            if current is not None:
                buf.append(line)
            continue
        what, arg = m["what"], m["arg"] or ""
        if what == "END" and current is not None:
            kind, name = current
            if kind == "FILE":
                try:
                    files[name] = base64.b64decode("".join(buf), validate=False).decode("utf-8")
                except (binascii.Error, UnicodeDecodeError) as e:
                    raise RemoteError(f"could not read {name} from the guest: {e}") from None
            else:
                sections[kind] = buf
            current, buf = None, []
        elif what == "DONE":
            done = True
        else:
            current, buf = (what, arg), []
    if not done or "LINK" not in sections:
        raise RemoteError(
            "the guest's network facts were cut short", hint="rerun; see --transcript for details"
        )
    interfaces = gather_interfaces(
        "\n".join(sections["LINK"]),
        "\n".join(sections.get("ADDR", [])) or None,
        "\n".join(sections.get("SYSFS", [])) or None,
    )
    return NetFacts(files, interfaces)
