"""Parsing the facts script's output: real captures from this Debian 12 machine and bhyve-like fixtures."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from agent.core import marker, script_render
from agent.core.disk.devices import Disk, ProbeState, format_size
from agent.core.disk.facts_sections import as_bool, as_int, parse_by_id
from agent.core.disk.probe import (
    disks_to_probe,
    parse_facts,
    parse_facts_parts,
    render_facts_script,
    uid_of,
)
from agent.errors import RemoteError
from tests.unit.disk_fixtures import PROBE_SECTIONS, disk, fixture_text, load_facts, split_fixture

NONCE = "b4f1e0c2d9a87765"


def split_sections(text: str) -> marker.Framed:
    return marker.parse(text, "FACTS")


# ------------------------------------------------------------------------------------ section framing


def test_split_sections_skips_noise_before_header_and_reads_rc() -> None:
    text = "sudo lecture\n" + fixture_text("bhyve_empty_nvme")
    raw = split_sections(text)
    assert raw.nonce == NONCE
    assert uid_of(raw) == 0
    assert raw.complete
    sec = raw.get("blkid", "nvme0n1")
    assert sec is not None and sec.rc == 2 and sec.stdout == "" and sec.stderr == ""


def test_forged_marker_with_wrong_nonce_does_not_end_a_section() -> None:
    text = (
        f"@@GDA-FACTS v1 nonce={NONCE} uid=0@@\n"
        f"@@GDA-{NONCE} BEGIN mounts -@@\n"
        "@@GDA-0000000000000000 END rc=0@@\n"
        "/dev/nvme0n1 /x ext4 rw 0 0\n"
        f"@@GDA-{NONCE} STDERR@@\n"
        f"@@GDA-{NONCE} END rc=0@@\n"
    )
    raw = split_sections(text)
    sec = raw.get("mounts")
    assert sec is not None
    assert "/dev/nvme0n1 /x" in sec.stdout
    assert "@@GDA-0000000000000000 END" in sec.stdout
    assert not raw.complete


def test_truncated_output_keeps_partial_section_without_rc() -> None:
    text = fixture_text("bhyve_empty_nvme")
    cut = text[: text.index("BEGIN byid")] + "BEGIN byid -@@\nnvme-x\t/dev/nvme0n1\n"
    raw = split_sections(cut)
    sec = raw.get("byid")
    assert sec is not None and sec.rc is None and "nvme-x" in sec.stdout
    assert not raw.complete


def test_no_header_is_a_remote_error() -> None:
    with pytest.raises(RemoteError, match="no recognizable output"):
        split_sections("sh: 1: lsblk: not found\n")


def test_failed_lsblk_is_a_remote_error() -> None:
    text = (
        f"@@GDA-FACTS v1 nonce={NONCE} uid=0@@\n@@GDA-{NONCE} BEGIN lsblk -@@\n@@GDA-{NONCE} STDERR@@\n"
        f"lsblk: unknown column: PATH\n@@GDA-{NONCE} END rc=1@@\n@@GDA-{NONCE} DONE@@\n"
    )
    with pytest.raises(RemoteError, match="unknown column: PATH"):
        parse_facts(text)


# ------------------------------------------------------------------------- real captures (Debian 12)


def test_real_capture_as_root_with_loop_devices() -> None:
    facts = load_facts("debian12_root_loops")
    assert facts.privileged
    assert facts.os_name == "Debian GNU/Linux 12 (bookworm)"
    assert facts.versions.util_linux == "2.38.1"
    assert facts.versions.e2fsprogs == "1.47.0"
    assert facts.versions.xfsprogs == "6.1.0"
    assert "mkfs.xfs" in facts.versions.paths and "udevadm" not in facts.versions.paths
    assert facts.root_source == "/dev/vda" and facts.root_disks == ("vda",)

    ext4 = disk(facts, "loop0")
    assert ext4.signatures.state is ProbeState.FOUND
    (sig,) = ext4.signatures.signatures
    assert (sig.type, sig.label, sig.offset, sig.usage) == ("ext4", "capdata", "0x438", "filesystem")
    assert sig.uuid and len(sig.uuid) == 36

    gpt = disk(facts, "loop1")
    assert gpt.signatures.raw is not None
    assert (
        gpt.signatures.raw.mbr_protective and gpt.signatures.raw.gpt_primary and gpt.signatures.raw.gpt_backup
    )
    assert {s.type for s in gpt.signatures.signatures} == {"gpt", "PMBR"}
    assert gpt.signatures.content_signatures == ()

    empty = disk(facts, "loop2")
    assert empty.signatures.state is ProbeState.NONE
    assert empty.size_bytes == 64 * 1024 * 1024

    vda = disk(facts, "vda")
    assert vda.is_root_disk and vda.mounts == ("/",)
    assert vda.signatures.state is ProbeState.UNKNOWN  # the sandbox forbids opening vda even as root
    assert any("Operation not permitted" in e for e in vda.signatures.errors)
    assert (
        vda.size_bytes == 274877906944 and vda.logical_sector_size == 512 and vda.physical_sector_size == 4096
    )
    assert disk(facts, "zram0").size_bytes == 0


def test_real_capture_unprivileged_records_unknown_not_none() -> None:
    facts = load_facts("debian12_user_loops")
    assert facts.uid == 65534 and not facts.privileged
    for name in ("loop0", "loop1", "loop2", "vda"):
        d = disk(facts, name)
        assert d.signatures.state is ProbeState.UNKNOWN, name
        assert any("Permission denied" in e for e in d.signatures.errors)
    assert any("without root" in w for w in facts.warnings)


def test_real_capture_without_by_id_falls_back_to_kernel_path() -> None:
    facts = load_facts("debian12_root")
    assert facts.by_id == {}
    assert disk(facts, "vda").stable_path() == "/dev/vda"
    assert any("by-id" in w for w in facts.warnings)


# ------------------------------------------------------------------------------------- bhyve fixtures


def test_bhyve_guest_nvme_and_root_disk() -> None:
    facts = load_facts("bhyve_empty_nvme")
    nvme = disk(facts, "nvme0n1")
    assert nvme.model == "bhyve-NVMe" and nvme.serial == "Y39B70RTK7AS"
    assert nvme.size_bytes == 274877906944 and nvme.human_size() == "256 GiB"
    assert nvme.is_nvme and nvme.tran == "nvme" and nvme.read_only is False
    assert nvme.signatures.state is ProbeState.NONE
    assert nvme.partitions == () and nvme.holders == () and not nvme.in_swap and not nvme.is_root_disk
    assert nvme.stable_path() == "/dev/disk/by-id/nvme-bhyve-NVMe_Y39B70RTK7AS_1"
    assert set(nvme.by_id) == {
        "nvme-bhyve-NVMe_Y39B70RTK7AS",
        "nvme-bhyve-NVMe_Y39B70RTK7AS_1",
        "nvme-eui.589cfc2031930001",
    }
    assert nvme.fdisk is not None and "Disk model: bhyve-NVMe" in nvme.fdisk

    vda = disk(facts, "vda")
    assert vda.is_root_disk and not vda.is_nvme
    assert vda.partitions == ("vda1", "vda2", "vda3")
    assert vda.holders == ("dm-0",)
    assert set(vda.mounts) == {"/", "/boot", "/boot/efi"}
    assert facts.root_source == "/dev/mapper/ubuntu--vg-ubuntu--lv"
    assert facts.swaps == ("/swap.img",)


def test_old_lsblk_strings_and_padding_are_normalised() -> None:
    facts = load_facts("bhyve_old_lsblk")
    assert facts.versions.util_linux == "2.34"
    nvme = disk(facts, "nvme0n1")
    assert nvme.model == "bhyve-NVMe"  # padded to 40 in the fixture
    assert nvme.size_bytes == 274877906944 and nvme.read_only is False and nvme.rotational is False
    assert set(disk(facts, "vda").mounts) == {"/", "/boot", "/boot/efi"}


def test_swap_holders_and_backup_gpt() -> None:
    swap = disk(load_facts("bhyve_nvme_swap"), "nvme0n1")
    assert swap.in_swap and swap.swap_devices == ("/dev/nvme0n1",)
    assert "[SWAP]" not in swap.mounts

    held = disk(load_facts("bhyve_nvme_dm_holder"), "nvme0n1")
    assert held.holders == ("dm-1",)
    assert [c.kname for c in held.walk()] == ["dm-1"]

    backup = disk(load_facts("bhyve_nvme_backup_gpt_only"), "nvme0n1")
    assert backup.signatures.state is ProbeState.FOUND
    assert backup.signatures.raw is not None and backup.signatures.raw.gpt_backup
    assert not backup.signatures.raw.gpt_primary and not backup.signatures.raw.mbr_boot_signature
    assert "a backup GPT header at the last sector" in backup.signatures.partition_tables


def test_unprivileged_guest_keeps_lsblk_view_of_root_disk() -> None:
    facts = load_facts("bhyve_unprivileged")
    assert disk(facts, "nvme0n1").signatures.state is ProbeState.UNKNOWN
    vda = disk(facts, "vda")
    assert vda.signatures.state is ProbeState.FOUND  # from lsblk's PTTYPE (udev database)
    assert vda.signatures.signatures[0].source == "lsblk"


@pytest.mark.parametrize(
    ("value", "expected"),
    [(True, True), ("1", True), (" 0 ", False), (0, False), ("true", True), (None, None), ("x", None)],
)
def test_as_bool(value: object, expected: bool | None) -> None:
    assert as_bool(value) is expected


def test_small_helpers() -> None:
    assert as_int("42") == 42 and as_int(None) is None and as_int(True) is None
    assert format_size(274877906944) == "256 GiB"
    assert format_size(1536) == "1.5 KiB"
    assert format_size(None) == "?"


# --------------------------------------------------------------------------- the script, for real


def _run_script(shell: str) -> str:
    script = render_facts_script()
    proc = subprocess.run(
        [shell, "-s"], input=script, capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    return proc.stdout


@pytest.mark.parametrize("shell", ["sh", "dash", "bash"])
def test_facts_script_runs_here_and_parses(shell: str) -> None:
    if shutil.which(shell) is None:
        pytest.skip(f"{shell} not installed")
    facts = parse_facts(_run_script(shell))
    assert facts.complete
    assert facts.root_source is not None
    assert facts.versions.util_linux is not None
    assert any(d.is_root_disk for d in facts.disks) or facts.root_disks == ()


def test_facts_script_is_valid_posix_sh_and_read_only() -> None:
    script = render_facts_script("0123456789abcdef")
    proc = subprocess.run(["sh", "-n"], input=script, text=True, capture_output=True, check=False)
    assert proc.returncode == 0, proc.stderr
    for forbidden in ("sudo", "parted", "sfdisk", "sgdisk", "wipefs -a", "of=/dev", "--all", "mkfs.ext4 -"):
        assert forbidden not in script, forbidden
    assert 'gda_version "$_t" -V' in script  # mkfs is only asked for its version
    assert "GDA_VERSIONS='util-linux mke2fs mkfs.xfs'" in script
    assert "GDA_VERSIONS=mke2fs\n" in render_facts_script(versions=("mke2fs",))
    with pytest.raises(ValueError):
        render_facts_script(versions=("rm -rf /",))
    assert "N=0123456789abcdef" in script
    with pytest.raises(ValueError):
        render_facts_script("bad nonce; rm -rf /")


# ------------------------------------------------------------------------------ stable path (NVMe ns)


def _nvme(kname: str, by_id: tuple[str, ...], serial: str | None = "S123") -> Disk:
    return Disk(
        name=kname, kname=kname, path=f"/dev/{kname}", type="disk", size_bytes=1 << 30,
        model="Samsung SSD 970", serial=serial, tran="nvme", by_id=by_id,
    )  # fmt: skip


def test_nvme_stable_path_is_per_namespace_never_the_controller_link() -> None:
    # udev points nvme-<MODEL>_<SERIAL> at whichever namespace it processed last: here namespace 2 owns
    # it, but namespace 1 must still be addressed by a link that can only mean namespace 1.
    ns1 = _nvme("nvme0n1", ("nvme-Samsung_SSD_970_S123_1", "nvme-eui.0025385b71b1e0c1"))
    ns2 = _nvme(
        "nvme0n2", ("nvme-Samsung_SSD_970_S123", "nvme-Samsung_SSD_970_S123_2", "nvme-eui.0025385b71b1e0c2")
    )
    assert ns1.stable_path() == "/dev/disk/by-id/nvme-Samsung_SSD_970_S123_1"
    assert ns2.stable_path() == "/dev/disk/by-id/nvme-Samsung_SSD_970_S123_2"
    # no per-namespace serial link (older udev): the namespace identifiers, then the kernel path
    only_ids = _nvme("nvme0n1", ("nvme-Samsung_SSD_970_S123", "wwn-0x5002538e00000001", "nvme-eui.0025"))
    assert only_ids.stable_path() == "/dev/disk/by-id/nvme-eui.0025"
    assert _nvme("nvme0n1", ("nvme-Samsung_SSD_970_S123",)).stable_path() == "/dev/nvme0n1"
    assert _nvme("nvme0n1", ()).stable_path() == "/dev/nvme0n1"
    no_serial = _nvme("nvme0n1", ("nvme-nvme.1b36-00000001",), serial=None)
    assert no_serial.stable_path() == "/dev/disk/by-id/nvme-nvme.1b36-00000001"


def test_lab_nvme_uses_the_namespace_link_and_the_non_nvme_ranking_is_unchanged() -> None:
    nvme = disk(load_facts("lab_blank_nvme"), "nvme0n1")
    assert nvme.stable_path() == "/dev/disk/by-id/nvme-QEMU_NVMe_Ctrl_Y39B70RTK7AS_1"
    scsi = Disk(
        name="sda", kname="sda", path="/dev/sda", type="disk", size_bytes=1 << 30, serial="ABC",
        tran="sata", by_id=("wwn-0x5000c500a1b2c3d4", "ata-WDC_WD10_ABC"),
    )  # fmt: skip
    assert scsi.stable_path() == "/dev/disk/by-id/ata-WDC_WD10_ABC"


@pytest.mark.skipif(shutil.which("shellcheck") is None, reason="shellcheck is not installed")
def test_the_script_passes_shellcheck(tmp_path: Path) -> None:
    body = Path(script_render.__file__).resolve().parent.parent / "scripts" / "disk_facts.sh"
    rendered = tmp_path / "rendered.sh"
    rendered.write_text(render_facts_script("0123456789abcdef"))
    # the rendered script too (prelude + lib/marker.sh + body); SC2317: library functions it does not call
    for path, extra in ((body, []), (rendered, ["-e", "SC2317"])):
        r = subprocess.run(
            ["shellcheck", "-s", "sh", *extra, str(path)], capture_output=True, text=True, check=False
        )
        assert r.returncode == 0, r.stdout


def test_by_id_targets_as_the_links_say_are_resolved() -> None:
    # the script prints what each link says (one find, no readlink per link): udev's links are relative
    text = "nvme-QEMU_NVMe_Ctrl_S1_1\t../../nvme0n1\nwwn-0x5\t/dev/sda\nbad\n\tx\n"
    assert parse_by_id(text) == {"nvme-QEMU_NVMe_Ctrl_S1_1": "/dev/nvme0n1", "wwn-0x5": "/dev/sda"}


def test_versions_are_asked_only_for_the_tools_named() -> None:
    script = render_facts_script(versions=())
    proc = subprocess.run(["sh", "-s"], input=script, capture_output=True, text=True, timeout=60, check=False)
    facts = parse_facts(proc.stdout)
    assert facts.complete and (facts.versions.util_linux, facts.versions.e2fsprogs) == (None, None)
    assert "mkfs.ext4" in facts.versions.paths or shutil.which("mkfs.ext4") is None


# ------------------------------------------------------------------------ the two parts (SSH: user, root)


@pytest.mark.parametrize("name", ["lab_blank_nvme", "lab_ext4_nvme", "bhyve_two_nvme", "bhyve_nvme_swap"])
def test_the_user_and_root_parts_parse_as_the_one_run(name: str) -> None:
    """A captured one-run output cut where the parts cut it: the user part's sections (as the login
    user: uid 1000), then the content probes under another nonce with uid 0, give the same facts."""
    user_text, root_text = split_fixture(name)
    assert parse_facts_parts(user_text, root_text) == parse_facts(fixture_text(name))
    # cut short: the root part without its DONE line is incomplete, and so are the facts
    assert not parse_facts_parts(user_text, root_text.replace("@@GDA-0f1e2d3c4b5a6978 DONE@@\n", "")).complete


def test_the_root_part_probes_every_listed_disk_but_the_root_disk() -> None:
    raw = split_sections(fixture_text("lab_lean_script_blank_nvme"))
    user = replace(raw, sections=tuple(s for s in raw.sections if s.name not in PROBE_SECTIONS))
    listed = [s.arg for s in raw.all("sysfs")]
    skipped = {s.arg for s in raw.all("skipped")}
    assert skipped and set(listed) > skipped
    assert disks_to_probe(user) == tuple(n for n in listed if n not in skipped)
    # a name that is not a kernel name is never put into the root part's prelude
    odd = replace(user, sections=(*user.sections, marker.Section("sysfs", "x y;rm", "", "", 0)))
    assert disks_to_probe(odd) == disks_to_probe(user)


def test_the_parts_are_rendered_with_what_they_need_only() -> None:
    user = render_facts_script("0123456789abcdef", part="user")
    root = render_facts_script("0123456789abcdef", versions=(), part="root", disks=("nvme0n1", "sdb"))
    assert "GDA_PART=user\n" in user and "GDA_DISKS=''\n" in user
    assert "GDA_PART=root\n" in root and "GDA_DISKS='nvme0n1 sdb'\n" in root
    assert "GDA_PART=all\n" in render_facts_script("0123456789abcdef")
    assert "GDA_REPORT=1\n" in root and "GDA_REPORT=0\n" in render_facts_script(part="root", report=False)
    for bad in (
        {"part": "both"},
        {"part": "root", "disks": ("sda; reboot",)},
        {"part": "user", "disks": ("sda",)},
    ):
        with pytest.raises(ValueError):
            render_facts_script(**bad)  # type: ignore[arg-type]


def test_the_parts_run_here_as_they_run_on_a_guest() -> None:
    """The user part, then the root part with the disks it listed (both as this user: the probes that
    need root say so in their sections, as in the one run)."""

    def run(script: str) -> str:
        proc = subprocess.run(
            ["sh", "-s"], input=script, capture_output=True, text=True, timeout=60, check=False
        )
        assert proc.returncode == 0 and proc.stderr == "", proc.stderr
        return proc.stdout

    user = run(render_facts_script(part="user"))
    raw = split_sections(user)
    assert raw.attrs["part"] == "user" and raw.complete
    assert not [s for s in raw.sections if s.name in PROBE_SECTIONS]
    disks = disks_to_probe(raw)
    root = run(render_facts_script(versions=(), part="root", disks=disks))
    probed = split_sections(root)
    assert probed.attrs["part"] == "root" and probed.complete
    assert {s.name for s in probed.sections} <= set(PROBE_SECTIONS)
    assert {s.arg for s in probed.all("wipefs")} == set(disks)
    assert {s.arg for s in probed.all("rawsig")} == set(disks)
    two, one = parse_facts_parts(user, root), parse_facts(_run_script("sh"))
    assert [d.kname for d in two.disks] == [d.kname for d in one.disks]
    assert [d.signatures for d in two.disks] == [d.signatures for d in one.disks]
