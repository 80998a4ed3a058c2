"""attach's pure glue (agent.ops.attach_report): which guest NIC is which networkN, a rerun's verdict, the
mode ``ls -ln`` shows, the next step, the terminal lines."""

from __future__ import annotations

from pathlib import Path

from agent.core.disk.devices import Disk
from agent.core.net.interfaces import Interface
from agent.core.vmbhyve.vmconf import parse_vm_config
from agent.core.vmbhyve.vmslots import HostContext, plan_slots
from agent.hints import render_options
from agent.ops.attach_report import (
    AttachOutcome,
    find_attached,
    guest_nic_macs,
    mac_problems,
    next_steps,
    parse_ls_mode,
    pci_address,
    rerun_problems,
    seen_disk,
)

FIX = Path(__file__).parent.parent / "fixtures" / "vmbhyve"
CTX = HostContext(vm_dir="/zdata/vms/xdev", vm_name="xdev", zvol_dataset="zdata/vms")
P4 = "/dev/diskid/DISK-Y39B70RTK7ASp4"
MAC = "58:9c:fc:03:19:32"
SIZE = 274877906944
SEED = (FIX / "xdev.conf").read_text()


def plan_of(text: str):  # type: ignore[no-untyped-def]
    conf = parse_vm_config(text)
    return conf, plan_slots(conf, CTX)


def nic(name: str, pci: str | None, mac: str | None = MAC) -> Interface:
    return Interface(name, mac=mac, pci_slot=pci, is_physical=True)


def disk(serial: str | None, size: int | None = SIZE, path: str = "/dev/nvme0n1") -> Disk:
    return Disk("nvme0n1", "nvme0n1", path, "disk", size, serial=serial)


def test_pci_address_is_sysfs_spelling() -> None:
    assert pci_address(5, 0) == "0000:00:05.0"
    assert pci_address(16, 1) == "0000:00:10.1"


def test_guest_macs_by_pci_address_not_by_name() -> None:
    _, plan = plan_of(SEED.replace(f'disk1_name="{P4}"\n', ""))  # no disk1: the NIC on slot 5
    ifaces = [nic("lo", None, "00:00:00:00:00:00"), nic("eth-renamed", "0000:00:05.0", MAC.upper())]
    assert guest_nic_macs(plan, ifaces) == {0: MAC}
    assert mac_problems(plan, {0: MAC}) == []


def test_mac_problems_name_the_slot_and_both_macs() -> None:
    _, plan = plan_of(SEED)
    (p,) = mac_problems(plan, {0: "58:9c:fc:00:00:01"})
    assert "network0_mac=58:9c:fc:03:19:32 in the config" in p and "58:9c:fc:00:00:01" in p
    (p,) = mac_problems(plan, {})
    assert p.startswith("the guest shows no interface at network0 (slot 6:0, 0000:00:06.0)")


def test_a_missing_conf_mac_is_no_problem() -> None:
    _, plan = plan_of(SEED.replace(f'network0_mac="{MAC}"\n', ""))
    assert mac_problems(plan, {0: "58:9c:fc:00:00:01"}) == []


def test_rerun_everything_in_place_is_a_no_op() -> None:
    text = SEED.replace('disk1_type="nvme"\n', 'disk1_type="nvme"\ndisk1_opts="ser=Y39B70RTK7ASp4"\n')
    conf, plan = plan_of(text)
    d = find_attached(conf, [P4])
    assert d is not None and d.index == 1
    rr = rerun_problems(d, plan, type="nvme", size_bytes=SIZE, running=True,
                        guest_disks=[disk("Y39B70RTK7ASp4      ")])  # fmt: skip
    assert rr.problems == () and rr.serial == "Y39B70RTK7ASp4" and rr.seen == "/dev/nvme0n1"


def test_rerun_lists_every_difference() -> None:
    conf, plan = plan_of(SEED.replace('disk1_dev="custom"', 'disk1_dev="file"'))
    d = find_attached(conf, ["/dev/nda0p4", P4])
    assert d is not None
    rr = rerun_problems(d, plan, type="virtio-blk", size_bytes=SIZE, running=True,
                        guest_disks=[disk("NVME-5-0", size=SIZE - 512)])  # fmt: skip
    assert rr.serial == "NVME-5-0"  # no ser=: bhyve's slot serial
    text = "; ".join(rr.problems)
    assert "disk1_type is nvme, not virtio-blk" in text and "disk1_dev is file, not custom" in text
    assert f"has {SIZE - 512} bytes, the host's device {SIZE}" in text


def test_rerun_guest_stopped_or_not_showing_the_disk() -> None:
    conf, plan = plan_of(SEED)
    d = find_attached(conf, [P4])
    assert d is not None
    stopped = rerun_problems(d, plan, type="nvme", size_bytes=SIZE, running=False, guest_disks=None)
    assert stopped.problems == ("the guest is not running",)
    unseen = rerun_problems(d, plan, type="nvme", size_bytes=SIZE, running=True, guest_disks=[disk("X")])
    (why,) = unseen.problems
    assert why == "the guest shows no disk with serial NVME-5-0 (not restarted since the edit?)"
    assert seen_disk([disk(None), disk(" NVME-5-0 ")], "NVME-5-0") is not None


def test_a_virtio_disk_without_ser_has_no_serial_to_pin() -> None:
    conf, plan = plan_of(SEED.replace('disk1_type="nvme"', 'disk1_type="virtio-blk"'))
    d = find_attached(conf, [P4])
    assert d is not None
    rr = rerun_problems(d, plan, type="virtio-blk", size_bytes=None, running=True, guest_disks=[])
    assert rr.serial is None
    assert rr.problems == ("disk1 has no ser= in disk1_opts: no serial to pin the disk by",)


def test_parse_ls_mode() -> None:
    assert parse_ls_mode("-rw-r--r--  1 0  0  612 Dec  2 15:00 /zdata/vms/xdev/xdev.conf\n") == 0o644
    assert parse_ls_mode("-rw-------  1 0  0  612 Dec  2 15:00 x") == 0o600
    assert parse_ls_mode("-rwsr-x--T  1 0  0  612 Dec  2 15:00 x") == 0o750
    assert parse_ls_mode("-rw-r--r--+ 1 0 0 1 x") == 0o644  # an ACL's + after the bits
    assert parse_ls_mode("ls: x: No such file or directory") is None
    assert parse_ls_mode("") is None


def test_next_steps_pin_serial_and_size() -> None:
    pins = {"serial": "Y39B70RTK7AS"}
    lines = [render_options(x) for x in next_steps("xdev", "Y39B70RTK7ASp4", SIZE, pins)]
    assert lines[0].startswith("next: format --guest xdev --fs ext4 --serial Y39B70RTK7ASp4")
    assert "disk: {serial: Y39B70RTK7ASp4, size: 274877906944}" in lines[1]
    assert lines[2] == "the inventory pins serial Y39B70RTK7AS: --serial Y39B70RTK7ASp4 overrides it"
    same = next_steps("xdev", "S", SIZE, {"serial": "S", "size_bytes": SIZE})
    assert len(same) == 1


def test_outcome_lines_and_json() -> None:
    o = AttachOutcome("xdev", "xdev", P4, action="attached", disk_index=1, serial="S", diff="+x\n")
    o.step("backup", "done", "/zdata/vms/xdev/xdev.conf.bak.20261202T021500Z", 0.25)
    o.next = next_steps("xdev", "S", None)
    lines = o.lines()
    assert "  done    backup (0.2s): /zdata/vms/xdev/xdev.conf.bak.20261202T021500Z" in lines
    assert "+x" in lines and f"attached {P4} to xdev as disk1, serial S" in lines
    assert lines[-1].startswith("next: format --guest xdev --fs ext4 --serial S")
    data = o.to_json()
    assert render_options(data["format_command"]) == "format --guest xdev --fs ext4 --serial S"
    assert data["steps_done"] == [{"key": "backup", "status": "done", "seconds": 0.25,
                                   "detail": "/zdata/vms/xdev/xdev.conf.bak.20261202T021500Z"}]  # fmt: skip
