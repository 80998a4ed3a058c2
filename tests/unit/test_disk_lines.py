"""Guest output is split on "\\n" only (issue 9, item 13): lsblk, wipefs, blkid and /proc print U+2028,
U+2029 and U+0085 raw inside labels, which ``str.splitlines`` takes for line ends — a label could then
forge a ``TYPE=``/``PTTYPE=`` line of ``blkid -o export`` or split a mount line in two."""

from __future__ import annotations

import json

import pytest

from agent.core.disk.candidates import AlreadyFormatted, DiskState, assess_all, select_disk
from agent.core.disk.ext4_freebsd import parse_dumpe2fs_header
from agent.core.disk.facts_sections import parse_key_values, parse_mounts, parse_sysfs
from agent.core.disk.probe import parse_facts
from agent.core.guest_text import clean
from agent.core.net.interfaces import parse_sysfs_listing
from tests.unit.disk_fixtures import disk, fixture_text

BREAKS = ["\u2028", "\u2029", "\x85", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e"]


def labelled(label: str) -> str:
    """The lab capture of nvme0n1 (ext4 labelled "data") with ``label`` in lsblk, wipefs and blkid."""
    text = fixture_text("lab_ext4_nvme")
    in_json = json.dumps(label, ensure_ascii=False)  # lsblk escapes C0 controls, prints the rest raw
    out = text.replace('"label": "data"', f'"label": {in_json}').replace("LABEL=data\n", f"LABEL={label}\n")
    assert out.count(in_json) == 2 and out.count(f"LABEL={label}\n") == 1
    return out


@pytest.mark.parametrize("brk", BREAKS)
def test_a_label_with_a_unicode_line_break_parses_and_the_disk_is_still_judged(brk: str) -> None:
    label = f"usb{brk}PTTYPE=dos"  # split there, blkid's export would report a partition table
    facts = parse_facts(labelled(label))
    nvme = disk(facts, "nvme0n1")
    assert [s.type for s in nvme.signatures.signatures] == ["ext4"]
    assert nvme.signatures.signatures[0].label == clean(label)  # shown visibly (item 12), not split
    states = {v.disk.name: v.state for v in assess_all(facts, "ext4")}
    assert states == {"vda": DiskState.EXCLUDED, "nvme0n1": DiskState.ALREADY_FORMATTED}
    sel = select_disk(facts, "ext4")
    assert isinstance(sel, AlreadyFormatted) and sel.label == clean(label)


def test_a_label_cannot_forge_a_partition_table() -> None:
    facts = parse_facts(labelled("x\u2028PTTYPE=gpt"))
    assert disk(facts, "nvme0n1").signatures.partition_tables == ()


def test_line_readers_split_on_newline_only() -> None:
    assert parse_key_values("LABEL=a\u2028TYPE=swap\nTYPE=ext4\n") == {
        "LABEL": clean("a\u2028TYPE=swap"),
        "TYPE": "ext4",
    }
    mounts = parse_mounts("/dev/sdb /media/a\u2029b vfat rw 0 0\n")
    assert [(m.source, m.target, m.fstype) for m in mounts] == [
        ("/dev/sdb", clean("/media/a\u2029b"), "vfat")
    ]
    kv, _, holders = parse_sysfs("device/model=QEMU\x85holders=dm-0\nholders=\n")
    assert kv["device/model"].startswith("QEMU") and holders == ()
    header = parse_dumpe2fs_header("Filesystem volume name:   a\u2028Filesystem features: none\n")
    assert "Filesystem features" not in header
    names = list(parse_sysfs_listing("eth0\u2028x\t/sys/devices/pci0000:00/0000:00:05.0\n"))
    assert len(names) == 1 and names[0].startswith("eth0")
