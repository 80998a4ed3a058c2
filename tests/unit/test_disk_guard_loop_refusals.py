"""Issue 9, items 1-4, for real: discovery and the guard script against loop devices (root + losetup).

1. a disk that backs another loop device (set up with an offset, so nothing shows at sector 0) is in use;
2. FreeBSD GEOM metadata (``GEOM::ELI`` in the last sector) is a signature naming its class;
3. a device node that leads elsewhere after mkfs than before is a ChangeFailed, never a success;
4. the force option confirms the very signature shown: another ext4 (new UUID) is refused.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.core.disk import guard as g
from agent.core.disk.devices import Disk
from agent.core.disk.guard_codes import GuardExit
from agent.core.disk.mkfs import build_mkfs_argv
from agent.core.disk.probe import parse_facts, render_facts_script
from agent.errors import ChangeFailed, Refused
from tests.unit.test_disk_guard_loop import SIZE, blkid, digest, loop, run_guard, sh, signature_keys

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root"),
    pytest.mark.skipif(shutil.which("losetup") is None, reason="needs losetup"),
    pytest.mark.timeout(300),
]


def facts_disk(kname: str) -> Disk:
    proc = subprocess.run(
        ["sh", "-s"], input=render_facts_script(), capture_output=True, text=True, check=True, timeout=60
    )
    (d,) = [d for d in parse_facts(proc.stdout).disks if d.kname == kname]
    return d


@contextlib.contextmanager
def inner_loop(dev: str, offset: int = 1024 * 1024) -> Iterator[str]:
    """A loop device on ``dev`` starting ``offset`` bytes in; always detached."""
    inner = sh("losetup", "-f", "--show", "-o", str(offset), dev).stdout.strip()
    try:
        yield inner
    finally:
        subprocess.run(["losetup", "-d", inner], check=False)


def test_a_disk_backing_a_mounted_loop_device_is_refused_by_discovery_and_guard(tmp_path: Path) -> None:
    with loop(tmp_path) as (dev, _), inner_loop(dev) as inner:
        sh("mkfs.ext4", "-q", "-F", inner)
        mnt = tmp_path / "mnt"
        mnt.mkdir()
        sh("mount", inner, str(mnt))
        try:
            (mnt / "data").write_text("precious")
            sh("sync")
            assert "TYPE" not in blkid(dev)  # nothing shows at the disk's start
            kname = dev.removeprefix("/dev/")
            d = facts_disk(kname)
            assert d.loop_devices == (inner.removeprefix("/dev/"),)

            for expected in ((), ("ext4",)):  # with or without force: never
                proc, spec = run_guard(dev, "ext4", expected=expected, keys=())
                assert proc.returncode == GuardExit.LOOP, proc.stdout + proc.stderr
                with pytest.raises(Refused) as e:
                    g.interpret_guard(proc.stdout, proc.returncode, spec)
                assert f"backs {inner}" in e.value.message and "nothing was changed" in e.value.message
            assert "mkfs_argv" not in proc.stdout
        finally:
            sh("umount", str(mnt))
        fsck = sh("e2fsck", "-n", "-f", inner, check=False)
        assert fsck.returncode == 0, fsck.stdout + fsck.stderr


def test_geli_metadata_is_a_signature_in_discovery_and_guard(tmp_path: Path) -> None:
    with loop(tmp_path) as (dev, img):
        with img.open("r+b") as f:
            f.seek(SIZE - 512)
            f.write(b"GEOM::ELI".ljust(16, b"\0") + b"\x07" * 100)
        sh("blockdev", "--flushbufs", dev)
        d = facts_disk(dev.removeprefix("/dev/"))
        sigs = d.signatures.content_signatures
        assert [s.type for s in sigs] == ["GEOM::ELI"] and sigs[0].offset == hex(SIZE - 512)

        before = digest(img)
        proc, spec = run_guard(dev, "ext4")
        assert proc.returncode == GuardExit.SIGNATURE, proc.stdout + proc.stderr
        with pytest.raises(Refused) as e:
            g.interpret_guard(proc.stdout, proc.returncode, spec)
        assert "signatures [GEOM::ELI], expected []" in e.value.message
        assert digest(img) == before

        # the force option, with the class shown and confirmed: the key carries the class and offset
        keys = (sigs[0].key,)
        assert keys == (f"GEOM::ELI,{hex(SIZE - 512)},",)
        proc, spec = run_guard(dev, "ext4", expected=("GEOM::ELI",), keys=keys)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert blkid(dev)["TYPE"] == "ext4"
        with img.open("rb") as f:
            f.seek(SIZE - 512)
            assert not f.read(16).startswith(b"GEOM::"), "mkfs left the GEOM metadata for the host to taste"


def test_geom_metadata_beyond_the_filesystem_end_is_cleared_after_a_confirmed_mkfs(tmp_path: Path) -> None:
    """A size that is no multiple of ext4's 4 KiB block: mke2fs leaves the last sector alone."""
    size = SIZE + 512
    img = tmp_path / "odd.img"
    with img.open("wb") as f:
        f.truncate(size)
        f.seek(size - 512)
        f.write(b"GEOM::MIRROR".ljust(16, b"\0"))
    with loop(tmp_path, "odd.img") as (dev, _):
        keys = (f"GEOM::MIRROR,{hex(size - 512)},",)
        proc, spec = run_guard(dev, "ext4", size=size, expected=("GEOM::MIRROR",), keys=keys)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert "OBS geom_cleared=0" in proc.stdout
        assert f"OBS raw_last_after={'0' * 32}" in proc.stdout  # read again after mkfs: cleared
        g.interpret_guard(proc.stdout, 0, spec)
        assert blkid(dev)["TYPE"] == "ext4"
    with img.open("rb") as f:
        f.seek(size - 512)
        assert f.read(512) == bytes(512)


def test_another_ext4_than_the_confirmed_one_is_refused(tmp_path: Path) -> None:
    with loop(tmp_path) as (dev, img):
        sh("mkfs.ext4", "-q", "-F", "-L", "confirmed", dev)
        confirmed = signature_keys(dev)
        sh("mkfs.ext4", "-q", "-F", "-L", "other", dev)  # same type, another filesystem (new UUID)
        assert signature_keys(dev) != confirmed
        before = digest(img)
        proc, spec = run_guard(dev, "xfs", expected=("ext4",), keys=confirmed)
        assert proc.returncode == GuardExit.SIGNATURE_ID, proc.stdout + proc.stderr
        with pytest.raises(Refused) as e:
            g.interpret_guard(proc.stdout, proc.returncode, spec)
        assert "not the ones confirmed" in e.value.message
        assert confirmed[0].rsplit(",", 1)[1] in e.value.message
        assert digest(img) == before and blkid(dev)["LABEL"] == "other"
        # the confirmed one itself passes
        proc, spec = run_guard(dev, "xfs", expected=("ext4",))
        assert proc.returncode == 0, proc.stdout + proc.stderr


def test_a_node_that_leads_elsewhere_after_mkfs_is_a_change_failure(tmp_path: Path) -> None:
    """A device node in a private /dev directory named like disk A; a stand-in mkfs.ext4 points it at
    disk B before running the real mkfs: the guard must not report success."""
    real_mkfs = shutil.which("mkfs.ext4")
    assert real_mkfs
    with loop(tmp_path, "a.img") as (dev_a, _), loop(tmp_path, "b.img") as (dev_b, _):
        ka, kb = dev_a.removeprefix("/dev/"), dev_b.removeprefix("/dev/")
        ma, mb = (Path(f"/sys/class/block/{k}/dev").read_text().strip().split(":") for k in (ka, kb))
        nodedir = Path(sh("mktemp", "-d", "/dev/gda-test.XXXXXX").stdout.strip())
        try:
            node = nodedir / ka
            sh("mknod", str(node), "b", *ma)
            bindir = tmp_path / "bin"
            bindir.mkdir()
            fake = bindir / "mkfs.ext4"
            fake.write_text(
                f"#!/bin/sh\nrm -f '{node}'\nmknod '{node}' b {mb[0]} {mb[1]}\nexec '{real_mkfs}' \"$@\"\n"
            )
            fake.chmod(0o755)
            spec = g.GuardSpec(
                device_path=str(node),
                fs="ext4",
                mkfs_argv=build_mkfs_argv("ext4", label="swapped", no_discard=True, force=True),
                expected_size_bytes=SIZE,
                expected_serial=None,
            )
            env = {**os.environ, "PATH": f"{bindir}:{os.environ['PATH']}"}
            proc = subprocess.run(
                ["sh", "-s"],
                input=g.render_guard_script(spec),
                capture_output=True,
                text=True,
                env=env,
                check=False,
                timeout=200,
            )
            assert proc.returncode == GuardExit.IDENTITY_AFTER, proc.stdout + proc.stderr
            with pytest.raises(ChangeFailed) as e:
                g.interpret_guard(proc.stdout, proc.returncode, spec)
            assert "another device after mkfs" in e.value.message
            assert f"node={':'.join(mb)}" in e.value.message
            assert "TYPE" not in blkid(dev_a) and blkid(dev_b).get("LABEL") == "swapped"
        finally:
            shutil.rmtree(nodedir, ignore_errors=True)
