"""``gda host-verify``: does the FreeBSD host see the filesystem ``format`` made in the guest? Pure.

Two readings of the device, both taken while the guest is stopped:

- ``fstyp -l -u <device>`` (agent.core.host.fstyp_output): ``ext2fs <label>`` for ext2/3/4. FreeBSD's
  fstyp has no XFS probe at all (usr.sbin/fstyp/fstyp.c, ``fstypes[]``: apfs cd9660 exfat ext2fs geli
  hammer hammer2 hfs+ msdosfs ntfs ufs zfs), so for XFS it says "filesystem not recognized"; and it never
  prints a UUID.
- the first 4096 bytes, ``dd if=<dev> bs=4096 count=1 2>/dev/null | od -An -v -tx1``
  (:func:`parse_od_hex`), decoded here (:func:`parse_superblock`):

  * ext2/3/4, ``struct ext2_super_block`` (e2fsprogs lib/ext2fs/ext2_fs.h; Linux fs/ext4/ext4.h), at byte
    1024, little-endian: ``s_magic`` 0xEF53 at +0x38, ``s_rev_level`` at +0x4C, ``s_feature_compat`` /
    ``_incompat`` / ``_ro_compat`` at +0x5C / +0x60 / +0x64, ``s_uuid[16]`` at +0x68,
    ``s_volume_name[16]`` at +0x78;
  * XFS, ``struct xfs_dsb`` (xfsprogs / Linux fs/xfs/libxfs/xfs_format.h), at byte 0, big-endian:
    ``sb_magicnum`` "XFSB" at 0, ``sb_uuid`` at +32, ``sb_fname[XFSLABEL_MAX = 12]`` at +108.

Verified iff the type, the label and the UUID are what ``format`` reported. For ext4 the feature words
are also checked against FreeBSD's ext2fs driver (/work/shared/notes/freebsd-host-facts.md, from
sys/fs/ext2fs/ext2fs.h): an incompat bit it does not know, or needs_recovery, means no mount at all; an
unknown ro_compat bit (or orphan_present) a read-only mount only.

Also here: the read-only test mount (``mount -t ext2fs -o ro <device> <tmpdir>``, ``umount``; none for
XFS, which FreeBSD has no driver for) and the fstab line to report. glabel's ext2fs class
(sys/geom/label/g_label_ext2fs.c, ``ld_dir = "ext2fs"``) adds ``/dev/ext2fs/<volume name>`` when the
magic is right, ``s_rev_level`` is 1 (EXT2_DYNAMIC_REV), the name is not empty (a leading ``/`` dropped,
15 characters kept) and the provider's sector size divides 1024 (``EXT2FS_SB_OFFSET % sectorsize``).
"""

from __future__ import annotations

import re
import struct
import uuid as uuidlib
from dataclasses import dataclass
from typing import Any, Literal

from agent.core.host.fstyp_output import Fstyp
from agent.core.host.host_finding import HostFinding

EXT_SB_OFFSET = 1024
EXT2_SUPER_MAGIC = 0xEF53
EXT2_DYNAMIC_REV = 1
XFS_SB_MAGIC = b"XFSB"
EXT_FAMILY = ("ext2", "ext3", "ext4")

# feature bits (Linux fs/ext4/ext4.h, e2fsprogs lib/ext2fs/ext2_fs.h)
COMPAT_HAS_JOURNAL = 0x4
INCOMPAT_RECOVER = 0x4
INCOMPAT_EXTENTS = 0x40
INCOMPAT_64BIT = 0x80
INCOMPAT_FLEX_BG = 0x200
RO_COMPAT_ORPHAN_PRESENT = 0x10000
# FreeBSD's ext2fs driver (freebsd-host-facts.md): filetype, meta_bg, extent, 64bit, flex_bg, csum_seed
FREEBSD_INCOMPAT = 0x2 | 0x10 | INCOMPAT_EXTENTS | INCOMPAT_64BIT | INCOMPAT_FLEX_BG | 0x2000
# sparse_super, large_file, huge_file, gdt_csum, dir_nlink, extra_isize, metadata_csum
FREEBSD_RO_COMPAT = 0x1 | 0x2 | 0x8 | 0x10 | 0x20 | 0x40 | 0x400


def _by_bit(names: str) -> dict[int, str]:
    """Feature names in bit order (``-``: a bit without a name)."""
    return {1 << i: n for i, n in enumerate(names.split()) if n != "-"}


INCOMPAT_NAMES = _by_bit(
    "compression filetype needs_recovery journal_dev meta_bg - extent 64bit mmp flex_bg ea_inode - "
    "dirdata metadata_csum_seed large_dir inline_data encrypt casefold"
)
RO_COMPAT_NAMES = _by_bit(
    "sparse_super large_file btree_dir huge_file gdt_csum dir_nlink extra_isize has_snapshot quota "
    "bigalloc metadata_csum replica read-only project shared_blocks verity orphan_present"
)

XFS_NOTE = (
    "FreeBSD has no XFS driver (the old read-only one is gone): the only route is the FUSE port "
    "fusefs-lkl (`lklfuse -o type=xfs,...`), based on Linux 4.16, amd64 only, described by its user as "
    "restrictive and unstable; it likely refuses an XFS with xfsprogs >= 5.15's bigtime and inobtcount "
    "(mkfs.xfs -m bigtime=0,inobtcount=0,reflink=0,rmapbt=0 -i nrext64=0 is the compatible profile)"
)

Kind = Literal["ext", "xfs"]


@dataclass(frozen=True)
class Superblock:
    kind: Kind
    uuid: str
    label: str
    rev_level: int | None = None
    compat: int = 0
    incompat: int = 0
    ro_compat: int = 0

    @property
    def fstyp_type(self) -> str:
        """The type FreeBSD names it: ``ext2fs`` for all of ext2/3/4."""
        return "ext2fs" if self.kind == "ext" else "xfs"

    @property
    def flavour(self) -> str:
        if self.kind == "xfs":
            return "xfs"
        if self.incompat & (INCOMPAT_EXTENTS | INCOMPAT_64BIT | INCOMPAT_FLEX_BG):
            return "ext4"
        return "ext3" if self.compat & COMPAT_HAS_JOURNAL else "ext2"

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "flavour": self.flavour,
            "uuid": self.uuid,
            "label": self.label,
            "rev_level": self.rev_level,
            "features": {"compat": self.compat, "incompat": self.incompat, "ro_compat": self.ro_compat},
        }


def parse_od_hex(text: str) -> bytes:
    """The bytes of ``od -An -v -tx1`` output (blank-separated two-digit hex); ValueError on anything else."""
    words = text.split()
    if any(not re.fullmatch(r"[0-9a-fA-F]{2}", w) for w in words):
        bad = next(w for w in words if not re.fullmatch(r"[0-9a-fA-F]{2}", w))
        raise ValueError(f"not od -tx1 output: {bad!r}")
    return bytes(int(w, 16) for w in words)


def _cstr(raw: bytes) -> str:
    return raw.split(b"\0", 1)[0].decode("utf-8", errors="replace")


def parse_superblock(data: bytes) -> Superblock | None:
    """The ext2/3/4 or XFS superblock in the device's first 4096 bytes (None: neither magic)."""
    if len(data) >= 120 and data[:4] == XFS_SB_MAGIC:
        return Superblock("xfs", str(uuidlib.UUID(bytes=data[32:48])), _cstr(data[108:120]))
    sb = data[EXT_SB_OFFSET : EXT_SB_OFFSET + 0x88]
    if len(sb) == 0x88 and struct.unpack_from("<H", sb, 0x38)[0] == EXT2_SUPER_MAGIC:
        (rev,) = struct.unpack_from("<I", sb, 0x4C)
        compat, incompat, ro = struct.unpack_from("<III", sb, 0x5C)
        return Superblock(
            "ext", str(uuidlib.UUID(bytes=sb[0x68:0x78])), _cstr(sb[0x78:0x88]), rev, compat, incompat, ro
        )
    return None


@dataclass(frozen=True)
class Expected:
    """What ``format`` reported: ``fs`` (ext4, ext3, ext2, xfs), the label and the UUID."""

    fs: str
    label: str | None
    uuid: str | None


@dataclass(frozen=True)
class TestMount:
    supported: bool
    commands: tuple[str, ...]
    note: str


@dataclass(frozen=True)
class HostVerify:
    device: str
    superblock: Superblock | None
    findings: tuple[HostFinding, ...]
    test_mount: TestMount
    fstab_line: str | None
    glabel_path: str | None

    @property
    def verified(self) -> bool:
        return not any(f.severity == "error" for f in self.findings)

    def to_json(self) -> dict[str, Any]:
        return {
            "device": self.device,
            "verified": self.verified,
            "superblock": self.superblock.to_json() if self.superblock else None,
            "findings": [f.to_json() for f in self.findings],
            "test_mount": {
                "supported": self.test_mount.supported,
                "commands": list(self.test_mount.commands),
                "note": self.test_mount.note,
            },
            "fstab": self.fstab_line,
            "glabel_path": self.glabel_path,
        }


def _names(bits: int, table: dict[int, str]) -> list[str]:
    return [table.get(1 << i, f"0x{1 << i:x}") for i in range(32) if bits & (1 << i)]


def _freebsd_features(sb: Superblock) -> list[HostFinding]:
    out: list[HostFinding] = []
    if sb.incompat & INCOMPAT_RECOVER:
        out.append(
            HostFinding(
                "needs-recovery",
                "error",
                "the ext4 journal needs recovery (needs_recovery set): FreeBSD's ext2fs never replays a "
                "journal and refuses to mount it",
                "start the guest, let it mount and unmount the filesystem cleanly (or run e2fsck), then "
                "stop it again",
            )
        )
    unknown = sb.incompat & ~FREEBSD_INCOMPAT & ~INCOMPAT_RECOVER
    if unknown:
        out.append(
            HostFinding(
                "freebsd-incompat",
                "error",
                "incompat feature(s) FreeBSD's ext2fs does not know: "
                f"{', '.join(_names(unknown, INCOMPAT_NAMES))}: the host cannot mount it at all",
                "format again with the FreeBSD profile (host_compat freebsd)",
                {"bits": unknown},
            )
        )
    ro_unknown = sb.ro_compat & ~FREEBSD_RO_COMPAT
    if ro_unknown:
        out.append(
            HostFinding(
                "freebsd-ro-compat",
                "warning",
                f"ro_compat feature(s) FreeBSD's ext2fs does not know: "
                f"{', '.join(_names(ro_unknown, RO_COMPAT_NAMES))}: the host can mount it read-only only"
                + (
                    " (orphan_present: Linux did not unmount it cleanly)"
                    if ro_unknown & RO_COMPAT_ORPHAN_PRESENT
                    else ""
                ),
                "format again with the FreeBSD profile if the host must write to it",
                {"bits": ro_unknown},
            )
        )
    return out


def verify_host_fs(
    device: str,
    fstyp: Fstyp,
    dump: bytes | None,
    expected: Expected,
    *,
    tmpdir: str = "/tmp/gda-verify",
    sector_size: int | None = None,
) -> HostVerify:
    """Decide whether the host sees on ``device`` the filesystem ``expected`` describes. ``dump``: the
    device's first 4096 bytes (:func:`parse_od_hex`), None when they could not be read."""
    findings: list[HostFinding] = []
    want_ext = expected.fs in EXT_FAMILY
    want_type = "ext2fs" if want_ext else expected.fs
    want_uuid = expected.uuid.lower() if expected.uuid else None

    if fstyp.error:
        findings.append(
            HostFinding(
                "fstyp-failed",
                "error",
                f"fstyp could not read {device}: {fstyp.error}",
                "check the device path and that the guest is stopped",
            )
        )
    elif want_ext:
        if fstyp.type != "ext2fs":
            seen = fstyp.type or "no filesystem"
            findings.append(
                HostFinding(
                    "fstyp-type",
                    "error",
                    f"fstyp reports {seen} on {device}, not ext2fs ({expected.fs})",
                    "check that the guest formatted this device (its serial) and wrote it out (stop it)",
                )
            )
        elif (fstyp.label or None) != (expected.label or None):
            findings.append(
                HostFinding(
                    "fstyp-label",
                    "error",
                    f"fstyp reports label {fstyp.label!r} on {device}, format reported {expected.label!r}",
                    "another filesystem is on this device: check which device the guest formatted",
                )
            )
    elif expected.fs == "xfs" and fstyp.type not in (None, "xfs"):
        findings.append(
            HostFinding(
                "fstyp-type",
                "error",
                f"fstyp reports {fstyp.type} on {device}, format made xfs",
                "check that the guest formatted this device (its serial)",
            )
        )

    sb = parse_superblock(dump) if dump is not None else None
    if dump is None or sb is None:
        findings.append(
            HostFinding(
                "no-superblock",
                "error",
                f"no ext2/3/4 or XFS superblock in the first 4096 bytes of {device}"
                + (" (they could not be read)" if dump is None else ""),
                "check the device path, and that the guest is stopped so its writes are on the disk",
            )
        )
    else:
        if sb.fstyp_type != want_type:
            findings.append(
                HostFinding(
                    "sb-type",
                    "error",
                    f"the superblock is {sb.flavour}, format made {expected.fs}",
                    "check which device the guest formatted",
                )
            )
        if want_uuid and sb.uuid != want_uuid:
            findings.append(
                HostFinding(
                    "sb-uuid",
                    "error",
                    f"the superblock's UUID is {sb.uuid}, format reported {want_uuid}",
                    "this is another filesystem than the one format made: check the device",
                    {"found": sb.uuid, "expected": want_uuid},
                )
            )
        if (sb.label or None) != (expected.label or None):
            findings.append(
                HostFinding(
                    "sb-label",
                    "error",
                    f"the superblock's label is {sb.label!r}, format reported {expected.label!r}",
                    "check the device",
                )
            )
        if sb.kind == "ext":
            findings += _freebsd_features(sb)

    label = expected.label or (sb.label if sb else "")
    return HostVerify(
        device=device,
        superblock=sb,
        findings=tuple(findings),
        test_mount=test_mount_plan(device, expected.fs, tmpdir),
        fstab_line=fstab_line(device, expected.fs, label),
        glabel_path=glabel_ext2fs_path(sb, sector_size),
    )


def test_mount_plan(device: str, fs: str, tmpdir: str) -> TestMount:
    """The read-only mount that proves the host can mount it (FreeBSD's mount loads ext2fs.ko itself)."""
    if fs in EXT_FAMILY:
        return TestMount(
            True,
            (
                f"mkdir -p {tmpdir}",
                f"mount -t ext2fs -o ro {device} {tmpdir}",
                f"umount {tmpdir}",
                f"rmdir {tmpdir}",
            ),
            "read-only, so nothing on the filesystem changes; it fails with 'Operation not permitted' while "
            "a running guest holds the device",
        )
    if fs == "xfs":
        return TestMount(False, (), XFS_NOTE)
    return TestMount(False, (), f"no FreeBSD test mount known for {fs}")


def fstab_line(device: str, fs: str, label: str | None) -> str | None:
    """The /etc/fstab line for the host (ext2/3/4 only: FreeBSD mounts no other Linux filesystem)."""
    if fs not in EXT_FAMILY:
        return None
    point = re.sub(r"[^A-Za-z0-9._-]", "_", label or "") or "linux-data"
    return f"{device}  /mnt/{point}  ext2fs  rw  0  2"


def glabel_ext2fs_path(sb: Superblock | None, sector_size: int | None) -> str | None:
    """``/dev/ext2fs/<name>`` if glabel's ext2fs class would create it (see the module docstring)."""
    if sb is None or sb.kind != "ext" or sb.rev_level != EXT2_DYNAMIC_REV:
        return None
    if sector_size is not None and (sector_size <= 0 or EXT_SB_OFFSET % sector_size):
        return None
    name = sb.label[:15]
    name = name[1:] if name.startswith("/") else name
    return f"/dev/ext2fs/{name}" if name else None
