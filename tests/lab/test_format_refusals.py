"""Issue 9, items 1 and 2, on the real guest: a disk that backs a loop device, and FreeBSD GEOM metadata.

1. In the guest, a loop device set up on the NVMe disk 1 MiB in (nothing shows at sector 0), formatted and
   mounted: ``format`` refuses naming the loop device, also with ``--force --yes``; and the guard refuses
   on its own when the loop appears after discovery.
2. ``GEOM::ELI`` written into the last sector of the disk image on the host side (the host partition):
   ``format`` refuses naming the class; ``--force --yes`` (the class was named in the refusal) formats,
   and the host no longer sees the GEOM metadata.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterator

import pytest

from agent.core.disk.candidates import FormatPlan, select_disk
from agent.core.disk.guard import interpret_guard, render_guard_script
from agent.errors import Refused
from agent.inventory import load_inventory
from agent.ops import format_disk as fmt
from tests.lab.conftest import Lab
from tests.lab.test_format import SERIAL, Guest, nvme_paths


@pytest.fixture(scope="module")
def one(lab: Lab, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Guest]:
    lab.boot(disk1=True, nic_slot=5)
    g = Guest(lab, lab.inventory(tmp_path_factory.mktemp("inv-refusals")), {1: nvme_paths(lab)[SERIAL]})
    assert g.probe(1) == {}
    yield g


LOOP_SETUP = (
    "set -e; l=$(losetup -f --show -o 1048576 {dev}); mkfs.ext4 -q -F -L inner $l; "
    "mkdir -p /mnt/inner; mount $l /mnt/inner; echo precious >/mnt/inner/data; sync; echo $l"
)


def _teardown(one: Guest, loop: str) -> str:
    """Unmount, check the inner filesystem read-only (its state before detaching), detach."""
    q = shlex.quote(loop)
    return one.root(
        f"cat /mnt/inner/data; umount /mnt/inner && e2fsck -n -f {q} >/dev/null 2>&1; echo rc=$?; "
        f"losetup -d {q}"
    )


def test_a_disk_backing_a_mounted_loop_device_is_refused(one: Guest) -> None:
    one.ensure_blank()
    loop = one.root(LOOP_SETUP.format(dev=shlex.quote(one.devs[1]))).strip().splitlines()[-1]
    assert loop.startswith("/dev/loop")
    try:  # (the mounted inner ext4 keeps writing: lazy inode-table init, journal; no fingerprint)
        r = one.cli("format", "--fs", "ext4")
        assert r.returncode == 1, r.stdout + r.stderr
        assert f"backs loop device {loop}" in r.stderr, r.stderr
        r = one.cli("format", "--fs", "xfs", "--force", "--yes")
        assert r.returncode == 1, r.stdout + r.stderr
        assert f"backs loop device {loop}" in r.stderr and "--force overwrites" not in r.stderr, r.stderr
        assert one.probe() == {}  # nothing was made on the disk itself
    finally:
        out = _teardown(one, loop)
    assert "precious" in out and "rc=0" in out, out


def test_the_guard_refuses_a_loop_device_set_up_after_discovery(one: Guest) -> None:
    one.ensure_blank()
    _, guest = load_inventory(one.inv).choose(None)
    opts = fmt.FormatOptions(fs="ext4")
    with one.lab.ssh() as s:
        facts = fmt.gather_facts(s)
        plan = select_disk(facts, "ext4", pins=fmt.pins_for(guest, opts.device, opts.serial))
        assert isinstance(plan, FormatPlan)
        spec, _, _ = fmt.plan_mkfs(plan, facts, opts, None, lambda _m: None)
        r = s.run(LOOP_SETUP.format(dev=shlex.quote(one.devs[1])), root=True, timeout=120)
        assert r.status == 0, r.stderr
        loop = r.stdout.strip().splitlines()[-1]
        try:
            r = s.run(render_guard_script(spec), root=True, timeout=300)
            with pytest.raises(Refused) as e:
                interpret_guard(r.stdout, r.status, spec)
            assert f"backs {loop}" in e.value.message and "nothing was changed" in e.value.message
            assert "mkfs_argv" not in r.stdout and one.probe() == {}
        finally:
            out = _teardown(one, loop)
    assert "precious" in out and "rc=0" in out, out


def test_geli_metadata_in_the_host_partition_is_refused_naming_the_class(one: Guest) -> None:
    one.ensure_blank()
    image = one.lab.paths.disk(1)
    size = image.stat().st_size
    with image.open("r+b") as f:  # the host's view: its partition, GELI-initialised
        f.seek(size - 512)
        f.write(b"GEOM::ELI".ljust(16, b"\0") + bytes(range(1, 100)))
    one.root(f"blockdev --flushbufs {shlex.quote(one.devs[1])}")
    try:
        r = one.cli("format", "--fs", "ext4")
        assert r.returncode == 1, r.stdout + r.stderr
        assert "GEOM::ELI (FreeBSD geli (encrypted) metadata in the last sector" in r.stderr, r.stderr
        assert "--force" in r.stderr

        r = one.cli("format", "--fs", "ext4", "--force")  # no --yes and no terminal: names it, refuses
        assert r.returncode == 1 and "--force would destroy GEOM::ELI" in r.stderr, r.stderr

        r = one.cli("format", "--fs", "ext4", "--force", "--yes", "--label", "aftergeli")
        assert r.returncode == 0, r.stdout + r.stderr
        assert one.probe()["TYPE"] == "ext4"
        with image.open("rb") as f:
            f.seek(size - 512)
            assert not f.read(16).startswith(b"GEOM::")
    finally:
        one.ensure_blank()
