"""Selection on facts captured from the real lab guest (QEMU NVMe, Debian 12), blank and after ext4.

The captures are the stdout of ``render_facts_script()`` run as root in the lab guest booted with
``--disk1 --nic-slot 5`` (NVMe serial Y39B70RTK7AS at slot 6, 4 GiB), before and after
``invoke format --fs ext4 --label data``.
"""

from __future__ import annotations

import pytest

from agent.core.disk.candidates import (
    AlreadyFormatted,
    DiskState,
    FormatPlan,
    assess_all,
    make_pins,
    select_disk,
)
from agent.core.disk.devices import ProbeState
from agent.errors import Refused, UsageError
from agent.hints import render_options
from tests.unit.disk_fixtures import disk, load_facts

SERIAL = "Y39B70RTK7AS"
BY_ID = "/dev/disk/by-id/nvme-QEMU_NVMe_Ctrl_Y39B70RTK7AS_1"  # per namespace, not the controller link
SIZE = 4 * 1024**3
EXT4_UUID = "49429bbd-b3b2-4f44-8bbe-512112906655"  # what mkfs.ext4 made in the capture


def test_blank_capture_parses_as_root_with_all_sections() -> None:
    facts = load_facts("lab_blank_nvme")
    assert facts.privileged
    assert [d.name for d in facts.disks] == ["vda", "nvme0n1"]
    assert facts.root_disks == ("vda",)
    nvme = disk(facts, "nvme0n1")
    assert nvme.is_nvme and nvme.model == "QEMU NVMe Ctrl" and nvme.serial == SERIAL
    assert nvme.size_bytes == SIZE
    assert nvme.signatures.state is ProbeState.NONE
    assert nvme.stable_path() == BY_ID
    assert "mkfs.ext4" in facts.versions.paths and "mkfs.xfs" in facts.versions.paths


@pytest.mark.parametrize("fs", ["ext4", "xfs"])
def test_blank_capture_selects_the_nvme_by_serial(fs: str) -> None:
    facts = load_facts("lab_blank_nvme")
    for pins in (None, make_pins(serial=SERIAL), make_pins(device="/dev/nvme0n1"), make_pins(device=BY_ID)):
        plan = select_disk(facts, fs, pins=pins)  # type: ignore[arg-type]
        assert isinstance(plan, FormatPlan)
        assert plan.disk.name == "nvme0n1"
        assert plan.expected_serial == SERIAL
        assert plan.expected_size_bytes == SIZE
        assert plan.device_path == BY_ID
        assert plan.expected_signatures == () and plan.overwrites == ()


def test_vda_is_the_root_disk_and_never_a_candidate() -> None:
    facts = load_facts("lab_blank_nvme")
    vda = next(v for v in assess_all(facts, "ext4") if v.disk.name == "vda")
    assert vda.disk.is_root_disk
    assert vda.state is DiskState.EXCLUDED
    assert {"root", "mounted", "not-nvme"} <= {r.code for r in vda.reasons}
    # even pinned explicitly and forced, the root disk is refused
    with pytest.raises(Refused, match="holds the root filesystem"):
        select_disk(facts, "ext4", pins=make_pins(device="/dev/vda"), force=True)


def test_pin_matching_nothing_lists_the_lab_disks() -> None:
    with pytest.raises(UsageError) as e:
        select_disk(load_facts("lab_blank_nvme"), "ext4", pins=make_pins(serial="NOPE"))
    assert (
        "vda 2 GiB" in e.value.message and f"nvme0n1 4 GiB QEMU NVMe Ctrl serial {SERIAL}" in e.value.message
    )


def test_ext4_capture_is_already_formatted_with_its_uuid() -> None:
    facts = load_facts("lab_ext4_nvme")
    sel = select_disk(facts, "ext4", pins=make_pins(serial=SERIAL))
    assert isinstance(sel, AlreadyFormatted)
    assert sel.disk.name == "nvme0n1"
    assert sel.uuid == EXT4_UUID
    assert sel.label == "data"


def test_ext4_capture_refuses_xfs_unless_forced() -> None:
    facts = load_facts("lab_ext4_nvme")
    with pytest.raises(Refused, match=r"ext4 \(UUID " + EXT4_UUID) as e:
        select_disk(facts, "xfs")
    assert "--force" in render_options(e.value.message)
    plan = select_disk(facts, "xfs", force=True)
    assert isinstance(plan, FormatPlan)
    assert plan.expected_signatures == ("ext4",)
    assert [s.uuid for s in plan.overwrites] == [EXT4_UUID]
