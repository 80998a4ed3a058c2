"""The vm-bhyve config parser reads a guest config the way vm-bhyve's config::load/config::get do."""

from __future__ import annotations

from pathlib import Path

from agent.core.vmbhyve.vmconf import is_yes, parse_vm_config

FIX = Path(__file__).parent.parent / "fixtures" / "vmbhyve"
SEED = FIX / "xdev.conf"


def test_seed_config_values_and_line_numbers() -> None:
    conf = parse_vm_config(SEED.read_text())
    assert conf.loader == "uefi"
    assert conf.uefi is True
    assert conf.graphics is True
    assert conf.get("memory") == "16G"
    assert conf.get("cpu") == "4"
    assert conf.line_of("disk1_name") == 11
    assert [(d.index, d.name, d.dev, d.type) for d in conf.disks] == [
        (0, "disk0", "sparse-zvol", "virtio-blk"),
        (1, "/dev/diskid/DISK-Y39B70RTK7ASp4", "custom", "nvme"),
    ]
    assert dict(conf.disks[1].lines) == {"name": 11, "dev": 12, "type": 13}
    nic = conf.nics[0]
    assert (nic.type, nic.switch, nic.device, nic.mac) == (
        "virtio-net",
        "igc0bridge",
        "tap0",
        "58:9c:fc:03:19:32",
    )
    assert nic.lines["mac"] == 20


def test_commented_keys_are_recorded_not_used() -> None:
    conf = parse_vm_config(SEED.read_text())
    assert conf.get("passthru0") is None
    assert [(c.key, c.value, c.line) for c in conf.commented] == [
        ("passthru0", "1/0/0=2:0", 14),
        ("passthru0", "1/0/0", 15),
    ]


def test_elision_lines_are_recorded() -> None:
    conf = parse_vm_config((FIX / "hdd_passthru.conf").read_text())
    assert conf.is_excerpt
    assert conf.elisions == (21,)
    assert conf.ahci_device_limit == 8
    assert [d.name for d in conf.disks] == ["disk0.img", "/dev/ada0", "/dev/ada1", "/dev/ada2"]
    assert conf.disks[1].opts == "sectorsize=512"


def test_quotes_and_comments_as_vm_bhyve_strips_them() -> None:
    conf = parse_vm_config(
        'disk0_name="disk0"   # the boot disk\n'
        "disk0_type=virtio-blk\n"
        "disk1_name='disk1'\n"
        'vnc_password="a#b"\n'
        "memory=2G  \n"
    )
    assert conf.get("disk0_name") == "disk0"
    assert conf.get("disk0_type") == "virtio-blk"
    assert conf.get("disk1_name") == "'disk1'"  # tr -d '"' leaves single quotes in place
    assert conf.get("vnc_password") == "a"  # awk -F# cuts inside the quotes too
    assert conf.get("memory") == "2G"
    kinds = [(i.kind, i.line) for i in conf.issues]
    assert ("single-quoted", 3) in kinds
    assert ("hash-in-quotes", 4) in kinds


def test_duplicate_key_first_one_wins() -> None:
    conf = parse_vm_config('disk1_name="first"\ndisk1_type="nvme"\ndisk1_name="second"\n')
    assert conf.get("disk1_name") == "first"
    assert conf.disks[0].name == "first"
    assert conf.duplicates == {"disk1_name": (1, 3)}


def test_ignored_lines() -> None:
    conf = parse_vm_config('  disk0_name="x"\nDisk0_type="nvme"\ndisk0_dev = "custom"\nnonsense\n')
    assert conf.entries == ()
    assert [i.kind for i in conf.issues] == [
        "ignored-indented",
        "ignored-uppercase",
        "space-in-key",
        "no-equals",
    ]


def test_crlf_is_kept_in_values() -> None:
    conf = parse_vm_config('disk0_name="disk0"\r\ndisk0_type="nvme"\r\n')
    assert conf.get("disk0_name") == "disk0\r"
    assert {i.kind for i in conf.issues} == {"carriage-return"}


def test_uefi_detection() -> None:
    assert parse_vm_config('loader="uefi-csm"\n').uefi
    assert not parse_vm_config('loader="grub"\n').uefi
    assert parse_vm_config('uefi="yes"\n').uefi  # vm-bhyve <= 1.0
    assert parse_vm_config('uefi="csm"\n').uefi
    assert not parse_vm_config('uefi="no"\n').uefi
    assert not parse_vm_config('loader="grub"\nuefi="yes"\n').uefi  # loader decides since 1.1


def test_ahci_limit_only_2_to_32() -> None:
    assert parse_vm_config('ahci_device_limit="33"\n').ahci_device_limit == 1
    assert parse_vm_config('ahci_device_limit="eight"\n').ahci_device_limit == 1
    assert parse_vm_config('ahci_device_limit="32"\n').ahci_device_limit == 32
    assert parse_vm_config("").ahci_device_limit == 1


def test_without_disk_keeps_line_numbers() -> None:
    conf = parse_vm_config(SEED.read_text())
    before = conf.without_disk(1)
    assert [d.index for d in before.disks] == [0]
    assert before.line_of("network0_mac") == conf.line_of("network0_mac") == 20


def test_is_yes() -> None:
    assert is_yes("yes") and is_yes("on") and is_yes("anything")
    assert not any(is_yes(v) for v in ("", None, "no", "NO", "false", "Off", "0"))
