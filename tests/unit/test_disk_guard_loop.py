"""The guard script for real, against loop devices on sparse files (root + losetup, else skipped).

Every refusal is checked to leave the image byte-identical; successes are verified with an independent
``blkid -p``.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.core import marker
from agent.core.disk import guard as g
from agent.core.disk.devices import ProbeState
from agent.core.disk.ext4_freebsd import check_freebsd_compat, freebsd_ext4_profile
from agent.core.disk.guard_codes import GuardExit
from agent.core.disk.mkfs import FsType, build_mkfs_argv
from agent.core.disk.probe import disks_to_probe, parse_facts, parse_facts_parts, render_facts_script
from agent.core.disk.signatures import parse_wipefs_json
from agent.errors import Refused, RemoteError
from tests.unit.disk_fixtures import disk

SIZE = 320 * 1024 * 1024

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root"),
    pytest.mark.skipif(shutil.which("losetup") is None, reason="needs losetup"),
    pytest.mark.timeout(300),
]


def sh(*argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, check=check, timeout=120)


@contextlib.contextmanager
def loop(tmp_path: Path, name: str = "disk.img", partscan: bool = False) -> Iterator[tuple[str, Path]]:
    """Attach ``tmp_path/name`` (created sparse if missing) and always detach it."""
    img = tmp_path / name
    if not img.exists():
        with img.open("wb") as f:
            f.truncate(SIZE)
    args = ["losetup", "-f", "--show", *(["-P"] if partscan else []), str(img)]
    proc = subprocess.run(args, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        pytest.skip(f"losetup failed: {proc.stderr.strip()}")
    dev = proc.stdout.strip()
    try:
        yield dev, img
    finally:
        subprocess.run(["losetup", "-d", dev], check=False)


def digest(img: Path) -> str:
    return hashlib.sha256(img.read_bytes()).hexdigest()


def signature_keys(dev: str) -> tuple[str, ...]:
    """The ``type,offset,uuid`` keys discovery would confirm for ``dev`` (wipefs JSON, as discovery)."""
    out = sh("wipefs", "--no-act", "--json", "--output", "UUID,LABEL,LENGTH,TYPE,OFFSET,USAGE,DEVICE", dev)
    sigs = parse_wipefs_json(out.stdout)
    return tuple(sorted({s.key for s in sigs if not s.is_partition_table}))


def run_guard(
    dev: str,
    fs: FsType = "ext4",
    expected: tuple[str, ...] = (),
    size: int = SIZE,
    serial: str | None = None,
    lock_timeout: int = 10,
    label: str | None = "gda-test",
    wwn: str | None = None,
    verify_dumpe2fs: bool = False,
    mkfs_argv: tuple[str, ...] | None = None,
    keys: tuple[str, ...] | None = None,  # None: what wipefs sees now (as discovery would have)
) -> tuple[subprocess.CompletedProcess[str], g.GuardSpec]:
    spec = g.GuardSpec(
        device_path=dev,
        fs=fs,
        mkfs_argv=mkfs_argv or build_mkfs_argv(fs, label=label, no_discard=True, force=True),
        expected_size_bytes=size,
        expected_serial=serial,
        expected_signatures=expected,
        expected_signature_keys=signature_keys(dev) if expected and keys is None else (keys or ()),
        expected_wwn=wwn,
        verify_dumpe2fs=verify_dumpe2fs,
        lock_timeout_s=lock_timeout,
    )
    proc = subprocess.run(
        ["sh", "-s"],
        input=g.render_guard_script(spec),
        capture_output=True,
        text=True,
        check=False,
        timeout=200,
    )
    return proc, spec


def blkid(dev: str) -> dict[str, str]:
    out = sh("blkid", "-p", "-o", "export", dev, check=False).stdout
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


def assert_refused(dev: str, img: Path, code: int, **kw: object) -> Refused:
    before = digest(img)
    proc, spec = run_guard(dev, **kw)  # type: ignore[arg-type]
    assert proc.returncode == code, proc.stdout + proc.stderr
    with pytest.raises(Refused) as ei:
        g.interpret_guard(proc.stdout, proc.returncode, spec)
    assert digest(img) == before, "a refusal must not touch the device"
    return ei.value


def test_ext4_then_idempotent_refusal_then_forced_xfs(tmp_path: Path) -> None:
    with loop(tmp_path) as (dev, img):
        proc, spec = run_guard(dev, "ext4")
        assert proc.returncode == 0, proc.stdout + proc.stderr
        res = g.interpret_guard(proc.stdout, 0, spec)
        real = blkid(dev)
        assert real["TYPE"] == "ext4" and "PTTYPE" not in real
        assert res.uuid == real["UUID"] and res.label == "gda-test" == real["LABEL"]
        assert res.device == dev and res.mkfs_seconds is not None and 0 <= res.mkfs_seconds < 120

        err = assert_refused(dev, img, GuardExit.SIGNATURE, fs="xfs")
        assert "signatures [ext4], expected []" in err.message

        proc, spec = run_guard(dev, "xfs", expected=("ext4",))
        assert proc.returncode == 0, proc.stdout
        assert blkid(dev)["TYPE"] == "xfs"
        assert g.interpret_guard(proc.stdout, 0, spec).fs == "xfs"


def test_verification_needs_a_uuid(tmp_path: Path) -> None:
    with loop(tmp_path) as (dev, _):
        proc, spec = run_guard(dev, mkfs_argv=("mkfs.ext4", "-q", "-F", "-E", "nodiscard", "-U", "clear"))
        assert proc.returncode == GuardExit.VERIFY_FAILED, proc.stdout + proc.stderr
        assert "TYPE" in blkid(dev) and "UUID" not in blkid(dev)
        with pytest.raises(RemoteError, match="with a UUID"):
            g.interpret_guard(proc.stdout, proc.returncode, spec)


def test_dumpe2fs_block_for_the_freebsd_check(tmp_path: Path) -> None:
    if shutil.which("dumpe2fs") is None:
        pytest.skip("needs dumpe2fs")
    with loop(tmp_path) as (dev, _):
        profile = freebsd_ext4_profile(_mke2fs_version())
        argv = build_mkfs_argv("ext4", no_discard=True, force=True, extra_args=profile.args)
        proc, spec = run_guard(dev, mkfs_argv=argv, verify_dumpe2fs=True)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        res = g.interpret_guard(proc.stdout, 0, spec)
        assert res.dumpe2fs is not None and "Filesystem features:" in res.dumpe2fs
        assert res.uuid is not None and res.uuid in res.dumpe2fs
        assert check_freebsd_compat(res.dumpe2fs) == []
        proc, spec = run_guard(dev, expected=("ext4",))  # without the flag: no dumpe2fs block
        assert g.interpret_guard(proc.stdout, proc.returncode, spec).dumpe2fs is None


def _mke2fs_version() -> str:
    out = subprocess.run(["mke2fs", "-V"], capture_output=True, text=True, check=False)
    return (out.stdout + out.stderr).split()[1]


def test_identity_checks(tmp_path: Path) -> None:
    with loop(tmp_path) as (dev, img):
        err = assert_refused(dev, img, GuardExit.SIZE, size=SIZE + 512)
        assert f"size is {SIZE} bytes, expected {SIZE + 512}" in err.message
        err = assert_refused(dev, img, GuardExit.SERIAL, serial="Y39B70RTK7AS")
        assert "serial is '', expected 'Y39B70RTK7AS'" in err.message
        # a loop device has no WWN/wwid: a namespace identity from discovery cannot match it
        wwn = "nvme.1b36-59333942373052544b374153-51454d55204e564d65204374726c-00000001"
        err = assert_refused(dev, img, GuardExit.WWN, wwn=wwn)
        assert f"WWN is '', expected '{wwn}'" in err.message and "nothing was changed" in err.message
    proc, spec = run_guard("/dev/disk/by-id/nvme-does-not-exist")
    assert proc.returncode == GuardExit.NO_DEVICE
    with pytest.raises(Refused, match="resolves to"):
        g.interpret_guard(proc.stdout, proc.returncode, spec)


def test_partition_tables_are_refused_including_a_lone_backup_gpt(tmp_path: Path) -> None:
    if shutil.which("sfdisk") is None:
        pytest.skip("needs sfdisk to build the test image")
    img = tmp_path / "gpt.img"
    with img.open("wb") as f:
        f.truncate(SIZE)
    subprocess.run(
        ["sfdisk", "-q", str(img)], input="label: gpt\n,10M\n", text=True, check=True, capture_output=True
    )
    with loop(tmp_path, "gpt.img") as (dev, _):
        err = assert_refused(dev, img, GuardExit.PARTITION_TABLE)
        assert "gpt-backup" in err.message and "gpt-primary" in err.message
    # wipe the protective MBR and the primary header: only the backup at the end remains
    with img.open("r+b") as f:
        f.write(b"\0" * 512 * 34)
    with loop(tmp_path, "gpt.img") as (dev, _):
        assert sh("blkid", "-p", dev, check=False).returncode == 2  # libblkid alone does not see it
        err = assert_refused(dev, img, GuardExit.PARTITION_TABLE)
        assert "gpt-backup" in err.message


def test_partitions_are_refused(tmp_path: Path) -> None:
    if shutil.which("sfdisk") is None or shutil.which("blockdev") is None:
        pytest.skip("needs sfdisk and blockdev")
    img = tmp_path / "p.img"
    with img.open("wb") as f:
        f.truncate(SIZE)
    subprocess.run(
        ["sfdisk", "-q", str(img)], input="label: dos\n,10M\n", text=True, check=True, capture_output=True
    )
    with loop(tmp_path, "p.img", partscan=True) as (dev, _):
        sh("blockdev", "--rereadpt", dev, check=False)
        kname = dev.rsplit("/", 1)[1]
        if not Path(f"/sys/class/block/{kname}/{kname}p1").exists() and shutil.which("partx"):
            sh("partx", "-a", dev, check=False)  # test setup only: tell the kernel about the partition
        if not Path(f"/sys/class/block/{kname}/{kname}p1/partition").exists():
            pytest.skip("the kernel did not scan the loop device's partitions")
        err = assert_refused(dev, img, GuardExit.PARTITIONS)
        assert f"partitions {kname}p1" in err.message
        proc, _ = run_guard(f"{dev}p1")
        assert proc.returncode == GuardExit.NOT_WHOLE_DISK


def test_a_held_lock_is_refused(tmp_path: Path) -> None:
    with loop(tmp_path) as (dev, img):
        fd = os.open(dev, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_SH)  # like udev probing it
            assert_refused(dev, img, GuardExit.LOCKED, lock_timeout=1)
        finally:
            os.close(fd)


def test_mounted_device_is_refused(tmp_path: Path) -> None:
    with loop(tmp_path) as (dev, img):
        # no lazy inode-table init and a read-only mount: the kernel then writes nothing to the image
        # by itself (ext4lazyinit would, and the digest check below would blame the guard)
        sh("mkfs.ext4", "-q", "-F", "-E", "lazy_itable_init=0,lazy_journal_init=0", dev)
        mnt = tmp_path / "mnt"
        mnt.mkdir()
        if (
            subprocess.run(["mount", "-o", "ro", dev, str(mnt)], capture_output=True, check=False).returncode
            != 0
        ):
            pytest.skip("mount is not permitted here")
        try:
            err = assert_refused(dev, img, GuardExit.MOUNTED, expected=("ext4",))
            assert str(mnt) in err.message
        finally:
            subprocess.run(["umount", str(mnt)], check=False)


def test_active_swap_is_refused(tmp_path: Path) -> None:
    with loop(tmp_path) as (dev, img):
        sh("mkswap", dev)
        if subprocess.run(["swapon", dev], capture_output=True, check=False).returncode != 0:
            pytest.skip("swapon is not permitted here")
        try:
            assert_refused(dev, img, GuardExit.SWAP, expected=("swap",))
        finally:
            subprocess.run(["swapoff", dev], check=False)


def test_not_root_is_refused_before_anything(tmp_path: Path) -> None:
    if shutil.which("setpriv") is None:
        pytest.skip("needs setpriv")
    with loop(tmp_path) as (dev, img):
        spec = g.GuardSpec(dev, "ext4", build_mkfs_argv("ext4", force=True), SIZE, None)
        before = digest(img)
        proc = subprocess.run(
            ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "sh", "-s"],
            input=g.render_guard_script(spec), capture_output=True, text=True, check=False, cwd="/",
        )  # fmt: skip
        assert proc.returncode == GuardExit.NOT_ROOT, proc.stdout + proc.stderr
        assert digest(img) == before


def test_facts_script_sees_the_loop_devices(tmp_path: Path) -> None:
    with loop(tmp_path, "a.img") as (blank, _), loop(tmp_path, "b.img") as (fsdev, _):
        sh("mkfs.xfs", "-q", "-f", "-L", "factsxfs", fsdev)
        facts = parse_facts(_facts())
        b, x = disk(facts, blank), disk(facts, fsdev)
        assert b.signatures.state is ProbeState.NONE and b.size_bytes == SIZE
        assert x.signatures.state is ProbeState.FOUND
        assert [(s.type, s.label) for s in x.signatures.signatures] == [("xfs", "factsxfs")]


def test_the_two_parts_find_what_the_one_run_finds(tmp_path: Path) -> None:
    """As over SSH: the user part as an unprivileged user (nobody), the root part as root on the disks
    it listed. The content probes agree with the one run's, disk by disk."""
    if shutil.which("setpriv") is None:
        pytest.skip("needs setpriv")
    with (
        loop(tmp_path, "a.img") as (blank, _),
        loop(tmp_path, "b.img") as (xfs, _),
        loop(tmp_path, "c.img") as (ext4, _),
    ):
        sh("mkfs.xfs", "-q", "-f", "-L", "partsxfs", xfs)
        sh("mkfs.ext4", "-q", "-F", "-L", "partsext4", ext4)
        nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
        user = subprocess.run(
            [*nobody, "sh", "-s"], input=render_facts_script(part="user"), capture_output=True, text=True,
            check=True, timeout=60, cwd="/",
        ).stdout  # fmt: skip
        raw = marker.parse(user, "FACTS")
        assert raw.attrs["uid"] == "65534" and raw.complete
        disks = disks_to_probe(raw)
        names = {d.removeprefix("/dev/") for d in (blank, xfs, ext4)}
        assert names <= set(disks)
        root = subprocess.run(
            ["sh", "-s"], input=render_facts_script(versions=(), part="root", disks=disks),
            capture_output=True, text=True, check=True, timeout=60,
        ).stdout  # fmt: skip
        two, one = parse_facts_parts(user, root), parse_facts(_facts())
        assert two.uid == 0 and two.complete
        for dev in (blank, xfs, ext4):
            a, b = disk(two, dev), disk(one, dev)
            assert (a.signatures, a.size_bytes, a.fdisk, a.dumpe2fs) == (
                b.signatures,
                b.size_bytes,
                b.fdisk,
                b.dumpe2fs,
            )
        assert disk(two, blank).signatures.state is ProbeState.NONE
        assert [(s.type, s.label) for s in disk(two, xfs).signatures.signatures] == [("xfs", "partsxfs")]
        assert disk(two, ext4).dumpe2fs is not None and "partsext4" in disk(two, ext4).dumpe2fs
        # the listing's root part: the same signatures, without what only a format reads
        listing = subprocess.run(
            ["sh", "-s"], input=render_facts_script(versions=(), part="root", disks=disks, report=False),
            capture_output=True, text=True, check=True, timeout=60,
        ).stdout  # fmt: skip
        assert {s.name for s in marker.parse(listing, "FACTS").sections} == {"wipefs", "rawsig"}
        lean = parse_facts_parts(user, listing)
        for dev in (blank, xfs, ext4):
            assert disk(lean, dev).signatures == disk(two, dev).signatures
            assert (disk(lean, dev).fdisk, disk(lean, dev).dumpe2fs) == (None, None)


def _facts() -> str:
    proc = subprocess.run(
        ["sh", "-s"], input=render_facts_script(), capture_output=True, text=True, check=True, timeout=60
    )
    return proc.stdout
