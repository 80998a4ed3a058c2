"""The vm-bhyve config edit of ``gda attach``: add a host device as the next disk, and verify the result
the way vm-bhyve will read it. Pure: text in, text + diff + slot plan out.

What is added, at ``N`` = the end of vm-bhyve's disk chain (``vm::bhyve_device_disks`` in
churchers/vm-bhyve v1.6.2 ``lib/vm-run`` stops at the first index lacking ``diskN_name`` or
``diskN_type``: :attr:`SlotPlan.chain_end`), right after the file's last ``diskK_*`` line::

    diskN_type="nvme"
    diskN_dev="custom"
    diskN_name="/dev/diskid/DISK-Y39B70RTK7ASp4"
    diskN_opts="ser=Y39B70RTK7ASp4"

Every other byte of the file stays as it was. Refused (nothing written): the device is already a disk of
this config; any ``diskK_*`` key with K >= N exists (at N it would merge into the new disk, past N the
chain would go on through it); a file with ``\\r`` (vm-bhyve keeps the ``\\r`` in every value:
agent.core.vmbhyve.vmconf; convert it first) or bytes that are not UTF-8, or an excerpt.

The serial (:func:`serial_for_device`): bhyve copies ``ser=`` into the 20-byte Serial Number field of the
NVMe Identify Controller data with ``cpywithpad(sc->ctrldata.sn, sizeof(sc->ctrldata.sn), value, ' ')``
(usr.sbin/bhyve/pci_nvme.c, freebsd/freebsd-src: "the Product Serial Number in 7-bit ASCII, unused bytes
should be space characters. Ref: NVMe v1.3c"): anything past 20 bytes is silently cut. bhyve splits its
device options at ``,`` and ``=``, vm-bhyve cuts at ``#``, deletes ``"`` and the shell splits at blanks,
so a serial here is at most 20 of ``[A-Za-z0-9._-]``. (virtio-blk and ahci-hd take ``ser=`` too.)

A missing ``networkN_mac`` (vm-bhyve writes one at the first start, ``vm::generate_static_mac``:
``58:9c:fc:0`` + 5 hex digits of ``md5 -qs "<name>:<num>:<time>:<int>"``, through ``config::set``, i.e.
``sysrc``, as ``networkN_mac="..."``) can be added with a MAC the caller chooses (the guest's current one,
or :func:`vm_bhyve_mac` of a digest): the core never makes randomness.

:func:`verify_attach` parses the new text back (vmconf) and plans its slots: the disk must be at N with
the device as its path and the requested type, every earlier disk and NIC as before, and bhyve must
accept the devices; otherwise the edit is refused (the caller restores the backup).
"""

from __future__ import annotations

import difflib
import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from agent.core.vmbhyve.nic_renames import NicRename, predict_renames
from agent.core.vmbhyve.vmconf import VmConfig, parse_vm_config
from agent.core.vmbhyve.vmslots import HostContext, SlotPlan, plan_slots
from agent.errors import Refused, UsageError
from agent.hints import opt

ATTACH_TYPES = ("nvme", "virtio-blk", "ahci-hd")
SERIAL_MAX = 20  # sizeof(ctrldata.sn) in pci_nvme.c (NVMe Identify Controller SN, bytes 23:04)
_SERIAL_RE = re.compile(r"[A-Za-z0-9._-]{1,20}")
_SERIAL_BAD = re.compile(r"[^A-Za-z0-9._-]")
_PART_RE = re.compile(r"^(?P<disk>.+?)(?P<part>p[0-9]+|s[0-9]+[a-h]?)$")
_DEVICE_RE = re.compile(r"/dev/[A-Za-z0-9._+:/@-]+")
_MAC_RE = re.compile(r"[0-9a-f]{2}(:[0-9a-f]{2}){5}")
_STAMP_RE = re.compile(r"[0-9]{8}T[0-9]{6}Z")
_DISK_LINE_RE = re.compile(r"^disk[0-9]+_")


@dataclass(frozen=True)
class AttachRequest:
    device: str  # /dev/diskid/DISK-Y39B70RTK7ASp4
    type: str = "nvme"
    serial: str | None = None  # None: derived from the device name
    aliases: tuple[str, ...] = ()  # other names of the same provider (/dev/nda0p4, /dev/gpt/...)


@dataclass(frozen=True)
class ConfEdit:
    """The edit, in two parts the caller may write one after the other: first the missing MACs
    (``with_macs``), then the disk (``text``). ``diff`` goes from ``original`` to ``text``."""

    vm_name: str
    index: int
    device: str
    type: str
    serial: str
    original: str
    with_macs: str
    text: str
    mac_lines: tuple[str, ...]
    disk_lines: tuple[str, ...]
    diff: str
    mac_diff: str
    disk_diff: str
    backup_name: str
    before: SlotPlan
    after: SlotPlan
    renames: tuple[NicRename, ...]
    notes: tuple[str, ...] = ()

    @property
    def conf_name(self) -> str:
        return f"{self.vm_name}.conf"

    @property
    def slot(self) -> tuple[int, int]:
        d = self.after.disk(self.index)
        assert d is not None
        return d.slot, d.func


def backup_name(vm_name: str, stamp: str) -> str:
    """``<name>.conf.bak.<YYYYmmddTHHMMSSZ>`` (the stamp is the caller's clock, in UTC)."""
    if not _STAMP_RE.fullmatch(stamp):
        raise ValueError(f"stamp {stamp!r} is not YYYYmmddTHHMMSSZ")
    return f"{vm_name}.conf.bak.{stamp}"


def serial_for_device(device: str) -> str:
    """A deterministic ``ser=`` value for ``device``: its last path element without glabel's ``DISK-``
    diskid prefix (``DISK-Y39B70RTK7ASp4`` → ``Y39B70RTK7ASp4``, the drive's serial and the partition),
    characters outside ``[A-Za-z0-9._-]`` as ``-``. Longer than 20: the disk part cut so that ``-`` and
    6 hex digits of the SHA-256 of the whole name fit (two partitions of one disk stay distinct)."""
    base = device.rstrip("/").rsplit("/", 1)[-1]
    if base.startswith("DISK-"):
        base = base[len("DISK-") :]
    base = _SERIAL_BAD.sub("-", base) or "disk"
    if len(base) <= SERIAL_MAX:
        return base
    digest = hashlib.sha256(device.encode()).hexdigest()[:6].upper()
    m = _PART_RE.match(base)
    disk = m.group("disk") if m else base
    return disk[: SERIAL_MAX - len(digest) - 1] + "-" + digest


def vm_bhyve_mac(md5_hex: str) -> str:
    """vm-bhyve's ``vm::generate_static_mac`` from an MD5 hex digest: ``58:9c:fc:0`` + its 1st, 2nd-3rd
    and 4th-5th hex digits (``awk 'BEGIN {FS="";OFS=":"}; {print $1,$2$3,$4$5}'``); vm-bhyve retries with
    another key when these are ``0:00:00``: so does this (ValueError)."""
    d = md5_hex.lower()
    if not re.fullmatch(r"[0-9a-f]{5,}", d):
        raise ValueError(f"{md5_hex!r} is not a hex digest")
    part = f"{d[0]}:{d[1:3]}:{d[3:5]}"
    if part == "0:00:00":
        raise ValueError("0:00:00 is reserved (sys/net/ieee_oui.h): take the next key, as vm-bhyve does")
    return f"58:9c:fc:0{part}"


def _lines(text: str) -> list[str]:
    """``text`` cut after every ``\\n`` (only there: vmconf's line numbers count ``\\n`` alone)."""
    parts = text.split("\n")
    out = [p + "\n" for p in parts[:-1]]
    if parts[-1]:
        out.append(parts[-1])
    return out


def _insert(lines: list[str], after: int, new: Iterable[str]) -> list[str]:
    """``new`` (each ending in ``\\n``) after line ``after`` (1-based; 0: at the top, past the end: at
    the end); a last line without ``\\n`` gets one, as vm-bhyve's ``config::set`` gives it."""
    out = list(lines)
    after = min(after, len(out))
    if after and not out[after - 1].endswith("\n"):
        out[after - 1] += "\n"
    return out[:after] + list(new) + out[after:]


def unified_diff(old: str, new: str, fromfile: str, tofile: str) -> str:
    """difflib's unified diff, with ``\\ No newline at end of file`` where a side ends without one."""
    out: list[str] = []
    for line in difflib.unified_diff(_lines(old), _lines(new), fromfile, tofile):
        out.append(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n")
    return "".join(out)


def _refuse_unreadable(conf: VmConfig, conf_name: str) -> None:
    if "\r" in conf.text:
        lines = [i + 1 for i, ln in enumerate(conf.text.split("\n")) if "\r" in ln]
        raise Refused(
            f"{conf_name} has carriage returns (CRLF line ends) on line(s) {_few(lines)}: vm-bhyve keeps "
            "the \\r in every value it reads (disk0_dev=custom\\r is not custom), so an edit cannot be "
            "checked the way vm-bhyve reads it",
            f"convert the file to LF line ends first (`tr -d '\\r' < {conf_name} > {conf_name}.lf`, check "
            "it, move it into place), then attach again",
        )
    if "\ufffd" in conf.text:
        lines = [i + 1 for i, ln in enumerate(conf.text.split("\n")) if "\ufffd" in ln]
        raise Refused(
            f"{conf_name} holds bytes that are not UTF-8 (line(s) {_few(lines)}): writing it back would "
            "change them",
            "fix those lines by hand (they are not valid text), then attach again",
        )
    if conf.is_excerpt:
        raise Refused(
            f"{conf_name} is an excerpt ('...' on line(s) {_few(list(conf.elisions))}), not a whole file",
            "give the whole config file",
        )


def _few(items: list[int]) -> str:
    return ", ".join(str(i) for i in items[:5]) + (f" and {len(items) - 5} more" if len(items) > 5 else "")


def _check_request(req: AttachRequest) -> str:
    if not _DEVICE_RE.fullmatch(req.device):
        raise UsageError(
            f"device {req.device!r} is not a /dev path vm-bhyve can pass through unchanged (no blanks, "
            "quotes, '#' or ',')",
            f"give the host device with {opt('device')}, e.g. /dev/diskid/DISK-<serial>p4",
        )
    if req.type not in ATTACH_TYPES:
        raise UsageError(
            f"disk type {req.type!r} is not one attach writes",
            f"use {opt('type')} with one of {', '.join(ATTACH_TYPES)} (nvme gives the guest a serial to pin)",
        )
    serial = req.serial if req.serial is not None else serial_for_device(req.device)
    if not _SERIAL_RE.fullmatch(serial):
        raise UsageError(
            f"serial {serial!r} is not 1-{SERIAL_MAX} characters of A-Z a-z 0-9 . _ -: bhyve keeps only "
            f"the first {SERIAL_MAX} bytes of ser=, and splits its options at ',' and '='",
            f"give another {opt('serial')}, or none to derive one from the device name",
        )
    return serial


def _already_attached(conf: VmConfig, req: AttachRequest, conf_name: str) -> None:
    names = {req.device, *req.aliases}
    for d in conf.disks:
        if d.name in names:
            line = d.lines.get("name")
            raise Refused(
                f"{d.name} is already disk{d.index} of {conf_name} (disk{d.index}_name on line {line}"
                + (f", disk{d.index}_type={d.type}" if d.type else f", no disk{d.index}_type")
                + ")",
                "nothing to attach: restart the guest if it does not see the disk yet, or remove "
                f"disk{d.index}'s lines first to attach it anew",
            )


def _leftovers(conf: VmConfig, n: int, conf_name: str) -> None:
    left = [d for d in conf.disks if d.index >= n]
    if not left:
        return
    found = "; ".join(
        f"disk{d.index}: "
        + ", ".join(
            f"disk{d.index}_{k} on line {ln}" for k, ln in sorted(d.lines.items(), key=lambda x: x[1])
        )
        for d in left
    )
    at_n = any(d.index == n for d in left)
    why = f"vm-bhyve's disk list ends at disk{n}, where the new disk goes, and " + (
        f"the disk{n}_* keys there would merge into it (the first of a key wins)"
        if at_n
        else f"adding disk{n} would make it go on to the disks after it"
    )
    raise Refused(
        f"{conf_name} has leftover disk keys at or past disk{n}: {found}; {why}",
        "remove or renumber those lines (they attach nothing today), then attach again",
    )


def _mac_lines(conf: VmConfig, macs: Mapping[int, str], conf_name: str) -> list[tuple[int, str]]:
    """(line to insert after, line) for each NIC of ``macs`` that has no networkN_mac."""
    out: list[tuple[int, str]] = []
    by_index = {n.index: n for n in conf.nics}
    for idx, mac in sorted(macs.items()):
        mac = mac.lower()
        nic = by_index.get(idx)
        if nic is None or not nic.lines:
            raise UsageError(
                f"{conf_name} has no network{idx}: no MAC to write for it", "check the NIC index"
            )
        if not _MAC_RE.fullmatch(mac) or int(mac[:2], 16) & 1 or mac == "00:00:00:00:00:00":
            raise UsageError(
                f"{mac!r} is not a unicast MAC address (six lowercase hex pairs, first octet even)",
                "vm-bhyve's own form is 58:9c:fc:0x:xx:xx (vm::generate_static_mac)",
            )
        if nic.mac is not None:
            if nic.mac.lower() != mac:
                raise Refused(
                    f"network{idx}_mac is {nic.mac} (line {nic.lines.get('mac')}), not {mac}",
                    "keep the MAC the config has: the guest's netplan may be pinned to it",
                )
            continue
        out.append((max(nic.lines.values()), f'network{idx}_mac="{mac}"\n'))
    return out


def plan_attach_edit(
    text: str,
    request: AttachRequest,
    ctx: HostContext,
    *,
    stamp: str,
    nic_macs: Mapping[int, str] | None = None,
) -> ConfEdit:
    """The edit that attaches ``request.device`` to the config ``text`` (the whole ``<vm>.conf`` as
    agent.core.vmbhyve.vmconf.decode_conf gives it), verified (:func:`verify_attach`)."""
    conf_name = f"{ctx.vm_name}.conf"
    conf = parse_vm_config(text)
    _refuse_unreadable(conf, conf_name)
    serial = _check_request(request)
    _already_attached(conf, request, conf_name)
    before = plan_slots(conf, ctx)
    n = before.chain_end
    _leftovers(conf, n, conf_name)

    lines = _lines(text)
    mac_adds = _mac_lines(conf, nic_macs or {}, conf_name)
    for at, line in sorted(mac_adds, reverse=True):
        lines = _insert(lines, at, [line])
    with_macs = "".join(lines)

    disk_lines = (
        f'disk{n}_type="{request.type}"\n',
        f'disk{n}_dev="custom"\n',
        f'disk{n}_name="{request.device}"\n',
        f'disk{n}_opts="ser={serial}"\n',
    )
    mid = parse_vm_config(with_macs)
    disk_entries = [e.line for e in mid.entries if _DISK_LINE_RE.match(e.key)]
    after_line = max(disk_entries) if disk_entries else len(_lines(with_macs))
    new_text = "".join(_insert(_lines(with_macs), after_line, disk_lines))

    after = verify_attach(new_text, before, ctx, index=n, device=request.device, type=request.type)
    bak = backup_name(ctx.vm_name, stamp)
    notes: list[str] = []
    if request.serial is None:
        notes.append(f"serial {serial} derived from {request.device}")
    return ConfEdit(
        vm_name=ctx.vm_name,
        index=n,
        device=request.device,
        type=request.type,
        serial=serial,
        original=text,
        with_macs=with_macs,
        text=new_text,
        mac_lines=tuple(line for _, line in mac_adds),
        disk_lines=disk_lines,
        diff=unified_diff(text, new_text, bak, conf_name),
        mac_diff=unified_diff(text, with_macs, bak, conf_name) if mac_adds else "",
        disk_diff=unified_diff(with_macs, new_text, conf_name, conf_name),
        backup_name=bak,
        before=before,
        after=after,
        renames=predict_renames(before, after),
        notes=tuple(notes),
    )


def verify_attach(
    new_text: str, before: SlotPlan, ctx: HostContext, *, index: int, device: str, type: str
) -> SlotPlan:
    """``new_text`` as vm-bhyve will read it: its slot plan, when that shows disk ``index`` with path
    ``device`` and type ``type`` and leaves every other disk and NIC of ``before`` attached; else
    Refused saying what vm-bhyve would do instead (the caller restores the backup)."""
    conf_name = f"{ctx.vm_name}.conf"
    conf = parse_vm_config(new_text)
    after = plan_slots(conf, ctx)
    restore = f"restore {conf_name} from its backup and check the file by hand"
    got = after.disk(index)
    if got is None:
        why = next((i.reason for i in after.ignored_disks if i.index == index), "it is not in the disk list")
        raise Refused(f"after the edit vm-bhyve would not attach disk{index}: {why}", restore)
    if (got.path, got.type, got.dev) != (device, type, "custom"):
        raise Refused(
            f"after the edit vm-bhyve would attach disk{index} as {got.type} {got.path} (dev {got.dev}), "
            f"not {type} {device} (dev custom)",
            restore,
        )
    want = {d.index: (d.path, d.type) for d in before.disks}
    have = {d.index: (d.path, d.type) for d in after.disks if d.index != index}
    if want != have:
        extra = sorted(set(have) - set(want))
        what = (
            f"it would also attach {', '.join(f'disk{i} ({have[i][1]} {have[i][0]})' for i in extra)}"
            if extra
            else "the other disks would change"
        )
        raise Refused(f"after the edit vm-bhyve would not read the other disks the same way: {what}", restore)
    if [n.index for n in before.nics] != [n.index for n in after.nics]:
        raise Refused("after the edit vm-bhyve would attach other NICs than before", restore)
    if after.bhyve_error or (after.refusal and not before.refusal):
        raise Refused(
            f"after the edit the guest would not start: {after.bhyve_error or after.refusal}",
            "attach to another guest or free a slot first" if after.bhyve_error else restore,
        )
    return after


def nics_without_mac(conf: VmConfig, plan: SlotPlan) -> tuple[int, ...]:
    """The attached NICs with no ``networkN_mac`` (vm-bhyve gives them a new one at start)."""
    by_index = {n.index: n for n in conf.nics}
    return tuple(n.index for n in plan.nics if not by_index[n.index].mac)
