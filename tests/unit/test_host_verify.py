"""host-verify's decision (agent.core.host.host_verify) on real superblocks: each test runs mkfs.ext4 /
mkfs.xfs on a small sparse image in tmp_path, reads its first 4096 bytes with the same pipeline the host
runs (``dd if=<dev> bs=4096 count=1 2>/dev/null | od -An -v -tx1``) and decodes that text. fstyp's answers
follow usr.sbin/fstyp/fstyp.c (``<type> <label>`` on stdout, exit 0; else "filesystem not recognized" on
stderr, exit 1; it has no XFS probe).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from agent.core.host.fstyp_output import Fstyp, parse_fstyp
from agent.core.host.host_verify import (
    Expected,
    parse_od_hex,
    parse_superblock,
    verify_host_fs,
)
from agent.core.marker import Section

DEV = "/dev/diskid/DISK-Y39B70RTK7ASp4"
UUID = "3f1c2a9e-5b7d-4e21-9a0c-6d8e4f2b1a37"


def _need(tool: str) -> None:
    if shutil.which(tool) is None:
        pytest.skip(f"{tool} not installed")


def _image(tmp_path: Path, size: int) -> Path:
    img = tmp_path / "p4.img"
    with img.open("wb") as f:
        f.truncate(size)
    return img


def od_dump(img: Path) -> str:
    return subprocess.run(
        f"dd if={img} bs=4096 count=1 2>/dev/null | od -An -v -tx1",
        shell=True,
        check=True,
        capture_output=True,
        text=True,
    ).stdout


def ext4(tmp_path: Path, *extra: str, label: str = "linux-data") -> str:
    _need("mkfs.ext4")
    img = _image(tmp_path, 64 * 1024 * 1024)
    subprocess.run(["mkfs.ext4", "-q", "-F", "-L", label, "-U", UUID, *extra, str(img)], check=True)
    return od_dump(img)


def xfs(tmp_path: Path) -> str:
    _need("mkfs.xfs")
    img = _image(tmp_path, 320 * 1024 * 1024)  # mkfs.xfs >= 5.19 wants more than 300 MB
    subprocess.run(["mkfs.xfs", "-q", "-f", "-L", "linux-data", "-m", f"uuid={UUID}", str(img)], check=True)
    return od_dump(img)


def fstyp_says(stdout: str, rc: int | None = 0, stderr: str = "") -> Fstyp:
    return parse_fstyp(Section("fstyp", DEV, stdout, stderr, rc), DEV)


NOT_RECOGNIZED = fstyp_says("", 1, f"fstyp: {DEV}: filesystem not recognized\n")


def test_ext4_verified_with_mount_plan_fstab_and_glabel(tmp_path: Path) -> None:
    dump = ext4(tmp_path)
    sb = parse_superblock(parse_od_hex(dump))
    assert sb is not None
    assert (sb.kind, sb.flavour, sb.uuid, sb.label, sb.rev_level) == ("ext", "ext4", UUID, "linux-data", 1)
    v = verify_host_fs(
        DEV,
        fstyp_says("ext2fs linux-data\n"),
        parse_od_hex(dump),
        Expected("ext4", "linux-data", UUID),
        tmpdir="/tmp/gda.x1",
        sector_size=512,
    )
    assert v.verified, [f.message for f in v.findings]
    assert v.findings == ()  # Debian's e2fsprogs 1.47.0 defaults: nothing FreeBSD's ext2fs lacks
    assert v.test_mount.supported
    assert f"mount -t ext2fs -o ro {DEV} /tmp/gda.x1" in v.test_mount.commands
    assert "umount /tmp/gda.x1" in v.test_mount.commands
    assert v.fstab_line == f"{DEV}  /mnt/linux-data  ext2fs  rw  0  2"
    assert v.glabel_path == "/dev/ext2fs/linux-data"
    # a 4K-sector provider: g_label_ext2fs.c needs EXT2FS_SB_OFFSET % sectorsize == 0
    v4k = verify_host_fs(
        DEV,
        fstyp_says("ext2fs linux-data\n"),
        parse_od_hex(dump),
        Expected("ext4", "linux-data", UUID),
        sector_size=4096,
    )
    assert v4k.verified and v4k.glabel_path is None
    assert v.to_json()["superblock"]["uuid"] == UUID


def test_ext4_other_uuid_or_label_is_a_finding(tmp_path: Path) -> None:
    data = parse_od_hex(ext4(tmp_path))
    other = "00000000-1111-2222-3333-444444444444"
    v = verify_host_fs(DEV, fstyp_says("ext2fs linux-data\n"), data, Expected("ext4", "linux-data", other))
    assert not v.verified
    (f,) = v.findings
    assert f.code == "sb-uuid" and UUID in f.message and other in f.message
    v2 = verify_host_fs(DEV, fstyp_says("ext2fs scratch\n"), data, Expected("ext4", "scratch", UUID))
    assert {f.code for f in v2.findings} == {"sb-label"}  # fstyp agrees with format, the superblock does not
    v3 = verify_host_fs(DEV, fstyp_says("ext2fs other\n"), data, Expected("ext4", "linux-data", UUID))
    assert [f.code for f in v3.findings] == ["fstyp-label"]


def test_fstyp_sees_something_else(tmp_path: Path) -> None:
    data = parse_od_hex(ext4(tmp_path))
    v = verify_host_fs(DEV, fstyp_says("zfs zdata\n"), data, Expected("ext4", "linux-data", UUID))
    assert [f.code for f in v.findings] == ["fstyp-type"] and "zfs" in v.findings[0].message


def test_ext4_features_freebsd_cannot_mount(tmp_path: Path) -> None:
    data = parse_od_hex(ext4(tmp_path, "-O", "inline_data,quota"))
    v = verify_host_fs(DEV, fstyp_says("ext2fs linux-data\n"), data, Expected("ext4", "linux-data", UUID))
    by_code = {f.code: f for f in v.findings}
    assert (
        by_code["freebsd-incompat"].severity == "error"
        and "inline_data" in by_code["freebsd-incompat"].message
    )
    assert (
        by_code["freebsd-ro-compat"].severity == "warning" and "quota" in by_code["freebsd-ro-compat"].message
    )
    assert not v.verified


def test_xfs_verified_from_the_superblock_alone(tmp_path: Path) -> None:
    data = parse_od_hex(xfs(tmp_path))
    sb = parse_superblock(data)
    assert sb is not None and (sb.kind, sb.uuid, sb.label) == ("xfs", UUID, "linux-data")
    v = verify_host_fs(DEV, NOT_RECOGNIZED, data, Expected("xfs", "linux-data", UUID))
    assert v.verified, [f.message for f in v.findings]
    assert not v.test_mount.supported and v.test_mount.commands == ()
    assert "fusefs-lkl" in v.test_mount.note
    assert v.fstab_line is None and v.glabel_path is None
    bad = verify_host_fs(DEV, NOT_RECOGNIZED, data, Expected("ext4", "linux-data", UUID))
    assert {f.code for f in bad.findings} == {"fstyp-type", "sb-type"}


def test_no_superblock_and_bad_dump() -> None:
    zeros = bytes(4096)
    v = verify_host_fs(DEV, NOT_RECOGNIZED, zeros, Expected("ext4", "linux-data", UUID))
    assert {f.code for f in v.findings} == {"fstyp-type", "no-superblock"}
    assert parse_superblock(zeros) is None
    with pytest.raises(ValueError, match="not od"):
        parse_od_hex("0000000 00 00\n")
    unread = verify_host_fs(DEV, fstyp_says("", None, ""), None, Expected("xfs", None, None))
    assert {f.code for f in unread.findings} == {"fstyp-failed", "no-superblock"}
