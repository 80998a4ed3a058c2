"""No netplan configuration for any ethernet NIC: its own finding, never "nothing to fix" (pure).

A power cut right after cloud-init wrote ``/etc/netplan/50-cloud-init.yaml`` can leave that file empty
(ext4's delayed allocation: the name is on disk, the data is not); netplan then configures no NIC and
SSH is gone, although no entry is "stale". The same holds for a file of only whitespace or comments, or
files with a ``network:`` but no ``ethernets`` at all.

:func:`plan_unconfigured` decides what to do about it:

* ``network.renderer: NetworkManager`` in a file: NetworkManager configures the NICs itself, netplan
  need not; not a finding (the caller reports nothing to fix, with a note).
* otherwise, when the file netplan should have read is **empty** (whitespace and comments only count as
  empty) and is the inventory's ``network.netplan_file`` or cloud-init's ``50-cloud-init.yaml``, no
  other file read defines any device, and the NIC can be told (:func:`agent.core.net.nic_choice.
  choose_unconfigured`: the inventory's ``network.mac``, else the only physical NIC), a minimal config is
  written into it, as cloud-init writes one for a DHCP NIC: ``dhcp4: true``, matched by MAC
  (``match.macaddress`` + ``set-name``) when the inventory gives ``network.mac`` or ``match_mac`` is asked,
  else by the interface's name. Its comments are kept.
* anything else is refused (exit 1), saying what was found and what to do.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Sequence
from dataclasses import dataclass

from agent.core.net.cloud_init import CLOUD_INIT_FILE_NAME
from agent.core.net.interfaces import Interface
from agent.core.net.netplan_model import DEVICE_SECTIONS, NetplanFile, collect_entries, fits, parse_file
from agent.core.net.nic_choice import choose_unconfigured, interface_table
from agent.errors import Refused

FINDING = "no netplan configuration for any ethernet NIC"
_PLAIN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,14}")  # IFNAMSIZ: 15 characters


@dataclass(frozen=True)
class NewEntry:
    """An ethernets entry written from nothing into an empty netplan file."""

    path: str  # the file it is written into
    entry_id: str  # its ID: the interface's present name
    interface: Interface  # the NIC it configures
    final_name: str  # the interface's name once netplan applies it (its set-name, if matched by MAC)
    mac: str | None  # the match.macaddress written (None: matched by the ID, the interface name)
    reason: str  # how the NIC was chosen


@dataclass(frozen=True)
class UnconfiguredRepair:
    """The file to write and why: what :func:`plan_unconfigured` decided."""

    path: str
    text: str  # the new text (the empty file's comments, then the config)
    entry: NewEntry
    change: str
    finding: str  # what was found, for the warnings


def is_empty(f: NetplanFile) -> bool:
    """Empty, whitespace or comments only: YAML with no document (``---`` alone counts too)."""
    return f.doc is None


def describe_file(f: NetplanFile) -> str:
    """What a file that configures no ethernet holds, for messages."""
    if is_empty(f):
        if not f.text:
            return "empty (0 bytes)"
        if not f.text.strip():
            return f"only whitespace ({len(f.text.encode())} bytes)"
        return f"only comments ({len(f.text.encode())} bytes)"
    sections = [name for name in DEVICE_SECTIONS if f.section(name)]
    keys = [str(k) for k in f.network or {}]
    if sections:
        return f"no ethernets; defines {', '.join(sections)}"
    if not keys:
        return "an empty network:, no ethernets"
    return f"a network: with only {', '.join(keys)}, no ethernets"


def network_manager_file(parsed: Sequence[NetplanFile]) -> str | None:
    """The file whose ``network.renderer`` is NetworkManager (NetworkManager then configures every NIC
    netplan does not name), or None."""
    for f in parsed:
        if f.network is not None and str(f.network.get("renderer", "")) == "NetworkManager":
            return f.path
    return None


def empty_notes(parsed: Sequence[NetplanFile]) -> list[str]:
    """Notes for files that are empty when other files do configure the NICs."""
    return [f"{f.path} is {describe_file(f)}: it configures nothing" for f in parsed if is_empty(f)]


def minimal_config(iface: Interface, mac: str | None, kept: str = "") -> str:
    """cloud-init's netplan config for one DHCP NIC (4-space indent), after the ``kept`` comments."""
    lines = [
        "# Written by guest-disk-agent (fix-netplan): this file was empty, so netplan configured no NIC.\n",
        "network:\n",
        "    version: 2\n",
        "    ethernets:\n",
        f"        {iface.name}:\n",
    ]
    if mac is not None:
        lines += ["            match:\n", f'                macaddress: "{mac}"\n']
        lines.append(f"            set-name: {iface.name}\n")
    lines.append("            dhcp4: true\n")
    if kept and not kept.endswith("\n"):
        kept += "\n"
    return kept + "".join(lines)


def _comments_only(text: str) -> bool:
    return all(not line.strip() or line.lstrip().startswith("#") for line in text.split("\n"))


def _target(parsed: Sequence[NetplanFile], netplan_file: str | None) -> NetplanFile | tuple[str, str]:
    """The empty file to write into, or why there is none and what else to do (for the hint)."""
    named = [f for f in parsed if netplan_file is not None and f.path == netplan_file]
    cloud = [f for f in parsed if posixpath.basename(f.path) == CLOUD_INIT_FILE_NAME]
    candidates = named or cloud
    if not candidates:
        empty = [f.path for f in parsed if is_empty(f)]
        return (
            "no file it may write: only an empty network.netplan_file (inventory) or cloud-init's "
            f"{CLOUD_INIT_FILE_NAME} is given a configuration from nothing",
            f"; or name the empty file in the inventory (network.netplan_file: {empty[0]})" if empty else "",
        )
    target = candidates[0]
    if not is_empty(target):
        return f"{target.path} is not empty ({describe_file(target)}): it is not rewritten from nothing", ""
    others = [f for f in parsed if f is not target and any(f.section(name) for name in DEVICE_SECTIONS)]
    if others:
        return (
            f"other devices are defined in {', '.join(f.path for f in others)}: an ethernets entry written "
            "next to them is not decided here",
            "",
        )
    return target


def plan_unconfigured(
    parsed: Sequence[NetplanFile],
    interfaces: Sequence[Interface],
    *,
    pin: str | None,
    match_mac: bool,
    netplan_file: str | None,
) -> UnconfiguredRepair:
    """No file defines an ethernets entry: the empty file to fill, or :class:`Refused` saying why not.

    ``parsed`` are the files netplan reads (in its order), ``pin`` the inventory's normalised MAC."""
    empty = [f for f in parsed if is_empty(f)]
    found = (
        f"{FINDING}: " + ", ".join(f"{f.path} is {describe_file(f)}" for f in empty)
        if empty
        else f"{FINDING}: no netplan file defines an ethernets entry"
    )
    listing = "netplan files read:\n" + "\n".join(f"  {f.path}: {describe_file(f)}" for f in parsed)
    physical = [i for i in interfaces if i.is_physical]
    nics = "present physical NICs:\n" + interface_table(physical)
    target = _target(parsed, netplan_file)
    choice = choose_unconfigured(interfaces, pin)
    suggestion = ""
    if not isinstance(choice, str):
        iface = choice[0]
        suggestion = (
            f"; a minimal one for {iface.name}: `network: {{version: 2, ethernets: "
            f"{{{iface.name}: {{dhcp4: true}}}}}}`"
        )
    if isinstance(target, tuple):
        why, also = target
        hint = f"write the netplan configuration by hand (mode 0600), then `netplan apply`{suggestion}{also}"
        raise Refused(f"{found}\n{listing}\n{nics}\ncannot write a configuration: {why}", hint=hint)
    if isinstance(choice, str):
        raise Refused(
            f"{found}\n{listing}\n{nics}\ncannot write a configuration: {choice}",
            hint=(
                "correct network.mac in the inventory (vm-bhyve's network0_mac) or remove it"
                if pin is not None
                else "set network.mac in the inventory to the NIC's MAC (vm-bhyve's network0_mac) and rerun"
            ),
        )

    iface, reason = choice
    if not _PLAIN_NAME.fullmatch(iface.name):
        raise Refused(
            f"{found}\ncannot write a configuration: the NIC's name {iface.name} is not a plain interface "
            "name (letters, digits, . _ -), so it is not written into YAML",
            hint="write the netplan configuration by hand, matching the NIC by its MAC",
        )
    by_mac = pin is not None or match_mac
    mac = iface.hardware_mac if by_mac else None
    kept = target.text if _comments_only(target.text) and target.text.strip() else ""
    text = minimal_config(iface, mac, kept)
    entry = NewEntry(target.path, iface.name, iface, iface.name, mac, reason)
    _verify(target.path, text, entry, interfaces)
    how = f"match macaddress {mac}, set-name {iface.name}" if mac else f"interface name {iface.name}"
    if by_mac and mac is None:
        how += f" ({iface.name} has no MAC address to match)"
    return UnconfiguredRepair(
        path=target.path,
        text=text,
        entry=entry,
        change=(
            f"{target.path}: was {describe_file(target)}; new ethernets.{iface.name} ({how}, dhcp4: true), "
            f"{iface.name} chosen as {reason}"
        ),
        finding=f"{found}, so netplan brought no NIC up (a write cut short, e.g. by a power cut?); "
        f"a minimal DHCP configuration for {iface.name} is written into {target.path}",
    )


def _verify(path: str, text: str, entry: NewEntry, interfaces: Sequence[Interface]) -> None:
    """The written text must define exactly the one entry, fitting exactly its NIC."""
    entries = collect_entries([parse_file(path, text)])
    fitting_now = [i.name for e in entries for i in interfaces if fits(e, i)]
    if [e.entry_id for e in entries] != [entry.entry_id] or fitting_now != [entry.interface.name]:
        raise Refused(
            f"the configuration written from nothing into {path} would not configure exactly "
            f"{entry.interface.name} (it fits: {', '.join(fitting_now) or 'nothing'})",
            hint="write the netplan configuration by hand",
        )
