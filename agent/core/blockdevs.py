"""Parse the facts script's output into typed block-device models (pure).

The input is the stdout of :func:`agent.core.facts_script.render_facts_script`. Parsing is tolerant:
missing columns, ``null`` values, numbers or booleans given as strings (old util-linux), whitespace-padded
model/serial strings and sections that failed are all accepted; what could not be determined is recorded
as *unknown* (:attr:`ProbeState.UNKNOWN`), never silently as *none*.
"""

from __future__ import annotations

import enum
import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from agent.core import facts_script as fs_
from agent.errors import RemoteError

_HEADER_RE = re.compile(r"^@@GDA-FACTS v(?P<version>\d+) nonce=(?P<nonce>[A-Za-z0-9]+) uid=(?P<uid>\S*)@@$")
GPT_HEADER_HEX = "4546492050415254"  # "EFI PART"


# --------------------------------------------------------------------------------------------- sections


@dataclass(frozen=True)
class Section:
    """One ``BEGIN``/``END`` block of the facts output."""

    name: str
    arg: str
    stdout: str
    stderr: str
    rc: int | None  # None when the END marker is missing (truncated output)

    @property
    def ok(self) -> bool:
        """True if the command exited 0."""
        return self.rc == 0


@dataclass(frozen=True)
class RawFacts:
    """The facts output split into sections, before interpretation."""

    version: str
    nonce: str
    uid: int | None
    sections: tuple[Section, ...]
    complete: bool  # the DONE marker was seen

    def get(self, name: str, arg: str = "-") -> Section | None:
        """Return the section ``name``/``arg`` or None."""
        for s in self.sections:
            if s.name == name and s.arg == arg:
                return s
        return None

    def all(self, name: str) -> tuple[Section, ...]:
        """Return every section called ``name`` (one per disk for per-disk sections)."""
        return tuple(s for s in self.sections if s.name == name)


def split_sections(text: str) -> RawFacts:
    """Split facts output into sections; lines before the header (e.g. a sudo lecture) are ignored.

    Raises RemoteError if no header line is found (the script did not run, or something else answered).
    """
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if _HEADER_RE.match(line.strip())), None)
    if start is None:
        raise RemoteError(
            "the disk-facts script produced no recognizable output",
            hint="check that the guest has a POSIX sh and util-linux; first lines were: "
            + " | ".join(lines[:3]),
        )
    m = _HEADER_RE.match(lines[start].strip())
    assert m is not None
    nonce = m["nonce"]
    uid = int(m["uid"]) if m["uid"].isdigit() else None
    pfx = f"@@GDA-{nonce} "
    begin_re = re.compile(rf"^{re.escape(pfx)}BEGIN (\S+) (.*)@@$")
    end_re = re.compile(rf"^{re.escape(pfx)}END rc=(-?\d+)@@$")
    sections: list[Section] = []
    complete = False
    cur: tuple[str, str] | None = None
    out: list[str] = []
    err: list[str] = []
    in_err = False
    for line in lines[start + 1 :]:
        if cur is None:
            if line == f"{pfx}DONE@@":
                complete = True
                break
            bm = begin_re.match(line)
            if bm:
                cur, out, err, in_err = (bm[1], bm[2]), [], [], False
            continue
        if line == f"{pfx}STDERR@@":
            in_err = True
            continue
        em = end_re.match(line)
        if em:
            sections.append(Section(cur[0], cur[1], _join(out), _join(err), int(em[1])))
            cur = None
            continue
        (err if in_err else out).append(line)
    if cur is not None:
        sections.append(Section(cur[0], cur[1], _join(out), _join(err), None))
    return RawFacts(m["version"], nonce, uid, tuple(sections), complete)


def _join(lines: Sequence[str]) -> str:
    return "".join(line + "\n" for line in lines)


# ----------------------------------------------------------------------------------------------- models


class ProbeState(enum.Enum):
    """What the signature probes could establish about a device."""

    NONE = "none"  # probed, nothing found
    FOUND = "found"  # at least one signature found
    UNKNOWN = "unknown"  # could not probe (typically no root: run the facts script under sudo)


@dataclass(frozen=True)
class Signature:
    """One on-disk signature (filesystem, partition table, RAID/LVM member, swap...)."""

    type: str
    usage: str | None = None  # "filesystem", "partition-table", "raid", "crypto", "other"
    offset: str | None = None
    uuid: str | None = None
    label: str | None = None
    source: str = "wipefs"  # wipefs | blkid | raw | lsblk

    @property
    def is_partition_table(self) -> bool:
        """True for gpt/dos/PMBR and other partition-table signatures."""
        if self.usage is not None:
            return self.usage.replace(" ", "-") == "partition-table"
        return self.type.lower() in {"gpt", "pmbr", "dos", "mbr", "atari", "bsd", "sun", "sgi", "mac"}

    def describe(self) -> str:
        """Human form, e.g. ``ext4 (UUID 1234, label data)``."""
        extra = [f"UUID {self.uuid}"] if self.uuid else []
        if self.label:
            extra.append(f"label {self.label}")
        if self.offset:
            extra.append(f"at offset {self.offset}")
        return f"{self.type} ({', '.join(extra)})" if extra else self.type


@dataclass(frozen=True)
class RawSectors:
    """What the raw sector reads found (None fields: that read failed)."""

    mbr_boot_signature: bool  # 0x55AA at byte 510
    mbr_partition_entries: bool  # any non-zero byte in the four MBR partition entries
    mbr_protective: bool  # an entry of type 0xEE (GPT protective MBR)
    gpt_primary: bool  # "EFI PART" at LBA 1
    gpt_backup: bool  # "EFI PART" at the last LBA
    logical_sector_size: int

    @property
    def partition_table_signs(self) -> tuple[str, ...]:
        """Human descriptions of every partition-table trace found."""
        signs: list[str] = []
        if self.mbr_protective:
            signs.append("a protective MBR (type 0xEE) in sector 0")
        elif self.mbr_boot_signature and self.mbr_partition_entries:
            signs.append("an MBR partition table in sector 0")
        if self.gpt_primary:
            signs.append("a GPT header at LBA 1")
        if self.gpt_backup:
            signs.append("a backup GPT header at the last sector")
        return tuple(signs)


@dataclass(frozen=True)
class SignatureProbe:
    """The combined result of wipefs, blkid -p and the raw sector reads for one whole disk."""

    state: ProbeState
    signatures: tuple[Signature, ...] = ()
    raw: RawSectors | None = None
    errors: tuple[str, ...] = ()

    @property
    def partition_tables(self) -> tuple[str, ...]:
        """Partition-table traces (types from the probes plus raw-sector findings), deduplicated."""
        found = [s.type for s in self.signatures if s.is_partition_table]
        if self.raw is not None:
            found.extend(self.raw.partition_table_signs)
        return tuple(dict.fromkeys(found))

    @property
    def content_signatures(self) -> tuple[Signature, ...]:
        """Signatures that are not partition tables (filesystems, swap, RAID, LVM, crypto...)."""
        return tuple(s for s in self.signatures if not s.is_partition_table)


@dataclass(frozen=True)
class BlockNode:
    """A node of lsblk's tree below a disk: a partition, an LVM volume, a dm/crypt/md device."""

    name: str
    kname: str
    path: str
    type: str
    size_bytes: int | None
    fstype: str | None = None
    uuid: str | None = None
    label: str | None = None
    mountpoints: tuple[str, ...] = ()
    children: tuple[BlockNode, ...] = ()

    def walk(self) -> Iterator[BlockNode]:
        """Yield this node and all its descendants, depth first."""
        yield self
        for c in self.children:
            yield from c.walk()


@dataclass(frozen=True)
class Disk:
    """A top-level block device (lsblk's root nodes: disks, and also loop/rom devices)."""

    name: str
    kname: str
    path: str
    type: str
    size_bytes: int | None
    model: str | None = None
    serial: str | None = None
    wwn: str | None = None
    tran: str | None = None
    rotational: bool | None = None
    read_only: bool | None = None
    removable: bool | None = None
    fstype: str | None = None
    uuid: str | None = None
    label: str | None = None
    pttype: str | None = None
    maj_min: str | None = None
    logical_sector_size: int | None = None
    physical_sector_size: int | None = None
    mountpoints: tuple[str, ...] = ()
    children: tuple[BlockNode, ...] = ()
    signatures: SignatureProbe = field(default_factory=lambda: SignatureProbe(ProbeState.UNKNOWN))
    by_id: tuple[str, ...] = ()  # link names in /dev/disk/by-id pointing at the disk itself
    holders: tuple[str, ...] = ()  # holders of the disk and of its partitions (dm-0, md0...)
    sysfs_partitions: tuple[str, ...] = ()
    is_root_disk: bool = False
    swap_devices: tuple[str, ...] = ()  # this disk or its descendants listed in /proc/swaps
    mounts: tuple[str, ...] = ()  # mount points of the disk or any descendant
    fdisk: str | None = None  # ``fdisk -l`` text, for the human summary

    @property
    def is_nvme(self) -> bool:
        """True for NVMe namespaces (by transport, or by kernel name when TRAN is missing)."""
        return (self.tran or "").lower() == "nvme" or self.kname.startswith("nvme")

    @property
    def in_swap(self) -> bool:
        """True if the disk or anything on it is an active swap area."""
        return bool(self.swap_devices)

    @property
    def partitions(self) -> tuple[str, ...]:
        """Partition names, from lsblk's children and from sysfs."""
        names = [c.name for c in self.children if c.type == "part"]
        names.extend(p for p in self.sysfs_partitions if p not in names)
        return tuple(names)

    def walk(self) -> Iterator[BlockNode]:
        """Yield every descendant node."""
        for c in self.children:
            yield from c.walk()

    def stable_path(self) -> str:
        """The preferred ``/dev/disk/by-id`` path, else the kernel path.

        NVMe: udev points ``nvme-<MODEL>_<SERIAL>`` at whichever namespace of the controller it processed
        last, so that link is never used; the per-namespace ``nvme-<MODEL>_<SERIAL>_<nsid>`` comes first,
        then the namespace identifiers (``nvme-eui.``/``nvme-nvme.``/``wwn-``), else the kernel path.
        Other disks: the model_serial link first, then the generic identifiers.
        """
        links = sorted(self.by_id)
        serial = re.sub(r"\s+", "_", (self.serial or "").strip())
        generic_prefixes = ("nvme-eui.", "nvme-nvme.", "wwn-")

        if self.is_nvme:
            per_ns = re.compile(rf"nvme-.*_{re.escape(serial)}_\d+") if serial else None

            def nvme_rank(link: str) -> int | None:
                if link.startswith(generic_prefixes):
                    return 1
                if per_ns is not None and per_ns.fullmatch(link):
                    return 0
                return None  # the controller-wide link (or something unknown): not per namespace

            ranked = [(r, len(link), link) for link in links if (r := nvme_rank(link)) is not None]
            return "/dev/disk/by-id/" + min(ranked)[2] if ranked else self.path
        if not links:
            return self.path

        def rank(link: str) -> tuple[int, int, int, str]:
            has_serial = bool(serial) and serial in link
            generic = link.startswith(generic_prefixes)
            return (0 if has_serial else 1, 1 if generic else 0, len(link), link)

        return "/dev/disk/by-id/" + min(links, key=rank)

    def human_size(self) -> str:
        """Size like ``256 GiB`` (or ``?``)."""
        return format_size(self.size_bytes)


@dataclass(frozen=True)
class Mount:
    """One line of /proc/self/mounts."""

    source: str
    target: str
    fstype: str


@dataclass(frozen=True)
class ToolVersions:
    """Versions and locations of the tools the tool relies on (None: missing or unknown)."""

    util_linux: str | None = None
    e2fsprogs: str | None = None
    xfsprogs: str | None = None
    paths: Mapping[str, str] = field(default_factory=dict)  # tool -> absolute path, found tools only

    def has(self, tool: str) -> bool:
        """True if ``tool`` was found on the guest's PATH (incl. the sbin directories)."""
        return tool in self.paths


@dataclass(frozen=True)
class Facts:
    """Everything discovery learned about the guest's block devices."""

    uid: int | None
    disks: tuple[Disk, ...]
    root_source: str | None
    root_disks: tuple[str, ...]  # knames of the disks the root filesystem lives on
    swaps: tuple[str, ...]
    mounts: tuple[Mount, ...]
    by_id: Mapping[str, str]  # link name -> resolved target
    versions: ToolVersions
    os_name: str | None = None
    complete: bool = True
    warnings: tuple[str, ...] = ()

    @property
    def privileged(self) -> bool:
        """True if the facts were gathered as root (signature probes are authoritative)."""
        return self.uid == 0

    def disk(self, name: str) -> Disk | None:
        """Look a disk up by name, kname or path."""
        for d in self.disks:
            if name in (d.name, d.kname, d.path):
                return d
        return None


# -------------------------------------------------------------------------------------- value helpers


def clean_str(value: Any) -> str | None:
    """Strip a string value; empty or null → None; numbers are stringified."""
    if value is None:
        return None
    s = str(value).strip()
    return s or None


def as_int(value: Any) -> int | None:
    """An int from an int or a decimal string; anything else → None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def as_bool(value: Any) -> bool | None:
    """A bool from JSON true/false, 1/0, "1"/"0", "true"/"false"; anything else → None."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value != 0
    if isinstance(value, str):
        v = value.strip().lower()
        if v in {"1", "true", "yes"}:
            return True
        if v in {"0", "false", "no"}:
            return False
    return None


def _mountpoints(node: Mapping[str, Any]) -> tuple[str, ...]:
    raw = node.get("mountpoints")
    if not isinstance(raw, list):
        raw = [node.get("mountpoint")]
    return tuple(s for s in (clean_str(v) for v in raw) if s)


def format_size(size_bytes: int | None) -> str:
    """Format bytes with binary units, like fdisk: ``256 GiB``, ``1.5 TiB``, ``512 B``."""
    if size_bytes is None:
        return "?"
    value = float(size_bytes)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if value < 1024 or unit == "PiB":
            return f"{value:.0f} {unit}" if value == int(value) else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def parse_key_values(text: str) -> dict[str, str]:
    """Parse ``KEY=value`` lines (first ``=`` splits; later duplicates win); strips shell quotes."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip():
            v = value.strip()
            if len(v) >= 2 and v[0] == v[-1] and v[0] in "\"'":
                v = v[1:-1]
            out[key.strip()] = v
    return out


def unescape_octal(text: str) -> str:
    r"""Decode the ``\040``-style escapes of /proc/mounts and /proc/swaps."""
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m[1], 8)), text)


# -------------------------------------------------------------------------------- section interpreters


def parse_lsblk_json(text: str) -> list[dict[str, Any]]:
    """Return lsblk's ``blockdevices`` list (raises ValueError on malformed JSON)."""
    data = json.loads(text)
    devs = data.get("blockdevices") if isinstance(data, dict) else None
    if not isinstance(devs, list):
        raise ValueError("lsblk JSON has no blockdevices list")
    return [d for d in devs if isinstance(d, dict)]


def _node_path(node: Mapping[str, Any]) -> str:
    path = clean_str(node.get("path"))
    if path:
        return path
    return "/dev/" + (clean_str(node.get("kname")) or clean_str(node.get("name")) or "?")


def parse_block_node(node: Mapping[str, Any]) -> BlockNode:
    """Convert one lsblk JSON child node (recursively)."""
    name = clean_str(node.get("name")) or "?"
    kids = node.get("children")
    return BlockNode(
        name=name,
        kname=clean_str(node.get("kname")) or name,
        path=_node_path(node),
        type=(clean_str(node.get("type")) or "?").lower(),
        size_bytes=as_int(node.get("size")),
        fstype=clean_str(node.get("fstype")),
        uuid=clean_str(node.get("uuid")),
        label=clean_str(node.get("label")),
        mountpoints=_mountpoints(node),
        children=tuple(parse_block_node(c) for c in kids if isinstance(c, dict))
        if isinstance(kids, list)
        else (),
    )


def parse_wipefs_json(text: str) -> list[Signature]:
    """Signatures from ``wipefs --no-act --json`` (an empty object/list means none)."""
    if not text.strip():
        return []
    data = json.loads(text)
    sigs = data.get("signatures", []) if isinstance(data, dict) else []
    out: list[Signature] = []
    for s in sigs if isinstance(sigs, list) else []:
        if not isinstance(s, dict):
            continue
        typ = clean_str(s.get("type"))
        if typ:
            out.append(
                Signature(
                    type=typ,
                    usage=clean_str(s.get("usage")),
                    offset=clean_str(s.get("offset")),
                    uuid=clean_str(s.get("uuid")),
                    label=clean_str(s.get("label")),
                    source="wipefs",
                )
            )
    return out


def interpret_wipefs(section: Section | None) -> tuple[ProbeState, list[Signature], str | None]:
    """(state, signatures, error) from a wipefs section."""
    if section is None:
        return ProbeState.UNKNOWN, [], "wipefs was not run"
    if not section.ok:
        return ProbeState.UNKNOWN, [], _first_line(section.stderr) or f"wipefs exited {section.rc}"
    try:
        sigs = parse_wipefs_json(section.stdout)
    except ValueError as e:
        return ProbeState.UNKNOWN, [], f"unreadable wipefs output: {e}"
    return (ProbeState.FOUND if sigs else ProbeState.NONE), sigs, None


def interpret_blkid(section: Section | None) -> tuple[ProbeState, list[Signature], str | None]:
    """(state, signatures, error) from a ``blkid -p -o export`` section.

    blkid exits 2 both for "nothing found" and for "cannot open" — only stderr tells them apart; exit 8
    means ambivalent (several conflicting signatures).
    """
    if section is None:
        return ProbeState.UNKNOWN, [], "blkid was not run"
    if section.rc == 2 and not section.stderr.strip():
        return ProbeState.NONE, [], None
    if section.rc == 8:
        return ProbeState.FOUND, [Signature("ambivalent", source="blkid")], None
    if not section.ok:
        return ProbeState.UNKNOWN, [], _first_line(section.stderr) or f"blkid exited {section.rc}"
    kv = parse_key_values(section.stdout)
    sigs: list[Signature] = []
    if kv.get("PTTYPE"):
        sigs.append(Signature(kv["PTTYPE"], usage="partition-table", uuid=kv.get("PTUUID"), source="blkid"))
    if kv.get("TYPE"):
        sigs.append(
            Signature(
                kv["TYPE"],
                usage=kv.get("USAGE"),
                uuid=kv.get("UUID") or kv.get("UUID_SUB"),
                label=kv.get("LABEL"),
                source="blkid",
            )
        )
    return (ProbeState.FOUND if sigs else ProbeState.NONE), sigs, None


def interpret_rawsig(section: Section | None) -> tuple[RawSectors | None, str | None]:
    """Raw-sector findings, or (None, error) if the device could not be read."""
    if section is None:
        return None, "raw sectors were not read"
    kv = parse_key_values(section.stdout)
    needed = ("mbr_tail", "lba1", "last")
    if not section.ok or any(k not in kv for k in needed):
        return None, _first_line(section.stderr) or "raw sector read failed"
    tail = kv["mbr_tail"].lower()
    entries = tail[:128]
    return (
        RawSectors(
            mbr_boot_signature=tail[128:132] == "55aa",
            mbr_partition_entries=any(ch != "0" for ch in entries),
            mbr_protective=tail[128:132] == "55aa"
            and any(entries[i + 8 : i + 10] == "ee" for i in range(0, 128, 32)),
            gpt_primary=kv["lba1"].lower() == GPT_HEADER_HEX,
            gpt_backup=kv["last"].lower() == GPT_HEADER_HEX,
            logical_sector_size=as_int(kv.get("lbs")) or 512,
        ),
        None,
    )


def combine_probes(wipefs: Section | None, blkid: Section | None, rawsig: Section | None) -> SignatureProbe:
    """Merge the three probes: any finding → FOUND; wipefs (which also sees a lone backup GPT) or
    blkid plus a raw read saying nothing → NONE; otherwise UNKNOWN."""
    w_state, w_sigs, w_err = interpret_wipefs(wipefs)
    b_state, b_sigs, b_err = interpret_blkid(blkid)
    raw, r_err = interpret_rawsig(rawsig)
    sigs = w_sigs if w_state is not ProbeState.UNKNOWN else b_sigs
    if w_state is not ProbeState.UNKNOWN and b_state is ProbeState.FOUND:
        known = {s.type for s in w_sigs}
        sigs = sigs + [s for s in b_sigs if s.type not in known and s.type != "ambivalent"]
    raw_found = raw is not None and bool(raw.partition_table_signs)
    errors = tuple(e for e in (w_err, b_err, r_err) if e)
    if sigs or raw_found:
        state = ProbeState.FOUND
    elif w_state is ProbeState.NONE or (b_state is ProbeState.NONE and raw is not None):
        state = ProbeState.NONE
    else:
        state = ProbeState.UNKNOWN
    return SignatureProbe(state, tuple(sigs), raw, errors)


def _first_line(text: str) -> str | None:
    for line in text.splitlines():
        if line.strip():
            return line.strip()
    return None


def parse_mounts(text: str) -> tuple[Mount, ...]:
    """Parse /proc/self/mounts."""
    out = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 3:
            out.append(Mount(unescape_octal(parts[0]), unescape_octal(parts[1]), parts[2]))
    return tuple(out)


def parse_swaps(text: str) -> tuple[str, ...]:
    """Active swap areas (devices or files) from /proc/swaps."""
    out = []
    for line in text.splitlines()[1:]:
        parts = line.split()
        if parts:
            out.append(unescape_octal(parts[0]))
    return tuple(out)


def parse_by_id(text: str) -> dict[str, str]:
    """``link<TAB>target`` lines → {link name: target}."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        name, sep, target = line.partition("\t")
        if sep and name and target:
            out[name.strip()] = target.strip()
    return out


def parse_root(section: Section | None) -> tuple[str | None, tuple[str, ...]]:
    """(root mount source, knames of the disks under it) from the ``root`` section."""
    if section is None:
        return None, ()
    source: str | None = None
    disks: list[str] = []
    for line in section.stdout.splitlines():
        key, _, value = line.partition("=")
        if key == "source":
            source = value.strip() or None
        elif key == "dep":
            kname, _, typ = value.strip().partition(" ")
            if typ.strip() == "disk" and kname not in disks:
                disks.append(kname)
    return source, tuple(disks)


def parse_sysfs(text: str) -> tuple[dict[str, str], tuple[str, ...], tuple[str, ...]]:
    """(key/values, partitions, holders of the disk and its partitions) from a sysfs section."""
    kv: dict[str, str] = {}
    parts: list[str] = []
    holders: list[str] = []
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if not sep:
            continue
        if key == "partition":
            parts.append(value.strip())
        elif key == "partition_holders":
            _, _, hs = value.partition(":")
            holders.extend(hs.split())
        elif key == "holders":
            holders.extend(value.split())
        else:
            kv[key] = value
    return kv, tuple(parts), tuple(dict.fromkeys(holders))


_VERSION_RES: Mapping[str, re.Pattern[str]] = {
    "util-linux": re.compile(r"util-linux\S*\s+(\d+(?:\.\d+)+)"),
    "mke2fs": re.compile(r"mke2fs\s+(\d+(?:\.\d+)+)"),
    "mkfs.xfs": re.compile(r"version\s+(\d+(?:\.\d+)+)"),
}


def parse_versions(raw: RawFacts) -> ToolVersions:
    """Tool paths and the util-linux, e2fsprogs and xfsprogs versions."""
    found: dict[str, str | None] = {}
    for key, rx in _VERSION_RES.items():
        s = raw.get(fs_.SECTION_VERSION, key)
        m = rx.search((s.stdout + s.stderr) if s is not None and s.ok else "")
        found[key] = m[1] if m else None
    tools = raw.get(fs_.SECTION_TOOLS)
    paths = {k: v for k, v in parse_key_values(tools.stdout if tools else "").items() if v}
    return ToolVersions(found["util-linux"], found["mke2fs"], found["mkfs.xfs"], paths)


def version_tuple(version: str | None) -> tuple[int, ...]:
    """``"1.47.0"`` → (1, 47, 0); None/garbage → ()."""
    if not version:
        return ()
    return tuple(int(p) for p in re.findall(r"\d+", version))


# ---------------------------------------------------------------------------------------------- facts


def _disk_from_node(node: Mapping[str, Any], raw: RawFacts, ctx: _Context) -> Disk:
    """Build a Disk from a top-level lsblk node plus the per-disk sections."""
    base = parse_block_node(node)
    sysfs = raw.get(fs_.SECTION_SYSFS, base.kname)
    kv, sys_parts, holders = parse_sysfs(sysfs.stdout) if sysfs else ({}, (), ())
    sys_size = as_int(kv.get("size"))
    size = (
        base.size_bytes if base.size_bytes is not None else (sys_size * 512 if sys_size is not None else None)
    )
    ro = as_bool(node.get("ro"))
    sys_ro = as_bool(kv.get("ro"))
    probe = combine_probes(
        raw.get(fs_.SECTION_WIPEFS, base.kname),
        raw.get(fs_.SECTION_BLKID, base.kname),
        raw.get(fs_.SECTION_RAWSIG, base.kname),
    )
    if probe.state is ProbeState.UNKNOWN:
        probe = _lsblk_fallback_probe(node, probe)
    paths = (
        {base.path, f"/dev/{base.kname}"}
        | {n.path for n in base.walk()}
        | {f"/dev/{n.kname}" for n in base.walk()}
    )
    mounts = list(base.mountpoints)
    for n in base.walk():
        mounts.extend(n.mountpoints)
    mounts.extend(m.target for m in ctx.mounts if m.source in paths)
    swap = [s for s in ctx.swaps if s in paths]
    if "[SWAP]" in mounts:
        swap.append(base.path)
    fdisk = raw.get(fs_.SECTION_FDISK, base.kname)
    return Disk(
        name=base.name,
        kname=base.kname,
        path=base.path,
        type=base.type,
        size_bytes=size,
        model=clean_str(node.get("model")) or clean_str(kv.get("device/model")),
        serial=clean_str(node.get("serial")) or clean_str(kv.get("device/serial")),
        wwn=clean_str(node.get("wwn")) or clean_str(kv.get("wwid")) or clean_str(kv.get("device/wwid")),
        tran=clean_str(node.get("tran")),
        rotational=as_bool(node.get("rota")),
        read_only=(ro or sys_ro) if (ro is not None or sys_ro is not None) else None,
        removable=as_bool(node.get("rm")) if node.get("rm") is not None else as_bool(kv.get("removable")),
        fstype=base.fstype,
        uuid=base.uuid,
        label=base.label,
        pttype=clean_str(node.get("pttype")),
        maj_min=clean_str(node.get("maj:min")) or clean_str(kv.get("dev")),
        logical_sector_size=as_int(node.get("log-sec")) or as_int(kv.get("queue/logical_block_size")),
        physical_sector_size=as_int(node.get("phy-sec")) or as_int(kv.get("queue/physical_block_size")),
        mountpoints=base.mountpoints,
        children=base.children,
        signatures=probe,
        by_id=tuple(sorted(k for k, t in ctx.by_id.items() if t in {base.path, f"/dev/{base.kname}"})),
        holders=holders,
        sysfs_partitions=sys_parts,
        is_root_disk=base.kname in ctx.root_disks or "/" in mounts,
        swap_devices=tuple(dict.fromkeys(swap)),
        mounts=tuple(dict.fromkeys(m for m in mounts if m != "[SWAP]")),
        fdisk=fdisk.stdout if fdisk is not None and fdisk.ok else None,
    )


def _lsblk_fallback_probe(node: Mapping[str, Any], probe: SignatureProbe) -> SignatureProbe:
    """When the probes could not run, keep what lsblk (udev's database) says, still marked UNKNOWN."""
    sigs = []
    if clean_str(node.get("pttype")):
        sigs.append(Signature(str(clean_str(node.get("pttype"))), usage="partition-table", source="lsblk"))
    if clean_str(node.get("fstype")):
        sigs.append(
            Signature(
                str(clean_str(node.get("fstype"))),
                uuid=clean_str(node.get("uuid")),
                label=clean_str(node.get("label")),
                source="lsblk",
            )
        )
    if not sigs:
        return probe
    return SignatureProbe(ProbeState.FOUND, tuple(sigs), probe.raw, probe.errors)


@dataclass(frozen=True)
class _Context:
    mounts: tuple[Mount, ...]
    swaps: tuple[str, ...]
    by_id: Mapping[str, str]
    root_disks: tuple[str, ...]


def parse_facts(text: str) -> Facts:
    """Parse the facts script's stdout into :class:`Facts`.

    Raises RemoteError if the output has no header or lsblk's JSON is missing/unreadable (without it
    nothing can be decided safely).
    """
    raw = split_sections(text)
    warnings: list[str] = []
    if not raw.complete:
        warnings.append("the facts output was truncated (no DONE marker)")
    lsblk = raw.get(fs_.SECTION_LSBLK)
    if lsblk is None or not lsblk.ok:
        err = _first_line(lsblk.stderr) if lsblk else "section missing"
        raise RemoteError(f"lsblk failed on the guest: {err}", hint="util-linux >= 2.27 (lsblk -J) is needed")
    try:
        nodes = parse_lsblk_json(lsblk.stdout)
    except ValueError as e:
        raise RemoteError(f"unreadable lsblk JSON from the guest: {e}") from e
    mounts_s = raw.get(fs_.SECTION_MOUNTS)
    swaps_s = raw.get(fs_.SECTION_SWAPS)
    byid_s = raw.get(fs_.SECTION_BYID)
    root_source, root_disks = parse_root(raw.get(fs_.SECTION_ROOT))
    if root_source is None:
        warnings.append("the root filesystem's source could not be determined")
    ctx = _Context(
        mounts=parse_mounts(mounts_s.stdout) if mounts_s else (),
        swaps=parse_swaps(swaps_s.stdout) if swaps_s else (),
        by_id=parse_by_id(byid_s.stdout) if byid_s and byid_s.ok else {},
        root_disks=root_disks,
    )
    if not ctx.by_id:
        warnings.append("no /dev/disk/by-id links (udev not running?): kernel names will be used")
    if raw.uid != 0:
        warnings.append("facts gathered without root: signature probes may be unknown")
    os_s = raw.get(fs_.SECTION_OS)
    return Facts(
        uid=raw.uid,
        disks=tuple(_disk_from_node(n, raw, ctx) for n in nodes),
        root_source=root_source,
        root_disks=root_disks,
        swaps=ctx.swaps,
        mounts=ctx.mounts,
        by_id=ctx.by_id,
        versions=parse_versions(raw),
        os_name=parse_key_values(os_s.stdout).get("PRETTY_NAME") if os_s else None,
        complete=raw.complete,
        warnings=tuple(warnings),
    )


def iter_disks(facts: Facts, types: Iterable[str] = ("disk",)) -> Iterator[Disk]:
    """Yield the disks whose lsblk TYPE is one of ``types``."""
    wanted = set(types)
    return (d for d in facts.disks if d.type in wanted)
