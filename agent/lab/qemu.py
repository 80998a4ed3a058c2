"""The QEMU command line of the lab guest, reproducing vm-bhyve's PCI slot layout. Pure.

vm-bhyve puts the boot disk at slot 4, and the next devices after it; with an NVMe disk1 at slot 5
the NIC moves to slot 6 and the guest renames it enp0s5 -> enp0s6. The same happens here:

* root disk: virtio-blk at slot 4
* without disk1: virtio-net NIC at slot 5 -> ``enp0s5``
* with disk1:    NVMe at slot 5, NIC at slot 6 -> ``enp0s6`` (netplan no longer matches)

ACPI PCI hotplug is switched off, otherwise systemd names the NIC ``ens5`` instead of ``enp0s5``.

Several NICs (``nics``) are functions 0, 1, … of the NIC slot, as vm-bhyve lays out network0, network1, …;
the slot is marked multifunction (bhyve does so for a slot with more than one function), so systemd
names every one of them with its function: ``enp0s5f0``, ``enp0s5f1`` (the first one too).

QEMU reads a bare ``addr=10`` as hexadecimal (slot 16; ``addr=20`` is refused), so slots are written
``addr=0x..``. The trixie flavour's cloud-init seed is an IDE CD-ROM of the chipset: no PCI slot.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

LAB_MAC = "58:9c:fc:03:19:32"
MAX_NICS = 8  # functions of one PCI slot
KERNEL_CMDLINE = "console=ttyS0,115200 root=/dev/vda rw net.ifnames=1 systemd.show_status=false"


@dataclass(frozen=True)
class NvmeDisk:
    """A sparse image file attached as an NVMe controller at a PCI slot."""

    image: Path
    serial: str
    slot: int


@dataclass(frozen=True)
class LabMachine:
    """Everything needed to build the qemu-system-x86_64 command line."""

    kernel: Path
    initrd: Path
    root_overlay: Path
    ssh_port: int
    console_port: int
    console_log: Path
    pidfile: Path
    monitor: Path
    nic_slot: int = 5
    mac: str = LAB_MAC
    nics: int = 1
    disks: tuple[NvmeDisk, ...] = field(default_factory=tuple)
    seed_iso: Path | None = None
    memory_mb: int = 1024
    cpus: int = 2


def pci_addr(slot: int, func: int | None = None) -> str:
    """QEMU's ``addr=`` value: the slot in hexadecimal (QEMU reads it so), then ``.function``."""
    if not 0 <= slot <= 31 or (func is not None and not 0 <= func <= 7):
        raise ValueError(f"no PCI slot {slot} function {func}")
    return f"0x{slot:x}" + ("" if func is None else f".{func}")


def nic_mac(m: LabMachine, i: int) -> str:
    """The MAC of NIC ``i``: the lab's MAC for the first, then the last byte counted up."""
    head, last = m.mac.rsplit(":", 1)
    return f"{head}:{(int(last, 16) + i) % 256:02x}"


def _nic_devices(m: LabMachine) -> list[str]:
    if not 1 <= m.nics <= MAX_NICS:
        raise ValueError(f"{m.nics} NICs: one slot holds 1 to {MAX_NICS}")
    if m.nics == 1:
        return [
            "-netdev",
            f"user,id=net0,hostfwd=tcp:127.0.0.1:{m.ssh_port}-:22",
            "-device",
            f"virtio-net-pci,netdev=net0,mac={m.mac},addr={pci_addr(m.nic_slot)}",
        ]
    argv: list[str] = []
    for i in range(m.nics):
        # NIC 0 carries the SSH forward; the others get networks of their own (no route clash).
        net = f"hostfwd=tcp:127.0.0.1:{m.ssh_port}-:22" if i == 0 else f"net=10.0.{2 + i}.0/24"
        multi = ",multifunction=on" if i == 0 else ""
        argv += [
            "-netdev",
            f"user,id=net{i},{net}",
            "-device",
            f"virtio-net-pci,netdev=net{i},mac={nic_mac(m, i)},addr={pci_addr(m.nic_slot, i)}{multi}",
        ]
    return argv


def qemu_argv(m: LabMachine) -> list[str]:
    """The argv that boots the lab guest (daemonized, pid written to ``m.pidfile``)."""
    slots = [4, m.nic_slot, *(d.slot for d in m.disks)]
    if len(set(slots)) != len(slots):
        raise ValueError(f"PCI slot collision in lab layout: {slots}")
    argv = [
        "qemu-system-x86_64",
        "-accel",
        "tcg",
        "-machine",
        "pc",
        "-m",
        str(m.memory_mb),
        "-smp",
        str(m.cpus),
        "-nodefaults",
        "-no-user-config",
        "-display",
        "none",
        "-name",
        "xdev,process=gda-lab",
        "-global",
        "PIIX4_PM.acpi-root-pci-hotplug=off",
        "-global",
        "PIIX4_PM.acpi-pci-hotplug-with-bridge-support=off",
        "-kernel",
        str(m.kernel),
        "-initrd",
        str(m.initrd),
        "-append",
        KERNEL_CMDLINE,
        "-drive",
        f"file={m.root_overlay},if=none,id=root,format=qcow2,discard=unmap",
        "-device",
        f"virtio-blk-pci,drive=root,addr={pci_addr(4)}",
        *_nic_devices(m),
    ]
    for i, d in enumerate(m.disks, start=1):
        argv += [
            "-drive",
            f"file={d.image},if=none,id=disk{i},format=raw,discard=unmap",
            "-device",
            f"nvme,drive=disk{i},serial={d.serial},addr={pci_addr(d.slot)}",
        ]
    if m.seed_iso is not None:
        argv += ["-drive", f"file={m.seed_iso},if=ide,media=cdrom,readonly=on,format=raw"]
    argv += [
        "-chardev",
        f"socket,id=ser0,host=127.0.0.1,port={m.console_port},server=on,wait=off,"
        f"logfile={m.console_log},logappend=on",
        "-serial", "chardev:ser0",
        "-monitor", f"unix:{m.monitor},server=on,wait=off",
        "-pidfile", str(m.pidfile),
        "-daemonize",
    ]  # fmt: skip
    return argv


def expected_nic_names(nic_slot: int, nics: int = 1) -> list[str]:
    """systemd's predictable names for the lab's NICs on ``nic_slot`` of the root bus: ``enp0s5`` for one,
    ``enp0s5f0``, ``enp0s5f1``, … for several (a multifunction slot names function 0 too)."""
    if nics == 1:
        return [f"enp0s{nic_slot}"]
    return [f"enp0s{nic_slot}f{i}" for i in range(nics)]


def expected_nic_name(nic_slot: int, nics: int = 1) -> str:
    """The first NIC's name (the one SSH goes through)."""
    return expected_nic_names(nic_slot, nics)[0]
