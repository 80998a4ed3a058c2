"""Selection and refusals on the bhyve-like fixtures and the real Debian 12 captures."""

from __future__ import annotations

import dataclasses

import pytest

from agent.core.disk.candidates import (
    AlreadyFormatted,
    DiskState,
    FormatPlan,
    Override,
    Pins,
    assess_all,
    assess_disk,
    make_pins,
    select_disk,
)
from agent.core.disk.devices import Facts
from agent.errors import Refused, UsageError
from agent.hints import render_options
from tests.unit.disk_fixtures import disk, load_facts

SERIAL = "Y39B70RTK7AS"
HOST_PATH = "/dev/diskid/DISK-Y39B70RTK7ASp4"


def codes(facts: Facts, name: str = "nvme0n1", fs: str | None = "ext4", force: bool = False) -> set[str]:
    v = assess_disk(disk(facts, name), fs, force=force)  # type: ignore[arg-type]
    return {r.code for r in v.reasons}


def test_empty_bhyve_nvme_is_planned_on_its_stable_path() -> None:
    plan = select_disk(load_facts("bhyve_empty_nvme"), "ext4")
    assert isinstance(plan, FormatPlan)
    assert plan.disk.name == "nvme0n1"
    assert plan.device_path == "/dev/disk/by-id/nvme-bhyve-NVMe_Y39B70RTK7AS_1"
    assert plan.expected_serial == SERIAL
    assert plan.expected_size_bytes == 274877906944
    assert plan.expected_signatures == () and plan.overwrites == ()
    vda = next(v for v in plan.verdicts if v.disk.name == "vda")
    assert vda.state is DiskState.EXCLUDED
    assert {r.code for r in vda.reasons} >= {
        "root",
        "mounted",
        "holders",
        "partitions",
        "partition-table",
        "not-nvme",
    }


@pytest.mark.parametrize(
    ("fixture", "code", "text"),
    [
        ("bhyve_nvme_gpt_partition", "partitions", "has partitions nvme0n1p1"),
        ("bhyve_nvme_gpt_empty_table", "partition-table", "would hide the filesystem from the host"),
        ("bhyve_nvme_pmbr_only", "partition-table", "protective MBR"),
        ("bhyve_nvme_backup_gpt_only", "partition-table", "backup GPT header at the last sector"),
        ("bhyve_nvme_mounted", "mounted", "mounted at /mnt/data"),
        ("bhyve_nvme_swap", "swap", "in use as swap (/dev/nvme0n1)"),
        ("bhyve_nvme_dm_holder", "holders", "has holders dm-1"),
        ("bhyve_nvme_xfs", "signature", "carries signature xfs (UUID 0b5e8c2a"),
    ],
)
def test_each_refusal_reason_is_reported_with_the_vm_bhyve_hint(fixture: str, code: str, text: str) -> None:
    facts = load_facts(fixture)
    assert code in codes(facts)
    with pytest.raises(Refused) as ei:
        select_disk(facts, "ext4", host_path=HOST_PATH)
    err = ei.value
    assert text in err.message
    assert "nvme0n1 256 GiB bhyve-NVMe serial Y39B70RTK7AS" in err.message
    assert err.hint is not None
    assert f'disk1_name="{HOST_PATH}"' in err.hint and 'disk1_dev="custom"' in err.hint
    assert 'disk1_type="nvme"' in err.hint


@pytest.mark.parametrize(
    "fixture",
    ["bhyve_nvme_gpt_partition", "bhyve_nvme_pmbr_only", "bhyve_nvme_backup_gpt_only", "bhyve_nvme_mounted",
     "bhyve_nvme_swap", "bhyve_nvme_dm_holder"],
)  # fmt: skip
def test_force_never_overrides_in_use_or_partition_tables(fixture: str) -> None:
    facts = load_facts(fixture)
    with pytest.raises(Refused):
        select_disk(facts, "xfs", force=True)
    v = assess_disk(disk(facts, "nvme0n1"), "xfs", force=True)
    assert v.state is DiskState.EXCLUDED
    assert any(r.override is Override.NEVER for r in v.reasons)


def test_same_filesystem_is_already_formatted_and_reports_uuid() -> None:
    result = select_disk(load_facts("bhyve_nvme_ext4"), "ext4")
    assert isinstance(result, AlreadyFormatted)
    assert result.uuid == "6f1c2b0e-3a4d-4d8e-9b1a-2f3c4d5e6f70"
    assert result.label == "hostdata"
    assert select_disk(load_facts("bhyve_nvme_xfs"), "xfs").disk.name == "nvme0n1"


def test_other_filesystem_needs_force_and_then_is_expected_by_the_guard() -> None:
    facts = load_facts("bhyve_nvme_ext4")
    with pytest.raises(Refused) as ei:
        select_disk(facts, "xfs")
    assert "--force" in render_options(ei.value.hint or "")
    plan = select_disk(facts, "xfs", force=True)
    assert isinstance(plan, FormatPlan)
    assert plan.expected_signatures == ("ext4",)
    assert [s.uuid for s in plan.overwrites] == ["6f1c2b0e-3a4d-4d8e-9b1a-2f3c4d5e6f70"]
    v = next(v for v in plan.verdicts if v.disk.name == "nvme0n1")
    assert any("will be overwritten (--force)" in render_options(n) for n in v.notes)


def test_mounted_disk_with_the_requested_fs_is_refused_not_a_no_op() -> None:
    with pytest.raises(Refused, match="mounted at /mnt/data"):
        select_disk(load_facts("bhyve_nvme_mounted"), "ext4")


def test_two_empty_nvme_disks_are_ambiguous_until_pinned() -> None:
    facts = load_facts("bhyve_two_nvme")
    with pytest.raises(Refused) as ei:
        select_disk(facts, "ext4")
    assert "2 disks" in ei.value.message
    assert "serial Y39B70RTK7AS" in ei.value.message and "serial NVME-5-0" in ei.value.message
    assert "--serial" in render_options(ei.value.hint or "")

    by_serial = select_disk(facts, "ext4", pins=make_pins(serial="NVME-5-0"))
    assert isinstance(by_serial, FormatPlan) and by_serial.disk.name == "nvme1n1"
    assert by_serial.expected_serial == "NVME-5-0"
    by_dev = select_disk(facts, "ext4", pins=make_pins(device="/dev/disk/by-id/nvme-bhyve-NVMe_Y39B70RTK7AS"))
    assert by_dev.disk.name == "nvme0n1"
    assert select_disk(facts, "ext4", pins=make_pins(device="nvme1n1")).disk.name == "nvme1n1"
    assert select_disk(facts, "ext4", pins=make_pins(device="/dev/nvme0n1")).disk.name == "nvme0n1"


def test_pin_matching_nothing_is_a_usage_error_listing_disks() -> None:
    facts = load_facts("bhyve_empty_nvme")
    with pytest.raises(UsageError) as ei:
        select_disk(facts, "ext4", pins=make_pins(serial="NOPE"), host_path=HOST_PATH)
    assert "serial=NOPE" in ei.value.message
    assert "nvme0n1 256 GiB bhyve-NVMe serial Y39B70RTK7AS" in ei.value.message
    assert "vda 32 GiB" in ei.value.message
    assert HOST_PATH in (ei.value.hint or "")
    with pytest.raises(UsageError):
        select_disk(facts, "ext4", pins=make_pins(model="bhyve-NVMe", size="128GiB"))


def test_model_and_size_pins_narrow() -> None:
    plan = select_disk(
        load_facts("bhyve_empty_nvme"), "xfs", pins=make_pins(model="BHYVE-nvme", size="256GiB")
    )
    assert isinstance(plan, FormatPlan) and plan.fs == "xfs"


def test_non_nvme_disk_needs_an_explicit_pin() -> None:
    facts = load_facts("bhyve_empty_nvme")
    nvme = disk(facts, "nvme0n1")
    vdb = dataclasses.replace(
        nvme, name="vdb", kname="vdb", path="/dev/vdb", tran="virtio", model=None, serial="BHYVE-1", by_id=()
    )
    facts2 = dataclasses.replace(facts, disks=(disk(facts, "vda"), vdb))
    with pytest.raises(Refused, match=r"not NVMe \(tran=virtio\); pin it with --device/--serial"):
        select_disk(facts2, "ext4")
    plan = select_disk(facts2, "ext4", pins=make_pins(device="/dev/vdb"))
    assert isinstance(plan, FormatPlan) and plan.device_path == "/dev/vdb"
    # a model pin is not specific enough to allow a non-NVMe disk
    assert assess_disk(vdb, "ext4", pins=Pins(size_bytes=nvme.size_bytes)).state is DiskState.EXCLUDED


def test_unprivileged_facts_still_plan_but_say_the_guard_rechecks() -> None:
    plan = select_disk(load_facts("bhyve_unprivileged"), "ext4")
    assert isinstance(plan, FormatPlan)
    v = next(v for v in plan.verdicts if v.disk.name == "nvme0n1")
    assert any("guard re-checks" in n for n in v.notes)


def test_real_debian_capture_has_no_candidate() -> None:
    facts = load_facts("debian12_root_loops")
    with pytest.raises(Refused) as ei:
        select_disk(facts, "ext4")
    msg = ei.value.message
    assert "vda 256 GiB: not NVMe (tran=unknown)" in msg and "holds the root filesystem" in msg
    assert "loop2 64 MiB: not a whole disk (type loop)" in msg
    assert "zram0 0 B: has no media (size 0)" in msg
    # even pinned, the root disk stays excluded
    with pytest.raises(Refused, match="holds the root filesystem; mounted at /"):
        select_disk(facts, "ext4", pins=make_pins(device="/dev/vda"), force=True)


def test_assess_all_without_fs_describes_every_disk() -> None:
    verdicts = {v.disk.name: v for v in assess_all(load_facts("bhyve_nvme_ext4"))}
    assert verdicts["nvme0n1"].state is DiskState.EXCLUDED
    assert verdicts["nvme0n1"].why().startswith("carries signature ext4")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("256GiB", 274877906944),
        ("256G", 274877906944),
        ("256g", 274877906944),
        ("4T", 4 * 1024**4),
        ("500GB", 500 * 1000**3),
        ("274877906944", 274877906944),
        ("512 B", 512),
        (1024, 1024),
        ("1.5KiB", 1536),
    ],
)
def test_size_pin(text: str | int, expected: int) -> None:
    assert make_pins(size=text).size_bytes == expected


@pytest.mark.parametrize("bad", ["abc", "-4G", "1.3B", "4Gi", 0, "0G"])
def test_size_pin_rejects_with_a_usage_error(bad: str | int) -> None:
    with pytest.raises(UsageError):
        make_pins(size=bad)
    assert make_pins(size="").size_bytes is None
