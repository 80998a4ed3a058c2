"""The host-first flow on the lab, against the stand-in FreeBSD host (tests/standin/host.py with a
:class:`LabLink`: its ``vm`` boots and stops the lab's QEMU guest from the conf): ``gda attach`` takes the
guest from "no disk" to "disk attached, NIC pinned by MAC, SSH never lost", ``gda format`` puts ext4 with
the FreeBSD profile on it and ``gda host-verify --stop`` finds it on the host (fstyp, the superblock, the
read-only test mount, the fstab line).

The start (scenario tests/standin/scenarios/seed_attach.json): the seed's host, xdev's conf without its
disk1 lines (scenarios/xdev_attach.conf), p4 2 GiB and mapped to a sparse image made here, the guest
booted by ``vm start xdev`` through the stand-in: the NIC at slot 5 (enp0s5, as netplan names it), SSH
works. After attach the NVMe is at slot 5 and the NIC at slot 6, which the kernel names enp0s6: the pin
(``match: {macaddress}`` plus ``set-name: enp0s5``) gives it its old name back. One lab boot sequence
for the module (the start; attach's stop and start; host-verify's stop), bookworm. While attach runs, a
prober logs in over SSH every :data:`PROBE_EVERY` seconds: SSH is lost only while the guest restarts. A
rerun of attach (before host-verify stops the guest) is a no-op. The p3 refusal through the stand-in is
tests/standin/test_attach_standin.py's (no lab needed).

Own ports (SSH 2400, console 4730) and its own lab state, so no other lab is touched.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from agent.lab import control
from agent.lab.paths import StatePaths
from agent.transport.ssh import SshSession, SshTarget
from tests.cli.gda_run import gda
from tests.standin.host import LabLink, StandinHost, missing_requirements
from tests.standin.scenario import REPO, scenario_path

pytestmark = pytest.mark.lab

SSH_PORT = 2400
CONSOLE_PORT = 4730
P4 = "/dev/diskid/DISK-Y39B70RTK7ASp4"
P4_BYTES = 4194304 * 512  # the scenario's p4: 2 GiB
SERIAL = "Y39B70RTK7ASp4"  # attach's ser= for the diskid (conf_edit.serial_for_device)
MAC = "58:9c:fc:03:19:32"  # the conf's network0_mac
# format's label, as the seed's user gave it: host-verify then also reports glabel's /dev/ext2fs/<label>
# (a label-less ext4 is verified and mounted too: tests/standin/test_host_verify_standin.py)
LABEL = "linux-data"
CONF = "/zdata/vms/xdev/xdev.conf"
ORIGINAL = (REPO / "tests/standin/scenarios/xdev_attach.conf").read_bytes()
BOOT_DEADLINE = 420.0
PROBE_EVERY = 2.0
STEPS = ["host-check", "pin-nic", "backup", "edit-conf", "verify-conf", "show-diff", "stop", "wait-stopped",
         "start", "wait-running", "wait-ssh", "format"]  # fmt: skip
RESTART = ("stop", "wait-stopped", "start", "wait-running", "wait-ssh")
DISK1 = ['disk1_type="nvme"', 'disk1_dev="custom"', f'disk1_name="{P4}"', f'disk1_opts="ser={SERIAL}"']


@dataclass
class Flow:
    host: StandinHost
    sp: StatePaths
    tmp: Path
    inventory: Path
    env: dict[str, str]
    started: subprocess.CompletedProcess[str] | None = None
    results: dict[str, dict[str, Any]] = field(default_factory=dict)  # each step's JSON, for the next test

    @property
    def conf(self) -> Path:
        return self.host.root / CONF.lstrip("/")

    def backups(self) -> list[Path]:
        return sorted(p for p in self.conf.parent.iterdir() if ".bak." in p.name)

    def host_ssh(self, command: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        h = self.host
        argv = ["ssh", "-F", "none", "-p", str(h.port), "-i", str(h.identity_file), "-o", "BatchMode=yes",
                "-o", f"UserKnownHostsFile={h.known_hosts}", f"root@{h.host}", command]  # fmt: skip
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)

    def guest_ssh_ok(self) -> bool:
        """One login to the guest as the inventory's user (key, known_hosts, no prompt): did it work?"""
        argv = ["ssh", "-F", "none", "-p", str(SSH_PORT), "-i", str(self.sp.ssh_key), "-o", "BatchMode=yes",
                "-o", f"UserKnownHostsFile={self.sp.known_hosts}", "-o", "StrictHostKeyChecking=yes",
                "-o", "ConnectTimeout=5", "admin@127.0.0.1", "true"]  # fmt: skip
        try:
            r = subprocess.run(argv, capture_output=True, timeout=15, check=False)
        except subprocess.TimeoutExpired:
            return False
        return r.returncode == 0

    def as_root(self, command: str) -> str:
        """``command`` as root on the guest (sudo with the lab's password), its stdout; exit 0 asserted."""
        target = SshTarget(host="127.0.0.1", port=SSH_PORT, user="admin", identity_file=self.sp.ssh_key,
                           known_hosts=self.sp.known_hosts)  # fmt: skip
        with SshSession(target, sudo_password=self.env["XDEV_SUDO_PASSWORD"],
                        sudo_password_env="XDEV_SUDO_PASSWORD") as s:  # fmt: skip
            r = s.run(command, root=True, timeout=60)
        assert r.status == 0, r.stdout + r.stderr
        return r.stdout

    def gda(self, *args: str, timeout: float = 300) -> tuple[int, dict[str, Any]]:
        """``gda ARGS --inventory INV --json``: exit code and JSON; the output is kept in the tmp folder
        (``<task>-<n>.out``) for a look after a failure."""
        r = gda(*args, "--inventory", str(self.inventory), "--json", env=self.env, timeout=timeout)
        (self.tmp / f"{args[0]}-{len(list(self.tmp.glob(args[0] + '-*')))}.out").write_text(
            r.stdout + r.stderr
        )
        assert "Traceback" not in r.stderr, r.stderr
        try:
            data = json.loads(r.stdout)
        except ValueError:
            raise AssertionError(f"no JSON from gda {' '.join(args)}: {r.stdout}{r.stderr}") from None
        return r.returncode, dict(data)

    def result(self, key: str) -> dict[str, Any]:
        assert key in self.results, f"the {key} step of the flow did not succeed (an earlier test failed)"
        return self.results[key]


def _wait(what: str, check: Callable[[], bool], deadline: float, interval: float = 1.0) -> None:
    end = time.monotonic() + deadline
    while not check():
        assert time.monotonic() < end, f"timed out waiting for {what}"
        time.sleep(interval)


def outages(samples: Sequence[tuple[float, bool]]) -> list[float]:
    """The stretches without SSH in a prober's (time, logged in) samples: for each run of failed logins,
    from the last login that worked before it (or the first sample) to the first that worked after it (or
    the last sample). Pure."""
    out: list[float] = []
    last_ok: float | None = None
    lost_since: float | None = None
    for t, ok in samples:
        if not ok and lost_since is None:
            lost_since = last_ok if last_ok is not None else t
        if ok:
            if lost_since is not None:
                out.append(t - lost_since)
                lost_since = None
            last_ok = t
    if lost_since is not None and samples:
        out.append(samples[-1][0] - lost_since)
    return out


def test_outages_are_measured_between_the_logins_that_worked() -> None:
    assert outages([]) == []
    assert outages([(0, True), (2, True)]) == []
    assert outages([(0, True), (2, False), (4, False), (6, True), (8, False), (9, True)]) == [6, 3]
    assert outages([(0, False), (3, True), (5, False), (7, False)]) == [3, 4]


class Prober:
    """Logs in to the guest every :data:`PROBE_EVERY` seconds in a thread, recording (time, worked)."""

    def __init__(self, check: Callable[[], bool]) -> None:
        self.check = check
        self.samples: list[tuple[float, bool]] = []
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.done.is_set():
            t0 = time.monotonic()
            ok = self.check()
            self.samples.append((t0, ok))
            self.done.wait(max(0.0, PROBE_EVERY - (time.monotonic() - t0)))

    def __enter__(self) -> Prober:
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.done.set()
        self.thread.join(timeout=30)


@pytest.fixture(scope="module")
def flow(lab_image: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flow]:
    why = missing_requirements()
    if why is not None:
        pytest.fail(f"stand-in FreeBSD host: {why}")
    t0 = time.monotonic()
    tmp = tmp_path_factory.mktemp("host-first")
    sp = StatePaths(tmp / "lab-state")
    image = tmp / "p4.img"
    with image.open("wb") as f:
        f.truncate(P4_BYTES)  # sparse, empty: a fresh partition
    link = LabLink(sp.root, SSH_PORT, CONSOLE_PORT)
    host = StandinHost(scenario_path("seed_attach"), tmp / "standin", lab=link)
    host.start()
    host.update(images={P4: str(image)})
    inv = host.inventory(tmp / "inventory.yaml")
    text = inv.read_text()
    assert "    host: 192.0.2.10\n" in text, text
    inv.write_text(
        text.replace(
            "    host: 192.0.2.10\n",
            f"    host: 127.0.0.1\n    port: {SSH_PORT}\n    user: admin\n    identity_file: {sp.ssh_key}\n"
            f"    known_hosts: {sp.known_hosts}\n    sudo_password_env: XDEV_SUDO_PASSWORD\n"
            f"    network:\n      mac: {MAC}\n",
        )
    )
    env = {**os.environ, "XDEV_SUDO_PASSWORD": control.lab_secrets(flavour="bookworm")["admin"]}
    f = Flow(host, sp, tmp, inv, env)
    try:
        f.started = f.host_ssh("vm start xdev")
        yield f
    finally:
        if control.running_state(sp) is not None:
            f.host_ssh("vm stop xdev")
            _wait("the guest to stop", lambda: control.running_state(sp) is None, 60)
        control.down(sp, log=lambda _m: None)
        host.stop()
        print(f"\nthe host-first flow on the lab: {time.monotonic() - t0:.0f}s wall clock")


def test_the_guest_runs_without_the_disk_and_ssh_works(flow: Flow) -> None:
    r = flow.started
    assert r is not None and r.returncode == 0, r
    assert r.stdout.endswith("  * booting...\n"), r.stdout
    _wait("SSH to the lab guest", flow.guest_ssh_ok, BOOT_DEADLINE, 2.0)
    lab = control.running_state(flow.sp)
    assert lab is not None
    assert (lab.nic_slot, lab.nic_name, lab.disks) == (5, "enp0s5", [])
    out = flow.as_root(
        "cat /sys/bus/pci/devices/0000:00:05.0/class; ls /sys/class/nvme | wc -l; "
        "grep -c enp0s5 /etc/netplan/50-cloud-init.yaml"
    )
    assert out.split() == ["0x020000", "0", "1"], out  # the NIC at slot 5, no NVMe, netplan names enp0s5
    assert flow.conf.read_bytes() == ORIGINAL and flow.backups() == []


def test_attach_pins_the_nic_adds_the_disk_and_ssh_is_lost_only_for_the_restart(flow: Flow) -> None:
    with Prober(flow.guest_ssh_ok) as probe:
        code, data = flow.gda("attach", "--guest", "xdev", "--device", P4, "--stop-wait", "180",
                              "--ssh-wait", "300", timeout=900)  # fmt: skip
    first_try = flow.guest_ssh_ok()  # right after attach returned
    assert code == 0 and data["ok"] is True, json.dumps(
        {k: data.get(k) for k in ("error", "steps_done")}, indent=1
    )
    flow.results["attach"] = data
    assert data["action"] == "attached" and data["serial"] == SERIAL and data["size_bytes"] == P4_BYTES
    assert [(s["key"], s["status"]) for s in data["steps_done"]] == [
        (k, "next" if k == "format" else "done") for k in STEPS
    ], data["steps_done"]
    done = {s["key"]: s for s in data["steps_done"]}
    assert done["pin-nic"]["detail"].startswith("pinned by MAC; enp0s5 "), done["pin-nic"]
    assert data["pin_nic"]["action"] == "fixed"
    assert done["verify-conf"]["detail"] == f"vm-bhyve reads disk1 nvme {P4} at 5:0"
    assert done["wait-ssh"]["detail"].endswith(f"the guest sees serial {SERIAL} as {data['guest_device']}")
    assert data["format_command"] == f"format --guest xdev --fs ext4 --serial {SERIAL}"
    # the conf: the 4 disk1 lines after disk0's, a backup holding the original bytes
    lines = flow.conf.read_text().splitlines()
    i = lines.index('disk0_type="virtio-blk"')
    assert lines[i + 1 : i + 5] == DISK1
    assert [ln for ln in lines if ln not in DISK1] == ORIGINAL.decode().splitlines()
    (backup,) = flow.backups()
    assert str(backup).endswith(data["backup"].rsplit("/", 1)[1]) and backup.read_bytes() == ORIGINAL
    # SSH: lost only while the guest restarted (no longer than attach's restart steps, give or take one
    # probe), and it works on the first try after attach
    restart = sum(float(done[k]["seconds"]) for k in RESTART)
    lost = outages(probe.samples)
    assert probe.samples and probe.samples[0][1], probe.samples[:3]  # SSH worked when attach began
    assert lost and max(lost) <= restart + 2 * PROBE_EVERY + 15, (lost, restart)
    # one outage, the restart (a TCG guest does not boot to sshd in under 10 s); any other (the pin's
    # netplan apply) is a blip of a probe or two
    longest, *others = sorted(lost, reverse=True)
    assert longest > 10 and all(x <= 2 * PROBE_EVERY + 4 for x in others), lost
    assert first_try, "SSH right after attach did not work on the first try"
    print(f"\nattach: restart {restart:.0f}s, SSH lost {[round(x) for x in lost]}s, "
          f"{len(probe.samples)} probes")  # fmt: skip


def test_the_guest_sees_the_nvme_and_its_nic_is_pinned_by_mac(flow: Flow) -> None:
    attach = flow.result("attach")
    lab = control.running_state(flow.sp)
    assert lab is not None and [(d["slot"], d["serial"]) for d in lab.disks] == [(5, SERIAL)]
    assert lab.nic_slot == 6  # the NVMe took slot 5
    out = flow.as_root(
        "readlink -f /sys/bus/pci/devices/0000:00:05.0/driver; cat /sys/class/nvme/nvme0/serial; "
        "cd /sys/bus/pci/devices/0000:00:06.0/virtio*/net && ls && cat ./*/address"
    )
    driver, serial, nic, mac = (line.strip() for line in out.splitlines())
    assert (driver, serial, mac) == ("/sys/bus/pci/drivers/nvme", SERIAL, MAC), out
    plan = YAML(typ="safe").load(flow.as_root("cat /etc/netplan/50-cloud-init.yaml"))
    ethernets = plan["network"]["ethernets"]
    pinned = [e for e in ethernets.values() if (e.get("match") or {}).get("macaddress") == MAC]
    assert len(pinned) == 1 and "name" not in pinned[0]["match"], ethernets
    # the pin kept the name netplan had (set-name enp0s5): the NIC behind the NVMe, which the kernel
    # names enp0s6, is renamed back to it, so the rest of the guest's config still fits
    assert pinned[0].get("set-name") == "enp0s5" and nic == "enp0s5", (nic, pinned)
    assert attach["guest_device"] == "/dev/nvme0n1"


def test_format_puts_freebsd_ext4_on_the_attached_disk(flow: Flow) -> None:
    attach = flow.result("attach")
    code, data = flow.gda("format", "--guest", "xdev", "--fs", "ext4", "--host-compat", "freebsd",
                          "--serial", attach["serial"], "--label", LABEL, timeout=600)  # fmt: skip
    assert code == 0 and data["action"] == "formatted", data
    flow.results["format"] = data
    assert data["fs"] == "ext4" and data["serial"] == SERIAL and data["size_bytes"] == P4_BYTES
    assert data["device"] == attach["guest_device"] and data["uuid"]
    assert data["host_compat"] == "freebsd" and data["label"] == LABEL
    assert data["features_disabled"] == ["orphan_file", "metadata_csum_seed"]  # bookworm's mke2fs 1.47


def test_attach_again_is_a_noop(flow: Flow) -> None:
    flow.result("format")
    before, backups = flow.conf.read_bytes(), flow.backups()
    code, data = flow.gda("attach", "--guest", "xdev", "--device", P4, timeout=300)
    assert code == 0 and data["ok"] is True and data["action"] == "already-attached", data
    assert [(s["key"], s["status"]) for s in data["steps_done"]] == [
        ("host-check", "done"),
        ("check-attached", "done"),
    ]
    assert data["serial"] == SERIAL and data["guest_device"] == "/dev/nvme0n1"
    assert flow.conf.read_bytes() == before and flow.backups() == backups
    assert control.running_state(flow.sp) is not None  # not restarted


def test_host_verify_stops_the_guest_and_finds_the_filesystem(flow: Flow) -> None:
    made = flow.result("format")
    expect = ["--fs", "ext4", "--label", made["label"], "--uuid", made["uuid"]]
    code, data = flow.gda("host-verify", "--guest", "xdev", "--stop", *expect, timeout=300)
    assert code == 0 and data["verified"] is True, data
    assert data["stopped"] is True and data["guest_running"] is False
    assert data["device"] == P4 and data["from"] == "disk1"
    # fstyp -l -u said ext2fs with format's label (else an fstyp-type/fstyp-label error), the superblock
    # has format's UUID
    assert [f["code"] for f in data["findings"]] == ["guest-stopped"], data["findings"]
    assert data["superblock"]["uuid"] == made["uuid"] and data["superblock"]["flavour"] == "ext4"
    assert data["superblock"]["label"] == LABEL
    mt = data["mount_test"]
    assert mt["outcome"] == "ok", mt
    assert [s["command"].split()[0] for s in mt["steps"]] == ["mount", "umount", "rmdir"]
    assert all(s["rc"] == 0 for s in mt["steps"]), mt
    assert mt["steps"][0]["command"].startswith(f"mount -t ext2fs -o ro {P4} /tmp/gda-verify-mnt.")
    assert data["fstab"].split() == [P4, f"/mnt/{LABEL}", "ext2fs", "rw", "0", "2"]
    assert data["glabel_path"] == f"/dev/ext2fs/{LABEL}"
    assert control.running_state(flow.sp) is None  # QEMU is gone
    assert "Stopped" in flow.host_ssh("vm list").stdout
