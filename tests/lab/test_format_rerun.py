"""A rerun of `invoke format` on a disk that already carries ext4 (issue 9, item 5), on the real lab guest.

The existing filesystem is reused only when it matches the request: another label, or the FreeBSD profile
asked for on an ext4 made with upstream Linux defaults (e2fsprogs 1.47: orphan_file and
metadata_csum_seed on; Debian 12's mke2fs.conf leaves them off, so the test names them explicitly), is a
refusal naming what differs (exit 1, the disk untouched); the same request is a no-op (exit 0).
"""

from __future__ import annotations

import shlex
from collections.abc import Iterator

import pytest

from tests.lab.conftest import Lab
from tests.lab.test_format import SERIAL, Guest, nvme_paths, result_json

LINUX_DEFAULTS = "-O orphan_file,metadata_csum_seed"  # upstream 1.47 mke2fs.conf (and Ubuntu 24.04)


@pytest.fixture(scope="module")
def guest(lab: Lab, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Guest]:
    lab.boot(disk1=True, nic_slot=5, disk1_slot=16)  # slot 16: QEMU is given addr=0x10
    paths = nvme_paths(lab)
    yield Guest(lab, lab.inventory(tmp_path_factory.mktemp("inv-rerun")), {1: paths[SERIAL]})


def test_a_disk_at_slot_sixteen_is_at_pci_address_0x10(guest: Guest) -> None:
    # QEMU reads a bare addr=16 as 0x16 (slot 22) and refuses addr=20: the lab writes addr=0x10.
    assert guest.root("basename $(readlink -f /sys/class/nvme/nvme0/device)").strip() == "0000:00:10.0"


def test_rerun_compares_label_and_freebsd_features(guest: Guest) -> None:
    dev = shlex.quote(guest.devs[1])
    guest.root(f"wipefs -a -q {dev} && mkfs.ext4 -q -F -L data {LINUX_DEFAULTS} {dev} && sync")
    uuid = guest.probe()["UUID"]
    before = guest.fingerprint()

    # the FreeBSD profile on a Linux-defaults ext4: refused, naming the features
    r = guest.cli("format", "--fs", "ext4", "--label", "data", "--host-compat", "freebsd")
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert "orphan_file" in r.stderr and "metadata_csum_seed" in r.stderr, r.stderr
    assert "--force" in r.stderr and uuid in r.stderr
    assert "nothing to do" not in (r.stdout + r.stderr).lower()

    # another label: refused, naming both labels
    r = guest.cli("format", "--fs", "ext4", "--label", "other")
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert "'data'" in r.stderr and "'other'" in r.stderr and "--force" in r.stderr, r.stderr
    assert guest.fingerprint() == before

    # the same request: nothing to do
    data = result_json(guest.cli("format", "--fs", "ext4", "--label", "data", "--json"))
    assert data["action"] == "nothing-to-do" and data["uuid"] == uuid
    assert guest.fingerprint() == before

    # --force recreates it with the FreeBSD profile; then the same FreeBSD request is a no-op
    data = result_json(
        guest.cli(
            "format",
            "--fs",
            "ext4",
            "--label",
            "data",
            "--host-compat",
            "freebsd",
            "--force",
            "--yes",
            "--json",
        )
    )
    assert data["action"] == "formatted" and data["uuid"] != uuid
    features = guest.root(f"dumpe2fs -h {dev} 2>/dev/null | sed -n 's/^Filesystem features: *//p'").split()
    assert "orphan_file" not in features and "metadata_csum_seed" not in features
    data = result_json(
        guest.cli("format", "--fs", "ext4", "--label", "data", "--host-compat", "freebsd", "--json")
    )
    assert data["action"] == "nothing-to-do"


def test_a_filesystem_udev_has_not_seen_is_found_by_the_guard_then_decided_on(guest: Guest) -> None:
    """With udev's queue held, an ext4 written behind its back is not in its database: lsblk (the part of
    the facts that needs no root) shows a blank disk, so the format goes straight to the guard, which
    finds the ext4 under the lock and writes nothing; the content probes then find it made as asked,
    and the task is the rerun's no-op. Another label is the rerun's refusal, naming both."""
    dev = shlex.quote(guest.devs[1])
    guest.root(f"wipefs -a -q {dev} && udevadm settle")
    try:
        guest.root(f"udevadm control --stop-exec-queue && mkfs.ext4 -q -F -L held {dev} && sync")
        seen = guest.root(f"lsblk -n -d -o FSTYPE {dev}").strip()
        assert seen == "", f"udev's database knows the new ext4 already ({seen!r}): the test cannot tell"
        uuid = guest.probe()["UUID"]
        before = guest.fingerprint()

        r = guest.cli("format", "--fs", "ext4", "--label", "held", "--json")
        data = result_json(r)
        assert data["action"] == "nothing-to-do" and data["uuid"] == uuid, data
        assert data["remote_commands"] == 3, data  # the user part, the guard's refusal, the root part
        assert "is not empty (nothing was written): reading what it carries" in r.stderr, r.stderr

        r = guest.cli("format", "--fs", "ext4", "--label", "other")
        assert r.returncode == 1, (r.stdout, r.stderr)
        assert "'held'" in r.stderr and "'other'" in r.stderr, r.stderr
        assert guest.fingerprint() == before and guest.probe()["UUID"] == uuid
    finally:
        guest.root(f"udevadm control --start-exec-queue; udevadm settle; wipefs -a -q {dev} && sync")
    assert guest.probe() == {}
