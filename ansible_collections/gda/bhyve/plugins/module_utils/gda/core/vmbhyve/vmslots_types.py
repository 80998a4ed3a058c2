# GENERATED from agent/core/vmbhyve/vmslots_types.py by `python -m agent.collection_build`: do not edit.
"""The data a bhyve PCI slot plan is made of (devices, disk and NIC placements), and the guest's name for
a NIC at a PCI address. Pure; agent.core.vmbhyve.vmslots builds these.

NIC names: systemd composes ``ID_NET_NAME_PATH`` in ``names_pci_slot()`` of
``src/udev/udev-builtin-net_id.c`` (systemd/systemd): ``en`` + ``p<bus>s<slot>``, then ``f<func>`` when
``func > 0 || is_pci_multifunction(pcidev)`` — the multifunction bit (bit 7 of the header type, byte
0x0e of the config space). bhyve sets that bit for every function of a slot that holds more than one:
``pci_emul_hdrtype_fixup()`` in ``usr.sbin/bhyve/pci_emul.c`` (freebsd/freebsd-src) sets ``PCIM_MFDEV``
when ``pci_emul_is_mfdev(bus, slot)``, i.e. when more than one of the slot's 8 functions has a device.
So network0 and network1 on functions 0 and 1 of slot 6 are ``enp0s6f0`` and ``enp0s6f1``, and a NIC
alone on its slot is ``enp0s6``. (Checked with QEMU, which sets the same bit: ``virtio-net-pci,
addr=5.0,multifunction=on`` with a second function at 5.1 gives ``ID_NET_NAME_PATH=enp0s5f0``.)
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

DeviceKind = Literal[
    "hostbridge", "lpc", "disk", "ahci", "nic", "rnd", "passthru", "fbuf", "xhci", "sound", "console"
]

UNKNOWN_TAP = "<tap>"  # vm-bhyve runs `ifconfig tap create` at start: the name is not known before
GENERATED_MAC = "<generated>"  # vm::generate_static_mac writes 58:9c:fc:0x:xx:xx into the conf at start
AUTO_PORT = "<auto>"  # vm::find_available_net_port picks the first free port from 5900


def shell_words(text: str) -> list[str]:
    """``text`` split as sh splits an unquoted expansion with the default IFS (space, tab, newline; a
    carriage return is no separator)."""
    return [w for w in re.split(r"[ \t\n]+", text) if w]


def guest_nic_name(slot: int, func: int, multifunction: bool = False) -> str:
    """systemd's path-based name for a NIC on PCI bus 0: ``enp0s<slot>``, with ``f<func>`` when the
    function is > 0 or the slot is multifunction (holds more than one device)."""
    return f"enp0s{slot}" + (f"f{func}" if func > 0 or multifunction else "")


@dataclass(frozen=True)
class HostContext:
    """Where the guest lives on the host. ``vm_dir`` is the guest's own folder (``$VM_DS_PATH/<vm>``,
    e.g. /zdata/vms/xdev); ``zvol_dataset`` the datastore's dataset (``$VM_DS_ZFS_DATASET``, e.g.
    zdata/vms). ``tap_names`` fills in NICs without ``networkN_device``/``networkN_name``;
    ``free_vnc_port`` the port vm-bhyve would find free for graphics without ``graphics_port``."""

    vm_dir: str
    vm_name: str
    zvol_dataset: str
    tap_names: Mapping[int, str] = field(default_factory=dict)
    free_vnc_port: int | None = None


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
    multifunction: bool = False  # another device shares the slot (bhyve sets PCIM_MFDEV)

    @property
    def guest_name(self) -> str:
        return guest_nic_name(self.slot, self.func, self.multifunction)


@dataclass(frozen=True)
class IgnoredDisk:
    index: int
    reason: str


@dataclass(frozen=True)
class SkippedNic:
    """A ``networkN`` vm-bhyve does not attach (it prints ``warning``), the loop goes on."""

    index: int
    reason: str
    warning: str  # vm-bhyve's own words on stderr (util::warn)


@dataclass(frozen=True)
class SlotPlan:
    uefi: bool
    devices: tuple[PciDevice, ...]
    disks: tuple[DiskPlacement, ...]
    nics: tuple[NicPlacement, ...]
    ignored_disks: tuple[IgnoredDisk, ...]
    chain_end: int  # the N at which the disk loop stopped
    skipped_nics: tuple[SkippedNic, ...] = ()
    refusal: str | None = None  # vm-bhyve stops before running bhyve: why
    bhyve_error: str | None = None  # bhyve will refuse these devices: why

    @property
    def starts(self) -> bool:
        """vm-bhyve runs bhyve and bhyve accepts the devices: only then do NIC names mean anything."""
        return self.refusal is None and self.bhyve_error is None

    def devices_line(self) -> str:
        """The ``[bhyve devices: ...]`` part of vm-bhyve.log."""
        return " ".join(d.render() for d in self.devices)

    def device_args(self) -> list[str]:
        """The arguments bhyve gets: vm-run expands ``${_devices}`` unquoted, so the shell splits it
        at every blank (a value holding a space becomes two arguments)."""
        return shell_words(self.devices_line())

    @property
    def warnings(self) -> tuple[str, ...]:
        return tuple(s.warning for s in self.skipped_nics)

    def disk(self, index: int) -> DiskPlacement | None:
        return next((d for d in self.disks if d.index == index), None)

    def nic(self, index: int) -> NicPlacement | None:
        return next((n for n in self.nics if n.index == index), None)
