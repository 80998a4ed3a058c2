"""What the stand-in's ``vm start`` boots on the lab for a conf (tests/standin/stubs/vm_lab.py boot_plan,
pure), and its refusals through the stub (run as the session runs it; nothing boots here)."""

from __future__ import annotations

import re
import socket
from pathlib import Path

import pytest

from agent.core.vmbhyve.vmconf import parse_vm_config
from agent.core.vmbhyve.vmslots import HostContext, plan_slots
from agent.ops.attach_report import guest_serial
from tests.standin.host import LabLink, StandinHost
from tests.standin.scenario import REPO, scenario_path
from tests.standin.stubs.vm_lab import boot_plan, generated_mac

P4 = "/dev/diskid/DISK-Y39B70RTK7ASp4"
XDEV = (REPO / "tests" / "fixtures" / "vmbhyve" / "xdev.conf").read_text()
IMAGES = {P4: "/images/p4.img"}


def plan_of(text: str, images: dict[str, str] | None = None) -> dict[str, object] | str:
    return boot_plan(text, "xdev", "/zdata/vms/xdev", "zdata/vms", IMAGES if images is None else images)


def test_the_seed_conf_puts_the_nvme_at_slot_5_and_the_nic_at_6() -> None:
    plan = plan_of(XDEV)
    assert isinstance(plan, dict), plan
    assert plan["disks"] == [{"n": 1, "serial": "NVME-5-0", "slot": 5, "image": "/images/p4.img"}]
    assert (plan["nic_slot"], plan["mac"]) == (6, "58:9c:fc:03:19:32")
    assert "-s 5:0,nvme,/dev/diskid/DISK-Y39B70RTK7ASp4" in str(plan["devices"])


@pytest.mark.parametrize(
    ("opts", "serial"),
    [
        ("ser=Y39B70RTK7AS", "Y39B70RTK7AS"),
        ("sectorsize=512,ser=A,ser=B", "B"),
        ("ser=" + "X" * 25, "X" * 20),
    ],
)
def test_the_serial_is_the_one_the_guest_will_see(opts: str, serial: str) -> None:
    text = XDEV + f'disk1_opts="{opts}"\n'
    plan = plan_of(text)
    assert isinstance(plan, dict)
    assert plan["disks"][0]["serial"] == serial  # type: ignore[index]
    conf = parse_vm_config(text)
    disk = conf.disk(1)
    assert disk is not None
    project = guest_serial(disk, plan_slots(conf, HostContext("/zdata/vms/xdev", "xdev", "zdata/vms")))
    assert project is not None and project[:20] == serial  # the same rule as the project's


def test_a_conf_without_disk1_boots_the_nic_at_slot_5() -> None:
    text = "".join(line + "\n" for line in XDEV.splitlines() if not line.startswith("disk1_"))
    plan = plan_of(text)
    assert isinstance(plan, dict) and plan["disks"] == [] and plan["nic_slot"] == 5


def test_what_the_lab_cannot_boot_is_said() -> None:
    assert "no image" not in str(plan_of(XDEV))
    why = plan_of(XDEV, images={})
    assert isinstance(why, str) and "disk1" in why and "images" in why
    why = plan_of(XDEV.replace('loader="uefi"', 'loader="grub"'))  # disks share slot 4 as functions
    assert isinstance(why, str) and "function 1 of slot 4" in why
    why = plan_of(XDEV.replace('disk0_type="virtio-blk"', 'disk0_type="ahci-hd"'))
    assert isinstance(why, str) and "disk0 must be the lab's root disk" in why
    why = plan_of(XDEV.replace('loader="uefi"\n', ""))
    assert isinstance(why, str) and why.startswith("vm-bhyve/bhyve would not start it")


def test_generated_mac_is_vm_bhyves_form() -> None:
    mac = generated_mac("xdev", 0, 1764680000)
    assert re.fullmatch(r"58:9c:fc:0[0-9a-f]:[0-9a-f]{2}:[0-9a-f]{2}", mac)
    assert mac == generated_mac("xdev", 0, 1764680000) != generated_mac("xdev", 1, 1764680000)


@pytest.fixture
def linked(tmp_path: Path) -> StandinHost:
    link = LabLink(state=tmp_path / "lab", ssh_port=1, console_port=1)
    h = StandinHost(scenario_path("seed"), tmp_path / "standin", lab=link)
    h.prepare()
    return h


def test_start_without_an_image_for_the_disk_is_refused_and_nothing_runs(linked: StandinHost) -> None:
    assert linked.state()["lab"]["ssh_port"] == 1
    r = linked.run_stub("vm", "start", "xdev")
    assert r.returncode == 1
    assert r.stdout.endswith("  * booting...\n")
    assert "(stand-in: xdev not started on the lab: disk1 (nvme custom /dev/diskid/" in r.stderr
    assert "Stopped" in linked.run_stub("vm", "list").stdout
    assert not (linked.workdir / "vm-lab.json").exists()


def test_start_with_the_lab_ports_in_use_is_refused(linked: StandinHost, tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        lab = linked.state()["lab"] | {"ssh_port": port, "console_port": port}
        (tmp_path / "p4.img").write_bytes(b"")
        linked.update(lab=lab, images={P4: str(tmp_path / "p4.img")})
        r = linked.run_stub("vm", "start", "xdev")
    assert r.returncode == 1 and f"127.0.0.1:{port} is in use" in r.stderr
    linked.update(images={P4: str(tmp_path / "missing.img")})
    r = linked.run_stub("vm", "start", "xdev")
    assert r.returncode == 1 and "missing.img (the scenario's images) is not a file" in r.stderr
    assert "Stopped" in linked.run_stub("vm", "list").stdout
