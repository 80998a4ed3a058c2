"""attach's vm-bhyve config edit (agent.core.vmbhyve.conf_edit): what it adds, where, what it refuses,
and the verification against vm-bhyve's own reading (the slot plan of agent.core.vmbhyve.vmslots).

The seed's configs are tests/fixtures/vmbhyve/xdev.conf* (copies of the seed's bhyve_storage files).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.core.vmbhyve.conf_edit import (
    AttachRequest,
    backup_name,
    nics_without_mac,
    plan_attach_edit,
    serial_for_device,
    verify_attach,
    vm_bhyve_mac,
)
from agent.core.vmbhyve.vmconf import parse_vm_config
from agent.core.vmbhyve.vmslots import HostContext, plan_slots
from agent.errors import Refused, UsageError

FIX = Path(__file__).parent.parent / "fixtures" / "vmbhyve"
CTX = HostContext(vm_dir="/zdata/vms/xdev", vm_name="xdev", zvol_dataset="zdata/vms")
P4 = "/dev/diskid/DISK-Y39B70RTK7ASp4"
STAMP = "20261202T021500Z"
FOUR = [
    'disk1_type="nvme"',
    'disk1_dev="custom"',
    f'disk1_name="{P4}"',
    'disk1_opts="ser=Y39B70RTK7ASp4"',
]


def seed_without_disk1() -> str:
    text = (FIX / "xdev.conf").read_text()
    return "".join(ln for ln in text.splitlines(keepends=True) if not ln.startswith("disk1_"))


def added(diff: str) -> list[str]:
    return [ln[1:] for ln in diff.splitlines() if ln.startswith("+") and not ln.startswith("+++")]


def removed(diff: str) -> list[str]:
    return [ln[1:] for ln in diff.splitlines() if ln.startswith("-") and not ln.startswith("---")]


def test_seed_attach_p4_adds_exactly_four_lines_after_disk0() -> None:
    text = seed_without_disk1()
    edit = plan_attach_edit(text, AttachRequest(P4), CTX, stamp=STAMP)
    assert edit.index == 1
    assert added(edit.diff) == FOUR and removed(edit.diff) == []
    assert edit.diff.startswith(f"--- xdev.conf.bak.{STAMP}\n+++ xdev.conf\n")
    lines = edit.text.splitlines()
    at = lines.index('disk0_type="virtio-blk"')
    assert lines[at + 1 : at + 5] == FOUR  # right after the last disk line
    # every other byte as it was
    assert "".join(ln for ln in edit.text.splitlines(keepends=True) if ln.rstrip("\n") not in FOUR) == text
    assert edit.backup_name == f"xdev.conf.bak.{STAMP}"
    assert edit.mac_lines == () and edit.with_macs == text and edit.mac_diff == ""


def test_seed_plan_shows_nvme_at_slot_5_and_predicts_the_nic_rename() -> None:
    edit = plan_attach_edit(seed_without_disk1(), AttachRequest(P4), CTX, stamp=STAMP)
    disk = edit.after.disk(1)
    assert disk is not None
    assert (disk.type, disk.path, disk.slot, disk.func) == ("nvme", P4, 5, 0)
    assert edit.slot == (5, 0)
    assert "-s 5:0,nvme,/dev/diskid/DISK-Y39B70RTK7ASp4,ser=Y39B70RTK7ASp4 " in edit.after.devices_line()
    assert [(r.index, r.before_name, r.after_name) for r in edit.renames] == [(0, "enp0s5", "enp0s6")]
    # vm-bhyve reads the result as the seed's working config plus the serial
    seed = plan_slots(parse_vm_config((FIX / "xdev.conf").read_text()), CTX)
    assert edit.after.devices_line() == seed.devices_line().replace(f"{P4} ", f"{P4},ser=Y39B70RTK7ASp4 ")


def test_already_attached_is_refused() -> None:
    with pytest.raises(Refused) as e:
        plan_attach_edit((FIX / "xdev.conf").read_text(), AttachRequest(P4), CTX, stamp=STAMP)
    assert "already disk1 of xdev.conf" in e.value.message and "line 11" in e.value.message
    assert e.value.hint and "restart" in e.value.hint


def test_the_same_provider_under_another_name_is_refused() -> None:
    text = (FIX / "xdev.conf").read_text()
    with pytest.raises(Refused, match="already disk1"):
        plan_attach_edit(text, AttachRequest("/dev/nda0p4", aliases=(P4,)), CTX, stamp=STAMP)


def test_leftover_keys_at_the_chain_end_are_refused() -> None:
    # the seed's second wrong config: disk1_dev and disk1_type, no disk1_name: the chain ends at 1
    with pytest.raises(Refused) as e:
        plan_attach_edit((FIX / "xdev.conf_disk1_ng").read_text(), AttachRequest(P4), CTX, stamp=STAMP)
    msg = e.value.message
    assert "disk1_dev on line 11" in msg and "disk1_type on line 12" in msg and "merge" in msg
    assert e.value.hint and "remove or renumber" in e.value.hint


def test_a_gap_in_the_disk_indexes_is_refused() -> None:
    text = seed_without_disk1().replace(
        'disk0_type="virtio-blk"\n', 'disk0_type="virtio-blk"\ndisk2_name="disk2"\ndisk2_type="virtio-blk"\n'
    )
    assert plan_slots(parse_vm_config(text), CTX).chain_end == 1
    with pytest.raises(Refused) as e:
        plan_attach_edit(text, AttachRequest(P4), CTX, stamp=STAMP)
    assert "disk2: disk2_name on line 11, disk2_type on line 12" in e.value.message
    assert "go on to the disks after it" in e.value.message


def test_crlf_conf_is_refused_not_rewritten() -> None:
    text = seed_without_disk1().replace("\n", "\r\n")
    with pytest.raises(Refused) as e:
        plan_attach_edit(text, AttachRequest(P4), CTX, stamp=STAMP)
    assert "carriage returns" in e.value.message and "line(s) 1, 2, 3, 4, 5 and" in e.value.message
    assert e.value.hint and "tr -d" in e.value.hint


def test_not_utf8_and_excerpt_are_refused() -> None:
    with pytest.raises(Refused, match="not UTF-8"):
        plan_attach_edit(seed_without_disk1() + "# caf\ufffd\n", AttachRequest(P4), CTX, stamp=STAMP)
    with pytest.raises(Refused, match="excerpt"):
        plan_attach_edit(seed_without_disk1() + "...\n", AttachRequest(P4), CTX, stamp=STAMP)


def test_missing_mac_is_written_after_its_nic() -> None:
    text = "".join(ln for ln in seed_without_disk1().splitlines(True) if not ln.startswith("network0_mac"))
    conf = parse_vm_config(text)
    assert nics_without_mac(conf, plan_slots(conf, CTX)) == (0,)
    mac = "58:9c:fc:03:19:32"
    edit = plan_attach_edit(text, AttachRequest(P4), CTX, stamp=STAMP, nic_macs={0: mac})
    assert edit.mac_lines == (f'network0_mac="{mac}"\n',)
    assert added(edit.mac_diff) == [f'network0_mac="{mac}"']
    assert added(edit.disk_diff) == FOUR
    assert added(edit.diff) == [f'network0_mac="{mac}"', *FOUR]
    lines = edit.with_macs.splitlines()
    assert lines[lines.index('network0_device="tap0"') + 1] == f'network0_mac="{mac}"'
    nic = edit.after.nic(0)
    assert nic is not None and nic.mac == mac


def test_a_mac_the_config_already_has_is_kept_and_another_refused() -> None:
    text = seed_without_disk1()
    same = plan_attach_edit(text, AttachRequest(P4), CTX, stamp=STAMP, nic_macs={0: "58:9C:FC:03:19:32"})
    assert same.mac_lines == ()
    with pytest.raises(Refused, match="network0_mac is 58:9c:fc:03:19:32"):
        plan_attach_edit(text, AttachRequest(P4), CTX, stamp=STAMP, nic_macs={0: "58:9c:fc:01:02:03"})
    with pytest.raises(UsageError, match="unicast"):
        plan_attach_edit(text, AttachRequest(P4), CTX, stamp=STAMP, nic_macs={0: "01:00:5e:00:00:01"})


def test_vm_bhyve_mac_matches_vm_bhyves_own_output() -> None:
    # tests/tools/vmbhyve_vmrun.py runs vm-bhyve's vm::generate_static_mac with md5 stubbed to this digest
    # and records 58:9c:fc:00:12:34
    assert vm_bhyve_mac("01234567890abcdef0123456789abcde") == "58:9c:fc:00:12:34"
    with pytest.raises(ValueError, match="reserved"):
        vm_bhyve_mac("00000ffff")


def test_serial_from_diskid() -> None:
    assert serial_for_device(P4) == "Y39B70RTK7ASp4"
    assert serial_for_device("/dev/gpt/linux data") == "linux-data"
    long3 = serial_for_device("/dev/diskid/DISK-WD-WCC4E1234567890ABCp3")
    long4 = serial_for_device("/dev/diskid/DISK-WD-WCC4E1234567890ABCp4")
    assert len(long3) == len(long4) == 20 and long3 != long4
    assert long4.startswith("WD-WCC4E1234") and long4 == serial_for_device(
        "/dev/diskid/DISK-WD-WCC4E1234567890ABCp4"
    )


def test_bad_requests_are_usage_errors() -> None:
    text = seed_without_disk1()
    with pytest.raises(UsageError, match="not one attach writes"):
        plan_attach_edit(text, AttachRequest(P4, type="ahci-cd"), CTX, stamp=STAMP)
    with pytest.raises(UsageError, match="/dev path"):
        plan_attach_edit(text, AttachRequest("/dev/da0 #x"), CTX, stamp=STAMP)
    with pytest.raises(UsageError, match="serial"):
        plan_attach_edit(text, AttachRequest(P4, serial="A" * 21), CTX, stamp=STAMP)
    with pytest.raises(ValueError):
        backup_name("xdev", "2026-12-02")


def test_virtio_and_non_uefi_functions() -> None:
    text = seed_without_disk1().replace('loader="uefi"', 'loader="bhyveload"')
    edit = plan_attach_edit(text, AttachRequest(P4, type="virtio-blk", serial="DATA1"), CTX, stamp=STAMP)
    assert edit.slot == (4, 1)  # the next function of the disk slot
    assert 'disk1_opts="ser=DATA1"' in edit.text
    assert [(r.before_name, r.after_name) for r in edit.renames] == []  # NICs stay on slot 5


def test_no_trailing_newline_and_no_disk_lines() -> None:
    text = 'loader="uefi"\ncpu=2\nmemory=2G\nnetwork0_type="virtio-net"\nnetwork0_switch="public"'
    edit = plan_attach_edit(text, AttachRequest(P4), CTX, stamp=STAMP)
    assert edit.index == 0
    assert edit.text == text + "\n" + "".join(ln.replace("disk1", "disk0") + "\n" for ln in FOUR)
    assert "\\ No newline at end of file" in edit.diff


def test_verify_refuses_a_text_vm_bhyve_reads_otherwise() -> None:
    text = seed_without_disk1()
    before = plan_slots(parse_vm_config(text), CTX)
    wrong_dev = text.replace('disk0_type="virtio-blk"\n', f'disk0_type="virtio-blk"\ndisk1_name="{P4}"\n')
    with pytest.raises(Refused, match="would not attach disk1: disk1_type not set"):
        verify_attach(wrong_dev, before, CTX, index=1, device=P4, type="nvme")
    as_file = wrong_dev.replace(f'disk1_name="{P4}"\n', f'disk1_name="{P4}"\ndisk1_type="nvme"\n')
    with pytest.raises(Refused, match="dev file"):
        verify_attach(as_file, before, CTX, index=1, device=P4, type="nvme")
