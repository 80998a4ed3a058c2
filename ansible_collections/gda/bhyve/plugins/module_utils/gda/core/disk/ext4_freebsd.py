# GENERATED from agent/core/disk/ext4_freebsd.py by `python -m agent.collection_build`: do not edit.
"""Make (and check) an ext4 filesystem a FreeBSD host can mount read-write (pure).

Sources read (freebsd-src, sys/fs/ext2fs; the feature masks are in :mod:`agent.core.disk.ext4_features`):

- ext2_vfsops.c, ``ext2_compute_sb_data()``: GDT_CSUM together with METADATA_CKSUM → EINVAL ("incorrect
  checksum features combination"); ``e2fs_log_bsize > 2`` → EINVAL (block size 1K/2K/4K only); 64BIT
  with ``e3fs_desc_size != E2FS_64BIT_GD_SIZE`` (64) → EINVAL; ``e2fs_bpg != e2fs_bsize * 8`` → EINVAL
  ("non-standard group size unsupported"); fragment size != block size → EINVAL.
- ext2_vfsops.c, ``ext2_mount()``: a file system not marked clean (E2FS_ISCLEAN unset, or E2FS_ERRORS)
  is refused read-write ("Filesystem is not clean - run fsck") unless mounted with -f.

e2fsprogs: upstream misc/mke2fs.conf.in for 1.47 sets ext4 features "has_journal,extent,huge_file,flex_bg,
metadata_csum,metadata_csum_seed,64bit,dir_nlink,extra_isize,orphan_file" (older mke2fs, e.g. 1.45.4,
rejects that set with "Invalid filesystem option set"); Debian's 1.47.0-2 patches metadata_csum_seed and
orphan_file back out of its /etc/mke2fs.conf (checked on this machine). ``orphan_file`` appeared in
1.47.0, ``metadata_csum_seed`` in 1.43.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from ansible_collections.gda.bhyve.plugins.module_utils.gda.core.disk.ext4_features import feature
from ansible_collections.gda.bhyve.plugins.module_utils.gda.core.marker import lines_of
from ansible_collections.gda.bhyve.plugins.module_utils.gda.hints import opt

# ---------------------------------------------------------------------------------------------------
# versions and mkfs arguments


def parse_tool_version(text: str) -> tuple[int, int, int]:
    """(1, 47, 0) from "mke2fs 1.47.0 (5-Feb-2023)", "1.46.5", "1.47.0-2.4~exp1ubuntu4.1",
    "mkfs.xfs version 6.1.0". Raises ValueError when there is no version in ``text``."""
    m = re.search(r"(\d+)\.(\d+)(?:\.(\d+))?", text)
    if not m:
        raise ValueError(f"no version number in {text!r}")
    return int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)


def _version(v: str | tuple[int, ...]) -> tuple[int, int, int]:
    if isinstance(v, str):
        return parse_tool_version(v)
    t = (*v, 0, 0, 0)
    return int(t[0]), int(t[1]), int(t[2])


@dataclass(frozen=True)
class FeatureChoice:
    feature: str
    since: tuple[int, int, int]  # first mkfs version that knows the feature (older rejects ^feature)
    reason: str


@dataclass(frozen=True)
class MkfsProfile:
    fs: str
    args: tuple[str, ...]  # to add to mkfs.<fs> (before the device)
    disabled: tuple[FeatureChoice, ...]  # turned off by ``args``
    not_needed: tuple[
        FeatureChoice, ...
    ]  # not passed: this mkfs does not know the feature (cannot enable it)
    notes: tuple[str, ...]

    def explain(self) -> list[str]:
        out = [f"turned off {c.feature}: {c.reason}" for c in self.disabled]
        out += [
            f"{c.feature}: not passed (this mkfs predates it, {'.'.join(map(str, c.since))}, so it cannot "
            "enable it and would reject ^" + c.feature + ")"
            for c in self.not_needed
        ]
        return out + list(self.notes)


FREEBSD_EXT4_DISABLE: tuple[FeatureChoice, ...] = (
    FeatureChoice(
        "orphan_file",
        (1, 47, 0),
        "a compat flag FreeBSD ignores, but with it Linux sets orphan_present (ro_compat 0x10000, outside "
        "EXT2F_ROCOMPAT_SUPP) on every read-write mount and clears it only on a clean unmount: after a guest "
        "crash or a bhyve kill the host refuses the read-write mount until e2fsck has run",
    ),
    FeatureChoice(
        "metadata_csum_seed",
        (1, 43, 0),
        "FreeBSD 12 and later mount it read-write (EXT2F_INCOMPAT_CSUM_SEED is in EXT2F_INCOMPAT_SUPP), "
        "but it "
        "is an incompat flag: an older FreeBSD, whose EXT2F_INCOMPAT_SUPP lacks it, refuses the mount "
        "outright; without it only changing the UUID of a mounted file system is lost",
    ),
)

FREEBSD_EXT4_NOTES: tuple[str, ...] = (
    "kept: has_journal (FreeBSD ignores the journal and never replays it: run e2fsck on the guest side after "
    "an unclean stop), extent, 64bit, flex_bg, metadata_csum, huge_file, dir_nlink, extra_isize — all in "
    "FreeBSD's EXT2F_INCOMPAT_SUPP / EXT2F_ROCOMPAT_SUPP",
    "never add: -g (FreeBSD needs blocks per group = 8 x block size), bigalloc, quota, project, verity "
    "(read-only on FreeBSD), inline_data, large_dir, encrypt, casefold, ea_inode, mmp (no mount at all)",
)


def freebsd_ext4_profile(e2fsprogs_version: str | tuple[int, ...]) -> MkfsProfile:
    """The mkfs.ext4 arguments for a file system the FreeBSD host mounts read-write, for the guest's
    mke2fs version (``mke2fs -V`` output or a tuple): 1.47+ → ``-O ^orphan_file,^metadata_csum_seed``;
    1.43-1.46 → ``-O ^metadata_csum_seed`` (they reject ^orphan_file and never enable it)."""
    v = _version(e2fsprogs_version)
    disabled = tuple(c for c in FREEBSD_EXT4_DISABLE if v >= c.since)
    not_needed = tuple(c for c in FREEBSD_EXT4_DISABLE if v < c.since)
    args: tuple[str, ...] = ("-O", ",".join(f"^{c.feature}" for c in disabled)) if disabled else ()
    return MkfsProfile("ext4", args, disabled, not_needed, FREEBSD_EXT4_NOTES)


# ---------------------------------------------------------------------------------------------------
# dumpe2fs -h


def parse_dumpe2fs_header(text: str) -> dict[str, str]:
    """``dumpe2fs -h`` output → {"Filesystem features": "has_journal ext_attr ...", "Block size": "4096",
    ...}. Lines without a ``Key:  value`` shape (the version banner, blank lines) are skipped; the first
    occurrence of a key wins (the journal section repeats none of the superblock keys)."""
    out: dict[str, str] = {}
    for line in lines_of(text):
        m = re.match(r"^([A-Za-z][A-Za-z0-9 #/_()-]*?):\s+(.*?)\s*$", line)
        if m and m.group(1) not in out:
            out[m.group(1)] = m.group(2)
        elif re.match(r"^[A-Za-z][A-Za-z0-9 #/_()-]*:$", line.strip()):
            out.setdefault(line.strip()[:-1], "")
    return out


def header_features(header: Mapping[str, str]) -> list[str]:
    return (header.get("Filesystem features") or "").split()


@dataclass(frozen=True)
class CompatProblem:
    code: str
    severity: Literal["error", "warning"]  # error: FreeBSD will not mount it read-write
    message: str
    fix: str
    feature: str | None = None


def _int(value: str | None) -> int | None:
    if value is None:
        return None
    m = re.match(r"\s*(-?\d+)", value)
    return int(m.group(1)) if m else None


def check_freebsd_compat(dumpe2fs_header: Mapping[str, str] | str) -> list[CompatProblem]:
    """What stops FreeBSD's ext2fs from mounting this file system read-write (errors), and what is
    risky (warnings). ``dumpe2fs_header``: the parsed header, or the raw ``dumpe2fs -h`` text."""
    header = parse_dumpe2fs_header(dumpe2fs_header) if isinstance(dumpe2fs_header, str) else dumpe2fs_header
    out: list[CompatProblem] = []
    magic = header.get("Filesystem magic number")
    if magic is not None and magic.lower() != "0xef53":
        out.append(
            CompatProblem("bad-magic", "error", f"not an ext2/3/4 file system (magic {magic})", "format it")
        )
        return out
    features = header_features(header)
    for name in features:
        f = feature(name)
        if name == "needs_recovery":
            out.append(
                CompatProblem(
                    "needs-recovery",
                    "error",
                    "needs_recovery: the journal holds transactions not yet written back; FreeBSD never "
                    "replays "
                    "the journal and refuses the mount (needs_recovery is not in EXT2F_INCOMPAT_SUPP)",
                    "stop the guest cleanly, or run `e2fsck -f DEVICE` (in the guest, file system unmounted)",
                    name,
                )
            )
        elif name == "orphan_present":
            out.append(
                CompatProblem(
                    "orphan-present",
                    "error",
                    "orphan_present: Linux still has (or crashed with) the file system mounted read-write "
                    "with "
                    "orphan_file; FreeBSD only mounts it read-only (ro_compat bit outside "
                    "EXT2F_ROCOMPAT_SUPP)",
                    "unmount it cleanly in the guest, or `e2fsck -f DEVICE`; to avoid it for good: "
                    "`tune2fs -O ^orphan_file DEVICE` (e2fsprogs >= 1.47)",
                    name,
                )
            )
        elif f is None or f.freebsd == "none":
            out.append(
                CompatProblem(
                    "incompat-feature",
                    "error",
                    f"{name}: an incompat feature FreeBSD's ext2fs does not support: no mount at all "
                    '("mount of ... denied due to unsupported optional features")',
                    "recreate the file system without it (mkfs.ext4 -O ^" + name + ")",
                    name,
                )
            )
        elif f.freebsd == "ro":
            out.append(
                CompatProblem(
                    "ro-compat-feature",
                    "error",
                    f"{name}: a ro_compat feature outside EXT2F_ROCOMPAT_SUPP: FreeBSD mounts it read-only "
                    "only",
                    f"tune2fs -O ^{name} DEVICE (or recreate the file system without it)",
                    name,
                )
            )
        elif name == "orphan_file":
            out.append(
                CompatProblem(
                    "orphan-file",
                    "warning",
                    "orphan_file: harmless while the file system is clean, but a Linux guest that stops "
                    "without "
                    "unmounting leaves orphan_present set and the host can then only mount it read-only",
                    "tune2fs -O ^orphan_file DEVICE (e2fsprogs >= 1.47, file system unmounted)",
                    name,
                )
            )
    if "uninit_bg" in features and "metadata_csum" in features:
        out.append(
            CompatProblem(
                "gdt-and-metadata-csum",
                "error",
                "uninit_bg (gdt_csum) together with metadata_csum: FreeBSD rejects the combination (EINVAL)",
                "tune2fs -O ^uninit_bg DEVICE",
            )
        )
    bsize = _int(header.get("Block size"))
    if bsize is not None and bsize not in (1024, 2048, 4096):
        out.append(
            CompatProblem(
                "block-size",
                "error",
                f"block size {bsize}: FreeBSD's ext2fs only handles 1024, 2048 and 4096",
                "recreate with -b 4096",
            )
        )
    frag = _int(header.get("Fragment size") or header.get("Cluster size"))
    if bsize is not None and frag is not None and frag != bsize:
        out.append(
            CompatProblem(
                "cluster-size",
                "error",
                f"fragment/cluster size {frag} != block size {bsize}: FreeBSD refuses it (bigalloc?)",
                "recreate without bigalloc",
            )
        )
    bpg = _int(header.get("Blocks per group"))
    if bsize is not None and bpg is not None and bpg != 8 * bsize:
        out.append(
            CompatProblem(
                "blocks-per-group",
                "error",
                f"{bpg} blocks per group: FreeBSD needs exactly 8 x block size = {8 * bsize} "
                '("non-standard group size unsupported")',
                "recreate without -g",
            )
        )
    if "64bit" in features:
        desc = _int(header.get("Group descriptor size"))
        if desc is not None and desc != 64:
            out.append(
                CompatProblem(
                    "descriptor-size",
                    "error",
                    f"64bit with group descriptor size {desc}: FreeBSD only accepts 64",
                    "recreate with the default descriptor size",
                )
            )
    state = header.get("Filesystem state")
    if state is not None and state.strip() != "clean":
        out.append(
            CompatProblem(
                "not-clean",
                "error",
                f'file system state "{state}": FreeBSD refuses a read-write mount ("Filesystem is not '
                "clean - "
                'run fsck") unless forced',
                "e2fsck -f DEVICE (file system unmounted)",
            )
        )
    return out


# ---------------------------------------------------------------------------------------------------
# XFS


XFS_ON_FREEBSD_WARNING = (
    "FreeBSD cannot mount XFS read-write: it has no native XFS driver (the old read-only one is gone). The "
    "only route is the FUSE port fusefs-lkl (`lklfuse -o type=xfs DEVICE MOUNTPOINT`), a Linux 4.16 kernel "
    "run in user space, amd64 only, described by its users as restrictive and unstable. For a disk the "
    "FreeBSD host has to write, use ext4 with "
    f"{opt('host_compat')} freebsd."
)


# ---------------------------------------------------------------------------------------------------
# the host side afterwards


def freebsd_mount_hint(
    host_path: str, *, fs: str = "ext4", vm_name: str | None = None, mountpoint: str = "/mnt"
) -> list[str]:
    """How to mount the disk on the FreeBSD host once the guest has formatted it."""
    stop = f"vm stop {vm_name}" if vm_name else "vm stop <guest>"
    if fs in ("ext4", "ext3", "ext2"):
        return [
            f"stop the guest first ({stop}): while bhyve holds {host_path} the mount fails with "
            '"Operation not permitted"',
            'kldload ext2fs  (at every boot: ext2fs_load="YES" in /boot/loader.conf)',
            f"mount -t ext2fs {host_path} {mountpoint}",
            f"/etc/fstab: {host_path}  {mountpoint}  ext2fs  rw  0  0",
        ]
    if fs == "xfs":
        return [
            XFS_ON_FREEBSD_WARNING,
            f"stop the guest first ({stop})",
            "pkg install fusefs-lkl && kldload fusefs",
            f"lklfuse -o type=xfs {host_path} {mountpoint}",
        ]
    return [f"no FreeBSD mount recipe for {fs}"]
