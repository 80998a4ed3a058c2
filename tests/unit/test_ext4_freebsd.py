"""FreeBSD ext4 profile, dumpe2fs checks on real dumpe2fs -h output, XFS warning, host hints."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.core.disk.ext4_features import EXT4_FEATURES, feature
from agent.core.disk.ext4_freebsd import (
    XFS_ON_FREEBSD_WARNING,
    check_freebsd_compat,
    freebsd_ext4_profile,
    freebsd_mount_hint,
    header_features,
    parse_dumpe2fs_header,
    parse_tool_version,
)
from agent.hints import render_options

FIX = Path(__file__).parent.parent / "fixtures" / "dumpe2fs"


def dump(name: str) -> str:
    return (FIX / f"{name}.txt").read_text()


def test_freebsd_feature_sets_match_ext2fs_h() -> None:
    # ext2fs.h EXT2F_INCOMPAT_SUPP / EXT2F_ROCOMPAT_SUPP, by name, from the table
    incompat = {f.name for f in EXT4_FEATURES.values() if f.kind == "incompat" and f.freebsd == "rw"}
    rocompat = {f.name for f in EXT4_FEATURES.values() if f.kind == "ro_compat" and f.freebsd == "rw"}
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
    orphan_file, orphan_present = feature("orphan_file"), feature("orphan_present")
    assert orphan_file is not None and orphan_file.freebsd == "ignored"  # compat: never checked
    assert orphan_present is not None and orphan_present.freebsd == "ro"
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
    assert list(freebsd_ext4_profile(version).args) == args


def test_profile_explains_itself() -> None:
    p = freebsd_ext4_profile("1.46.5")
    assert [c.feature for c in p.not_needed] == ["orphan_file"]
    text = "\n".join(p.explain())
    assert "turned off metadata_csum_seed" in text
    assert "orphan_file: not passed" in text
    assert "never add: -g" in text


def test_profile_verified_on_real_output() -> None:
    profile = freebsd_ext4_profile("1.47.0")
    disabled = [c.feature for c in profile.disabled]

    def present(name: str) -> list[str]:
        features = set(header_features(parse_dumpe2fs_header(dump(name))))
        return [f for f in disabled if f in features]

    assert present("ext4_freebsd_profile") == []
    assert present("ext4_orphan_file_csum_seed") == ["orphan_file", "metadata_csum_seed"]


def test_tool_versions() -> None:
    assert parse_tool_version("mkfs.xfs version 6.1.0") == (6, 1, 0)
    assert parse_tool_version("1.47") == (1, 47, 0)
    with pytest.raises(ValueError):
        parse_tool_version("no digits")


def test_xfs_warning() -> None:
    assert "cannot mount XFS read-write" in XFS_ON_FREEBSD_WARNING
    assert "use ext4 with --host-compat freebsd" in render_options(XFS_ON_FREEBSD_WARNING)
    assert "fusefs-lkl" in XFS_ON_FREEBSD_WARNING


def test_host_hint() -> None:
    hint = freebsd_mount_hint("/dev/diskid/DISK-Y39B70RTK7ASp4", vm_name="xdev")
    assert "mount -t ext2fs /dev/diskid/DISK-Y39B70RTK7ASp4 /mnt" in hint
    assert any('ext2fs_load="YES"' in h for h in hint)
    assert hint[0].startswith("stop the guest first (vm stop xdev)")
    assert freebsd_mount_hint("/dev/x", fs="xfs")[0] == XFS_ON_FREEBSD_WARNING
