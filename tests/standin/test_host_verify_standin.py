"""``gda host-verify`` end to end against the stand-in FreeBSD host: the seed's p4 mapped to a real
ext4 (or XFS) image made here with mkfs; ``fstyp`` probes its bytes, the real ``dd``/``od`` read them,
and the ``mount`` stub mounts it read-only with Linux in the session's own mount namespace (refusing, as
FreeBSD's ext2fs does, an incompat feature outside its list). No VM."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.cli.gda_run import gda
from tests.standin.host import StandinHost

P4 = "/dev/diskid/DISK-Y39B70RTK7ASp4"
UUID = "3f0c5a9e-6b1d-4c2e-9a7f-2d4b8e1c0a55"
OTHER_UUID = "0d6e2b7a-51c4-4f3e-8b9a-7c1d2e3f4a5b"
# the FreeBSD profile of agent.core.disk.ext4_freebsd for e2fsprogs 1.47
FREEBSD_PROFILE = ("-O", "^orphan_file,^metadata_csum_seed")


def _tool(name: str) -> str:
    exe = shutil.which(name, path="/usr/sbin:/sbin:/usr/bin:/bin")
    if exe is None:
        pytest.fail(f"{name} is missing (run bash .ci/run, which installs it)")
    return exe


def ext4_image(path: Path, *features: str, uuid: str = UUID, label: str = "linux-data") -> Path:
    with path.open("wb") as f:
        f.truncate(64 * 1024 * 1024)
    args = ["-q", "-F", "-L", label, "-U", uuid, *(features or FREEBSD_PROFILE)]
    subprocess.run([_tool("mkfs.ext4"), *args, str(path)], check=True, capture_output=True)
    return path


def xfs_image(path: Path, uuid: str = UUID, label: str = "linux-data") -> Path:
    with path.open("wb") as f:
        f.truncate(320 * 1024 * 1024)
    subprocess.run([_tool("mkfs.xfs"), "-q", "-f", "-L", label, "-m", f"uuid={uuid}", str(path)],
                   check=True, capture_output=True)  # fmt: skip
    return path


def verify(host: StandinHost, tmp_path: Path, *extra: str) -> tuple[int, dict[str, Any]]:
    inv = host.inventory(tmp_path / "inventory.yaml")
    r = gda("host-verify", "--guest", "xdev", "--inventory", str(inv), "--json", *extra)
    assert "Traceback" not in r.stderr, r.stderr
    return r.returncode, json.loads(r.stdout)


def codes(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["code"]: f for f in data["findings"]}


def expect(uuid: str = UUID, fs: str = "ext4") -> tuple[str, ...]:
    return ("--fs", fs, "--label", "linux-data", "--uuid", uuid)


def test_freebsd_profile_ext4_is_verified_and_mounts(freebsd_host: StandinHost, tmp_path: Path) -> None:
    freebsd_host.update(images={P4: str(ext4_image(tmp_path / "p4.img"))})
    code, data = verify(freebsd_host, tmp_path, *expect())
    assert code == 0 and data["verified"] is True, data["findings"]
    assert data["device"] == P4 and data["from"] == "disk1" and data["guest_running"] is False
    assert data["superblock"]["uuid"] == UUID and data["superblock"]["label"] == "linux-data"
    assert data["superblock"]["flavour"] == "ext4"
    mt = data["mount_test"]
    assert mt["outcome"] == "ok", mt
    assert [s["command"].split()[0] for s in mt["steps"]] == ["mount", "umount", "rmdir"]
    assert all(s["rc"] == 0 for s in mt["steps"]), mt
    assert mt["steps"][0]["command"].startswith(f"mount -t ext2fs -o ro {P4} /tmp/gda-verify-mnt.")
    assert data["fstab"].split() == [P4, "/mnt/linux-data", "ext2fs", "rw", "0", "2"]
    assert data["glabel_path"] == "/dev/ext2fs/linux-data"


def test_text_output_and_no_expectation(freebsd_host: StandinHost, tmp_path: Path) -> None:
    """Without --fs/--label/--uuid: what was found, FreeBSD's mountability only."""
    freebsd_host.update(images={P4: str(ext4_image(tmp_path / "p4.img"))})
    code, data = verify(freebsd_host, tmp_path)
    assert code == 0 and data["expected"] is None and data["mount_test"]["outcome"] == "ok"
    inv = freebsd_host.inventory(tmp_path / "inventory.yaml")
    r = gda("host-verify", "--guest", "xdev", "--inventory", str(inv), "--skip-mount")
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"{P4} (disk1)" in r.stdout and ": verified" in r.stdout
    assert f"UUID {UUID}" in r.stdout and "test mount: skipped (not asked)" in r.stdout


def test_wrong_uuid_is_refused_naming_both(freebsd_host: StandinHost, tmp_path: Path) -> None:
    freebsd_host.update(images={P4: str(ext4_image(tmp_path / "p4.img"))})
    code, data = verify(freebsd_host, tmp_path, *expect(OTHER_UUID))
    assert code == 1 and data["verified"] is False
    f = codes(data)["sb-uuid"]
    assert f["severity"] == "error" and UUID in f["message"] and OTHER_UUID in f["message"]
    assert f["data"] == {"found": UUID, "expected": OTHER_UUID}


def test_orphan_present_is_refused(freebsd_host: StandinHost, tmp_path: Path) -> None:
    """An ext4 with orphan_file (1.47's default) that Linux left with orphan_present set (mounted, or a
    crash): FreeBSD mounts it read-only only, so the rw fstab line is refused; the ro test mount works."""
    img = ext4_image(tmp_path / "p4.img", "-O", "orphan_file")
    subprocess.run([_tool("debugfs"), "-w", "-R", "feature orphan_present", str(img)], check=True,
                   capture_output=True)  # fmt: skip
    freebsd_host.update(images={P4: str(img)})
    code, data = verify(freebsd_host, tmp_path, *expect())
    assert code == 1 and data["verified"] is False
    f = codes(data)["freebsd-ro-compat"]
    assert f["severity"] == "error" and "orphan_present" in f["message"] and "read-write" in f["message"]
    assert data["mount_test"]["outcome"] == "ok"


def test_orphan_file_alone_is_a_compat_flag_freebsd_ignores(
    freebsd_host: StandinHost, tmp_path: Path
) -> None:
    freebsd_host.update(images={P4: str(ext4_image(tmp_path / "p4.img", "-O", "orphan_file"))})
    code, data = verify(freebsd_host, tmp_path, *expect())
    assert code == 0 and data["mount_test"]["outcome"] == "ok", data["findings"]


def test_unknown_incompat_feature_is_refused_and_does_not_mount(
    freebsd_host: StandinHost, tmp_path: Path
) -> None:
    img = ext4_image(tmp_path / "p4.img", "-O", "^orphan_file,^metadata_csum_seed,inline_data")
    freebsd_host.update(images={P4: str(img)})
    code, data = verify(freebsd_host, tmp_path, *expect())
    assert code == 1
    f = codes(data)
    assert f["freebsd-incompat"]["severity"] == "error" and "inline_data" in f["freebsd-incompat"]["message"]
    mt = data["mount_test"]
    assert mt["outcome"] == "failed" and mt["detail"] == f"mount: {P4}: Invalid argument"
    assert f["mount-failed"]["severity"] == "warning"  # expected from the features: exit 1, not 3
    assert [s["command"].split()[0] for s in mt["steps"]] == ["mount", "rmdir"]


def test_xfs_is_verified_from_the_superblock_without_a_mount(
    freebsd_host: StandinHost, tmp_path: Path
) -> None:
    freebsd_host.update(images={P4: str(xfs_image(tmp_path / "p4.img"))})
    code, data = verify(freebsd_host, tmp_path, *expect(fs="xfs"))
    assert code == 0 and data["verified"] is True, data["findings"]
    assert data["superblock"]["kind"] == "xfs" and data["superblock"]["uuid"] == UUID
    mt = data["mount_test"]
    assert mt["outcome"] == "skipped" and mt["steps"] == [] and "no XFS driver" in mt["detail"]
    assert data["fstab"] is None


def test_running_guest_is_refused_with_the_hint(freebsd_host: StandinHost, tmp_path: Path) -> None:
    freebsd_host.update(images={P4: str(ext4_image(tmp_path / "p4.img"))}, running=["xdev"])
    code, data = verify(freebsd_host, tmp_path, *expect())
    assert code == 1 and data["guest_running"] is True
    f = codes(data)["guest-running"]
    assert f["severity"] == "error" and "vm stop xdev" in f["fix"]
    assert data["mount_test"]["outcome"] == "skipped" and data["mount_test"]["steps"] == []


def test_device_option_and_host_option(freebsd_host: StandinHost, tmp_path: Path) -> None:
    import os

    freebsd_host.update(images={P4: str(ext4_image(tmp_path / "p4.img"))})
    home = freebsd_host.ssh_config_home(tmp_path / "home")
    env = {**os.environ, "HOME": str(home)}
    args = ["--host", "127.0.0.1", "--port", str(freebsd_host.port), "--user", "root", "--vm", "xdev"]
    r = gda("host-verify", *args, "--device", P4, *expect(), "--json", env=env)
    data = json.loads(r.stdout)
    assert r.returncode == 0 and data["from"] == "option" and data["mount_test"]["outcome"] == "ok", data


def test_mount_stub_never_mounts_read_write(freebsd_host: StandinHost, tmp_path: Path) -> None:
    freebsd_host.update(images={P4: str(ext4_image(tmp_path / "p4.img"))})
    r = freebsd_host.run_stub("mount", "-t", "ext2fs", "-o", "rw", P4, str(tmp_path))
    assert r.returncode == 1 and r.stderr.startswith("usage: mount")
    r = freebsd_host.run_stub("mount", "-t", "ext2fs", P4, str(tmp_path))
    assert r.returncode == 1 and r.stderr.startswith("usage: mount")


def test_stop_stops_the_guest_waiting_on_vm_list(freebsd_host: StandinHost, tmp_path: Path) -> None:
    freebsd_host.update(images={P4: str(ext4_image(tmp_path / "p4.img"))}, running=["xdev"], stop_polls=2)
    code, data = verify(freebsd_host, tmp_path, *expect(), "--stop")
    assert code == 0 and data["verified"] is True and data["stopped"] is True, data["findings"]
    assert data["guest_running"] is False and data["mount_test"]["outcome"] == "ok"
    f = codes(data)["guest-stopped"]
    assert f["severity"] == "info" and f["data"] == {"state": "Stopped", "polls": 2}
    assert "vm start xdev" in f["fix"]
    # stopped for good: a later session has no /dev/vmm/xdev, and vm list says Stopped
    assert freebsd_host.state()["running"] == []
    code, data = verify(freebsd_host, tmp_path, *expect())
    assert code == 0 and data["guest_running"] is False and data["stopped"] is False


def test_stop_is_bounded_when_the_guest_does_not_stop(freebsd_host: StandinHost, tmp_path: Path) -> None:
    freebsd_host.update(
        images={P4: str(ext4_image(tmp_path / "p4.img"))}, running=["xdev"], stop_hangs=["xdev"]
    )
    code, data = verify(freebsd_host, tmp_path, *expect(), "--stop", "--stop-wait", "2")
    assert code == 1 and data["guest_running"] is True and data["stopped"] is False
    f = codes(data)["guest-running"]
    assert f["data"]["state"] == "Running (4242)" and f["data"]["polls"] == 2
    assert "Sending ACPI shutdown to xdev" in f["message"] and "vm poweroff xdev" in f["fix"]
    assert data["mount_test"]["steps"] == []


def test_vm_stub_answers_like_vm_bhyve(freebsd_host: StandinHost) -> None:
    """lib/vm-core v1.6.2: core::list through column -ts^, core::stop's warning for a stopped guest."""
    r = freebsd_host.run_stub("vm", "list")
    assert r.returncode == 0
    assert r.stdout.splitlines() == [
        "NAME  DATASTORE  LOADER  CPU  MEMORY  VNC  AUTO  STATE",
        "xdev  default    uefi    4    16G     -    No    Stopped",
    ]
    r = freebsd_host.run_stub("vm", "stop", "xdev")
    assert (r.returncode, r.stdout) == (0, "")
    assert r.stderr == "/usr/local/sbin/vm: WARNING: xdev doesn't appear to be a running virtual machine\n"


def test_a_label_less_ext4_is_mounted_too(freebsd_host: StandinHost, tmp_path: Path) -> None:
    """fstyp -l -u prints ``ext2fs`` alone for a filesystem without a label: the type is still read from
    that line, so the read-only test mount runs (it was skipped as "not ext2fs" once, yet verified)."""
    image = tmp_path / "p4.img"
    with image.open("wb") as f:
        f.truncate(64 * 1024 * 1024)
    subprocess.run([_tool("mkfs.ext4"), "-q", "-F", "-U", UUID, *FREEBSD_PROFILE, str(image)],
                   check=True, capture_output=True)  # fmt: skip
    freebsd_host.update(images={P4: str(image)})
    code, data = verify(freebsd_host, tmp_path, "--fs", "ext4", "--uuid", UUID)
    assert code == 0 and data["verified"] is True, data["findings"]
    assert data["superblock"]["label"] in ("", None)
    mt = data["mount_test"]
    assert mt["outcome"] == "ok", mt
    assert [s["command"].split()[0] for s in mt["steps"]] == ["mount", "umount", "rmdir"]
