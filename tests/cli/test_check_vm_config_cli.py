"""`invoke check-vm-config` as a user runs it, on the seed's configs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FIX = REPO / "tests" / "fixtures" / "vmbhyve"
SEED_DEVICES = (
    "-s 0,hostbridge -s 31,lpc -s 4:0,virtio-blk,/dev/zvol/zdata/vms/xdev/disk0 "
    "-s 5:0,nvme,/dev/diskid/DISK-Y39B70RTK7ASp4 -s 6:0,virtio-net,tap0,mac=58:9c:fc:03:19:32 "
    "-s 7:0,fbuf,tcp=0.0.0.0:5900"
)


def invoke(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "invoke", "check-vm-config", *args], cwd=REPO,
                          capture_output=True, text=True, check=False)  # fmt: skip


def test_correct_config_reproduces_the_seed_log_and_predicts_the_rename() -> None:
    r = invoke("--conf", str(FIX / "xdev.conf"), "--vm-dir", "/zdata/vms/xdev", "--json")
    data = json.loads(r.stdout)
    assert data["devices"] == SEED_DEVICES
    assert [f["code"] for f in data["findings"] if f["severity"] == "error"] == []
    assert data["renames"][0]["message"].startswith("network0 moves from slot 5 to slot 6: enp0s5 → enp0s6")
    assert r.returncode == 1, "a predicted NIC rename is a warning: exit 1"


def test_first_wrong_config_opens_a_file_in_the_vm_folder() -> None:
    r = invoke("--conf", str(FIX / "xdev.conf_disk1"), "--vm-dir", "/zdata/vms/xdev")
    assert r.returncode == 1
    assert "-s 5:0,nvme,/zdata/vms/xdev/disk1 " in r.stdout
    assert "Could not open backing file: /zdata/vms/xdev/disk1" in r.stdout
    assert 'disk1_name="/dev/diskid/DISK-Y39B70RTK7ASp4" and disk1_dev="custom"' in r.stdout


def test_second_wrong_config_boots_without_the_disk() -> None:
    r = invoke("--conf", str(FIX / "xdev.conf_disk1_ng"), "--vm-dir", "/zdata/vms/xdev", "--json")
    data = json.loads(r.stdout)
    assert r.returncode == 1
    assert ",nvme," not in data["devices"]
    assert "dev-is-path-no-name" in {f["code"] for f in data["findings"]}


def test_usage_errors_exit_2_without_traceback() -> None:
    r = invoke("--conf", "/nonexistent/xdev.conf")
    assert r.returncode == 2
    assert "cannot read /nonexistent/xdev.conf" in r.stderr
    assert "Traceback" not in r.stderr
    r = invoke()
    assert r.returncode == 2 and "--conf PATH or --host HOST" in r.stderr


def test_a_local_conf_has_no_host_checks() -> None:
    r = invoke("--conf", str(FIX / "xdev.conf"), "--vm-dir", "/zdata/vms/xdev", "--json")
    assert json.loads(r.stdout)["host"] is None


def test_device_without_a_host_is_bad_usage_with_a_hint() -> None:
    r = invoke("--conf", str(FIX / "xdev.conf"), "--device", "/dev/diskid/DISK-Y39B70RTK7ASp4")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "--device needs the host: a local --conf file has no host checks" in r.stderr
    assert "--guest NAME (a guest with on: in the inventory) or --host HOST --vm NAME" in r.stderr


def test_guest_needs_an_on_host_in_the_inventory(tmp_path: Path) -> None:
    inv = tmp_path / "inventory.yaml"
    inv.write_text("guests:\n  xdev:\n    host: 192.168.7.200\n")
    r = invoke("--guest", "xdev", "--inventory", str(inv), "--json")
    assert r.returncode == 2
    err = json.loads(r.stdout)["error"]
    assert err["message"] == f"guest 'xdev' names no host in {inv} (no on:)"
    assert "on: <host>" in err["hint"] and "--host HOST --vm NAME" in err["hint"]


def test_guest_with_an_unknown_host_is_located_in_the_inventory(tmp_path: Path) -> None:
    inv = tmp_path / "inventory.yaml"
    inv.write_text(
        "hosts:\n  bhyvehost:\n    host: 192.168.7.1\nguests:\n  xdev:\n    host: h\n    on: bhyvhost\n"
    )
    r = invoke("--guest", "xdev", "--inventory", str(inv))
    assert r.returncode == 2
    assert (
        f"{inv}:7:9: guests.xdev.on: no host 'bhyvhost' under hosts: (did you mean 'bhyvehost'?)" in r.stderr
    )


def test_one_source_of_the_conf() -> None:
    r = invoke("--conf", str(FIX / "xdev.conf"), "--guest", "xdev")
    assert r.returncode == 2
    assert "give either --conf PATH or --host HOST --vm NAME or --guest NAME" in r.stderr
