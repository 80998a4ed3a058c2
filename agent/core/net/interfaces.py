"""The guest's network interfaces, from ``ip -j -d link show``, ``ip -j addr show`` and a sysfs listing.

Pure: every function takes the text a command printed and returns values; nothing here runs a command.
Interface names and the other strings shown pass through :func:`agent.core.guest_text.clean` (a
kernel accepts ESC in an interface name).

The sysfs listing is what the ``SYSFS`` section of ``agent/scripts/net_facts.sh`` prints: one line per
``/sys/class/net/X``, four tab-separated fields ``name``, ``device path`` (``readlink -f
/sys/class/net/X/device``, empty when X has no device link), ``address`` and ``driver`` (the basename of
``/sys/class/net/X/device/driver``, may be empty).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from agent.core.guest_text import clean
from agent.core.marker import lines_of
from agent.core.values import mac_or_none
from agent.errors import RemoteError

#: ``linkinfo.info_kind`` values of software interfaces (never a NIC of their own).
VIRTUAL_KINDS = frozenset(
    {
        "bridge",
        "bond",
        "team",
        "vlan",
        "macvlan",
        "macvtap",
        "ipvlan",
        "veth",
        "tun",
        "tap",
        "dummy",
        "ifb",
        "vxlan",
        "geneve",
        "gre",
        "gretap",
        "ip6gre",
        "ip6gretap",
        "ipip",
        "sit",
        "ip6tnl",
        "vti",
        "vti6",
        "wireguard",
        "vrf",
        "nlmon",
        "openvswitch",
        "bareudp",
    }
)

_PCI_ADDR_RE = re.compile(r"\b([0-9a-f]{4,}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7])\b")


def pci_slot_from_path(device_path: str) -> str | None:
    """The PCI address of the device owning a sysfs device path: the last PCI component of the path.

    ``/sys/devices/pci0000:00/0000:00:06.0/virtio2`` → ``0000:00:06.0``; ``None`` when the path has none.
    """
    found = _PCI_ADDR_RE.findall(device_path.lower())
    return found[-1] if found else None


@dataclass(frozen=True)
class Address:
    """One address of an interface, from ``ip -j addr``."""

    family: str  # "inet" or "inet6"
    address: str
    prefixlen: int
    scope: str = "global"

    def __str__(self) -> str:
        return f"{self.address}/{self.prefixlen}"


@dataclass(frozen=True)
class Interface:
    """A present network interface of the guest."""

    name: str
    mac: str | None = None
    permanent_mac: str | None = None  # ip's "permaddr": only present when it differs from ``mac``
    pci_slot: str | None = None  # "0000:00:06.0"
    driver: str | None = None  # "virtio_net"; only known from the sysfs listing
    is_physical: bool = False  # backed by a device (not lo, bridge, bond, vlan, veth, tun ...)
    operstate: str = "UNKNOWN"
    kind: str | None = None  # ip's linkinfo.info_kind ("bridge", "vlan" ...), "loopback" for lo
    altnames: tuple[str, ...] = ()
    addresses: tuple[Address, ...] = ()

    @property
    def hardware_mac(self) -> str | None:
        """The MAC the NIC has at boot: the permanent one if ip reported it, else the current one."""
        return self.permanent_mac or self.mac

    def has_mac(self, mac: str) -> bool:
        """True when ``mac`` (any spelling) is its current or permanent MAC."""
        wanted = mac_or_none(mac)
        return wanted is not None and wanted in (self.mac, self.permanent_mac)

    def describe(self) -> str:
        """One line for messages: ``enp0s6  mac 58:9c:fc:03:19:32  pci 0000:00:06.0  virtio_net  DOWN``."""
        parts = [self.name, f"mac {self.hardware_mac or '?'}"]
        if self.pci_slot:
            parts.append(f"pci {self.pci_slot}")
        if self.driver:
            parts.append(self.driver)
        if not self.is_physical:
            parts.append(self.kind or "virtual")
        parts.append(self.operstate)
        if self.addresses:
            parts.append(" ".join(str(a) for a in self.addresses))
        return "  ".join(parts)


@dataclass(frozen=True)
class SysfsInfo:
    """One line of the sysfs listing."""

    name: str
    device_path: str | None  # None: no device link (virtual interface)
    mac: str | None
    driver: str | None

    @property
    def pci_slot(self) -> str | None:
        return pci_slot_from_path(self.device_path) if self.device_path else None


def _load_json_list(text: str, what: str) -> list[dict[str, Any]]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RemoteError(f"`{what}` printed something that is not JSON: {exc}") from exc
    if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
        raise RemoteError(f"`{what}` printed JSON that is not a list of interfaces")
    for item in data:
        if not isinstance(item.get("ifname"), str):
            raise RemoteError(f"`{what}` printed an interface without a name: {clean(repr(item))}")
    return data


def parse_ip_addr(text: str) -> dict[str, tuple[Address, ...]]:
    """``ip -j addr show`` → {interface name: its addresses, in ip's order}."""
    result: dict[str, tuple[Address, ...]] = {}
    for item in _load_json_list(text, "ip -j addr show"):
        addrs: list[Address] = []
        for info in item.get("addr_info") or []:
            if not isinstance(info, dict) or "local" not in info:
                continue
            addrs.append(
                Address(
                    family=str(info.get("family", "")),
                    address=str(info["local"]),
                    prefixlen=int(info.get("prefixlen", 0)),
                    scope=str(info.get("scope", "global")),
                )
            )
        result[clean(item["ifname"])] = tuple(addrs)
    return result


def parse_sysfs_listing(text: str) -> dict[str, SysfsInfo]:
    """The sysfs listing (the ``SYSFS`` section of the facts script) → {interface name: SysfsInfo}.

    A device path under ``/sys/devices/virtual/`` counts as no device (``readlink -f`` of a missing link).
    """
    result: dict[str, SysfsInfo] = {}
    for lineno, line in enumerate(lines_of(text), 1):
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) < 2 or not fields[0]:
            raise RemoteError(
                f"sysfs listing line {lineno} is not 'name<TAB>device<TAB>address<TAB>driver': "
                + clean(repr(line))
            )
        fields += [""] * (4 - len(fields))
        name, device, mac, driver = (clean(f.strip()) for f in fields[:4])
        if not device or "/devices/virtual/" in device:
            device = ""
        result[name] = SysfsInfo(
            name=name, device_path=device or None, mac=mac_or_none(mac), driver=driver or None
        )
    return result


def parse_ip_link(
    text: str,
    *,
    addresses: Mapping[str, Iterable[Address]] | None = None,
    sysfs: Mapping[str, SysfsInfo] | None = None,
) -> list[Interface]:
    """``ip -j -d link show`` (plus parsed ``ip -j addr`` and sysfs listing) → interfaces, in ip's order.

    Physical means "backed by a device": ip's ``parentbus`` (iproute2 ≥ 5.x with ``-d``) or a device path in
    the sysfs listing. When neither source knows (older ip, no listing), an Ethernet link with no
    ``linkinfo`` kind is taken as physical.
    """
    items = _load_json_list(text, "ip -j -d link show")
    ip_knows_parents = any("parentbus" in item for item in items)
    result: list[Interface] = []
    for item in items:
        name = clean(item["ifname"])
        link_type = clean(str(item.get("link_type", "")))
        linkinfo = item.get("linkinfo")
        kind = linkinfo.get("info_kind") if isinstance(linkinfo, dict) else None
        if link_type == "loopback":
            kind = "loopback"
        sys = (sysfs or {}).get(name)
        parentbus = item.get("parentbus")
        pci_slot: str | None = None
        if parentbus == "pci" and isinstance(item.get("parentdev"), str):
            pci_slot = item["parentdev"].lower()
        if sys is not None and sys.pci_slot:
            pci_slot = sys.pci_slot
        if kind in VIRTUAL_KINDS or kind == "loopback":
            physical = False
        elif sys is not None:
            physical = sys.device_path is not None
        elif parentbus is not None:
            physical = True
        else:
            physical = not ip_knows_parents and link_type == "ether" and kind is None
        mac = mac_or_none(item.get("address")) or (sys.mac if sys else None)
        permanent = mac_or_none(item.get("permaddr"))
        altnames = item.get("altnames") or []
        result.append(
            Interface(
                name=name,
                mac=mac,
                permanent_mac=permanent if permanent != mac else None,
                pci_slot=pci_slot,
                driver=sys.driver if sys else None,
                is_physical=physical,
                operstate=clean(str(item.get("operstate", "UNKNOWN"))),
                kind=clean(kind) if isinstance(kind, str) else None,
                altnames=tuple(clean(a) for a in altnames if isinstance(a, str)),
                addresses=tuple((addresses or {}).get(name, ())),
            )
        )
    return result


def gather_interfaces(
    link_json: str, addr_json: str | None = None, sysfs_listing: str | None = None
) -> list[Interface]:
    """Convenience: the three raw outputs (the last two optional) → interfaces."""
    return parse_ip_link(
        link_json,
        addresses=parse_ip_addr(addr_json) if addr_json is not None else None,
        sysfs=parse_sysfs_listing(sysfs_listing) if sysfs_listing is not None else None,
    )


def find_by_mac(interfaces: Iterable[Interface], mac: str) -> Interface | None:
    """The interface whose current or permanent MAC is ``mac`` (physical ones first), or ``None`` (also
    when ``mac`` is not a MAC address)."""
    wanted = mac_or_none(mac)
    if wanted is None:
        return None
    hits = [i for i in interfaces if i.has_mac(wanted)]
    # A bond, its bridge/vlans and its members share the current MAC: prefer NICs, then the one that owns it.
    hits.sort(key=lambda i: (not i.is_physical, i.hardware_mac != wanted))
    return hits[0] if hits else None
