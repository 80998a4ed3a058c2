"""The bhyve PCI slot plan vm-bhyve generates for a guest config, and the NIC renames it causes. Pure.

A port of churchers/vm-bhyve ``lib/vm-run`` at commit c318a774 (the sequential-slot code of the 1.5
releases; the seed's vm-bhyve.log matches it byte for byte): ``vm::bhyve_device_basic``,
``vm::bhyve_device_disks``, ``vm::bhyve_device_networking``, ``vm::bhyve_device_rand``,
``vm::bhyve_device_passthru``, ``vm::bhyve_device_fbuf``, ``vm::bhyve_device_mouse``,
``vm::bhyve_device_console`` and ``vm::get_disk_path``, called in that order by ``vm::run``. One
``_slot``/``_func`` pair runs through all of them:

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
  ``-s S:F,TYPE,TAP[,mac=MAC]``; then a new slot;
- ``virt_random`` → ``-s S:0,virtio-rnd``; ``passthruN`` (``B/S/F`` or ``B/S/F=S:F``); UEFI + graphics →
  ``-s S:0,fbuf,tcp=LISTEN:PORT[,w=,h=][,vga=][,password=][,wait]``; ``xhci_mouse`` →
  ``-s S:0,xhci,tablet``; ``virt_consoleN`` → ``-s S:0,virtio-console,...``; each takes a slot.

Newer vm-bhyve (master, lib/vm-run ce89ca11: ``disk_slot_start``/``network_slot_start=15``/...) puts
NICs at fixed slots instead; the seed's host does not run that code (its NIC was on slot 6).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from agent.core.vmbhyve.vmconf import DiskConf, VmConfig, is_yes

DeviceKind = Literal["hostbridge", "lpc", "disk", "ahci", "nic", "rnd", "passthru", "fbuf", "xhci", "console"]

DISK_DEVS = ("file", "zvol", "sparse-zvol", "custom", "iscsi")  # vm::get_disk_path, config.sample
DISK_TYPES = ("virtio-blk", "ahci-hd", "ahci-cd", "nvme")  # config.sample disk0_type "Valid Options"

UNKNOWN_TAP = "<tap>"  # vm-bhyve runs `ifconfig tap create` at start: the name is not known before
GENERATED_MAC = "<generated>"  # vm::generate_static_mac writes 58:9c:fc:0x:xx:xx into the conf at start
AUTO_PORT = "<auto>"  # vm::find_available_net_port picks the first free port from 5900


@dataclass(frozen=True)
class HostContext:
    """Where the guest lives on the host. ``vm_dir`` is the guest's own folder (``$VM_DS_PATH/<vm>``,
    e.g. /zdata/vms/xdev); ``zvol_dataset`` the datastore's dataset (``$VM_DS_ZFS_DATASET``, e.g.
    zdata/vms). ``tap_names`` fills in NICs without ``networkN_device``."""

    vm_dir: str
    vm_name: str
    zvol_dataset: str
    tap_names: Mapping[int, str] = field(default_factory=dict)


@dataclass(frozen=True)
class PciDevice:
    slot: int
    func: int | None  # None: written without a function ("-s 0,hostbridge")
    emulation: str
    args: str  # everything after "EMULATION," ("" for none)
    kind: DeviceKind
    disks: tuple[int, ...] = ()
    nic: int | None = None
    where_text: str | None = None  # a passthru's SLOT:FUNC exactly as the config wrote it

    def render(self) -> str:
        if self.where_text is not None:
            where = self.where_text
        else:
            where = str(self.slot) if self.func is None else f"{self.slot}:{self.func}"
        return f"-s {where},{self.emulation}" + (f",{self.args}" if self.args else "")


@dataclass(frozen=True)
class DiskPlacement:
    index: int
    type: str
    dev: str  # effective kind ("file" when unset)
    name: str
    path: str  # what bhyve is told to open
    slot: int
    func: int
    ahci_port: int | None = None  # position on a shared ahci controller


@dataclass(frozen=True)
class NicPlacement:
    index: int
    type: str
    tap: str
    mac: str
    slot: int
    func: int

    @property
    def guest_name(self) -> str:
        return guest_nic_name(self.slot, self.func)


@dataclass(frozen=True)
class IgnoredDisk:
    index: int
    reason: str


@dataclass(frozen=True)
class SlotPlan:
    uefi: bool
    devices: tuple[PciDevice, ...]
    disks: tuple[DiskPlacement, ...]
    nics: tuple[NicPlacement, ...]
    ignored_disks: tuple[IgnoredDisk, ...]
    chain_end: int  # the N at which the disk loop stopped

    def devices_line(self) -> str:
        """The ``[bhyve devices: ...]`` part of vm-bhyve.log."""
        return " ".join(d.render() for d in self.devices)

    def disk(self, index: int) -> DiskPlacement | None:
        return next((d for d in self.disks if d.index == index), None)

    def nic(self, index: int) -> NicPlacement | None:
        return next((n for n in self.nics if n.index == index), None)


def guest_nic_name(slot: int, func: int) -> str:
    """systemd's path-based name for a NIC on PCI bus 0 (udev net_id ``ID_NET_NAME_PATH``):
    ``enp0s<slot>``, with ``f<function>`` appended for functions > 0."""
    return f"enp0s{slot}" + (f"f{func}" if func > 0 else "")


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


def _int_or(value: str | None, default: int) -> int:
    try:
        return int(value) if value is not None else default
    except ValueError:
        return default


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

    slot = _int_or(conf.get("start_slot"), 4)
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
    nnum = 0
    by_nic = {n.index: n for n in conf.nics}
    while True:
        n = by_nic.get(nnum)
        if n is None or not n.type:
            break
        mac = n.mac or GENERATED_MAC
        if func >= 8:
            func = 0
            slot += 1
        tap = n.device or ctx.tap_names.get(nnum, UNKNOWN_TAP)
        devices.append(PciDevice(slot, func, n.type, f"{tap},mac={mac}", "nic", nic=nnum))
        nics.append(NicPlacement(nnum, n.type, tap, mac, slot, func))
        func += 1
        nnum += 1
    if nnum >= 1:
        slot += 1
        func = 0

    # vm::bhyve_device_rand
    if conf.yesno("virt_random"):
        devices.append(PciDevice(slot, 0, "virtio-rnd", "", "rnd"))
        slot += 1

    # vm::bhyve_device_passthru
    pnum = 0
    pfunc = 0
    last_orig: str | None = None
    while True:
        dev = conf.get(f"passthru{pnum}")
        if not dev:
            break
        if "=" in dev:
            # -s ${_dev##*=},passthru,${_dev%%=*}: the guest SLOT[:FUNC] is taken as written
            host = dev.split("=", 1)[0]
            guest = dev.rsplit("=", 1)[1]
            gslot, _, gfunc = guest.partition(":")
            devices.append(
                PciDevice(
                    _int_or(gslot, -1),
                    _int_or(gfunc, 0) if gfunc else None,
                    "passthru",
                    host,
                    "passthru",
                    where_text=guest,
                )
            )
        else:
            orig = dev.split("/", 1)[0]
            if last_orig is not None and last_orig != orig:
                slot += 1
                pfunc = 0
            devices.append(PciDevice(slot, pfunc, "passthru", dev, "passthru"))
            last_orig = orig
            pfunc += 1
        pnum += 1
    if pnum >= 1:
        slot += 1

    # vm::bhyve_device_fbuf (UEFI only)
    if uefi and conf.graphics:
        port = conf.get("graphics_port") or AUTO_PORT
        listen = conf.get("graphics_listen") or "0.0.0.0"
        fb = f"tcp={listen}:{port}"
        res = conf.get("graphics_res")
        if res:
            fb += f",w={res.split('x', 1)[0]},h={res.rsplit('x', 1)[-1]}"
        vga = conf.get("graphics_vga")
        if vga:
            fb += f",vga={vga}"
        password = conf.get("vnc_password")
        if password:
            fb += f",password={password}"
        wait = conf.get("graphics_wait", "auto")
        if wait != "auto" and is_yes(wait):  # auto means "no" when not installing from an ISO
            fb += ",wait"
        devices.append(PciDevice(slot, 0, "fbuf", fb, "fbuf"))
        slot += 1

    # vm::bhyve_device_mouse
    if conf.yesno("xhci_mouse"):
        devices.append(PciDevice(slot, 0, "xhci", "tablet", "xhci"))
        slot += 1

    # vm::bhyve_device_console
    cons: list[str] = []
    cur = 0
    value = conf.get("virt_console0")
    while value and cur < 16:
        port = str(cur) if value.lower() in ("yes", "on", "1") else value
        cons.append(f"{port}={ctx.vm_dir.rstrip('/')}/vtcon.{port}")
        cur += 1
        value = conf.get(f"virt_console{cur}")
    if cons:
        devices.append(PciDevice(slot, 0, "virtio-console", ",".join(cons), "console"))
        slot += 1

    return SlotPlan(
        uefi=uefi,
        devices=tuple(devices),
        disks=tuple(placements),
        nics=tuple(nics),
        ignored_disks=ignored,
        chain_end=chain_end,
    )


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
