"""The QEMU command line of the lab guest, reproducing vm-bhyve's PCI slot layout. Pure.

vm-bhyve puts the boot disk at slot 4, and the next devices after it; with an NVMe disk1 at slot 5
the NIC moves to slot 6 and the guest renames it enp0s5 -> enp0s6. The same happens here:

* root disk: virtio-blk at slot 4
* without disk1: virtio-net NIC at slot 5 -> ``enp0s5``
* with disk1:    NVMe at slot 5, NIC at slot 6 -> ``enp0s6`` (netplan no longer matches)

ACPI PCI hotplug is switched off, otherwise systemd names the NIC ``ens5`` instead of ``enp0s5``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

LAB_MAC = "58:9c:fc:03:19:32"
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
    disks: tuple[NvmeDisk, ...] = field(default_factory=tuple)
    memory_mb: int = 1024
    cpus: int = 2


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
        "virtio-blk-pci,drive=root,addr=4",
        "-netdev",
        f"user,id=net0,hostfwd=tcp:127.0.0.1:{m.ssh_port}-:22",
        "-device",
        f"virtio-net-pci,netdev=net0,mac={m.mac},addr={m.nic_slot}",
    ]
    for i, d in enumerate(m.disks, start=1):
        argv += [
            "-drive",
            f"file={d.image},if=none,id=disk{i},format=raw,discard=unmap",
            "-device",
            f"nvme,drive=disk{i},serial={d.serial},addr={d.slot}",
        ]
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


def expected_nic_name(nic_slot: int) -> str:
    """systemd's predictable name for a virtio NIC at function 0 of ``nic_slot`` on the root bus."""
    return f"enp0s{nic_slot}"
