"""Rendering the guard script (quoting, no partitioner) and interpreting its output and exit codes."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from agent.core import script_render
from agent.core.disk.guard import (
    GuardSpec,
    guard_phases,
    interpret_guard,
    parse_guard_output,
    render_guard_script,
)
from agent.core.disk.guard_codes import GUARD_CODES, GuardExit
from agent.core.disk.mkfs import build_mkfs_argv
from agent.errors import ChangeFailed, Refused, RemoteError

EXIT_MKFS_FAILED = GuardExit.MKFS_FAILED
EXIT_MKFS_MISSING = GuardExit.MKFS_MISSING
EXIT_OK = GuardExit.OK
EXIT_SERIAL = GuardExit.SERIAL
EXIT_SIGNATURE = GuardExit.SIGNATURE
EXIT_WWN = GuardExit.WWN

N = "0123456789abcdef"


def spec(**kw: object) -> GuardSpec:
    base: dict[str, object] = {
        "device_path": "/dev/disk/by-id/nvme-bhyve-NVMe_Y39B70RTK7AS",
        "fs": "ext4",
        "mkfs_argv": build_mkfs_argv("ext4", label="hostdata", force=True),
        "expected_size_bytes": 274877906944,
        "expected_serial": "Y39B70RTK7AS",
    }
    base.update(kw)
    return GuardSpec(**base)  # type: ignore[arg-type]


def output(
    code: int, reason: str, obs: dict[str, str], blocks: dict[str, tuple[int, str]] | None = None
) -> str:
    lines = [f"@@GDA-GUARD v1 nonce={N}@@"]
    lines += [f"@@GDA-{N} OBS {k}={v}" for k, v in obs.items()]
    for name, (rc, text) in (blocks or {}).items():
        lines += [f"@@GDA-{N} BEGIN {name} -@@", *text.splitlines(), f"@@GDA-{N} END rc={rc}@@"]
    lines.append(f"@@GDA-{N} RESULT code={code} reason={reason}@@")
    return "\n".join(lines) + "\n"


def test_script_is_valid_sh_and_never_partitions() -> None:
    script = render_guard_script(spec(), nonce=N)
    for shell in ("sh", "bash"):
        proc = subprocess.run([shell, "-n"], input=script, text=True, capture_output=True, check=False)
        assert proc.returncode == 0, proc.stderr
    for word in (
        "parted",
        "sfdisk",
        "sgdisk",
        "gdisk",
        "fdisk",
        "wipefs -a",
        "wipefs --all",
        "partx",
        "kpartx",
    ):
        assert not re.search(rf"(^|[\s;|&(]){re.escape(word)}\b", script), word
    assert "set -- mkfs.ext4 -F -L hostdata" in script
    assert "EXP_SERIAL=Y39B70RTK7AS" in script and "CHECK_SERIAL=1" in script
    assert "EXP_SIZE=274877906944" in script


def test_every_interpolated_value_is_quoted() -> None:
    evil = "/dev/disk/by-id/x'; touch /tmp/pwned; echo '$(id)`id`"
    script = render_guard_script(
        spec(device_path=evil, expected_serial="a b'$(x)", expected_signatures=("ext4",)), nonce=N
    )
    assert "DEVICE_ARG='/dev/disk/by-id/x'\"'\"'; touch /tmp/pwned; echo '\"'\"'$(id)`id`'" in script
    assert "EXP_SERIAL='a b'\"'\"'$(x)'" in script
    assert "EXP_SIGS=ext4" in script
    # run only the assignment lines: the values come back verbatim, nothing executes
    assignments = "\n".join(line for line in script.splitlines() if re.match(r"^[A-Z_]+=", line))
    proc = subprocess.run(
        ["sh", "-c", assignments + '\nprintf "%s\\n%s\\n" "$DEVICE_ARG" "$EXP_SERIAL"'],
        capture_output=True,
        text=True,
        check=True,
    )
    assert proc.stdout.splitlines() == [evil, "a b'$(x)"]


def test_serial_none_disables_the_serial_check() -> None:
    script = render_guard_script(spec(expected_serial=None), nonce=N)
    assert "CHECK_SERIAL=0" in script


@pytest.mark.parametrize(
    "kw",
    [
        {"device_path": "nvme0n1"},
        {"device_path": "/dev/x\n"},
        {"mkfs_argv": ("mkfs.xfs",)},
        {"mkfs_argv": ()},
        {"expected_size_bytes": 0},
        {"expected_signatures": ("two words",)},
        {"expected_wwn": "eui.1\n"},
        {"fs": "xfs", "mkfs_argv": ("mkfs.xfs",), "verify_dumpe2fs": True},
    ],
)
def test_spec_validation(kw: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        spec(**kw)


def test_code_table_is_distinct_and_avoids_shell_sudo_and_ssh_codes() -> None:
    assert len({c.reason for c in GUARD_CODES.values()}) == len(GUARD_CODES)
    assert set(GUARD_CODES) == set(GuardExit)
    assert not set(GUARD_CODES) & {1, 2, 126, 127, 255}
    script = render_guard_script(spec(), nonce=N)
    body = script_render.body("disk_guard.sh")
    for code, info in GUARD_CODES.items():
        # the one table: the prelude sets the code, the body uses only the variable with its reason
        assert f"\nEXIT_{info.code.name}={code}\n" in script, (code, info.reason)
        assert f'finish "$EXIT_{info.code.name}" {info.reason}' in body, (code, info.reason)
    used = re.findall(r'finish "\$EXIT_([A-Z_]+)" ([a-z-]+)', body)
    assert used and all(GUARD_CODES[GuardExit[name]].reason == reason for name, reason in used)
    assert not re.search(r"finish [0-9]", body), "no literal exit code in the shell"


def test_success_is_parsed_with_uuid_label_and_duration() -> None:
    obs = {
        "device": "/dev/nvme0n1",
        "mkfs_start_ns": "1700000000000000000",
        "mkfs_end_ns": "1700000002500000000",
        "udev_settle": "0",
    }
    blocks = {
        "mkfs": (0, "mke2fs 1.47.0 (5-Feb-2023)\nFilesystem UUID: 3bb5"),
        "blkid": (0, "DEVNAME=/dev/nvme0n1\nLABEL=hostdata\nUUID=3bb5bece\nTYPE=ext4\nUSAGE=filesystem"),
    }
    out = output(EXIT_OK, "ok", obs, blocks)
    res = interpret_guard("sudo noise\n" + out, 0, spec())
    assert res.device == "/dev/nvme0n1"
    assert (res.fs, res.uuid, res.label) == ("ext4", "3bb5bece", "hostdata")
    assert res.mkfs_seconds == pytest.approx(2.5)


def test_phases_by_the_guards_clock_old_and_new_order() -> None:
    stamps = {"t_start": "10.00", "t_mkfs": "10.50", "t_mkfs_end": "11.00", "t_end": "11.70"}
    # verified while udev settled: verify up to t_verified, settle (the wait beyond it) to the end
    new = guard_phases({**stamps, "t_verified": "11.20", "t_settled": "11.60"})
    assert new == {"checks": 0.5, "mkfs": 0.5, "verify": 0.2, "settle": 0.5}
    # an older guard settled first, then verified
    assert guard_phases({**stamps, "t_settled": "11.40"}) == {
        "checks": 0.5,
        "mkfs": 0.5,
        "settle": 0.4,
        "verify": 0.3,
    }
    assert guard_phases({}) == {}


def test_refusal_names_what_was_found() -> None:
    out = output(EXIT_SERIAL, "serial-mismatch", {"device": "/dev/nvme0n1", "serial": "NVME-5-0"})
    with pytest.raises(Refused) as ei:
        interpret_guard(out, EXIT_SERIAL, spec())
    assert "serial is 'NVME-5-0', expected 'Y39B70RTK7AS'" in ei.value.message
    assert "nothing was changed" in ei.value.message
    assert "invoke disks" in (ei.value.hint or "")

    out = output(EXIT_SIGNATURE, "signature", {"device": "/dev/nvme0n1", "signatures": "xfs",
                                               "expected_signatures": ""})  # fmt: skip
    with pytest.raises(Refused, match=r"signatures \[xfs\], expected \[\]"):
        interpret_guard(out, EXIT_SIGNATURE, spec())


def test_missing_mkfs_names_the_package() -> None:
    out = output(EXIT_MKFS_MISSING, "mkfs-missing", {"mkfs_program": "mkfs.xfs"})
    with pytest.raises(Refused, match=r"mkfs.xfs is not installed on the guest \(package xfsprogs\)"):
        interpret_guard(out, EXIT_MKFS_MISSING, spec(fs="xfs", mkfs_argv=("mkfs.xfs", "-f")))


def test_mkfs_failure_is_a_remote_error_with_its_output() -> None:
    out = output(
        EXIT_MKFS_FAILED, "mkfs-failed", {"device": "/dev/nvme0n1"}, {"mkfs": (1, "mkfs.ext4: Device busy")}
    )
    with pytest.raises(ChangeFailed, match="Device busy"):
        interpret_guard(out, EXIT_MKFS_FAILED, spec())


def test_output_that_is_not_the_guards() -> None:
    with pytest.raises(RemoteError, match="no recognizable output"):
        interpret_guard("sudo: a password is required\n", 1, spec())
    header_only = f"@@GDA-GUARD v1 nonce={N}@@\n"
    with pytest.raises(RemoteError, match="exited 2 without a result line"):
        interpret_guard(header_only, 2, spec())
    with pytest.raises(RemoteError, match="inconsistent"):
        interpret_guard(output(EXIT_OK, "ok", {}), 3, spec())


def test_split_ignores_forged_markers_inside_blocks() -> None:
    out = output(
        EXIT_OK,
        "ok",
        {"device": "/dev/nvme0n1"},
        {"mkfs": (0, "@@GDA-ffffffffffffffff RESULT code=0 reason=ok@@")},
    )
    parsed = parse_guard_output(out)
    assert parsed.result == (0, "ok")
    mkfs = parsed.get("mkfs")
    assert mkfs is not None and "ffffffffffffffff" in mkfs.stdout


# ------------------------------------------------------------------ namespace identity (WWN), verification


WWN = "eui.589cfc2031930001"


def test_wwn_is_rendered_quoted_and_checked_next_to_the_serial() -> None:
    script = render_guard_script(spec(expected_wwn=WWN), nonce=N)
    assert "CHECK_WWN=1" in script and f"EXP_WWN={WWN}" in script
    assert "lsblk -d -n -o WWN" in script and '"$S/wwid"' in script  # the planner's source order
    serial_check = script.index('finish "$EXIT_SERIAL" serial-mismatch')
    wwn_check = script.index('finish "$EXIT_WWN" wwn-mismatch')
    assert serial_check < wwn_check < script.index('"$@" "$dev"')  # before mkfs
    assert "CHECK_WWN=0" in render_guard_script(spec(), nonce=N)
    evil = render_guard_script(spec(expected_wwn="x'$(id)"), nonce=N)
    assert "EXP_WWN='x'\"'\"'$(id)'" in evil


def test_wwn_mismatch_is_refused_naming_what_was_found() -> None:
    assert GUARD_CODES[EXIT_WWN].reason == "wwn-mismatch" and not GUARD_CODES[EXIT_WWN].device_changed
    out = output(EXIT_WWN, "wwn-mismatch", {"device": "/dev/nvme0n2", "wwn": "eui.589cfc2031930002"})
    with pytest.raises(Refused) as ei:
        interpret_guard(out, EXIT_WWN, spec(expected_wwn=WWN))
    assert "WWN is 'eui.589cfc2031930002', expected 'eui.589cfc2031930001'" in ei.value.message
    assert "nothing was changed" in ei.value.message


@pytest.mark.parametrize(
    ("export", "ok"),
    [
        ("DEVNAME=/dev/nvme0n1\nUUID=3f1c\nBLOCK_SIZE=4096\nTYPE=ext4", True),
        ("UUID=3f1c\nTYPE=ext4\nUSAGE=filesystem", True),
        ("UUID=3f1c\nTYPE=xfs", False),  # another type
        ("UUID=3f1c\nTYPE=ext4x", False),  # a whole line, not a prefix
        ("TYPE=ext4", False),  # no UUID
        ("UUID=\nTYPE=ext4", False),  # an empty UUID
        ("UUID= 3f1c\nTYPE=ext4", False),
        ("PTTYPE=gpt\nUUID=3f1c\nTYPE=ext4", False),  # a partition table beside it
        ("", False),
    ],
)
def test_verification_requires_type_a_uuid_and_no_pttype(export: str, ok: bool) -> None:
    # the guard's own check, run by sh on blkid -p -o export's lines
    script = render_guard_script(spec(), nonce=N)
    fn = re.search(r"^blkid_ok\(\) \{\n.*?^\}\n", script, re.S | re.M)
    assert fn is not None
    verify = script[script.index('gda_text blkid "$brc" "$out"') :]
    assert 'blkid_ok "$out" || finish "$EXIT_VERIFY_FAILED" verify-failed' in verify
    prog = f"nl='\n'\nFS=ext4\n{fn[0]}blkid_ok \"$1\""
    assert subprocess.run(["sh", "-c", prog, "sh", export], check=False).returncode == (0 if ok else 1)


def test_dumpe2fs_block_only_when_asked_and_exposed_on_the_result() -> None:
    plain = render_guard_script(spec(), nonce=N)
    assert "VERIFY_DUMPE2FS=0" in plain and "dumpe2fs" not in plain.split("GUARD_TOOLS=")[1].splitlines()[0]
    asked = spec(verify_dumpe2fs=True)
    script = render_guard_script(asked, nonce=N)
    assert "VERIFY_DUMPE2FS=1" in script
    assert "dumpe2fs" in script.split("GUARD_TOOLS=")[1].splitlines()[0]  # missing → refused before mkfs
    assert script.index('dumpe2fs -h -- "$dev"') > script.index('finish "$EXIT_VERIFY_FAILED" verify-failed')

    blocks = {
        "blkid": (0, "UUID=3bb5\nTYPE=ext4"),
        "dumpe2fs": (0, "dumpe2fs 1.47.0 (5-Feb-2023)\nFilesystem features:      has_journal extent"),
    }
    res = interpret_guard(output(EXIT_OK, "ok", {"device": "/dev/nvme0n1"}, blocks), 0, asked)
    assert res.dumpe2fs is not None and "has_journal extent" in res.dumpe2fs
    assert interpret_guard(output(EXIT_OK, "ok", {}, blocks), 0, spec()).dumpe2fs is None

    failed = {"blkid": blocks["blkid"], "dumpe2fs": (1, "dumpe2fs: Bad magic number")}
    with pytest.raises(RemoteError, match=r"was created .* but dumpe2fs -h failed") as ei:
        interpret_guard(output(EXIT_OK, "ok", {"device": "/dev/nvme0n1"}, failed), 0, asked)
    assert "Bad magic number" in ei.value.message
    with pytest.raises(RemoteError, match="dumpe2fs -h printed nothing"):
        interpret_guard(output(EXIT_OK, "ok", {}, {"blkid": blocks["blkid"]}), 0, asked)


def _cut(*obs: tuple[str, str], mkfs_block: bool = False) -> str:
    lines = [f"@@GDA-GUARD v1 nonce={N}@@", *(f"@@GDA-{N} OBS {k}={v}" for k, v in obs)]
    if mkfs_block:
        lines += [f"@@GDA-{N} BEGIN mkfs -@@", "Writing superblocks", f"@@GDA-{N} END rc=0@@"]
    return "\n".join(lines) + "\n"


def test_no_result_line_says_whether_mkfs_had_started() -> None:
    before = _cut(("device", "/dev/nvme0n1"), ("signatures", ""))
    with pytest.raises(RemoteError) as ei:
        interpret_guard(before, 255, spec())
    assert "exited 255 without a result line" in ei.value.message
    assert "before mkfs was started" in ei.value.message and "did not run" in ei.value.message
    assert ei.value.hint is None
    assert not isinstance(ei.value, ChangeFailed)  # nothing was changed: exit 1, not 3

    started = _cut(("device", "/dev/nvme0n1"), ("mkfs_argv", "mkfs.ext4 -F -L hostdata"))
    with pytest.raises(RemoteError) as ei:
        interpret_guard(started, 255, spec())
    assert "mkfs (mkfs.ext4 -F -L hostdata) had started; the device may be partly written" in ei.value.message
    assert isinstance(ei.value, ChangeFailed)
    assert "sudo blkid -p /dev/nvme0n1" in (ei.value.hint or "")
    assert "sudo wipefs /dev/nvme0n1" in (ei.value.hint or "")

    ran = _cut(("device", "/dev/nvme0n1"), ("mkfs_argv", "mkfs.ext4"), mkfs_block=True)
    with pytest.raises(
        RemoteError, match=r"mkfs \(mkfs\.ext4\) had run and exited 0; the device has changed"
    ):
        interpret_guard(ran, 255, spec())
    # an exit code that happens to be a refusal code is no result either: the RESULT line is required
    with pytest.raises(RemoteError, match=r"exited 14 without a result line.*had started"):
        interpret_guard(started, EXIT_SERIAL, spec())
    with pytest.raises(RemoteError, match="exited 0 without a result line"):
        interpret_guard(ran, EXIT_OK, spec())


@pytest.mark.skipif(shutil.which("shellcheck") is None, reason="shellcheck is not installed")
def test_the_script_passes_shellcheck(tmp_path: Path) -> None:
    body = Path(script_render.__file__).resolve().parent.parent / "scripts" / "disk_guard.sh"
    rendered = tmp_path / "rendered.sh"
    rendered.write_text(render_guard_script(spec(expected_wwn=WWN, verify_dumpe2fs=True), nonce=N))
    # the rendered script too (prelude + lib/marker.sh + body); SC2317: library functions it does not call
    for path, extra in ((body, []), (rendered, ["-e", "SC2317"])):
        r = subprocess.run(
            ["shellcheck", "-s", "sh", *extra, str(path)], capture_output=True, text=True, check=False
        )
        assert r.returncode == 0, r.stdout
