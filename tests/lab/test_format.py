"""`invoke format` and `invoke disks` against the real lab guest (real sshd, sudo, NVMe and mkfs).

Two boots: one NVMe disk with the NIC kept at slot 5 (so SSH works) for most tests, and two NVMe disks
for the ambiguity refusal and the serial pin. Outcomes are checked from the host side as well, with
``blkid -p`` on the disk images (the host's view of its partition) and a fingerprint of the image's
first 4 MiB and last 1 MiB, where every signature and partition table lives.

Tests that need a state establish it (``ensure_blank``/``ensure_ext4``; cheap when it already holds) and
restore what they change, so any single test can run alone.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shlex
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from agent.core.disk.candidates import FormatPlan, select_disk
from agent.core.disk.guard import interpret_guard, render_guard_script
from agent.errors import Refused
from agent.inventory import load_inventory
from agent.ops import format_disk as fmt
from tests.lab.conftest import Lab

SERIAL = "Y39B70RTK7AS"
SERIAL2 = "GDA2NDDISK000"
BY_ID = "/dev/disk/by-id/nvme-QEMU_NVMe_Ctrl_Y39B70RTK7AS_1"  # per namespace, not the controller link
HEAD = 4 * 1024 * 1024
TAIL = 1024 * 1024


# --------------------------------------------------------------------------------------------- helpers


@dataclass
class Guest:
    """The booted lab with its inventory and the guest's kernel path of each NVMe disk."""

    lab: Lab
    inv: Path
    devs: dict[int, str]  # lab disk number -> /dev/nvmeXn1 in the guest

    def cli(
        self,
        *args: str,
        env: dict[str, str] | None = None,
        inv: Path | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run ``invoke ARGS --inventory INV``; no expected outcome may print a traceback."""
        r = self.lab.invoke(*args, inventory=inv or self.inv, env=env)
        assert "Traceback" not in r.stderr, r.stderr
        assert "Traceback" not in r.stdout, r.stdout
        return r

    def root(self, script: str, ok: bool = True) -> str:
        """Run ``script`` as root in the guest (test setup), return stdout."""
        with self.lab.ssh() as s:
            r = s.run(script, root=True, timeout=120)
        if ok:
            assert r.status == 0, f"{script!r} exited {r.status}: {r.stderr}"
        return r.stdout

    def probe(self, n: int = 1) -> dict[str, str]:
        """``blkid -p`` of disk image ``n`` on the host: {} when it carries nothing."""
        return blkid_image(self.lab.paths.disk(n))

    def fingerprint(self, n: int = 1) -> str:
        return image_fingerprint(self.lab.paths.disk(n))

    def ensure_blank(self, n: int = 1) -> None:
        if self.probe(n):
            self.root(f"wipefs -a -q {shlex.quote(self.devs[n])} && sync")
        assert self.probe(n) == {}

    def ensure_ext4(self, n: int = 1, label: str = "data") -> str:
        """The disk carries ext4 (made here unless already there); returns its UUID."""
        p = self.probe(n)
        if p.get("TYPE") != "ext4":
            dev = shlex.quote(self.devs[n])
            self.root(f"wipefs -a -q {dev} && mkfs.ext4 -q -F -L {shlex.quote(label)} {dev} && sync")
            p = self.probe(n)
        assert p.get("TYPE") == "ext4"
        return p["UUID"]


def blkid_image(image: Path) -> dict[str, str]:
    r = subprocess.run(
        ["blkid", "-p", "-o", "export", str(image)], capture_output=True, text=True, check=False
    )
    if r.returncode == 2 and not r.stderr:
        return {}
    assert r.returncode == 0, f"blkid -p {image}: {r.returncode} {r.stderr}"
    return dict(line.split("=", 1) for line in r.stdout.splitlines() if "=" in line)


def image_fingerprint(image: Path) -> str:
    """sha256 of the first 4 MiB and the last 1 MiB (superblocks, MBR, GPT and its backup)."""
    h = hashlib.sha256()
    with image.open("rb") as f:
        h.update(f.read(HEAD))
        f.seek(-TAIL, 2)
        h.update(f.read(TAIL))
    return h.hexdigest()


def nvme_paths(lab: Lab) -> dict[str, str]:
    """serial -> /dev/nvmeXn1 in the guest."""
    with lab.ssh() as s:
        r = s.run("lsblk -dn -o PATH,SERIAL")
    assert r.status == 0, r.stderr
    return {f[1]: f[0] for f in (line.split() for line in r.stdout.splitlines()) if len(f) == 2}


def result_json(r: subprocess.CompletedProcess[str]) -> dict[str, object]:
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert isinstance(data, dict)
    return data


# -------------------------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def one(lab: Lab, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Guest]:
    """disk1 (NVMe, serial Y39B70RTK7AS) at slot 6, the NIC kept at slot 5: SSH works."""
    st = lab.boot(disk1=True, nic_slot=5)
    assert st.nic_name == "enp0s5"
    paths = nvme_paths(lab)
    g = Guest(lab, lab.inventory(tmp_path_factory.mktemp("inv1")), {1: paths[SERIAL]})
    assert g.probe(1) == {}, "a fresh boot has an empty disk1"
    yield g


@pytest.fixture(scope="module")
def two(lab: Lab, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Guest]:
    """disk1 and disk2 (serial GDA2NDDISK000), both NVMe, both blank."""
    lab.boot(disk1=True, disk2=True, nic_slot=5)
    paths = nvme_paths(lab)
    assert set(paths) >= {SERIAL, SERIAL2}
    yield Guest(lab, lab.inventory(tmp_path_factory.mktemp("inv2")), {1: paths[SERIAL], 2: paths[SERIAL2]})


# ------------------------------------------------------------------------------------ one NVMe disk


def test_disks_lists_the_nvme_as_candidate_and_vda_as_root(one: Guest) -> None:
    one.ensure_blank()
    r = one.cli("disks")
    assert r.returncode == 0, r.stderr
    rows = {line.split("│")[1].strip(): line for line in r.stdout.splitlines() if line.startswith("│ ")}
    assert {"vda", "nvme0n1"} <= set(rows)
    assert "QEMU NVMe Ctrl" in rows["nvme0n1"] and SERIAL in rows["nvme0n1"]
    assert "candidate" in rows["nvme0n1"]
    assert "excluded" in rows["vda"]
    assert "holds the root" in r.stdout

    data = json.loads(one.cli("disks", "--json").stdout)
    assert data["ok"] is True
    by_name = {d["name"]: d for d in data["disks"]}
    nvme, vda = by_name["nvme0n1"], by_name["vda"]
    assert (nvme["state"], nvme["model"], nvme["serial"]) == ("candidate", "QEMU NVMe Ctrl", SERIAL)
    assert nvme["size_bytes"] == 4 * 1024**3 and nvme["reasons"] == []
    assert vda["state"] == "excluded"
    assert "holds the root filesystem" in vda["reasons"]
    # the root disk's own ext4 is not offered to --force (it is in use)
    assert not any("--force" in reason for reason in vda["reasons"])


def test_dry_run_prints_the_plan_and_changes_nothing(one: Guest) -> None:
    one.ensure_blank()
    before = one.fingerprint()
    r = one.cli("format", "--fs", "ext4", "--label", "data", "--dry-run")
    assert r.returncode == 0, r.stderr
    assert "plan (dry run, nothing changed): ext4 on /dev/nvme0n1" in r.stdout
    assert f"serial {SERIAL}" in r.stdout
    assert f"mkfs.ext4 -L data {BY_ID}" in r.stdout
    assert "blkid -p" in r.stdout and "2 remote commands" in r.stdout

    data = result_json(one.cli("format", "--fs", "xfs", "--dry-run", "--json"))
    assert data["action"] == "dry-run"
    assert data["remote_commands"] == 2
    assert data["mkfs_command"] == ["mkfs.xfs", BY_ID]
    assert data["uuid"] is None and data["serial"] == SERIAL
    assert one.probe() == {} and one.fingerprint() == before


def test_wrong_sudo_password_is_a_clear_error_before_any_change(one: Guest) -> None:
    one.ensure_blank()
    before = one.fingerprint()
    r = one.cli("format", "--fs", "ext4", env={**one.lab.env(), "XDEV_SUDO_PASSWORD": "wrong"})
    assert r.returncode == 1
    assert "sudo" in r.stderr and "XDEV_SUDO_PASSWORD" in r.stderr, r.stderr
    assert "password" in r.stderr.lower()
    assert r.stdout == ""
    assert one.probe() == {} and one.fingerprint() == before


def test_disks_with_a_wrong_sudo_password_lists_them_without_root(one: Guest) -> None:
    """The user part read while sudo was refused is the listing: no content probes, said so; what udev's
    database knows (lsblk) still shows, without the offset only wipefs reads."""
    one.ensure_blank()
    wrong = {**one.lab.env(), "XDEV_SUDO_PASSWORD": "wrong"}

    def nvme(r: subprocess.CompletedProcess[str]) -> dict[str, Any]:
        data = result_json(r)
        assert data["sudo_sessions"] == 1
        disks = data["disks"]
        assert isinstance(disks, list)
        found: dict[str, Any] = next(d for d in disks if d["name"] == "nvme0n1")
        return found

    r = one.cli("disks", "--json", env=wrong)
    assert "listing without root, so signatures are not probed" in r.stderr, r.stderr
    assert "signatures not probed (no root); the guard re-checks under sudo" in nvme(r)["notes"]
    one.root(f"mkfs.ext4 -q -F {shlex.quote(one.devs[1])} && udevadm settle")
    try:
        seen = nvme(one.cli("disks", "--json", env=wrong))
        assert seen["state"] == "excluded" and "carries signature ext4" in seen["reasons"][0], seen
        assert "offset" not in seen["reasons"][0]
        probed = nvme(one.cli("disks", "--json"))
        assert probed["state"] == "excluded" and "at offset 0x438" in probed["reasons"][0], probed
    finally:
        one.root(f"wipefs -a -q {shlex.quote(one.devs[1])} && sync")
    assert one.probe() == {}


def test_unknown_host_key_is_refused_then_accepted_with_the_flag(one: Guest, tmp_path: Path) -> None:
    kh = tmp_path / "known_hosts"
    kh.write_text("")
    inv = tmp_path / "inventory.yaml"
    text = one.inv.read_text()
    assert f"known_hosts: {one.lab.paths.known_hosts}\n" in text
    inv.write_text(text.replace(f"known_hosts: {one.lab.paths.known_hosts}\n", f"known_hosts: {kh}\n"))

    r = one.cli("format", "--fs", "ext4", "--dry-run", inv=inv)
    assert r.returncode == 1
    assert "SHA256:" in r.stderr and "--accept-new-host-key" in r.stderr, r.stderr
    assert kh.read_text() == ""

    r = one.cli("format", "--fs", "ext4", "--dry-run", "--accept-new-host-key", inv=inv)
    assert r.returncode == 0, r.stderr
    lines = kh.read_text().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"[127.0.0.1]:{one.lab.ssh_port} ssh-ed25519 ")
    assert lines == one.lab.paths.known_hosts.read_text().splitlines()


@pytest.mark.parametrize("label", ["gpt", "dos"])
def test_partition_table_is_refused_even_with_force(one: Guest, label: str) -> None:
    one.ensure_blank()
    dev = shlex.quote(one.devs[1])
    try:
        one.root(f"echo 'label: {label}' | sfdisk -q {dev} && sync")
        assert one.probe().get("PTTYPE") == label
        before = one.fingerprint()
        r = one.cli("format", "--fs", "ext4")
        assert r.returncode == 1
        assert "refused:" in r.stderr
        assert "partition table" in r.stderr
        assert "would hide the filesystem from the host" in r.stderr
        assert "rerun with --force" not in r.stderr, "--force cannot help here; do not suggest it"
        if label == "gpt":
            r = one.cli("format", "--fs", "ext4", "--force", "--yes")
            assert r.returncode == 1
            assert "would hide the filesystem from the host" in r.stderr
        assert one.fingerprint() == before
        assert one.probe().get("PTTYPE") == label and "TYPE" not in one.probe()
    finally:
        one.root(f"wipefs -a -q {dev} && sync")
    assert one.probe() == {}


def test_format_ext4_then_rerun_is_a_no_op(one: Guest) -> None:
    one.ensure_blank()
    data = result_json(one.cli("format", "--fs", "ext4", "--label", "data", "--json"))
    host = one.probe()
    assert host["TYPE"] == "ext4" and host["LABEL"] == "data"
    assert "PTTYPE" not in host
    assert data["action"] == "formatted"
    assert data["uuid"] == host["UUID"]
    assert data["label"] == "data" and data["fs"] == "ext4"
    assert data["device"] == "/dev/nvme0n1"
    assert data["device_path"] == BY_ID
    assert data["serial"] == SERIAL and data["size_bytes"] == 4 * 1024**3
    assert data["mkfs_command"] == [
        "mkfs.ext4",
        "-L",
        "data",
        BY_ID,
    ]
    assert isinstance(data["mkfs_seconds"], float) and 0 < data["mkfs_seconds"] < 60
    assert data["remote_commands"] == 2
    assert data["overwrites"] == []
    fp = one.fingerprint()

    r = one.cli("format", "--fs", "ext4", "--label", "data")
    assert r.returncode == 0, r.stderr
    assert "nothing to do:" in r.stdout and host["UUID"] in r.stdout and "label data" in r.stdout
    assert "2 remote commands" in r.stdout
    assert one.probe() == host and one.fingerprint() == fp


def test_mounted_disk_is_refused(one: Guest) -> None:
    uuid = one.ensure_ext4()
    dev = shlex.quote(one.devs[1])
    one.root(f"mkdir -p /mnt/gda && mount {dev} /mnt/gda")
    try:
        r = one.cli("format", "--fs", "ext4")
        assert r.returncode == 1
        assert "mounted at /mnt/gda" in r.stderr, r.stderr
        r = one.cli("format", "--fs", "xfs", "--force", "--yes")
        assert r.returncode == 1
        assert "mounted at /mnt/gda" in r.stderr, r.stderr
    finally:
        one.root("umount /mnt/gda && sync")
    assert one.probe()["UUID"] == uuid


def test_missing_mkfs_xfs_names_the_package(one: Guest) -> None:
    uuid = one.ensure_ext4()
    fp = one.fingerprint()
    one.root("mv /usr/sbin/mkfs.xfs /usr/sbin/mkfs.xfs.off")
    try:
        r = one.cli("format", "--fs", "xfs", "--force", "--yes")
    finally:
        one.root("mv /usr/sbin/mkfs.xfs.off /usr/sbin/mkfs.xfs")
    assert r.returncode == 1
    assert "mkfs.xfs" in r.stderr and "xfsprogs" in r.stderr, r.stderr
    assert one.probe()["UUID"] == uuid and one.fingerprint() == fp


def test_other_filesystem_needs_force_and_yes(one: Guest) -> None:
    uuid = one.ensure_ext4()
    fp = one.fingerprint()
    r = one.cli("format", "--fs", "xfs")
    assert r.returncode == 1
    assert "refused:" in r.stderr and "ext4" in r.stderr and uuid in r.stderr and "--force" in r.stderr
    assert one.fingerprint() == fp

    r = one.cli("format", "--fs", "xfs", "--force")  # no --yes, stdin is not a terminal
    assert r.returncode == 1
    assert "--force would destroy ext4" in r.stderr and "--yes" in r.stderr, r.stderr
    assert one.probe()["UUID"] == uuid and one.fingerprint() == fp

    r = one.cli("format", "--fs", "xfs", "--force", "--yes", "--label", "fresh")
    assert r.returncode == 0, r.stderr
    host = one.probe()
    assert host["TYPE"] == "xfs" and host["LABEL"] == "fresh" and "PTTYPE" not in host
    assert f"formatted: /dev/nvme0n1 ({BY_ID}) as xfs, UUID {host['UUID']}" in r.stdout
    assert "mkfs.xfs -f -L fresh /dev/disk/by-id/" in r.stdout
    assert "3 remote commands" in r.stdout


def test_guard_refuses_when_the_disk_changed_after_discovery(one: Guest) -> None:
    """Plan on a blank disk, then write ext4 behind the planner's back: the guard must not run mkfs."""
    one.ensure_blank()
    _, guest = load_inventory(one.inv).choose(None)
    opts = fmt.FormatOptions(fs="xfs")
    with one.lab.ssh() as s:
        facts = fmt.gather_facts(s)
        plan = select_disk(facts, "xfs", pins=fmt.pins_for(guest, opts.device, opts.serial))
        assert isinstance(plan, FormatPlan) and plan.expected_signatures == ()
        spec, _, _ = fmt.plan_mkfs(plan, facts, opts, None, lambda _m: None)

        r = s.run(f"mkfs.ext4 -q -F -L race {shlex.quote(one.devs[1])} && sync", root=True)
        assert r.status == 0, r.stderr
        written = one.probe()
        assert written["TYPE"] == "ext4" and written["LABEL"] == "race"
        fp = one.fingerprint()

        r = s.run(render_guard_script(spec), root=True, timeout=300)
    with pytest.raises(Refused) as e:
        interpret_guard(r.stdout, r.status, spec)
    assert "nothing was changed" in e.value.message
    assert "signatures [ext4], expected []" in e.value.message
    assert one.probe() == written and one.fingerprint() == fp


def test_guard_refuses_another_namespace_identity(one: Guest) -> None:
    """The guard re-reads the namespace's WWN (lsblk, else sysfs wwid) like discovery; a different one
    (another namespace of the same controller has the same serial) is refused before mkfs."""
    one.ensure_blank()
    _, guest = load_inventory(one.inv).choose(None)
    opts = fmt.FormatOptions(fs="ext4")
    with one.lab.ssh() as s:
        facts = fmt.gather_facts(s)
        plan = select_disk(facts, "ext4", pins=fmt.pins_for(guest, opts.device, opts.serial))
        assert isinstance(plan, FormatPlan)
        assert plan.device_path == BY_ID and plan.disk.wwn and plan.disk.wwn.endswith("-00000001")
        spec, _, _ = fmt.plan_mkfs(plan, facts, opts, None, lambda _m: None)
        assert spec.expected_wwn == plan.disk.wwn
        other = dataclasses.replace(spec, expected_wwn=plan.disk.wwn[:-1] + "2")
        fp = one.fingerprint()
        r = s.run(render_guard_script(other), root=True, timeout=300)
    with pytest.raises(Refused) as e:
        interpret_guard(r.stdout, r.status, other)
    assert f"WWN is '{plan.disk.wwn}', expected '{other.expected_wwn}'" in e.value.message
    assert "nothing was changed" in e.value.message
    assert one.probe() == {} and one.fingerprint() == fp


def test_freebsd_profile_is_two_remote_commands(one: Guest) -> None:
    """The dumpe2fs -h check of the FreeBSD profile rides in the guard script: no third round trip (the
    part of the facts that needs no root, then the guard)."""
    one.ensure_blank()
    data = result_json(one.cli("format", "--fs", "ext4", "--host-compat", "freebsd", "--json"))
    assert data["action"] == "formatted" and data["host_compat"] == "freebsd"
    assert data["remote_commands"] == 2
    assert set(data["features_disabled"]) == {"orphan_file", "metadata_csum_seed"}
    host = one.probe()
    assert host["TYPE"] == "ext4" and host["UUID"] == data["uuid"] and "PTTYPE" not in host
    one.root(f"wipefs -a -q {shlex.quote(one.devs[1])} && sync")


# ----------------------------------------------------------------------------------- two NVMe disks


def test_two_disks_without_a_pin_are_refused(two: Guest) -> None:
    fps = (two.fingerprint(1), two.fingerprint(2))
    r = two.cli("format", "--fs", "ext4")
    assert r.returncode == 1
    assert "2 disks could be the passed-through disk" in r.stderr, r.stderr
    assert f"serial {SERIAL}" in r.stderr and f"serial {SERIAL2}" in r.stderr
    assert "--serial" in r.stderr and "--device" in r.stderr
    assert two.probe(1) == {} and two.probe(2) == {}
    assert (two.fingerprint(1), two.fingerprint(2)) == fps


def test_a_pin_matching_nothing_is_bad_usage(two: Guest) -> None:
    r = two.cli("format", "--fs", "ext4", "--serial", "NOSUCHSERIAL")
    assert r.returncode == 2
    assert "no disk matches the pins serial=NOSUCHSERIAL" in r.stderr, r.stderr
    assert SERIAL in r.stderr and SERIAL2 in r.stderr and "vda" in r.stderr
    assert two.probe(1) == {} and two.probe(2) == {}


def test_serial_pin_formats_only_its_disk(two: Guest) -> None:
    fp1 = two.fingerprint(1)
    data = result_json(two.cli("format", "--fs", "ext4", "--serial", SERIAL2, "--json"))
    assert data["serial"] == SERIAL2 and data["device"] == two.devs[2]
    host2 = two.probe(2)
    assert host2["TYPE"] == "ext4" and host2["UUID"] == data["uuid"] and "PTTYPE" not in host2
    assert two.probe(1) == {} and two.fingerprint(1) == fp1
