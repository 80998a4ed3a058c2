"""FreeBSD ext4 profile, dumpe2fs checks on real dumpe2fs -h output, XFS warning, host hints."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.core.hostcompat import (
    FREEBSD_INCOMPAT_SUPP,
    FREEBSD_ROCOMPAT_SUPP,
    FREEBSD_RW_FEATURES,
    XFS_ON_FREEBSD_WARNING,
    check_freebsd_compat,
    excluded_features_present,
    feature,
    freebsd_ext4_mkfs_args,
    freebsd_ext4_profile,
    freebsd_mount_hint,
    parse_dumpe2fs_header,
    parse_tool_version,
    xfs_lts_4_19_profile,
)

FIX = Path(__file__).parent.parent / "fixtures" / "dumpe2fs"


def dump(name: str) -> str:
    return (FIX / f"{name}.txt").read_text()


def test_freebsd_feature_sets_match_ext2fs_h() -> None:
    incompat, rocompat = set(FREEBSD_INCOMPAT_SUPP), set(FREEBSD_ROCOMPAT_SUPP)
    assert incompat == {
        "filetype",
        "meta_bg",
        "extent",
        "64bit",
        "flex_bg",
        "metadata_csum_seed",
    }
    assert rocompat == {
        "sparse_super", "large_file", "uninit_bg", "metadata_csum", "dir_nlink", "huge_file", "extra_isize",
    }  # fmt: skip
    assert "orphan_file" in FREEBSD_RW_FEATURES  # compat: never checked
    assert "orphan_present" not in FREEBSD_RW_FEATURES
    f = feature("FEATURE_I31")
    assert f is not None and f.freebsd == "none"


def test_parse_header() -> None:
    h = parse_dumpe2fs_header(dump("ext4_debian_1.47.0_default"))
    assert h["Filesystem magic number"] == "0xEF53"
    assert h["Block size"] == "4096"
    assert h["Blocks per group"] == "32768"
    assert h["Group descriptor size"] == "64"
    assert h["Inode size"] == "256"  # the tab after the colon
    assert h["Filesystem state"] == "clean"
    assert h["Filesystem features"].split()[:3] == ["has_journal", "ext_attr", "resize_inode"]
    assert "dumpe2fs 1.47.0 (5-Feb-2023)" not in h


def test_debian_default_and_profile_are_clean() -> None:
    assert check_freebsd_compat(dump("ext4_debian_1.47.0_default")) == []
    assert check_freebsd_compat(dump("ext4_freebsd_profile")) == []


def test_upstream_147_defaults_warn_about_orphan_file() -> None:
    problems = check_freebsd_compat(dump("ext4_orphan_file_csum_seed"))
    assert [(p.code, p.severity) for p in problems] == [("orphan-file", "warning")]  # csum_seed is fine


def test_dirty_guest_state_blocks_rw() -> None:
    problems = check_freebsd_compat(dump("ext4_orphan_present_needs_recovery"))
    errors = {p.code for p in problems if p.severity == "error"}
    assert errors == {"needs-recovery", "orphan-present"}


def test_non_standard_group_size() -> None:
    problems = check_freebsd_compat(dump("ext4_g16384"))
    assert [p.code for p in problems] == ["blocks-per-group"]
    assert "8 x block size = 32768" in problems[0].message


def test_synthetic_header_checks() -> None:
    header = {
        "Filesystem magic number": "0xEF53",
        "Filesystem features": "has_journal extent 64bit inline_data uninit_bg metadata_csum quota",
        "Block size": "4096",
        "Blocks per group": "32768",
        "Group descriptor size": "32",
        "Filesystem state": "not clean",
    }
    codes = sorted(p.code for p in check_freebsd_compat(header))
    assert codes == sorted(
        ["incompat-feature", "ro-compat-feature", "gdt-and-metadata-csum", "descriptor-size", "not-clean"]
    )


@pytest.mark.parametrize(
    ("version", "args"),
    [
        ("mke2fs 1.47.0 (5-Feb-2023)", ["-O", "^orphan_file,^metadata_csum_seed"]),
        ("1.47.0-2.4~exp1ubuntu4.1", ["-O", "^orphan_file,^metadata_csum_seed"]),
        ("1.46.5", ["-O", "^metadata_csum_seed"]),
        ((1, 42, 9), []),
    ],
)
def test_mkfs_flags_by_version(version: str | tuple[int, ...], args: list[str]) -> None:
    assert freebsd_ext4_mkfs_args(version) == args


def test_profile_explains_itself() -> None:
    p = freebsd_ext4_profile("1.46.5")
    assert [c.feature for c in p.not_needed] == ["orphan_file"]
    text = "\n".join(p.explain())
    assert "turned off metadata_csum_seed" in text
    assert "orphan_file: not passed" in text
    assert "never add: -g" in text


def test_profile_verified_on_real_output() -> None:
    profile = freebsd_ext4_profile("1.47.0")
    assert excluded_features_present(dump("ext4_freebsd_profile"), profile) == []
    assert excluded_features_present(dump("ext4_orphan_file_csum_seed"), profile) == [
        "orphan_file",
        "metadata_csum_seed",
    ]


def test_tool_versions() -> None:
    assert parse_tool_version("mkfs.xfs version 6.1.0") == (6, 1, 0)
    assert parse_tool_version("1.47") == (1, 47, 0)
    with pytest.raises(ValueError):
        parse_tool_version("no digits")


def test_xfs_profile_and_warning() -> None:
    p = xfs_lts_4_19_profile("mkfs.xfs version 6.1.0")
    assert p.args == ("-m", "reflink=0,rmapbt=0,bigtime=0,inobtcount=0", "-i", "nrext64=0")
    assert xfs_lts_4_19_profile("5.4.0").args == ("-m", "reflink=0,rmapbt=0")
    assert "cannot mount XFS read-write" in XFS_ON_FREEBSD_WARNING
    assert "fusefs-lkl" in XFS_ON_FREEBSD_WARNING


def test_host_hint() -> None:
    hint = freebsd_mount_hint("/dev/diskid/DISK-Y39B70RTK7ASp4", vm_name="xdev")
    assert "mount -t ext2fs /dev/diskid/DISK-Y39B70RTK7ASp4 /mnt" in hint
    assert any('ext2fs_load="YES"' in h for h in hint)
    assert hint[0].startswith("stop the guest first (vm stop xdev)")
    assert freebsd_mount_hint("/dev/x", fs="xfs")[0] == XFS_ON_FREEBSD_WARNING
