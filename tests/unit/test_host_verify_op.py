"""host-verify's op (agent.ops.host_verify_op): the real host_verify.sh run here with sh, FreeBSD's
``fstyp``/``mount``/``umount`` as small shell stubs on PATH (fstyp's ``ext2fs <label>`` line follows
usr.sbin/fstyp/fstyp.c main; the mount failure text is a plain errno string as sbin/mount/mount_fs.c's
``warn("%s", dev)`` prints it), the device a local file holding a real mkfs.ext4 image; then the parse
and the decision. The stand-in host tests (tests/standin/test_host_verify_standin.py) run it over SSH."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from agent.core import script_render
from agent.core.host.host_verify import Expected
from agent.errors import UsageError
from agent.ops import host_verify_op as hv
from agent.ops import host_verify_report as hvr
from agent.ops import vm_check

REPO = Path(__file__).resolve().parents[2]
XDEV = REPO / "tests" / "fixtures" / "vmbhyve" / "xdev.conf"
NONCE = "0123abcd4567ef89"
P4 = "/dev/diskid/DISK-Y39B70RTK7ASp4"
UUID = "3f0c5a9e-6b1d-4c2e-9a7f-2d4b8e1c0a55"


@pytest.fixture(scope="module")
def ext4(tmp_path_factory: pytest.TempPathFactory) -> Path:
    exe = shutil.which("mkfs.ext4", path="/usr/sbin:/sbin:/usr/bin:/bin")
    if exe is None:
        pytest.fail("mkfs.ext4 is missing (run bash .ci/run, which installs it)")
    img = tmp_path_factory.mktemp("hv") / "p4.img"
    with img.open("wb") as f:
        f.truncate(16 * 1024 * 1024)
    subprocess.run([exe, "-q", "-F", "-L", "linux-data", "-U", UUID, "-O", "^orphan_file,^metadata_csum_seed",
                    str(img)], check=True, capture_output=True)  # fmt: skip
    return img


def run_script(
    tmp: Path, device: Path, *, mount_rc: int = 0, umount_rc: int = 0, mount_test: bool = True
) -> str:
    stubs = tmp / "bin"
    stubs.mkdir(exist_ok=True)
    for name, text in {
        "fstyp": 'echo "ext2fs linux-data"',
        "mount": f'[ {mount_rc} = 0 ] || {{ echo "mount: $5: Operation not permitted" >&2; '
        f"exit {mount_rc}; }}",
        "umount": f'[ {umount_rc} = 0 ] || {{ echo "umount: $1: Device busy" >&2; exit {umount_rc}; }}',
    }.items():
        (stubs / name).write_text(f"#!/bin/sh\n{text}\n")
        (stubs / name).chmod(0o755)
    script = script_render.render(
        "host_verify", {"VM": "gda-no-such-vm", "MOUNT_TEST": mount_test}, nonce=NONCE,
        exit_codes=hv.SCRIPT_EXITS,
    )  # fmt: skip
    env = {**os.environ, "PATH": f"{stubs}:/usr/bin:/bin", "GDA_DEVICES": str(device), "TMPDIR": str(tmp)}
    r = subprocess.run(["sh", "-c", script], capture_output=True, text=True, env=env, check=False)
    assert r.returncode == 0, r.stderr
    return r.stdout


def decide(out: str, device: Path, expected: Expected | None = None) -> hvr.VerifyReport:
    src = vm_check.from_file(str(XDEV), vm_dir=None, vm_name=None, zvol_dataset=None)
    read = hv.parse_verify_output(out, src, "SSH root@bhyvehost:22", NONCE)
    return hvr.decide(read, str(device), "option", expected)


def test_script_reads_and_mounts_read_only(tmp_path: Path, ext4: Path) -> None:
    rep = decide(run_script(tmp_path, ext4), ext4, Expected("ext4", "linux-data", UUID))
    assert rep.exit_code == 0 and rep.verified and rep.running is False
    assert rep.result is not None and rep.result.superblock is not None
    assert rep.result.superblock.uuid == UUID
    assert rep.mount == "ok" and [s.rc for s in rep.steps] == [0, 0, 0]
    assert rep.steps[0].command.startswith(f"mount -t ext2fs -o ro {ext4} {tmp_path}/gda-verify-mnt.")
    assert not list(tmp_path.glob("gda-verify*")), "the script leaves no folder behind"


def test_failed_test_mount_of_a_good_fs_is_exit_3(tmp_path: Path, ext4: Path) -> None:
    rep = decide(run_script(tmp_path, ext4, mount_rc=1), ext4, Expected("ext4", "linux-data", UUID))
    assert rep.exit_code == 3 and rep.mount == "failed"
    f = {x.code: x for x in rep.findings}["mount-failed"]
    assert f.severity == "error" and "Operation not permitted" in f.message
    assert [s.command.split()[0] for s in rep.steps] == ["mount", "rmdir"]


def test_failed_umount_is_exit_3_naming_the_command(tmp_path: Path, ext4: Path) -> None:
    rep = decide(run_script(tmp_path, ext4, umount_rc=1), ext4)
    assert rep.exit_code == 3
    f = {x.code: x for x in rep.findings}["umount-failed"]
    assert f.fix is not None and "umount " in f.fix


def test_no_mount_test_when_not_asked(tmp_path: Path, ext4: Path) -> None:
    rep = decide(run_script(tmp_path, ext4, mount_test=False), ext4)
    assert rep.exit_code == 0 and rep.mount == "skipped" and rep.mount_detail == "not asked"


def test_cut_output_is_unread_not_verified(tmp_path: Path, ext4: Path) -> None:
    rep = decide("", ext4)
    assert rep.exit_code == 1 and not rep.verified
    assert [f.code for f in rep.findings] == ["unread"]


def test_choose_device_from_the_conf() -> None:
    src = vm_check.from_file(str(XDEV), vm_dir=None, vm_name=None, zvol_dataset=None)
    read = hv.VerifyRead(src, "host", False, {})
    assert hv.choose_device(read, None) == (P4, "disk1")
    assert hv.choose_device(read, "/dev/ada0p1") == ("/dev/ada0p1", "option")
    two = src.text + 'disk2_name="/dev/ada0p1"\ndisk2_dev="custom"\ndisk2_type="nvme"\n'
    with pytest.raises(UsageError, match="2 host devices"):
        hv.choose_device(hv.VerifyRead(vm_check.ConfSource(two, "x", "/d", "xdev", ""), "h", False, {}), None)
    none = src.text.replace('disk1_dev="custom"', 'disk1_dev="file"')
    with pytest.raises(UsageError, match="is a host device"):
        hv.choose_device(
            hv.VerifyRead(vm_check.ConfSource(none, "x", "/d", "xdev", ""), "h", False, {}), None
        )


def test_expected_options() -> None:
    assert hvr.expected_from(None, None, None) is None
    assert hvr.expected_from("xfs", "l", None) == Expected("xfs", "l", None)
    with pytest.raises(UsageError):
        hvr.expected_from(None, "linux-data", None)
    with pytest.raises(UsageError):
        hvr.expected_from("btrfs", None, None)
