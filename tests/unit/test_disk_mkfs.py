"""mkfs argv construction, label validation and the missing-package error."""

from __future__ import annotations

import pytest

from agent.core.disk.mkfs import (
    build_mkfs_argv,
    missing_mkfs_error,
    parse_fs,
    require_mkfs,
    validate_label,
    with_device,
)
from agent.errors import Refused, UsageError


def test_ext4_argv_with_every_option() -> None:
    argv = build_mkfs_argv(
        "ext4",
        label="hostdata",
        no_discard=True,
        force=True,
        extra_args=["-O", "^orphan_file,^metadata_csum_seed"],
    )
    assert argv == (
        "mkfs.ext4", "-F", "-L", "hostdata", "-O", "^orphan_file,^metadata_csum_seed", "-E", "nodiscard",
    )  # fmt: skip
    assert with_device(argv, "/dev/nvme0n1")[-1] == "/dev/nvme0n1"


def test_xfs_argv_with_every_option() -> None:
    argv = build_mkfs_argv(
        "xfs", label="hostdata", no_discard=True, force=True, extra_args=["-m", "bigtime=0,inobtcount=0"]
    )
    assert argv == ("mkfs.xfs", "-f", "-L", "hostdata", "-K", "-m", "bigtime=0,inobtcount=0")


def test_plain_argv_has_no_force() -> None:
    assert build_mkfs_argv("ext4") == ("mkfs.ext4",)
    assert build_mkfs_argv("xfs") == ("mkfs.xfs",)


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (["-E", "lazy_itable_init=0"], ("-E", "lazy_itable_init=0,nodiscard")),
        (["-Elazy_itable_init=0"], ("-Elazy_itable_init=0,nodiscard",)),
    ],
)
def test_ext4_nodiscard_merges_into_the_callers_extended_options(
    extra: list[str], expected: tuple[str, ...]
) -> None:
    argv = build_mkfs_argv("ext4", no_discard=True, extra_args=extra)
    assert argv[1:] == expected
    assert argv.count("-E") <= 1  # mke2fs would keep only the last -E


def test_label_limits_are_bytes() -> None:
    assert validate_label("ext4", "a" * 16) == "a" * 16
    with pytest.raises(UsageError, match="17 bytes; ext4 allows at most 16"):
        validate_label("ext4", "a" * 17)
    assert validate_label("xfs", "x" * 12)
    with pytest.raises(UsageError, match="xfs allows at most 12"):
        validate_label("xfs", "x" * 13)
    with pytest.raises(UsageError, match="14 bytes"):
        validate_label("xfs", "données-hôte")  # 12 characters, 14 bytes


@pytest.mark.parametrize("bad", ["", "two words", "tab\there", "new\nline", "-L", "bell\x07"])
def test_bad_labels(bad: str) -> None:
    with pytest.raises(UsageError):
        build_mkfs_argv("ext4", label=bad)


def test_bad_extra_args() -> None:
    with pytest.raises(UsageError):
        build_mkfs_argv("xfs", extra_args=["-m", "a\nb"])


def test_parse_fs() -> None:
    assert parse_fs("EXT4") == "ext4"
    assert parse_fs(" xfs ") == "xfs"
    with pytest.raises(UsageError, match="choose one of: ext4, xfs"):
        parse_fs("btrfs")


def test_missing_mkfs_names_the_package() -> None:
    err = missing_mkfs_error("xfs", guest="xdev")
    assert isinstance(err, Refused)
    assert err.message == "mkfs.xfs is not installed on xdev (package xfsprogs)"
    assert err.hint == "install it on the guest: sudo apt-get install xfsprogs"
    assert require_mkfs({"mkfs.ext4": "/usr/sbin/mkfs.ext4"}, "ext4") == "/usr/sbin/mkfs.ext4"
    with pytest.raises(Refused, match="e2fsprogs"):
        require_mkfs({}, "ext4")
