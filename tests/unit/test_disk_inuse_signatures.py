"""Issue 9, items 1, 2 and 4 (pure): a disk backing a loop device is in use; FreeBSD GEOM metadata and a
BSD disklabel are signatures libblkid does not report; the force option confirms the very signatures
shown (type, offset, UUID), not just their types."""

from __future__ import annotations

import dataclasses
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from agent.core.disk import guard as g
from agent.core.disk.candidates import DiskState, FormatPlan, Override, assess_disk, select_disk
from agent.core.disk.devices import Facts, Signature
from agent.core.disk.guard_codes import GUARD_CODES, GuardExit
from agent.core.disk.probe import parse_facts
from agent.core.disk.signatures import geom_class_of
from agent.errors import ChangeFailed, Refused
from agent.hints import opt
from tests.unit.disk_fixtures import disk, fixture_text

NONCE = "b4f1e0c2d9a87765"
M = f"@@GDA-{NONCE}"
GELI_HEX = b"GEOM::ELI".hex() + "00" * 7


def with_loops(text: str, lines: str) -> str:
    """The fixture with a ``loops`` section (as the facts script prints it) after ``byid``."""
    section = f"{M} BEGIN loops -@@\n{lines}{M} STDERR@@\n{M} END rc=0@@\n"
    anchor = f"{M} BEGIN sysfs "
    i = text.index(anchor)
    return text[:i] + section + text[i:]


def with_last_sector(text: str, kname: str, hex16: str) -> str:
    """The fixture with the first 16 bytes of ``kname``'s last sector set to ``hex16``."""
    start = text.index(f"{M} BEGIN rawsig {kname}@@")
    end = text.index(f"{M} END", start)
    body = text[start:end].replace("last=0000000000000000\n", f"last={hex16[:16]}\ngeom={hex16}\n")
    return text[:start] + body + text[end:]


def facts_of(text: str) -> Facts:
    return parse_facts(text)


# ------------------------------------------------------------------------------ 1. loop devices


@pytest.mark.parametrize(
    "line",
    [
        "loop7\t259:0\t1048576\t/dev/nvme0n1\n",  # found by major:minor
        "loop7\t-\t1048576\t/dev/nvme0n1\n",  # by path (the node could not be stat'ed)
    ],
)
def test_a_disk_backing_a_loop_device_is_in_use_and_force_does_not_lift_it(line: str) -> None:
    facts = facts_of(with_loops(fixture_text("bhyve_empty_nvme"), line))
    nvme = disk(facts, "nvme0n1")
    assert nvme.loop_devices == ("loop7",)
    for force in (False, True):
        v = assess_disk(nvme, "ext4", force=force)
        assert v.state is DiskState.EXCLUDED
        (loop,) = [r for r in v.reasons if r.code == "loop"]
        assert loop.override is Override.NEVER and "/dev/loop7" in loop.text
    with pytest.raises(Refused) as e:
        select_disk(facts, "ext4", force=True)
    assert "backs loop device /dev/loop7" in e.value.message
    assert opt("force") not in e.value.message


def test_a_loop_on_another_disk_or_a_plain_file_does_not_exclude_the_nvme() -> None:
    lines = "loop0\t253:0\t0\t/dev/vda\nloop1\t-\t0\t/var/lib/snapd/snaps/core_1.snap\n"
    facts = facts_of(with_loops(fixture_text("bhyve_empty_nvme"), lines))
    assert disk(facts, "nvme0n1").loop_devices == ()
    assert isinstance(select_disk(facts, "ext4"), FormatPlan)


def test_without_a_loops_section_old_captures_still_parse() -> None:
    assert disk(facts_of(fixture_text("bhyve_empty_nvme")), "nvme0n1").loop_devices == ()


def test_the_guard_code_for_a_loop_names_it_and_is_never_forceable() -> None:
    code = GUARD_CODES[GuardExit.LOOP]
    assert not code.device_changed and "never overrides" in code.hint
    out = guard_output(GuardExit.LOOP, {"loop_devices": "loop3"})
    with pytest.raises(Refused) as e:
        g.interpret_guard(out, GuardExit.LOOP, spec())
    assert "backs /dev/loop3" in e.value.message and "nothing was changed" in e.value.message


# ----------------------------------------------------------------------------- 2. FreeBSD metadata


@pytest.mark.parametrize(
    ("magic", "cls"),
    [
        (b"GEOM::ELI", "ELI"),
        (b"GEOM::MIRROR", "MIRROR"),
        (b"GEOM::LABEL", "LABEL"),
        (b"GEOM::CONCAT", "CONCAT"),
        (b"GEOM::STRIPE", "STRIPE"),
        (b"GEOM::RAID3", "RAID3"),
        (b"GEOM::JOURNAL", "JOURNAL"),
        (b"GEOM::MULTIPATH", "MULTIPATH"),  # 15 bytes: fills md_magic[16] but for the NUL
        (b"GEOM::\x1b[2J", "??2J"),  # no escape sequence gets through
        (b"EFI PART", None),
        (b"GEOM:", None),
    ],
)
def test_geom_class_from_the_magic(magic: bytes, cls: str | None) -> None:
    assert geom_class_of(magic.ljust(16, b"\0").hex()) == cls


def test_geli_metadata_in_the_last_sector_is_a_signature_naming_the_class() -> None:
    facts = facts_of(with_last_sector(fixture_text("bhyve_empty_nvme"), "nvme0n1", GELI_HEX))
    nvme = disk(facts, "nvme0n1")
    (sig,) = nvme.signatures.content_signatures
    assert sig.type == "GEOM::ELI" and sig.offset == hex(536870911 * 512)
    assert "FreeBSD geli (encrypted) metadata in the last sector" in sig.describe()
    with pytest.raises(Refused) as e:
        select_disk(facts, "ext4")
    assert "GEOM::ELI (FreeBSD geli" in e.value.message and f"{opt('force')} overwrites it" in e.value.message
    plan = select_disk(facts, "ext4", force=True)
    assert isinstance(plan, FormatPlan)
    assert plan.expected_signatures == ("GEOM::ELI",)
    assert plan.expected_signature_keys == (f"GEOM::ELI,{hex(536870911 * 512)},",)


def test_a_bsd_disklabel_at_lba1_is_a_partition_table_even_with_force() -> None:
    text = fixture_text("bhyve_empty_nvme")
    start = text.index(f"{M} BEGIN rawsig nvme0n1@@")
    text = text[:start] + text[start:].replace("lba1=0000000000000000", "lba1=5745568200000000", 1)
    nvme = disk(facts_of(text), "nvme0n1")
    v = assess_disk(nvme, "ext4", force=True)
    assert v.state is DiskState.EXCLUDED
    (pt,) = [r for r in v.reasons if r.code == "partition-table"]
    assert "FreeBSD disklabel" in pt.text and pt.override is Override.NEVER


def _blkid(image: Path) -> dict[str, str]:
    r = subprocess.run(["blkid", "-p", "-o", "export", str(image)], capture_output=True, text=True)
    return dict(line.split("=", 1) for line in r.stdout.splitlines() if "=" in line)


@pytest.mark.skipif(shutil.which("blkid") is None, reason="needs blkid")
def test_libblkid_finds_ufs_but_neither_geom_nor_a_bare_bsd_disklabel(tmp_path: Path) -> None:
    """Why the raw reads exist: on this machine's libblkid a UFS2 superblock (magic 0x19540119 at
    65536+1372) is TYPE=ufs, but GELI metadata in the last sector and a disklabel at LBA 1 are nothing."""
    ufs = bytearray(1 << 20)
    struct.pack_into("<I", ufs, 65536 + 1372, 0x19540119)
    (tmp_path / "ufs.img").write_bytes(ufs)
    assert _blkid(tmp_path / "ufs.img").get("TYPE") == "ufs"

    geli = bytearray(1 << 20)
    geli[-512 : -512 + 9] = b"GEOM::ELI"
    (tmp_path / "geli.img").write_bytes(geli)
    assert "TYPE" not in _blkid(tmp_path / "geli.img")

    bsd = bytearray(1 << 20)
    struct.pack_into("<I", bsd, 512, 0x82564557)
    struct.pack_into("<I", bsd, 512 + 132, 0x82564557)
    (tmp_path / "bsd.img").write_bytes(bsd)
    assert "PTTYPE" not in _blkid(tmp_path / "bsd.img")


# ------------------------------------------------------------------------ 4. confirmed signatures


def test_signature_key_is_type_offset_uuid() -> None:
    assert Signature("ext4", offset="0x438", uuid="u-1").key == "ext4,0x438,u-1"
    assert Signature("GEOM::ELI", offset="0x1000").key == "GEOM::ELI,0x1000,"


def test_the_forced_plan_carries_the_confirmed_uuid_to_the_guard() -> None:
    facts = facts_of(fixture_text("bhyve_nvme_ext4"))
    plan = select_disk(facts, "xfs", force=True)
    assert isinstance(plan, FormatPlan)
    (sig,) = plan.overwrites
    assert sig.uuid and plan.expected_signature_keys == (f"ext4,{sig.offset},{sig.uuid}",)
    script = g.render_guard_script(
        spec(
            expected_signatures=plan.expected_signatures, expected_signature_keys=plan.expected_signature_keys
        )
    )
    assert f"EXP_SIG_KEYS=ext4,{sig.offset},{sig.uuid}" in script


def test_spec_keys_must_match_the_types() -> None:
    with pytest.raises(ValueError, match="do not match"):
        spec(expected_signatures=("ext4",), expected_signature_keys=("xfs,0x0,u",))
    with pytest.raises(ValueError, match="invalid signature keys"):
        spec(expected_signatures=("ext4",), expected_signature_keys=("ext4 0x438",))


def test_another_ext4_than_the_confirmed_one_is_refused() -> None:
    obs = {
        "signatures": "ext4",
        "expected_signatures": "ext4",
        "signature_keys": "ext4,0x438,NEW",
        "expected_signature_keys": "ext4,0x438,OLD",
    }
    s = spec(expected_signatures=("ext4",), expected_signature_keys=("ext4,0x438,OLD",))
    with pytest.raises(Refused) as e:
        g.interpret_guard(guard_output(GuardExit.SIGNATURE_ID, obs), GuardExit.SIGNATURE_ID, s)
    msg = e.value.message
    assert "not the ones confirmed" in msg and "nothing was changed" in msg
    assert "found [ext4 (UUID NEW, at offset 0x438)], confirmed [ext4 (UUID OLD, at offset 0x438)]" in msg


# ----------------------------------------------------------------------------- 3. device identity


def test_identity_changed_after_mkfs_is_a_change_failure() -> None:
    obs = {"mkfs_argv": "mkfs.ext4 -F", "identity_before": "node=7:1 fd=7:1", "identity_after": "node=7:2"}
    with pytest.raises(ChangeFailed) as e:
        g.interpret_guard(guard_output(GuardExit.IDENTITY_AFTER, obs), GuardExit.IDENTITY_AFTER, spec())
    assert "another device after mkfs" in e.value.message and "node=7:2" in e.value.message


def test_identity_changed_before_mkfs_is_a_refusal() -> None:
    obs = {"identity": "node=7:1 fd=7:1 sysfs=7:1 ", "identity_before": "node=7:2 fd=7:1 sysfs=7:2 "}
    with pytest.raises(Refused) as e:
        g.interpret_guard(guard_output(GuardExit.IDENTITY, obs), GuardExit.IDENTITY, spec())
    assert "no longer leads to the locked device" in e.value.message


def test_the_guard_needs_stat() -> None:
    assert "stat" in g.GUARD_TOOLS


# ------------------------------------------------------------------------------------------ helpers


def spec(**kw: object) -> g.GuardSpec:
    base = g.GuardSpec(
        device_path="/dev/disk/by-id/nvme-bhyve-NVMe_Y39B70RTK7AS_1",
        fs="ext4",
        mkfs_argv=("mkfs.ext4", "-F"),
        expected_size_bytes=274877906944,
        expected_serial="Y39B70RTK7AS",
    )
    return dataclasses.replace(base, **kw)  # type: ignore[arg-type]


def guard_output(code: int, obs: dict[str, str]) -> str:
    """A guard stdout with the given observations and RESULT line (the framing of agent.core.marker)."""
    reason = GUARD_CODES[code].reason
    lines = [f"@@GDA-GUARD v1 nonce={NONCE}@@", f"{M} OBS device=/dev/nvme0n1"]
    lines += [f"{M} OBS {k}={v}" for k, v in obs.items()]
    lines.append(f"{M} RESULT code={int(code)} reason={reason}@@")
    return "\n".join(lines) + "\n"
