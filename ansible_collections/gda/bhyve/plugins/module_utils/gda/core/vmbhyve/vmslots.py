# GENERATED from agent/core/vmbhyve/vmslots.py by `python -m agent.collection_build`: do not edit.
"""The bhyve PCI slot plan vm-bhyve generates for a guest config, and why it might not start. Pure.

A port of churchers/vm-bhyve release v1.6.2 ``lib/vm-run`` (the sequential-slot code; its own
``vm::run``, run under bash with the host stubbed by tests/tools/vmbhyve_vmrun.py, reproduces the
seed's vm-bhyve.log byte for byte, and tests/facts/vmbhyve.vmrun holds its output for 30 configs):
``vm::bhyve_device_basic``, ``vm::bhyve_device_disks``, ``vm::bhyve_device_networking`` (with
``switch::provision`` in lib/vm-switch and ``switch::standard::provision`` in lib/vm-switch-standard),
then the devices of agent.core.vmbhyve.vmslots_tail, and ``vm::get_disk_path``. One ``_slot``/``_func``
pair runs through all of them:

- hostbridge ``-s 0,hostbridge`` (``amd_hostbridge`` for hostbridge=amd, none for hostbridge=no*),
  lpc ``-s 31,lpc``; ``_slot`` starts at ``start_slot`` (default 4);
- disks: ``disk0``, ``disk1``, ... until the first N whose ``diskN_name`` or ``diskN_type`` is empty
  (``[ -z "${_disk}" -o -z "${_type}" ] && break``). UEFI: every attached device takes the next slot
  (function 0). Otherwise every device is the next function of the same slot, a new slot after function
  7 (``[ ${_func} -ge 8 ]``), and the NICs start on a fresh slot. With ``ahci_device_limit`` 2..32 the
  ahci-hd/ahci-cd disks are collected as ``hd:PATH[,opts]`` ports of one ``ahci`` controller, written out
  when the controller is full or after the loop. (The function's comment says UEFI "stops at slot 6";
  the code does not: a fourth UEFI disk lands on slot 7.)
- NICs: ``network0_type``, ``network1_type``, ... until the first empty one; each is
  ``-s S:F,TYPE,TAP,mac=MAC`` (a MAC is generated when none is set) on the next function. A NIC without
  ``networkN_switch`` is not attached: ``switch::type`` fails, ``switch::provision`` prints "unable to
  configure interface N", the function does not advance, so the next NIC takes it; then a new slot
  (even when no NIC was attached).

Before any device, ``vm::run`` stops when loader, cpu or memory is empty; a non-UEFI guest stops in
``guest::load`` (lib/vm-guest) without ``disk0_name`` or with a loader other than bhyveload/grub
(:attr:`SlotPlan.refusal`). bhyve itself refuses a slot past 31, two devices on one slot:function and
an argument the shell split at a blank (:attr:`SlotPlan.bhyve_error`).

vm-bhyve's master branch (after v1.6.2) writes ``-s BUS:SLOT:FUNC`` and puts NICs at fixed slots
(``network_slot_start``); agent.core.vmbhyve.vmlog reads both forms from a log.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import replace

from ansible_collections.gda.bhyve.plugins.module_utils.gda.core.vmbhyve.vmconf import DiskConf, VmConfig
from ansible_collections.gda.bhyve.plugins.module_utils.gda.core.vmbhyve.vmslots_tail import int_or, tail_devices
from ansible_collections.gda.bhyve.plugins.module_utils.gda.core.vmbhyve.vmslots_types import (
    AUTO_PORT,
    GENERATED_MAC,
    UNKNOWN_TAP,
    DeviceKind,
    DiskPlacement,
    HostContext,
    IgnoredDisk,
    NicPlacement,
    PciDevice,
    SkippedNic,
    SlotPlan,
    guest_nic_name,
    shell_words,
)

__all__ = [
    "AUTO_PORT",
    "DISK_DEVS",
    "DISK_TYPES",
    "GENERATED_MAC",
    "UNKNOWN_TAP",
    "DeviceKind",
    "DiskPlacement",
    "HostContext",
    "IgnoredDisk",
    "NicPlacement",
    "PciDevice",
    "SkippedNic",
    "SlotPlan",
    "guest_nic_name",
    "plan_slots",
    "resolve_disk_path",
]

DISK_DEVS = ("file", "zvol", "sparse-zvol", "custom", "iscsi")  # vm::get_disk_path, config.sample
DISK_TYPES = ("virtio-blk", "ahci-hd", "ahci-cd", "nvme")  # config.sample disk0_type "Valid Options"
LOADERS = ("bhyveload", "grub")  # guest::load's non-UEFI loaders


def resolve_disk_path(name: str, dev: str | None, ctx: HostContext) -> str:
    """``vm::get_disk_path``: zvol|sparse-zvol → /dev/zvol/<dataset>/<vm>/<name>; custom → the name;
    iscsi → a /dev/daNN found at start (not known here); anything else (file, unset, or a bogus value
    such as a path) → <vm dir>/<name>."""
    if dev in ("zvol", "sparse-zvol"):
        return f"/dev/zvol/{ctx.zvol_dataset}/{ctx.vm_name}/{name}"
    if dev == "custom":
        return name
    if dev == "iscsi":
        return f"<iscsi:{name}>"
    return f"{ctx.vm_dir.rstrip('/')}/{name}"


def plan_slots(conf: VmConfig, ctx: HostContext) -> SlotPlan:
    """The device list vm-bhyve will pass to bhyve for ``conf`` (a normal start, no install ISO)."""
    uefi = conf.uefi
    devices: list[PciDevice] = []

    # vm::bhyve_device_basic
    hostbridge = conf.get("hostbridge", "standard") or ""
    if not hostbridge.startswith("no"):
        devices.append(
            PciDevice(0, None, "amd_hostbridge" if hostbridge == "amd" else "hostbridge", "", "hostbridge")
        )
    devices.append(PciDevice(31, None, "lpc", "", "lpc"))

    slot = int_or(conf.get("start_slot"), 4)
    func = 0

    # vm::bhyve_device_disks
    placements: list[DiskPlacement] = []
    ahci_limit = conf.ahci_device_limit
    ahci_parts: list[str] = []
    ahci_disks: list[int] = []
    ahci_num = 0
    num = 0
    by_index = {d.index: d for d in conf.disks}
    while True:
        d = by_index.get(num)
        if d is None or not d.name or not d.type:
            break
        if func >= 8:
            func = 0
            slot += 1
        path = resolve_disk_path(d.name, d.dev, ctx)
        add = False
        if ahci_limit > 1 and d.type.split("-", 1)[0] == "ahci":
            if d.type in ("ahci-cd", "ahci-hd"):
                atype = "cd" if d.type == "ahci-cd" else "hd"
                ahci_parts.append(f"{atype}:{path}" + (f",{d.opts}" if d.opts else ""))
                ahci_disks.append(d.index)
                placements.append(_placement(d, path, slot, func, ahci_port=ahci_num))
                ahci_num += 1
                if ahci_num >= ahci_limit:
                    devices.append(
                        PciDevice(slot, func, "ahci", ",".join(ahci_parts), "ahci", tuple(ahci_disks))
                    )
                    _fix_ahci_slot(placements, ahci_disks, slot, func)
                    ahci_parts, ahci_disks, ahci_num = [], [], 0
                    add = True
            # any other "ahci*" type is silently dropped by the case statement
        else:
            args = path + (f",{d.opts}" if d.opts else "")
            devices.append(PciDevice(slot, func, d.type, args, "disk", (d.index,)))
            placements.append(_placement(d, path, slot, func))
            add = True
        if add:
            if uefi:
                slot += 1
            else:
                func += 1
        num += 1
    if ahci_parts:
        devices.append(PciDevice(slot, func, "ahci", ",".join(ahci_parts), "ahci", tuple(ahci_disks)))
        _fix_ahci_slot(placements, ahci_disks, slot, func)
        if uefi:
            slot += 1
    if num >= 1 and not uefi:
        slot += 1
        func = 0
    chain_end = num

    ignored = tuple(
        IgnoredDisk(d.index, _ignored_reason(d, chain_end, by_index))
        for d in conf.disks
        if d.index >= chain_end
    )

    # vm::bhyve_device_networking
    nics: list[NicPlacement] = []
    skipped: list[SkippedNic] = []
    nnum = 0
    by_nic = {n.index: n for n in conf.nics}
    while True:
        n = by_nic.get(nnum)
        if n is None or not n.type:
            break
        if func >= 8:
            func = 0
            slot += 1
        if not n.switch:
            skipped.append(
                SkippedNic(
                    nnum,
                    f"network{nnum}_switch is " + ("empty" if n.switch is not None else "not set"),
                    f"unable to configure interface {nnum}",
                )
            )
            nnum += 1
            continue
        mac = n.mac or GENERATED_MAC
        tap = n.device or n.name or ctx.tap_names.get(nnum, UNKNOWN_TAP)
        devices.append(PciDevice(slot, func, n.type, f"{tap},mac={mac}", "nic", nic=nnum))
        nics.append(NicPlacement(nnum, n.type, tap, mac, slot, func))
        func += 1
        nnum += 1
    if nnum >= 1:
        slot += 1
        func = 0

    devices += tail_devices(conf, ctx, uefi, slot)
    per_slot = Counter(d.slot for d in devices)
    nics = [replace(n, multifunction=per_slot[n.slot] > 1) for n in nics]

    return SlotPlan(
        uefi=uefi,
        devices=tuple(devices),
        disks=tuple(placements),
        nics=tuple(nics),
        ignored_disks=ignored,
        chain_end=chain_end,
        skipped_nics=tuple(skipped),
        refusal=_refusal(conf),
        bhyve_error=_bhyve_error(devices),
    )


def _refusal(conf: VmConfig) -> str | None:
    """Why vm-bhyve stops before running bhyve (None: it runs it). An excerpt may hold the missing
    settings in the parts left out: not judged."""
    if conf.is_excerpt:
        return None
    if not conf.get("cpu"):
        return 'cpu is not set: vm-bhyve stops with "fatal; unable to determine cpu count"'
    missing = [k for k in ("loader", "memory") if not conf.get(k)]
    if missing:
        return (
            f"{' and '.join(missing)} not set: vm-bhyve stops before building any device "
            '("fatal; unable to start - missing required configuration")'
        )
    if conf.uefi:
        return None
    loader = conf.loader or ""
    if loader not in LOADERS:
        return (
            f'loader={loader!r} is neither UEFI nor bhyveload/grub: guest::load stops ("unsupported loader")'
        )
    if not conf.get("disk0_name"):
        return (
            f"loader={loader} needs disk0: guest::load stops "
            '("fatal; non-uefi loaders require a boot disk device")'
        )
    return None


def _bhyve_error(devices: list[PciDevice]) -> str | None:
    """Why bhyve would refuse these devices (None: it accepts them)."""
    taken: set[tuple[int, int]] = set()
    for dev in devices:
        text = dev.render()
        words = shell_words(text)
        if len(words) > 2:
            return f"`{text}` holds a blank: the shell passes it to bhyve as {len(words) - 1} arguments"
        if not 0 <= dev.slot <= 31:
            return f"{text}: slot {dev.slot} is past 31, the last PCI slot"
        key = (dev.slot, dev.func or 0)
        if key in taken:
            return f"{text}: slot {dev.slot}:{dev.func or 0} is already taken"
        taken.add(key)
    return None


def _placement(d: DiskConf, path: str, slot: int, func: int, ahci_port: int | None = None) -> DiskPlacement:
    assert d.name is not None and d.type is not None
    return DiskPlacement(d.index, d.type, d.dev or "file", d.name, path, slot, func, ahci_port)


def _fix_ahci_slot(placements: list[DiskPlacement], indexes: list[int], slot: int, func: int) -> None:
    """A shared ahci controller is written where the loop is when it is flushed, not where its first
    disk was read: move its disks there."""
    for i, p in enumerate(placements):
        if p.index in indexes:
            placements[i] = DiskPlacement(p.index, p.type, p.dev, p.name, p.path, slot, func, p.ahci_port)


def _ignored_reason(d: DiskConf, chain_end: int, by_index: Mapping[int, DiskConf]) -> str:
    if d.index == chain_end:
        missing = [f for f, v in (("name", d.name), ("type", d.type)) if not v]
        return f"disk{d.index}_{' and disk{d.index}_'.join(missing)} not set: vm-bhyve's disk list ends here"
    stop = by_index.get(chain_end)
    if stop is None:
        return f"comes after a gap (no disk{chain_end}): vm-bhyve's disk list ended at disk{chain_end}"
    return f"comes after disk{chain_end}, where vm-bhyve's disk list ended"
