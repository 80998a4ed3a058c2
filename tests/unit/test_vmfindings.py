"""Findings for the seed's configs and the classic mistakes, and the JSON / text renderings."""

from __future__ import annotations

import json
from pathlib import Path

from agent.core.vmbhyve.vmfindings import Finding, Report, check_vm_config_text
from agent.core.vmbhyve.vmreport import render_report, report_to_json

FIX = Path(__file__).parent.parent / "fixtures" / "vmbhyve"


def check(text: str, before: str | None = None) -> Report:
    return check_vm_config_text(
        text, vm_dir="/zdata/vms/xdev", vm_name="xdev", zvol_dataset="zdata/vms", before_text=before
    )


def check_file(name: str) -> Report:
    return check((FIX / name).read_text())


def codes(report: Report) -> list[str]:
    return [f.code for f in report.findings]


def only(report: Report, code: str) -> Finding:
    hits = [f for f in report.findings if f.code == code]
    assert len(hits) == 1, codes(report)
    return hits[0]


def test_correct_config_only_rename_and_notes() -> None:
    r = check_file("xdev.conf")
    assert [f.code for f in r.findings if f.severity == "error"] == []
    rename = only(r, "nic-rename")
    assert rename.severity == "warning"
    assert rename.nic == 0
    assert "enp0s5 → enp0s6" in rename.message
    assert r.before_source == "minus-disk1"
    serial = only(r, "nvme-no-serial")
    assert serial.severity == "info" and serial.disk == 1
    assert "NVME-5-0" in serial.message
    assert serial.fix is not None and 'disk1_opts="ser=XDEV-D1"' in serial.fix
    assert r.exit_code == 1  # the rename is a warning


def test_explicit_before_without_change_means_no_rename() -> None:
    text = (FIX / "xdev.conf").read_text()
    r = check(text, before=text)
    assert "nic-rename" not in codes(r)
    assert r.before_source == "explicit"


def test_first_wrong_config_path_in_dev_with_name() -> None:
    r = check_file("xdev.conf_disk1")
    f = only(r, "dev-is-path")
    assert f.severity == "error"
    assert (f.disk, f.line) == (1, 12)
    assert "opens /zdata/vms/xdev/disk1" in f.message
    assert "Could not open backing file: /zdata/vms/xdev/disk1: No such file or directory" in f.message
    assert f.fix == 'disk1_name="/dev/diskid/DISK-Y39B70RTK7ASp4" and disk1_dev="custom"'
    assert r.exit_code == 1


def test_second_wrong_config_path_in_dev_without_name() -> None:
    r = check_file("xdev.conf_disk1_ng")
    f = only(r, "dev-is-path-no-name")
    assert f.severity == "error" and f.disk == 1
    assert "boots without disk1" in f.message
    assert "disk-incomplete" not in codes(r)  # one finding for one mistake
    assert "nic-rename" not in codes(r)  # disk1 is not attached: the NIC stays where it was
    assert r.plan.nics[0].guest_name == "enp0s5"


def test_generic_suggestion_error_conf() -> None:
    r = check_file("error.conf")
    f = only(r, "dev-is-path-no-name")
    assert "/dev/ada1p2" in f.message
    assert f.fix == 'disk1_name="/dev/ada1p2" and disk1_dev="custom"'
    assert "commented-key" in codes(r)


def test_hdd_passthru_is_fine() -> None:
    r = check_file("hdd_passthru.conf")
    assert r.ok and r.exit_code == 0
    assert set(codes(r)) == {"excerpt", "nic-mac-generated"}


def test_custom_with_relative_name() -> None:
    r = check('loader="uefi"\ncpu=1\nmemory=1G\ndisk0_name="disk1"\ndisk0_dev="custom"\ndisk0_type="nvme"\n')
    f = only(r, "custom-relative-name")
    assert f.severity == "error" and f.line == 4
    assert "opens /disk1" in f.message


def test_absolute_name_without_custom() -> None:
    r = check('loader="uefi"\ncpu=1\nmemory=1G\ndisk0_name="/dev/ada1"\ndisk0_type="nvme"\n')
    f = only(r, "absolute-name-not-custom")
    assert "/zdata/vms/xdev//dev/ada1" in f.message
    assert f.fix == 'disk0_dev="custom"'


def test_missing_and_unknown_type() -> None:
    base = 'loader="uefi"\ncpu=1\nmemory=1G\ndisk0_name="disk0"\ndisk0_type="virtio-blk"\n'
    r = check(base + 'disk1_name="disk1"\ndisk2_name="disk2"\ndisk2_type="nvme"\n')
    f = only(r, "disk-incomplete")
    assert f.disk == 1 and "disk1_type not set" in f.message and "disk2" in f.message
    assert [i.index for i in r.plan.ignored_disks] == [1, 2]
    r = check(base + 'disk1_name="disk1"\ndisk1_type="scsi"\n')
    assert only(r, "type-unknown").disk == 1


def test_unknown_dev_value() -> None:
    r = check(
        'loader="uefi"\ncpu=1\nmemory=1G\ndisk0_name="disk0"\ndisk0_dev="sparse-disk"\ndisk0_type="nvme"\n'
    )
    f = only(r, "dev-unknown")
    assert "/zdata/vms/xdev/disk0" in f.message


def test_name_given_twice() -> None:
    r = check(
        'loader="uefi"\ncpu=1\nmemory=1G\ndisk0_name="disk0"\ndisk0_type="nvme"\ndisk0_name="/dev/ada1"\n'
    )
    f = only(r, "duplicate-key")
    assert f.severity == "error" and f.disk == 0 and f.line == 4
    assert "uses the first one (line 4: 'disk0')" in f.message


def test_gap_in_numbering() -> None:
    r = check(
        'loader="uefi"\ncpu=1\nmemory=1G\ndisk0_name="disk0"\ndisk0_type="nvme"\n'
        'disk2_name="disk2"\ndisk2_type="nvme"\n'
    )
    f = only(r, "disk-gap")
    assert f.disk == 2 and f.line == 6
    assert "no disk1" in f.message
    assert [d.index for d in r.plan.disks] == [0]


def test_same_backing_twice() -> None:
    r = check(
        'loader="uefi"\ncpu=1\nmemory=1G\ndisk0_name="disk0"\ndisk0_type="nvme"\n'
        'disk1_name="disk0"\ndisk1_type="virtio-blk"\n'
    )
    assert only(r, "same-backing").disk == 1


def test_legacy_uefi_and_missing_loader() -> None:
    r = check('uefi="yes"\ncpu=1\nmemory=1G\ndisk0_name="disk0"\ndisk0_type="nvme"\n')
    assert only(r, "legacy-uefi").severity == "error"
    assert r.plan.uefi
    r = check('loader="grub"\nuefi="yes"\ncpu=1\nmemory=1G\ndisk0_name="disk0"\ndisk0_type="nvme"\n')
    assert only(r, "legacy-uefi").severity == "warning"


def test_slot_collision_with_forced_passthru() -> None:
    r = check(
        'loader="uefi"\ncpu=1\nmemory=1G\ndisk0_name="disk0"\ndisk0_type="nvme"\npassthru0="3/0/0=4:0"\n'
    )
    assert only(r, "slot-collision").severity == "error"


def test_single_quotes_on_a_disk_key() -> None:
    r = check('loader="uefi"\ncpu=1\nmemory=1G\ndisk0_name=\'disk0\'\ndisk0_type="nvme"\n')
    f = only(r, "single-quoted")
    assert f.severity == "error" and f.disk == 0
    assert r.plan.disks[0].path == "/zdata/vms/xdev/'disk0'"


def test_json_shape() -> None:
    r = check_file("xdev.conf_disk1")
    data = report_to_json(r)
    json.dumps(data)  # serialisable
    assert set(data) == {
        "ok", "exit_code", "vm", "counts", "loader", "uefi", "excerpt", "devices", "refusal", "bhyve_error",
        "slots", "disks", "nics", "skipped_nics", "before", "renames", "findings", "explanations",
    }  # fmt: skip
    assert data["ok"] is False and data["exit_code"] == 1
    assert data["counts"] == {"error": 1, "warning": 1, "info": 3}
    disks = data["disks"]
    assert isinstance(disks, list)
    assert disks[1]["path"] == "/zdata/vms/xdev/disk1"
    assert disks[1]["slot"] == 5 and disks[1]["attached"] is True
    nics = data["nics"]
    assert isinstance(nics, list) and nics[0]["guest_name"] == "enp0s6"
    renames = data["renames"]
    assert isinstance(renames, list)
    assert renames[0]["from"] == {"slot": 5, "function": 0, "name": "enp0s5"}
    findings = data["findings"]
    assert isinstance(findings, list)
    assert findings[0]["code"] == "dev-is-path" and findings[0]["line"] == 12
    assert set(findings[0]) == {"code", "severity", "message", "fix", "line", "disk", "nic"}


def test_text_rendering() -> None:
    lines = render_report(check_file("xdev.conf_disk1_ng"))
    assert lines[0] == "vm-bhyve config for xdev: 1 error, 0 warnings, 2 info"
    assert any(ln.startswith("bhyve devices: -s 0,hostbridge") for ln in lines)
    assert "  disk1: NOT ATTACHED — disk1_name not set: vm-bhyve's disk list ends here" in lines
    assert any(ln.startswith("ERROR   line 11 disk1: disk1_dev is a path") for ln in lines)
    assert any(ln.startswith("        fix: disk1_name=") for ln in lines)
    assert any("diskN_dev is the kind of backing" in ln for ln in lines)


def test_seed_excerpt_as_is_softens_the_gap() -> None:
    seed_excerpt = (
        '...\ndisk1_name="disk1"\ndisk1_dev="/dev/diskid/DISK-Y39B70RTK7ASp4"\ndisk1_type="nvme"\n...\n'
    )
    r = check(seed_excerpt)
    gap = only(r, "disk-gap")
    assert gap.severity == "warning" and "excerpt" in gap.message
    assert only(r, "dev-is-path").line == 3
    assert "required-missing" not in codes(r)
