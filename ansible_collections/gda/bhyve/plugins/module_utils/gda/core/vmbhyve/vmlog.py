# GENERATED from agent/core/vmbhyve/vmlog.py by `python -m agent.collection_build`: do not edit.
"""The devices a vm-bhyve.log says bhyve was started with, as a slot plan (a "before" for the NIC
renames). Pure.

vm::run logs ``[bhyve devices: -s ... -s ...]`` on every start (churchers/vm-bhyve v1.6.2 lib/vm-run).
Release 1.6.2 writes ``-s SLOT[:FUNC],EMULATION[,ARGS]``; the master branch after it writes
``-s BUS:SLOT:FUNC,...`` (``-s ${_bus}:${_slot}:${_func},...``). bhyve reads both (usr.sbin/bhyve
pci_emul.c ``pci_parse_slot``: ``slot[:func]`` or ``bus:slot:func``), and so does this module. The last
such line of the log is the latest start.
"""

from __future__ import annotations

import re
from collections import Counter

from ansible_collections.gda.bhyve.plugins.module_utils.gda.core.vmbhyve.vmslots_types import DeviceKind, NicPlacement, PciDevice, SlotPlan

DEVICES_TAG = "[bhyve devices: "
NIC_EMULATIONS = ("virtio-net", "e1000")  # bhyve(8) -s: the network emulations vm-bhyve offers
_WHERE_RE = re.compile(r"(\d+)(?::(\d+))?(?::(\d+))?")
_KINDS: dict[str, DeviceKind] = {
    "hostbridge": "hostbridge",
    "amd_hostbridge": "hostbridge",
    "lpc": "lpc",
    "ahci": "ahci",
    "virtio-rnd": "rnd",
    "passthru": "passthru",
    "fbuf": "fbuf",
    "xhci": "xhci",
    "hda": "sound",
    "virtio-console": "console",
}


def is_vmbhyve_log(text: str) -> bool:
    return DEVICES_TAG in text


def logged_devices(text: str) -> tuple[tuple[int, PciDevice], ...] | None:
    """(bus, device) for every ``-s`` of the log's last devices line; None when there is none."""
    lines = [ln for ln in text.splitlines() if DEVICES_TAG in ln]
    if not lines:
        return None
    body = lines[-1].split(DEVICES_TAG, 1)[1]
    body = body[: body.rfind("]")] if "]" in body else body
    out: list[tuple[int, PciDevice]] = []
    for part in re.split(r"(?:^| )-s ", body):
        if not part.strip():
            continue
        where, _, rest = part.strip().partition(",")
        m = _WHERE_RE.fullmatch(where)
        if m is None:
            continue
        emulation, _, args = rest.partition(",")
        func: int | None
        if m.group(3) is not None:  # bus:slot:func
            bus, slot, func = int(m.group(1)), int(m.group(2)), int(m.group(3))
        else:
            bus, slot = 0, int(m.group(1))
            func = int(m.group(2)) if m.group(2) is not None else None
        kind: DeviceKind = "nic" if emulation in NIC_EMULATIONS else _KINDS.get(emulation, "disk")
        out.append((bus, PciDevice(slot, func, emulation, args, kind)))
    return tuple(out)


def plan_from_log(text: str, after: SlotPlan) -> SlotPlan | None:
    """The slot plan of the log's last start. Each logged NIC (bus 0) is matched to a NIC of ``after``:
    by its ``mac=``, else by its position among the NICs."""
    found = logged_devices(text)
    if found is None:
        return None
    per_slot = Counter((bus, d.slot) for bus, d in found)
    by_mac = {n.mac: n.index for n in after.nics}
    nics: list[NicPlacement] = []
    devices: list[PciDevice] = []
    position = 0
    for bus, d in found:
        if d.kind == "nic" and bus == 0:
            tap, _, opts = d.args.partition(",")
            mac = next((o[4:] for o in opts.split(",") if o.startswith("mac=")), "")
            if mac in by_mac:
                index = by_mac[mac]
            elif position < len(after.nics):
                index = after.nics[position].index
            else:
                index = 1000 + position  # a NIC the config no longer has
            position += 1
            func = d.func or 0
            nics.append(NicPlacement(index, d.emulation, tap, mac, d.slot, func, per_slot[(bus, d.slot)] > 1))
            d = PciDevice(d.slot, d.func, d.emulation, d.args, "nic", nic=index)
        devices.append(d)
    return SlotPlan(
        uefi=False, devices=tuple(devices), disks=(), nics=tuple(nics), ignored_disks=(), chain_end=0
    )
