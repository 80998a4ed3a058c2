"""The slot plan reproduces what vm-bhyve's lib/vm-run generates."""

from __future__ import annotations

from pathlib import Path

from agent.core.vmbhyve.nic_renames import config_before_last_disk, predict_renames
from agent.core.vmbhyve.vmconf import parse_vm_config
from agent.core.vmbhyve.vmslots import HostContext, SlotPlan, guest_nic_name, plan_slots, resolve_disk_path
from agent.hints import render_options

FIX = Path(__file__).parent.parent / "fixtures" / "vmbhyve"
SEED_LOG = Path("/work/shared/seed/bhyve_storage/vm-bhyve.log")
CTX = HostContext(vm_dir="/zdata/vms/xdev", vm_name="xdev", zvol_dataset="zdata/vms")
SEED_DEVICES = (
    "-s 0,hostbridge -s 31,lpc -s 4:0,virtio-blk,/dev/zvol/zdata/vms/xdev/disk0 "
    "-s 5:0,nvme,/dev/diskid/DISK-Y39B70RTK7ASp4 -s 6:0,virtio-net,tap0,mac=58:9c:fc:03:19:32 "
    "-s 7:0,fbuf,tcp=0.0.0.0:5900"
)


def plan_of(name: str, ctx: HostContext = CTX) -> SlotPlan:
    return plan_slots(parse_vm_config((FIX / name).read_text()), ctx)


def test_seed_devices_line_byte_for_byte() -> None:
    assert plan_of("xdev.conf").devices_line() == SEED_DEVICES
    if SEED_LOG.exists():  # the seed's own log line, when the seed is mounted
        line = SEED_LOG.read_text().splitlines()[1]
        assert line.split("[bhyve devices: ", 1)[1].rstrip("]") == SEED_DEVICES


def test_seed_nic_is_enp0s6() -> None:
    plan = plan_of("xdev.conf")
    nic = plan.nics[0]
    assert (nic.slot, nic.func, nic.tap, nic.guest_name) == (6, 0, "tap0", "enp0s6")
    assert plan.uefi


def test_first_wrong_config_opens_file_in_vm_dir() -> None:
    plan = plan_of("xdev.conf_disk1")
    disk1 = plan.disk(1)
    assert disk1 is not None
    assert disk1.path == "/zdata/vms/xdev/disk1"  # the seed's "Could not open backing file" path
    assert "-s 5:0,nvme,/zdata/vms/xdev/disk1 " in plan.devices_line()


def test_second_wrong_config_boots_without_the_disk() -> None:
    plan = plan_of("xdev.conf_disk1_ng")
    assert [d.index for d in plan.disks] == [0]
    assert "nvme" not in plan.devices_line()
    assert [i.index for i in plan.ignored_disks] == [1]
    assert plan.nics[0].guest_name == "enp0s5"


def test_rename_predicted_from_conf_minus_last_disk() -> None:
    conf = parse_vm_config((FIX / "xdev.conf").read_text())
    before = config_before_last_disk(conf)
    assert before is not None
    renames = predict_renames(plan_slots(before, CTX), plan_slots(conf, CTX))
    assert len(renames) == 1
    r = renames[0]
    assert (r.before_name, r.after_name) == ("enp0s5", "enp0s6")
    assert render_options(r.message) == (
        "network0 moves from slot 5 to slot 6: enp0s5 → enp0s6; run `gda fix-netplan` after the first "
        "boot, or pin the NIC by MAC first (`gda fix-netplan --match-mac` while SSH still works)"
    )


def test_no_rename_when_the_added_disk_is_not_attached() -> None:
    conf = parse_vm_config((FIX / "xdev.conf_disk1_ng").read_text())
    before = config_before_last_disk(conf)
    assert before is not None
    assert predict_renames(plan_slots(before, CTX), plan_slots(conf, CTX)) == ()


def test_ahci_grouping_for_hdd_passthru() -> None:
    plan = plan_of("hdd_passthru.conf")
    assert not plan.uefi
    assert plan.devices_line() == (
        "-s 0,hostbridge -s 31,lpc -s 4:0,ahci,hd:/zdata/vms/xdev/disk0.img,hd:/dev/ada0,sectorsize=512,"
        "hd:/dev/ada1,sectorsize=512,hd:/dev/ada2,sectorsize=512 -s 5:0,virtio-net,<tap>,mac=<generated>"
    )
    assert [(d.index, d.slot, d.func, d.ahci_port) for d in plan.disks] == [
        (0, 4, 0, 0),
        (1, 4, 0, 1),
        (2, 4, 0, 2),
        (3, 4, 0, 3),
    ]
    # adding disk3 to a shared controller does not move the NIC
    conf = parse_vm_config((FIX / "hdd_passthru.conf").read_text())
    before = config_before_last_disk(conf)
    assert before is not None
    assert predict_renames(plan_slots(before, CTX), plan) == ()


def test_ahci_without_limit_one_controller_each_as_functions() -> None:
    text = (FIX / "hdd_passthru.conf").read_text().replace('ahci_device_limit="8"\n', "")
    plan = plan_slots(parse_vm_config(text), CTX)
    ahci = [d.render() for d in plan.devices if d.kind == "disk"]
    assert ahci == [
        "-s 4:0,ahci-hd,/zdata/vms/xdev/disk0.img",
        "-s 4:1,ahci-hd,/dev/ada0,sectorsize=512",
        "-s 4:2,ahci-hd,/dev/ada1,sectorsize=512",
        "-s 4:3,ahci-hd,/dev/ada2,sectorsize=512",
    ]
    assert plan.nics[0].slot == 5


def test_ahci_controller_full_flushes_and_continues() -> None:
    lines = ['loader="grub"', 'ahci_device_limit="2"']
    for i in range(3):
        lines += [f'disk{i}_type="ahci-hd"', f'disk{i}_name="d{i}.img"']
    plan = plan_slots(parse_vm_config("\n".join(lines)), CTX)
    assert [d.render() for d in plan.devices if d.kind == "ahci"] == [
        "-s 4:0,ahci,hd:/zdata/vms/xdev/d0.img,hd:/zdata/vms/xdev/d1.img",
        "-s 4:1,ahci,hd:/zdata/vms/xdev/d2.img",
    ]


def test_non_uefi_functions_wrap_after_eight() -> None:
    lines = [
        'loader="bhyveload"',
        'network0_type="virtio-net"',
        'network0_switch="public"',
        'network0_device="tap3"',
    ]
    for i in range(9):
        lines += [f'disk{i}_type="virtio-blk"', f'disk{i}_name="d{i}"']
    plan = plan_slots(parse_vm_config("\n".join(lines)), CTX)
    assert [(d.slot, d.func) for d in plan.disks][-2:] == [(4, 7), (5, 0)]
    assert (plan.nics[0].slot, plan.nics[0].func) == (6, 0)


def test_uefi_disks_each_take_a_slot_past_six() -> None:
    lines = ['loader="uefi"']
    for i in range(4):
        lines += [f'disk{i}_type="nvme"', f'disk{i}_name="d{i}"']
    plan = plan_slots(parse_vm_config("\n".join(lines)), CTX)
    assert [(d.slot, d.func) for d in plan.disks] == [(4, 0), (5, 0), (6, 0), (7, 0)]


def test_two_nics_are_functions_of_one_slot() -> None:
    conf = parse_vm_config(
        'loader="uefi"\ndisk0_type="virtio-blk"\ndisk0_name="disk0"\n'
        'network0_type="virtio-net"\nnetwork0_switch="public"\nnetwork0_mac="58:9c:fc:00:00:01"\n'
        'network1_type="virtio-net"\nnetwork1_switch="public"\nnetwork1_mac="58:9c:fc:00:00:02"\n'
    )
    plan = plan_slots(conf, HostContext("/vm/g", "g", "tank/vm", tap_names={0: "tap7", 1: "tap8"}))
    # bhyve marks a slot with two functions multifunction, and systemd then names function 0 f0 too
    assert [n.guest_name for n in plan.nics] == ["enp0s5f0", "enp0s5f1"]
    assert "-s 5:1,virtio-net,tap8,mac=58:9c:fc:00:00:02" in plan.devices_line()


def test_rand_passthru_xhci_console_order() -> None:
    conf = parse_vm_config(
        'loader="uefi"\ndisk0_type="nvme"\ndisk0_name="disk0"\nnetwork0_type="e1000"\nnetwork0_switch="public"\n'
        'network0_device="tap0"\n'
        'network0_mac="58:9c:fc:00:00:01"\nvirt_random="yes"\npassthru0="2/0/0"\npassthru1="2/0/1"\n'
        'passthru2="3/0/0=9:0"\ngraphics="yes"\ngraphics_port="5901"\ngraphics_res="1024x768"\n'
        'xhci_mouse="yes"\nvirt_console0="yes"\n'
    )
    assert plan_slots(conf, CTX).devices_line() == (
        "-s 0,hostbridge -s 31,lpc -s 4:0,nvme,/zdata/vms/xdev/disk0 -s 5:0,e1000,tap0,mac=58:9c:fc:00:00:01 "
        "-s 6:0,virtio-rnd -s 7:0,passthru,2/0/0 -s 7:1,passthru,2/0/1 -s 9:0,passthru,3/0/0 "
        "-s 8:0,fbuf,tcp=0.0.0.0:5901,w=1024,h=768 -s 9:0,xhci,tablet "
        "-s 10:0,virtio-console,0=/zdata/vms/xdev/vtcon.0"
    )


def test_disk_paths() -> None:
    assert resolve_disk_path("disk0", "sparse-zvol", CTX) == "/dev/zvol/zdata/vms/xdev/disk0"
    assert resolve_disk_path("disk0", "zvol", CTX) == "/dev/zvol/zdata/vms/xdev/disk0"
    assert resolve_disk_path("disk0.img", None, CTX) == "/zdata/vms/xdev/disk0.img"
    assert resolve_disk_path("disk0.img", "file", CTX) == "/zdata/vms/xdev/disk0.img"
    assert resolve_disk_path("/dev/ada1", "custom", CTX) == "/dev/ada1"
    assert resolve_disk_path("disk1", "/dev/ada1", CTX) == "/zdata/vms/xdev/disk1"


def test_guest_nic_names() -> None:
    assert guest_nic_name(5, 0) == "enp0s5"
    assert guest_nic_name(6, 2) == "enp0s6f2"
    assert guest_nic_name(6, 0, multifunction=True) == "enp0s6f0"


def test_a_nic_sharing_its_slot_with_a_disk_is_multifunction() -> None:
    # 9 BIOS disks: slot 4 functions 0-7, slot 5 function 0 for disk8; the NIC on slot 6 is alone
    lines = ['loader="grub"', 'network0_type="virtio-net"', 'network0_switch="public"']
    for i in range(9):
        lines += [f'disk{i}_type="virtio-blk"', f'disk{i}_name="d{i}"']
    plan = plan_slots(parse_vm_config("\n".join(lines)), CTX)
    assert plan.nics[0].guest_name == "enp0s6"
    # nine NICs: the first eight share slot 5 (f0..f7), the ninth is alone on slot 6
    lines = ['loader="grub"', 'disk0_type="virtio-blk"', 'disk0_name="d0"']
    for i in range(9):
        lines += [f'network{i}_type="virtio-net"', f'network{i}_switch="public"']
    plan = plan_slots(parse_vm_config("\n".join(lines)), CTX)
    assert [n.guest_name for n in plan.nics] == [f"enp0s5f{i}" for i in range(8)] + ["enp0s6"]


def test_nic_without_switch_is_skipped_and_the_next_takes_its_function() -> None:
    conf = parse_vm_config(
        'loader="grub"\ndisk0_type="virtio-blk"\ndisk0_name="d0"\n'
        'network0_type="virtio-net"\nnetwork0_switch=""\n'
        'network1_type="virtio-net"\nnetwork1_switch="public"\nnetwork1_device="tap4"\n'
    )
    plan = plan_slots(conf, CTX)
    assert [(n.index, n.slot, n.func, n.guest_name) for n in plan.nics] == [(1, 5, 0, "enp0s5")]
    assert plan.warnings == ("unable to configure interface 0",)
    assert plan.skipped_nics[0].reason == "network0_switch is empty"


def test_sound_between_mouse_and_console() -> None:
    conf = parse_vm_config(
        'loader="grub"\ncpu=1\nmemory=1G\ndisk0_type="virtio-blk"\ndisk0_name="d0"\n'
        'xhci_mouse="yes"\nsound="yes"\nsound_rec="/dev/dsp1"\nvirt_console0="yes"\n'
    )
    plan = plan_slots(conf, CTX)
    assert plan.devices_line().endswith(
        "-s 5:0,xhci,tablet -s 6:0,hda,play=/dev/dsp0,rec=/dev/dsp1 "
        "-s 7:0,virtio-console,0=/zdata/vms/xdev/vtcon.0"
    )
    assert plan.starts


def test_refusals_and_bhyve_errors() -> None:
    base = 'cpu=1\nmemory=1G\ndisk0_type="virtio-blk"\ndisk0_name="d0"\n'
    assert plan_slots(parse_vm_config(base), CTX).refusal is not None  # no loader
    assert plan_slots(parse_vm_config('loader="grub"\ncpu=1\nmemory=1G\n'), CTX).refusal is not None
    assert plan_slots(parse_vm_config('loader="grub2"\n' + base), CTX).refusal is not None
    assert plan_slots(parse_vm_config('loader="uefi"\ncpu=1\nmemory=1G\n'), CTX).refusal is None
    split = plan_slots(parse_vm_config('loader="grub"\n' + base + "passthru0=2/0/0 3/0/0\n"), CTX)
    assert split.refusal is None and split.bhyve_error is not None and not split.starts
    assert split.device_args()[-2:] == ["5:0,passthru,2/0/0", "3/0/0"]
    # a carriage return is no blank for the shell: one argument
    assert (
        plan_slots(parse_vm_config('loader="uefi"\n' + base.replace('"d0"', '"d0\r"')), CTX).bhyve_error
        is None
    )


def test_log_devices_in_release_and_master_forms() -> None:
    from agent.core.vmbhyve.vmlog import logged_devices

    release = "Sep 17:  [bhyve devices: -s 0,hostbridge -s 31,lpc -s 6:1,virtio-net,tap1,mac=m1]"
    master = "Sep 17:  [bhyve devices: -s 0,hostbridge -s 31,lpc -s 0:6:1,virtio-net,tap1,mac=m1]"
    for text in (release, master):
        found = logged_devices(text)
        assert found is not None
        bus, nic = found[-1]
        assert (bus, nic.slot, nic.func, nic.emulation, nic.args, nic.kind) == (
            0,
            6,
            1,
            "virtio-net",
            "tap1,mac=m1",
            "nic",
        )
    found = logged_devices("[bhyve devices: -s 1:2:3,nvme,/d -s 7,virtio-rnd]")
    assert found is not None
    assert [(b, d.slot, d.func) for b, d in found] == [(1, 2, 3), (0, 7, None)]
    assert logged_devices("no devices here") is None


def test_rename_when_only_the_multifunction_bit_changes() -> None:
    from agent.core.vmbhyve.vmlog import plan_from_log

    conf = parse_vm_config(
        'loader="uefi"\ncpu=1\nmemory=1G\ndisk0_type="virtio-blk"\ndisk0_name="d0"\n'
        'network0_type="virtio-net"\nnetwork0_switch="public"\nnetwork0_mac="58:9c:fc:00:00:01"\n'
        'network1_type="virtio-net"\nnetwork1_switch="public"\nnetwork1_mac="58:9c:fc:00:00:02"\n'
    )
    after = plan_slots(conf, CTX)
    log = (
        "x:  [bhyve devices: -s 0,hostbridge -s 31,lpc -s 4:0,virtio-blk,d0 "
        "-s 5:0,virtio-net,tap0,mac=58:9c:fc:00:00:01]"
    )
    before = plan_from_log(log, after)
    assert before is not None and before.nics[0].guest_name == "enp0s5"
    (r,) = predict_renames(before, after)
    assert (r.index, r.before_name, r.after_name) == (0, "enp0s5", "enp0s5f0")
    assert render_options(r.message).startswith(
        "network0 stays on slot 5, which now holds more than one device: enp0s5 → enp0s5f0"
    )


def test_vm_bhyve_own_run_reproduces_the_seed_log() -> None:
    """tests/facts/vmbhyve.vmrun/seed_xdev.json is vm-bhyve v1.6.2's own vm::run on the seed's xdev.conf
    (tests/tools/vmbhyve_vmrun.py): its options, devices and console lines are the seed log's, byte for
    byte, and so is this project's plan."""
    import json

    case = json.loads(
        (Path(__file__).parent.parent / "facts" / "vmbhyve.vmrun" / "seed_xdev.json").read_text()
    )
    logged = [ln for ln in case["vmrun"]["log"] if " [bhyve " in ln]
    assert len(logged) == 3 and logged[1].endswith(f"[bhyve devices: {SEED_DEVICES}]")
    if SEED_LOG.exists():
        assert logged == SEED_LOG.read_text().splitlines()
