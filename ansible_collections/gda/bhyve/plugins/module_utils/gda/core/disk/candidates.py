# GENERATED from agent/core/disk/candidates.py by `python -m agent.collection_build`: do not edit.
"""Decide which disk may be formatted (pure): per-disk verdicts, pins, and the final selection.

Rules (issue 3):

* A candidate is a whole disk (TYPE disk), NVMe unless pinned by the ``device``/``serial`` options, with no
  partitions, no partition table (also a protective MBR or a lone backup GPT), no signature, not mounted,
  not swap, not (on) the root disk, without holders, writable and not empty.
* A disk that carries exactly the requested filesystem and nothing else, and is otherwise a candidate
  (not mounted, not in use), is *already formatted*: a rerun does nothing and reports its UUID.
* ``force`` overrides only a content signature (another filesystem, swap signature, RAID/LVM member...).
  Being in use (root, mounted, active swap, holders, backing a loop device), read-only, and partitions or
  a partition table are never overridden: mkfs on a live device corrupts a running system, and a table
  inside the host partition would hide the filesystem from the host — clearing one is a deliberate
  ``wipefs -a`` by the user.
* Pins narrow the set; a pin that matches no disk is a UsageError listing the disks.
* Exactly one selectable disk → a plan (or "already formatted"); none → Refused with every disk's reasons
  and the vm-bhyve hint; several → Refused listing them.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

from ansible_collections.gda.bhyve.plugins.module_utils.gda.core.disk.devices import Disk, Facts, ProbeState, Signature, format_size
from ansible_collections.gda.bhyve.plugins.module_utils.gda.core.disk.mkfs import FsType
from ansible_collections.gda.bhyve.plugins.module_utils.gda.core.values import SIZE_EXAMPLES, parse_size
from ansible_collections.gda.bhyve.plugins.module_utils.gda.errors import Refused, UsageError
from ansible_collections.gda.bhyve.plugins.module_utils.gda.hints import opt

_PIN_OPTS = f"{opt('device')}/{opt('serial')}"


class Override(enum.Enum):
    """What, if anything, can lift an exclusion reason."""

    NEVER = "never"
    FORCE = "force"  # the force option (with yes, or the typed device name)
    PIN = "pin"  # an explicit device/serial pin


@dataclass(frozen=True)
class Reason:
    """Why a disk is not (plainly) a candidate."""

    code: str  # stable id: not-a-disk, empty, read-only, root, mounted, swap, holders, partitions,
    #            partition-table, signature, not-nvme, loop
    text: str
    override: Override = Override.NEVER


class DiskState(enum.Enum):
    """The verdict on one disk."""

    CANDIDATE = "candidate"
    ALREADY_FORMATTED = "already formatted"
    EXCLUDED = "excluded"


@dataclass(frozen=True)
class Verdict:
    """A disk with its state, blocking reasons, and notes (non-blocking facts worth showing)."""

    disk: Disk
    state: DiskState
    reasons: tuple[Reason, ...] = ()
    notes: tuple[str, ...] = ()
    overwrites: tuple[Signature, ...] = ()  # signatures force will destroy (CANDIDATE with force only)
    existing: Signature | None = None  # the filesystem found (ALREADY_FORMATTED)

    def why(self) -> str:
        """One-line explanation for tables and errors."""
        if self.state is DiskState.CANDIDATE:
            return "candidate" + (f" ({'; '.join(self.notes)})" if self.notes else "")
        if self.state is DiskState.ALREADY_FORMATTED:
            return "already formatted: " + (self.existing.describe() if self.existing else "?")
        return "; ".join(r.text for r in self.reasons)


@dataclass(frozen=True)
class Pins:
    """Narrowing criteria from the inventory or the command line (all optional, combined with AND)."""

    device: str | None = None
    serial: str | None = None
    model: str | None = None
    size_bytes: int | None = None

    @property
    def explicit(self) -> bool:
        """True if a pin identifies one specific device (device or serial), which allows non-NVMe."""
        return bool(self.device or self.serial)

    def describe(self) -> str:
        """Human form, e.g. ``serial=Y39B70RTK7AS size=256 GiB``."""
        parts = []
        if self.device:
            parts.append(f"device={self.device}")
        if self.serial:
            parts.append(f"serial={self.serial}")
        if self.model:
            parts.append(f"model={self.model}")
        if self.size_bytes is not None:
            parts.append(f"size={format_size(self.size_bytes)}")
        return " ".join(parts) or "(none)"


def make_pins(
    device: str | None = None,
    serial: str | None = None,
    model: str | None = None,
    size: str | int | None = None,
) -> Pins:
    """Build Pins from raw CLI/inventory values (empty strings count as unset)."""
    return Pins(
        device=(device or "").strip() or None,
        serial=(serial or "").strip() or None,
        model=(model or "").strip() or None,
        size_bytes=_size(size) if size not in (None, "") else None,
    )


def _size(value: str | int) -> int:
    try:
        return parse_size(value)
    except ValueError as e:
        raise UsageError(f"invalid size pin: {e}", hint=f"sizes are written {SIZE_EXAMPLES}") from None


def _device_names(disk: Disk) -> set[str]:
    """Every spelling of a disk a device pin may use."""
    names = {disk.name, disk.kname, disk.path, f"/dev/{disk.kname}"}
    names.update(disk.by_id)
    names.update(f"/dev/disk/by-id/{link}" for link in disk.by_id)
    return names


def pin_matches(disk: Disk, pins: Pins) -> bool:
    """True if ``disk`` satisfies every given pin."""
    if pins.device and pins.device not in _device_names(disk):
        return False
    if pins.serial and (disk.serial or "").strip().lower() != pins.serial.lower():
        return False
    if pins.model and (disk.model or "").strip().lower() != pins.model.lower():
        return False
    return not (pins.size_bytes is not None and disk.size_bytes != pins.size_bytes)


def disk_line(disk: Disk) -> str:
    """``nvme0n1 256 GiB bhyve-NVMe serial Y39B70RTK7AS`` for lists in messages."""
    bits = [disk.name, disk.human_size()]
    if disk.model:
        bits.append(disk.model)
    if disk.serial:
        bits.append(f"serial {disk.serial}")
    return " ".join(bits)


# ------------------------------------------------------------------------------------------- verdicts


def in_use_reasons(disk: Disk) -> list[Reason]:
    """Root, mounted, swap, holders and backing a loop device: never overridable (the device is live)."""
    reasons: list[Reason] = []
    if disk.is_root_disk:
        reasons.append(Reason("root", "holds the root filesystem"))
    if disk.mounts:
        reasons.append(Reason("mounted", "mounted at " + ", ".join(disk.mounts)))
    if disk.in_swap:
        reasons.append(Reason("swap", "in use as swap (" + ", ".join(disk.swap_devices) + ")"))
    if disk.holders:
        reasons.append(Reason("holders", "has holders " + ", ".join(disk.holders) + " (LVM/RAID/dm in use)"))
    if disk.loop_devices:
        loops = ", ".join(f"/dev/{n}" for n in disk.loop_devices)
        reasons.append(
            Reason("loop", f"backs loop device {loops} (in use; detach it with losetup -d if it is unused)")
        )
    return reasons


def layout_reasons(disk: Disk) -> list[Reason]:
    """Partitions and partition tables: never overridable (a table would hide the fs from the host)."""
    reasons: list[Reason] = []
    if disk.partitions:
        reasons.append(Reason("partitions", "has partitions " + ", ".join(disk.partitions)))
    tables = disk.signatures.partition_tables
    if tables or (disk.pttype and not disk.partitions):
        what = ", ".join(tables) if tables else str(disk.pttype)
        reasons.append(
            Reason(
                "partition-table",
                f"carries a partition table ({what}): a table inside the host partition would hide the "
                "filesystem from the host; clear it deliberately (wipefs -a) if it is really unused",
            )
        )
    return reasons


def basic_reasons(disk: Disk, pins: Pins) -> list[Reason]:
    """Type, size, read-only and NVMe checks."""
    reasons: list[Reason] = []
    if disk.type != "disk":
        reasons.append(Reason("not-a-disk", f"not a whole disk (type {disk.type})"))
    if not disk.size_bytes:
        reasons.append(Reason("empty", "has no media (size 0)"))
    if disk.read_only:
        reasons.append(Reason("read-only", "read-only"))
    if disk.type == "disk" and not disk.is_nvme:
        override = Override.PIN
        if pins.explicit and pin_matches(disk, pins):
            return reasons
        reasons.append(
            Reason(
                "not-nvme",
                f"not NVMe (tran={disk.tran or 'unknown'}); pin it with {_PIN_OPTS} to allow",
                override,
            )
        )
    return reasons


def assess_disk(
    disk: Disk,
    fs: FsType | None = None,
    *,
    force: bool = False,
    pins: Pins | None = None,
    reuse: bool = True,
) -> Verdict:
    """The verdict on one disk for formatting with ``fs`` (None: just describe, as the disks task).
    ``reuse=False``: an existing ``fs`` is a signature like any other (the rerun found it differs from the
    request, and the force option recreates it)."""
    pins = pins or Pins()
    blocking = basic_reasons(disk, pins) + in_use_reasons(disk) + layout_reasons(disk)
    content = disk.signatures.content_signatures
    notes: list[str] = []
    if disk.not_probed == "root":
        notes.append("contents not probed (the root disk is never formatted): signatures as udev knows them")
    elif disk.signatures.state is ProbeState.UNKNOWN:
        notes.append("signatures not probed (no root); the guard re-checks under sudo")

    hard = [r for r in blocking if r.override is not Override.FORCE]
    # Already formatted: exactly the requested filesystem, nothing else, on a plain whole disk.
    if (
        fs is not None
        and reuse
        and len(content) >= 1
        and {s.type for s in content} == {fs}
        and len({s.uuid for s in content}) == 1
        and not hard
    ):
        return Verdict(disk, DiskState.ALREADY_FORMATTED, (), tuple(notes), existing=content[0])

    if content:
        sig_text = "carries signature " + ", ".join(s.describe() for s in content)
        if force and not hard:
            notes.append(sig_text + f" — will be overwritten ({opt('force')})")
        else:
            # Only suggest force where it would help: a disk also blocked for a hard reason stays refused.
            tail = "" if hard else f"; {opt('force')} overwrites it"
            blocking.append(Reason("signature", sig_text + tail, Override.FORCE))
    if blocking:
        return Verdict(disk, DiskState.EXCLUDED, tuple(blocking), tuple(notes))
    return Verdict(disk, DiskState.CANDIDATE, (), tuple(notes), overwrites=content if force else ())


def assess_all(
    facts: Facts, fs: FsType | None = None, *, force: bool = False, pins: Pins | None = None
) -> list[Verdict]:
    """Verdicts for every top-level device (for the disks task)."""
    return [assess_disk(d, fs, force=force, pins=pins) for d in facts.disks]


# ------------------------------------------------------------------------------------------ selection


@dataclass(frozen=True)
class FormatPlan:
    """Format ``disk``: everything the guard script needs to re-check and act."""

    disk: Disk
    fs: FsType
    device_path: str  # stable /dev/disk/by-id path (kernel path if the guest has no by-id links)
    expected_serial: str | None  # always set when the disk has a serial
    expected_size_bytes: int
    expected_signatures: tuple[str, ...]  # sorted signature types force may overwrite; () = must be blank
    overwrites: tuple[Signature, ...]
    verdicts: tuple[Verdict, ...]

    @property
    def expected_signature_keys(self) -> tuple[str, ...]:
        """``type,offset,uuid`` of each signature confirmed for overwriting: the guard refuses others."""
        return tuple(sorted({s.key for s in self.overwrites}))


@dataclass(frozen=True)
class AlreadyFormatted:
    """Nothing to do: ``disk`` already carries the requested filesystem."""

    disk: Disk
    fs: FsType
    uuid: str | None
    label: str | None
    verdicts: tuple[Verdict, ...]


Selection = FormatPlan | AlreadyFormatted


def vm_bhyve_hint(host_path: str | None = None) -> str:
    """The vm-bhyve settings that pass a host device through as NVMe."""
    dev = host_path or "/dev/diskid/DISK-<serial>p<N>"
    return (
        "on the FreeBSD host, attach the disk in the vm-bhyve config and restart the guest: "
        f'disk1_name="{dev}" (the absolute host device), disk1_dev="custom", disk1_type="nvme"'
    )


def apply_pins(disks: Sequence[Disk], pins: Pins, host_path: str | None = None) -> list[Disk]:
    """The disks matching ``pins``; UsageError listing every disk if none matches."""
    matched = [d for d in disks if pin_matches(d, pins)]
    if not matched:
        listing = "\n".join(f"  {disk_line(d)}" for d in disks) or "  (no block devices)"
        raise UsageError(
            f"no disk matches the pins {pins.describe()}; the guest has:\n{listing}",
            hint=f"fix the pin (inventory disk: or {_PIN_OPTS}), or " + vm_bhyve_hint(host_path),
        )
    return matched


def _reasons_listing(verdicts: Sequence[Verdict]) -> str:
    return "\n".join(f"  {disk_line(v.disk)}: {v.why()}" for v in verdicts) or "  (no block devices)"


def select_disk(
    facts: Facts,
    fs: FsType,
    *,
    pins: Pins | None = None,
    force: bool = False,
    host_path: str | None = None,
    reuse: bool = True,
) -> Selection:
    """Choose the disk to format, or decide there is nothing to do; raise Refused/UsageError otherwise."""
    pins = pins or Pins()
    disks = apply_pins(facts.disks, pins, host_path)
    verdicts = tuple(assess_disk(d, fs, force=force, pins=pins, reuse=reuse) for d in disks)
    selectable = [v for v in verdicts if v.state is not DiskState.EXCLUDED]
    if len(selectable) > 1:
        listing = "\n".join(f"  {disk_line(v.disk)} ({v.disk.stable_path()}): {v.why()}" for v in selectable)
        raise Refused(
            f"{len(selectable)} disks could be the passed-through disk; refusing to guess:\n{listing}",
            hint=f"pin one with {opt('serial')} or {opt('device')} /dev/disk/by-id/..., "
            "or disk: serial: in the inventory",
        )
    if not selectable:
        all_verdicts = tuple(assess_disk(d, fs, force=force, pins=pins, reuse=reuse) for d in facts.disks)
        shown = verdicts if pins != Pins() else all_verdicts
        hint = vm_bhyve_hint(host_path)
        forceable = [v for v in shown if v.reasons and all(r.override is Override.FORCE for r in v.reasons)]
        if forceable and not force:
            hint = (
                f"if that data is really unwanted, rerun with {opt('force')} "
                f"(needs {opt('yes')} or typing the device); " + hint
            )
        raise Refused(f"no disk can be formatted with {fs}:\n{_reasons_listing(shown)}", hint=hint)
    v = selectable[0]
    if v.state is DiskState.ALREADY_FORMATTED:
        return AlreadyFormatted(
            v.disk,
            fs,
            v.existing.uuid if v.existing else None,
            v.existing.label if v.existing else None,
            verdicts,
        )
    if v.disk.size_bytes is None:  # pragma: no cover - excluded as "empty" above
        raise Refused(f"{v.disk.name}: size unknown")
    return FormatPlan(
        disk=v.disk,
        fs=fs,
        device_path=v.disk.stable_path(),
        expected_serial=v.disk.serial,
        expected_size_bytes=v.disk.size_bytes,
        expected_signatures=tuple(sorted({s.type for s in v.overwrites})),
        overwrites=v.overwrites,
        verdicts=verdicts,
    )
