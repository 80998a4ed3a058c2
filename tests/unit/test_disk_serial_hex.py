"""A non-ASCII serial (issue 9, item 14): discovery and the guard read the same bytes, the serial's sysfs
file as hex, so lsblk's two encodings (JSON and plain output) no longer make the serial "change".

Loop devices have no serial, so the guard's check is tested here as the shell functions it is: the hex
rendering (shared, byte for byte, by the facts and the guard scripts) on a fake sysfs tree, and the
comparison with the expected values the prelude sets."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from agent.core import script_render
from agent.core.disk.candidates import FormatPlan, select_disk
from agent.core.disk.guard import GuardSpec, interpret_guard, render_guard_script
from agent.core.disk.guard_codes import GuardExit
from agent.core.disk.probe import parse_facts, render_facts_script
from agent.errors import Refused
from agent.ops import format_disk as fmt
from tests.unit.disk_fixtures import fixture_text

SH = shutil.which("sh")
SERIAL_BYTES = "Y39B\u00e9\u00df  ".encode() + b"\xff\n"  # UTF-8 é ß, padding, a byte no codec agrees on
SERIAL_HEX = SERIAL_BYTES.hex()


def shell_function(script: str, name: str) -> str:
    m = re.search(rf"^{name}\(\) {{\n.*?^}}\n", script_render.body(script), re.S | re.M)
    assert m, f"{name} not in {script}"
    return m[0]


def sh(code: str, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    assert SH is not None
    return subprocess.run(
        [SH, "-c", code, "sh", *args], capture_output=True, text=True, env=env or {"PATH": "/usr/bin:/bin"}
    )


def test_facts_and_guard_render_the_serial_with_the_same_function() -> None:
    fn = shell_function("lib/sysfs.sh", "gda_serial_hex")
    for script, text in (
        ("disk_facts.sh", render_facts_script()),
        ("disk_guard.sh", render_guard_script(GuardSpec("/dev/nvme0n1", "ext4", ("mkfs.ext4",), 4096, "S"))),
    ):
        assert text.count(fn) == 1, f"{script} is not rendered with lib/sysfs.sh"
        assert "gda_serial_hex() {" not in script_render.body(script), f"{script} defines its own copy"


@pytest.mark.skipif(SH is None, reason="no sh")
def test_serial_hex_is_the_raw_sysfs_bytes(tmp_path: Path) -> None:
    fn = "".join(
        shell_function("lib/sysfs.sh", f) for f in ("gda_hexjoin", "gda_serial_file", "gda_serial_hex")
    )
    nvme = tmp_path / "nvme0n1"  # a namespace: device/ is the controller, which has the serial
    (nvme / "device").mkdir(parents=True)
    (nvme / "device" / "serial").write_bytes(SERIAL_BYTES)
    (nvme / "serial").write_bytes(b"ignored\n")
    virtio = tmp_path / "vda"  # virtio-blk: the disk's own serial file
    virtio.mkdir()
    (virtio / "serial").write_bytes(b"VIRT1\n")
    loop = tmp_path / "loop0"  # no serial at all
    loop.mkdir()
    for d, want in ((nvme, SERIAL_HEX), (virtio, b"VIRT1\n".hex()), (loop, "")):
        r = sh(fn + 'gda_serial_hex "$1"; printf %s "$_hx"', str(d))
        assert (r.returncode, r.stdout, r.stderr) == (0, want, "")


@pytest.mark.skipif(SH is None, reason="no sh")
@pytest.mark.parametrize(
    ("check_hex", "exp_hex", "check_text", "exp_text", "seen_hex", "seen_text", "ok"),
    [
        (
            "1",
            SERIAL_HEX,
            "1",
            "Y39B\u00e9\u00df",
            SERIAL_HEX,
            "Y39B\\xc3\\xa9\\xc3\\x9f",
            True,
        ),  # lsblk differs
        ("1", SERIAL_HEX, "1", "Y39B", "5939420a", "Y39B", False),  # other bytes: another disk
        ("1", SERIAL_HEX, "1", "Y39B", "", "Y39B", False),  # the serial file is gone
        ("0", "", "1", "Y39B", "", "Y39B", True),  # no sysfs serial at discovery: lsblk's text
        ("0", "", "1", "Y39B", "", "OTHER", False),
        ("0", "", "0", "", "", "", True),  # no serial at all (loop)
    ],
)
def test_guard_serial_comparison(
    check_hex: str, exp_hex: str, check_text: str, exp_text: str, seen_hex: str, seen_text: str, ok: bool
) -> None:
    env = {
        "PATH": "/usr/bin:/bin",
        "CHECK_SERIAL_HEX": check_hex,
        "EXP_SERIAL_HEX": exp_hex,
        "CHECK_SERIAL": check_text,
        "EXP_SERIAL": exp_text,
    }
    r = sh(shell_function("disk_guard.sh", "serial_ok") + 'serial_ok "$1" "$2"', seen_hex, seen_text, env=env)
    assert r.returncode == (0 if ok else 1), r.stderr


def facts_with_serial(lsblk_serial: str, hexed: str | None) -> str:
    text = fixture_text("lab_blank_nvme")
    assert text.count('"serial": "Y39B70RTK7AS"') == 1
    text = text.replace('"serial": "Y39B70RTK7AS"', f'"serial": "{lsblk_serial}"')
    if hexed is not None:
        anchor = "holders=\n"
        i = text.index("BEGIN sysfs nvme0n1@@")
        j = text.index(anchor, i)
        text = text[:j] + f"serial_hex={hexed}\n" + text[j:]
    return text


def test_discovery_keeps_the_hex_and_the_guard_compares_it() -> None:
    facts = parse_facts(facts_with_serial("Y39B\u00e9\u00df", SERIAL_HEX))
    plan = select_disk(facts, "ext4")
    assert isinstance(plan, FormatPlan) and plan.disk.serial_hex == SERIAL_HEX
    spec, _, _ = fmt.plan_mkfs(plan, facts, fmt.FormatOptions(fs="ext4"), None, lambda _m: None)
    assert spec.expected_serial_hex == SERIAL_HEX
    script = render_guard_script(spec)
    assert "CHECK_SERIAL_HEX=1\n" in script and f"EXP_SERIAL_HEX={SERIAL_HEX}\n" in script


def test_no_or_malformed_hex_keeps_the_text_check() -> None:
    for hexed in (None, "", "zz", "abc"):
        facts = parse_facts(facts_with_serial("Y39B70RTK7AS", hexed))
        plan = select_disk(facts, "ext4")
        assert isinstance(plan, FormatPlan) and plan.disk.serial_hex is None
        spec, _, _ = fmt.plan_mkfs(plan, facts, fmt.FormatOptions(fs="ext4"), None, lambda _m: None)
        script = render_guard_script(spec)
        assert "CHECK_SERIAL_HEX=0\n" in script and "CHECK_SERIAL=1\n" in script


def test_spec_refuses_a_malformed_hex() -> None:
    with pytest.raises(ValueError, match="serial hex"):
        GuardSpec("/dev/nvme0n1", "ext4", ("mkfs.ext4",), 4096, "S", expected_serial_hex="5x")


def test_a_serial_mismatch_names_the_bytes() -> None:
    spec = GuardSpec("/dev/nvme0n1", "ext4", ("mkfs.ext4",), 4096, "S", expected_serial_hex=SERIAL_HEX)
    n = "0123456789abcdef"
    out = (
        f"@@GDA-GUARD v1 nonce={n}@@\n@@GDA-{n} OBS device=/dev/nvme0n1\n@@GDA-{n} OBS serial=S\n"
        f"@@GDA-{n} OBS serial_hex=530a\n@@GDA-{n} RESULT code={int(GuardExit.SERIAL)} reason=serial@@\n"
    )
    with pytest.raises(Refused) as ei:
        interpret_guard(out, int(GuardExit.SERIAL), spec)
    assert f"sysfs bytes 530a, expected {SERIAL_HEX}" in ei.value.message


@pytest.mark.skipif(SH is None, reason="no sh")
@pytest.mark.parametrize("lbs", [512, 4096])
def test_head_reads_the_mbr_tail_and_lba1_with_one_od(tmp_path: Path, lbs: int) -> None:
    # what discovery and the guard compare: bytes 446-511 and the first 8 bytes of LBA 1, exactly
    img = bytearray(range(256)) * (2 * lbs // 256 + 1)
    img[lbs : lbs + 8] = b"EFI PART"
    dev = tmp_path / "disk.img"
    dev.write_bytes(bytes(img))
    fn = shell_function("lib/sysfs.sh", "gda_head")
    r = sh(fn + 'gda_head "$1" "$2"; echo "$? $_mbr $_lba1"', str(dev), str(lbs))
    assert r.stdout.split() == ["0", img[446:512].hex(), b"EFI PART".hex()], r.stderr
    short = tmp_path / "short.img"
    short.write_bytes(bytes(img[:500]))  # a read that ends early is a failure, not a blank disk
    r = sh(fn + 'gda_head "$1" "$2"; echo "rc=$?"', str(short), str(lbs))
    assert r.stdout.strip() == "rc=1"
    # the last sector's read (gda_hex_at), shared the same way
    at = shell_function("lib/sysfs.sh", "gda_hexjoin") + shell_function("lib/sysfs.sh", "gda_hex_at")
    r = sh(at + 'gda_hex_at "$1" "$2" 16; echo "$? $_hx"', str(dev), str(lbs))
    assert r.stdout.split() == ["0", img[lbs : lbs + 16].hex()]
    r = sh(at + 'gda_hex_at "$1" 490 16; echo "rc=$?"', str(short))
    assert r.stdout.strip() == "rc=1"


@pytest.mark.skipif(SH is None, reason="no sh")
@pytest.mark.parametrize(
    ("db", "want"),
    [
        # lsblk's order (util-linux lsblk-properties.c): ID_WWN_WITH_EXTENSION, else ID_WWN
        ("E:ID_WWN=0x5000c5\nE:ID_WWN_WITH_EXTENSION=0x5000c5e5\n", "0x5000c5e5"),
        ("S:disk/by-id/x\nE:ID_WWN=nvme.1b36-5933-00000001\nE:ID_SERIAL=Q_1\n", "nvme.1b36-5933-00000001"),
        ("E:ID_SERIAL=Q_1\n", None),  # neither: the guard asks lsblk
        (None, None),  # no database entry (udev not running): the guard asks lsblk
    ],
)
def test_the_guard_reads_the_wwn_where_lsblk_does(tmp_path: Path, db: str | None, want: str | None) -> None:
    if db is not None:
        (tmp_path / "b259:0").write_text(db)
    fn = shell_function("disk_guard.sh", "trim") + shell_function("disk_guard.sh", "udev_wwn")
    assert fn.count("/run/udev/data/b$1") == 2
    fn = fn.replace("/run/udev/data/", f"{tmp_path}/")
    r = sh(fn + 'udev_wwn 259:0 && printf %s "$uwwn"', "")
    assert (r.returncode, r.stdout) == ((0, want) if want else (1, ""))
