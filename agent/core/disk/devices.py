"""The block-device models discovery builds from the facts script's output (pure).

What could not be determined is kept as *unknown* (:attr:`ProbeState.UNKNOWN`), never silently as
*none*. Built by :func:`agent.core.disk.probe.parse_facts`.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field


class ProbeState(enum.Enum):
    """What the signature probes could establish about a device."""

    NONE = "none"  # probed, nothing found
    FOUND = "found"  # at least one signature found
    UNKNOWN = "unknown"  # could not probe (typically no root: run the facts script under sudo)


#: ``Signature.usage`` of FreeBSD GEOM metadata (found by the raw read of the last sector; libblkid
#: knows none of it).
GEOM_USAGE = "freebsd-geom"
#: GEOM classes that keep ``GEOM::<CLASS>`` metadata in a provider's last sector (FreeBSD sys/geom/*/g_*.h,
#: G_<CLASS>_MAGIC), with the tool that made it. Any other ``GEOM::`` class is still a signature.
GEOM_TOOLS: Mapping[str, str] = {
    "ELI": "geli (encrypted)",
    "MIRROR": "gmirror",
    "LABEL": "glabel",
    "CONCAT": "gconcat",
    "STRIPE": "gstripe",
    "RAID": "graid",
    "RAID3": "graid3",
    "SHSEC": "gshsec",
    "JOURNAL": "gjournal",
    "VIRSTOR": "gvirstor",
    "CACHE": "gcache",
    "MULTIPATH": "gmultipath",
    "LOGSTOR": "glogstor",
}


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

    @property
    def key(self) -> str:
        """``type,offset,uuid``: what the guard compares for a confirmed overwrite (the force option), so a
        *different* filesystem of the same type is not taken for the confirmed one."""
        return f"{self.type},{self.offset or ''},{self.uuid or ''}"

    def describe(self) -> str:
        """Human form, e.g. ``ext4 (UUID 1234, label data)``."""
        if self.usage == GEOM_USAGE:
            tool = GEOM_TOOLS.get(self.type.removeprefix("GEOM::"), "a GEOM class")
            at = f", at offset {self.offset}" if self.offset else ""
            return f"{self.type} (FreeBSD {tool} metadata in the last sector{at})"
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
    geom_class: str | None = None  # FreeBSD GEOM metadata ("GEOM::<class>") in the last sector
    bsd_label: bool = False  # a FreeBSD disklabel (magic 0x82564557) at LBA 1: libblkid misses it here
    last_lba: int | None = None

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
        if self.bsd_label:
            signs.append(
                "a FreeBSD disklabel (bsdlabel) at LBA 1, which wipefs does not see: clear it with "
                "dd if=/dev/zero bs=<sector size> seek=1 count=1 if it is really unused"
            )
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
    serial_hex: str | None = None  # the serial's raw sysfs bytes as hex (what the guard compares)
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
    dumpe2fs: str | None = None  # ``dumpe2fs -h`` of an ext4 on the whole disk (None: none, or it failed)
    loop_devices: tuple[str, ...] = ()  # loop devices backed by this disk or one of its partitions
    #: why discovery did not probe its contents ("root": the root disk, refused whatever it carries;
    #: its signatures are udev's, from lsblk); None when it did
    not_probed: str | None = None

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
