"""``gda attach``'s decisions around the core's edit and plan, and its report (pure).

agent.core.vmbhyve.conf_edit makes the edit and agent.core.vmbhyve.attach_plan orders the steps; here
around them: which guest interface is which ``networkN`` (by PCI address, ``0000:00:<slot>.<func>``, the
slot plan's own), whether the config's MACs are the guest's, whether a rerun finds everything in place
(the disk in the config as asked, the guest running and showing a disk with that serial and the host's
size: a no-op; anything else: refused, saying what differs), the file mode ``ls -ln`` shows, the next
step (``format`` pinned by serial, and by size through the inventory's ``disk.size``), and the record of
the steps done that ``--json`` and the terminal show, on success and on failure.
"""

from __future__ import annotations

import dataclasses
import shlex
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from agent.core.disk.devices import Disk
from agent.core.host.host_finding import HostFinding
from agent.core.net.interfaces import Interface
from agent.core.vmbhyve.vmconf import DiskConf, VmConfig, ser_option
from agent.core.vmbhyve.vmslots import GENERATED_MAC, SlotPlan
from agent.hints import opt, render_options
from agent.ops.host_check import HostReport

_MODE_BITS = {"r": 4, "w": 2, "x": 1, "s": 1, "t": 1}


def pci_address(slot: int, func: int) -> str:
    """The guest's PCI address of ``slot``:``func`` on bus 0, as sysfs names it (``0000:00:05.0``)."""
    return f"0000:00:{slot:02x}.{func:x}"


def guest_nic_macs(plan: SlotPlan, interfaces: Sequence[Interface]) -> dict[int, str]:
    """The MAC of each NIC of ``plan`` as the guest has it: the interface at the NIC's PCI address."""
    by_pci = {i.pci_slot: i for i in interfaces if i.pci_slot}
    out: dict[int, str] = {}
    for n in plan.nics:
        iface = by_pci.get(pci_address(n.slot, n.func))
        if iface is not None and iface.hardware_mac:
            out[n.index] = iface.hardware_mac.lower()
    return out


def mac_problems(plan: SlotPlan, guest_macs: Mapping[int, str]) -> list[str]:
    """What does not fit between the config's NICs and the guest's: a NIC the guest does not show at its
    slot, or a ``networkN_mac`` that is not the guest's MAC (the pin by MAC would pin the wrong one)."""
    out: list[str] = []
    for n in plan.nics:
        have = guest_macs.get(n.index)
        where = f"network{n.index} (slot {n.slot}:{n.func}, {pci_address(n.slot, n.func)})"
        if have is None:
            out.append(f"the guest shows no interface at {where}")
        elif n.mac != GENERATED_MAC and n.mac.lower() != have:
            out.append(f"{where} has network{n.index}_mac={n.mac} in the config, the guest's NIC has {have}")
    return out


def with_attach_serial(report: HostReport, device: str, serial: str, type: str) -> HostReport:
    """``report`` with the serial attach will write (``ser=``) in the check of ``device`` given as an
    option, instead of "not known": host_check cannot know it before the edit."""
    checks = []
    for c in report.checks:
        if c.device.path == device and c.device.disk is None:
            kept = tuple(f for f in c.check.findings if f.code != "guest-serial")
            note = HostFinding(
                "guest-serial",
                "info",
                f"the guest will see serial {serial} ({type}, ser= written by attach)",
                data={"serial": serial, "source": "attach"},
            )
            check = dataclasses.replace(c.check, findings=(*kept, note), serial=serial)
            c = dataclasses.replace(c, check=check)
        checks.append(c)
    return dataclasses.replace(report, checks=tuple(checks))


def find_attached(conf: VmConfig, names: Iterable[str]) -> DiskConf | None:
    """The config's disk whose ``diskN_name`` is one of ``names`` (the device and its other names)."""
    wanted = set(names)
    return next((d for d in conf.disks if d.name in wanted), None)


def guest_serial(disk: DiskConf, plan: SlotPlan) -> str | None:
    """The serial the guest sees for ``disk``: ``ser=`` of its opts, else (NVMe) bhyve's
    ``NVME-<slot>-<func>``; None when neither says (no serial to pin)."""
    ser = ser_option(disk.opts)
    if ser:
        return ser
    p = plan.disk(disk.index)
    if disk.type == "nvme" and p is not None:
        return f"NVME-{p.slot}-{p.func}"
    return None


def seen_disk(disks: Sequence[Disk], serial: str) -> Disk | None:
    """The guest's disk with ``serial`` (compared without the blank padding NVMe serials carry)."""
    return next((d for d in disks if (d.serial or "").strip() == serial), None)


@dataclass(frozen=True)
class Rerun:
    """A rerun's finding: the disk already in the config, and what differs from "done" (empty: a no-op)."""

    disk: DiskConf
    serial: str | None
    problems: tuple[str, ...]
    seen: str | None = None  # the guest's device with that serial


def rerun_problems(
    disk: DiskConf,
    plan: SlotPlan,
    *,
    type: str,
    size_bytes: int | None,
    running: bool | None,
    guest_disks: Sequence[Disk] | None,
) -> Rerun:
    """Whether the disk already in the config is attached as asked, and the guest sees it (``guest_disks``:
    the guest's disks; None when the guest was not read)."""
    problems: list[str] = []
    name = f"disk{disk.index}"
    if disk.type != type:
        problems.append(f"{name}_type is {disk.type or '(not set)'}, not {type}")
    if disk.dev != "custom":
        problems.append(f"{name}_dev is {disk.dev or '(not set)'}, not custom")
    if plan.disk(disk.index) is None:
        why = next((i.reason for i in plan.ignored_disks if i.index == disk.index), "not in its disk list")
        problems.append(f"vm-bhyve does not attach {name}: {why}")
    serial = guest_serial(disk, plan)
    if serial is None:
        problems.append(f"{name} has no ser= in {name}_opts: no serial to pin the disk by")
    if running is not True:
        problems.append("the guest is not running")
    seen = None
    if serial is not None and guest_disks is not None:
        d = seen_disk(guest_disks, serial)
        if d is None:
            problems.append(f"the guest shows no disk with serial {serial} (not restarted since the edit?)")
        else:
            seen = d.path
            if size_bytes is not None and d.size_bytes != size_bytes:
                problems.append(
                    f"the guest's {d.path} (serial {serial}) has {d.size_bytes} bytes, the host's device "
                    f"{size_bytes}"
                )
    return Rerun(disk, serial, tuple(problems), seen)


def parse_ls_mode(line: str) -> int | None:
    """The permission bits of an ``ls -ln`` line (``-rw-r--r--  1 0  0 ...`` → 0o644); None if unreadable."""
    perms = line.strip().split(" ", 1)[0]
    if len(perms) < 10:
        return None
    mode = 0
    for i, ch in enumerate(perms[1:10]):
        if ch not in _MODE_BITS and ch not in "-ST":
            return None
        mode |= _MODE_BITS.get(ch, 0) << (3 * (2 - i // 3))
    return mode


def backup_script(conf: str, backup: str) -> str:
    """Copy ``conf`` to ``backup`` (``cp -p``) if ``conf`` still holds the bytes on stdin and ``backup``
    is new; print ``ls -ln`` of the conf (its mode, kept by the write)."""
    c, b = shlex.quote(conf), shlex.quote(backup)
    return (
        f"cmp -s - {c} || {{ echo 'the config changed since it was read' >&2; exit 10; }}\n"
        f"[ ! -e {b} ] || {{ echo 'the backup exists already' >&2; exit 11; }}\n"
        f"cp -p {c} {b} && cmp -s {c} {b} || exit 12\n"
        f"ls -ln {c}\n"
    )


def format_command(guest: str, serial: str, fs: str = "ext4") -> str:
    """The next step, pinned by serial (``{opt:...}`` placeholders for the front end)."""
    return f"format {opt('guest')} {guest} {opt('fs')} {fs} {opt('serial')} {serial}"


def next_steps(
    guest: str, serial: str, size_bytes: int | None, pinned: Mapping[str, object] | None = None
) -> list[str]:
    """What to do after attach: ``format`` pinned by the serial, the size pinned in the inventory (format
    takes it from ``disk.size``); ``pinned``: the inventory's disk pins today, to say what to change."""
    out = [f"next: {format_command(guest, serial)}  (or {opt('fs')} xfs; {opt('dry_run')} first to see it)"]
    pins = dict(pinned or {})
    if size_bytes is not None:
        have = pins.get("size_bytes")
        if have != size_bytes:
            now = f" (today {have} bytes)" if have is not None else ""
            out.append(
                f"pin the size too: in the inventory, guest {guest}: disk: {{serial: {serial}, size: "
                f"{size_bytes}}}{now}"
            )
    if pins.get("serial") not in (None, serial):
        out.append(f"the inventory pins serial {pins['serial']}: {opt('serial')} {serial} overrides it")
    return out


@dataclass
class StepDone:
    key: str
    status: str  # done | skipped | failed | planned
    detail: str = ""
    seconds: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {"key": self.key, "status": self.status, "detail": self.detail, "seconds": self.seconds}


@dataclass
class AttachOutcome:
    """What attach did (or, for a dry run, would do), filled in as it goes."""

    guest: str
    vm: str
    device: str
    action: str = "refused"  # attached | already-attached | dry-run | refused | failed
    conf_path: str | None = None
    backup: str | None = None
    disk_index: int | None = None
    serial: str | None = None
    size_bytes: int | None = None
    diff: str = ""
    steps: list[StepDone] = field(default_factory=list)
    host: dict[str, Any] | None = None
    host_lines: list[str] = field(default_factory=list)
    plan: dict[str, Any] | None = None
    plan_text: str = ""
    pin: dict[str, Any] | None = None
    guest_device: str | None = None
    notes: list[str] = field(default_factory=list)
    next: list[str] = field(default_factory=list)
    conf_restored: bool = False

    def step(self, key: str, status: str, detail: str = "", seconds: float | None = None) -> None:
        self.steps.append(StepDone(key, status, detail, seconds))

    def to_json(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "guest": self.guest,
            "vm": self.vm,
            "device": self.device,
            "conf": self.conf_path,
            "backup": self.backup,
            "conf_restored": self.conf_restored,
            "disk_index": self.disk_index,
            "serial": self.serial,
            "size_bytes": self.size_bytes,
            "diff": self.diff,
            "steps_done": [s.to_json() for s in self.steps],
            "host": self.host,
            "plan": self.plan,
            "pin_nic": self.pin,
            "guest_device": self.guest_device,
            "notes": list(self.notes),
            "next": list(self.next),
            "format_command": format_command(self.guest, self.serial) if self.serial else None,
        }

    def lines(self) -> list[str]:
        """Plain lines for a terminal (options rendered)."""
        out = list(self.host_lines)
        if self.action == "dry-run":
            out.append("dry run: nothing was changed")
            out += self.plan_text.rstrip("\n").split("\n") if self.plan_text else []
        else:
            for s in self.steps:
                secs = f" ({s.seconds:.1f}s)" if s.seconds is not None else ""
                out.append(f"  {s.status:7} {s.key}{secs}" + (f": {s.detail}" if s.detail else ""))
            if self.diff and self.action == "attached":
                out += ["", *self.diff.rstrip("\n").split("\n"), ""]
        head = {
            "attached": f"attached {self.device} to {self.vm} as disk{self.disk_index}",
            "already-attached": f"nothing to do: {self.device} is disk{self.disk_index} of {self.vm} and the "
            f"guest sees it ({self.guest_device})",
        }.get(self.action)
        if head:
            out.append(head + (f", serial {self.serial}" if self.serial else ""))
        out += self.notes
        out += self.next
        return [render_options(x) for x in out]
