# GENERATED from agent/core/disk/ext4_features.py by `python -m agent.collection_build`: do not edit.
"""The ext4 feature flags and what FreeBSD's ext2fs driver does with each (pure).

Sources read (freebsd-src, sys/fs/ext2fs, the ext4-capable driver of FreeBSD 12 and later; the copy
that predates it, e.g. commit cadfa734, lists only ``EXT2F_INCOMPAT_FTYPE`` in ``EXT2F_INCOMPAT_SUPP``
and mounts extents read-only):

- ext2fs.h, ``#define EXT2F_ROCOMPAT_SUPP``: SPARSESUPER | LARGEFILE | GDT_CSUM | METADATA_CKSUM |
  DIR_NLINK | HUGE_FILE | EXTRA_ISIZE.
- ext2fs.h, ``#define EXT2F_INCOMPAT_SUPP``: FTYPE | META_BG | EXTENTS | 64BIT | FLEX_BG | CSUM_SEED.
- ext2_vfsops.c, ``ext2_check_sb_compat()``: ``incompat & ~EXT2F_INCOMPAT_SUPP`` → "mount of %s denied
  due to unsupported optional features" (no mount at all); ``!ronly && (rocompat & ~EXT2F_ROCOMPAT_SUPP)``
  → "R/W mount of %s denied" (read-only only). Compat flags are never looked at.

A feature's ``freebsd`` value is ``rw`` (in the SUPP masks), ``ro`` (ro_compat outside them), ``none``
(incompat outside them) or ``ignored`` (compat).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

FreeBsdSupport = Literal["rw", "ro", "none", "ignored"]
FeatureKind = Literal["compat", "ro_compat", "incompat"]


@dataclass(frozen=True)
class Ext4Feature:
    name: str  # as dumpe2fs / mke2fs -O spell it
    kind: FeatureKind
    mask: int
    freebsd: FreeBsdSupport  # what FreeBSD's ext2fs does with a file system that has it


def _f(name: str, kind: FeatureKind, mask: int, freebsd: FreeBsdSupport) -> Ext4Feature:
    return Ext4Feature(name, kind, mask, freebsd)


# Masks: ext2fs.h EXT2F_* (and Linux's ext4.h for the bits FreeBSD does not name).
EXT4_FEATURES: dict[str, Ext4Feature] = {
    f.name: f
    for f in (
        # compat: never checked by ext2_check_sb_compat()
        _f("dir_prealloc", "compat", 0x0001, "ignored"),
        _f("imagic_inodes", "compat", 0x0002, "ignored"),
        _f("has_journal", "compat", 0x0004, "ignored"),
        _f("ext_attr", "compat", 0x0008, "ignored"),
        _f("resize_inode", "compat", 0x0010, "ignored"),
        _f("dir_index", "compat", 0x0020, "ignored"),
        _f("lazy_bg", "compat", 0x0040, "ignored"),
        _f("snapshot_bitmap", "compat", 0x0100, "ignored"),
        _f("sparse_super2", "compat", 0x0200, "ignored"),
        _f("fast_commit", "compat", 0x0400, "ignored"),
        _f("stable_inodes", "compat", 0x0800, "ignored"),
        _f("orphan_file", "compat", 0x1000, "ignored"),
        # ro_compat: outside EXT2F_ROCOMPAT_SUPP → read-only mount only
        _f("sparse_super", "ro_compat", 0x0001, "rw"),
        _f("large_file", "ro_compat", 0x0002, "rw"),
        _f("btree_dir", "ro_compat", 0x0004, "ro"),
        _f("huge_file", "ro_compat", 0x0008, "rw"),
        _f("uninit_bg", "ro_compat", 0x0010, "rw"),  # EXT2F_ROCOMPAT_GDT_CSUM
        _f("dir_nlink", "ro_compat", 0x0020, "rw"),
        _f("extra_isize", "ro_compat", 0x0040, "rw"),
        _f("snapshot", "ro_compat", 0x0080, "ro"),
        _f("quota", "ro_compat", 0x0100, "ro"),
        _f("bigalloc", "ro_compat", 0x0200, "ro"),
        _f("metadata_csum", "ro_compat", 0x0400, "rw"),
        _f("replica", "ro_compat", 0x0800, "ro"),
        _f("read-only", "ro_compat", 0x1000, "ro"),
        _f("project", "ro_compat", 0x2000, "ro"),
        _f("shared_blocks", "ro_compat", 0x4000, "ro"),
        _f("verity", "ro_compat", 0x8000, "ro"),
        _f("orphan_present", "ro_compat", 0x10000, "ro"),
        # incompat: outside EXT2F_INCOMPAT_SUPP → no mount at all
        _f("compression", "incompat", 0x0001, "none"),
        _f("filetype", "incompat", 0x0002, "rw"),
        _f("needs_recovery", "incompat", 0x0004, "none"),
        _f("journal_dev", "incompat", 0x0008, "none"),
        _f("meta_bg", "incompat", 0x0010, "rw"),
        _f("extent", "incompat", 0x0040, "rw"),
        _f("64bit", "incompat", 0x0080, "rw"),
        _f("mmp", "incompat", 0x0100, "none"),
        _f("flex_bg", "incompat", 0x0200, "rw"),
        _f("ea_inode", "incompat", 0x0400, "none"),
        _f("dirdata", "incompat", 0x1000, "none"),
        _f("metadata_csum_seed", "incompat", 0x2000, "rw"),
        _f("large_dir", "incompat", 0x4000, "none"),
        _f("inline_data", "incompat", 0x8000, "none"),
        _f("encrypt", "incompat", 0x10000, "none"),
        _f("casefold", "incompat", 0x20000, "none"),
    )
}
_ALIASES = {
    "extents": "extent",
    "gdt_csum": "uninit_bg",
    "uninit_groups": "uninit_bg",
    "csum_seed": "metadata_csum_seed",
}

# ext2fs.h EXT2F_ROCOMPAT_SUPP / EXT2F_INCOMPAT_SUPP, by name


# dumpe2fs prints bits it has no name for as FEATURE_C<n> / FEATURE_R<n> / FEATURE_I<n>
_UNNAMED_BITS: dict[str, tuple[FeatureKind, FreeBsdSupport]] = {
    "C": ("compat", "ignored"),
    "R": ("ro_compat", "ro"),
    "I": ("incompat", "none"),
}


def feature(name: str) -> Ext4Feature | None:
    """Look a feature up by its dumpe2fs name (also FEATURE_Cn/Rn/In for bits dumpe2fs cannot name)."""
    name = _ALIASES.get(name, name)
    if name in EXT4_FEATURES:
        return EXT4_FEATURES[name]
    m = re.fullmatch(r"FEATURE_([CRI])(\d+)", name)
    if m:
        kind, support = _UNNAMED_BITS[m.group(1)]
        return Ext4Feature(name, kind, 1 << int(m.group(2)), support)
    return None
