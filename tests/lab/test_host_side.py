"""The host side against the real guest: the FreeBSD ext4 profile seen from the "host" (the disk image),
and check-vm-config reading the config over SSH (the guest stands in for the FreeBSD host)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from agent.core.disk.ext4_freebsd import check_freebsd_compat, header_features, parse_dumpe2fs_header
from tests.lab.conftest import Lab

REPO = Path(__file__).resolve().parents[2]
EXCLUDED = {"orphan_file", "metadata_csum_seed", "orphan_present", "needs_recovery"}


@pytest.fixture(scope="module")
def guest(lab: Lab) -> Lab:
    lab.boot(disk1=True, nic_slot=5, disk1_size="1G")  # NIC keeps slot 5: SSH works, NVMe at slot 6
    return lab


def test_freebsd_profile_on_the_host_image(guest: Lab, tmp_path: Path) -> None:
    inv = guest.inventory(tmp_path)
    r = guest.invoke("format", "--fs", "ext4", "--host-compat", "freebsd", "--json", inventory=inv)
    assert r.returncode == 0, r.stderr
    result = json.loads(r.stdout)
    assert result["action"] == "formatted"
    assert "-O" in result["mkfs_command"]
    # The guest's mke2fs (Debian 12: 1.47.0) knows both features, so both are turned off and named.
    assert set(result["features_disabled"]) == {"orphan_file", "metadata_csum_seed"}
    assert "mount -t ext2fs" in " ".join(result["host_hint"])
    with guest.ssh() as s:
        s.run("sync", root=True)
    dump = subprocess.run(
        ["dumpe2fs", "-h", str(guest.paths.disk(1))], capture_output=True, text=True, check=True
    ).stdout
    features = set(header_features(parse_dumpe2fs_header(dump)))
    assert "extent" in features and "has_journal" in features
    assert not features & EXCLUDED, features & EXCLUDED
    assert check_freebsd_compat(dump) == []
    blkid = subprocess.run(
        ["blkid", "-p", "-o", "export", str(guest.paths.disk(1))], capture_output=True, text=True, check=True
    ).stdout
    assert "TYPE=ext4" in blkid and "PTTYPE" not in blkid


def test_xfs_for_a_freebsd_host_warns(guest: Lab, tmp_path: Path) -> None:
    inv = guest.inventory(tmp_path, guest_extra="    disk: {host_os: freebsd, serial: Y39B70RTK7AS}\n")
    r = guest.invoke("format", "--fs", "xfs", "--force", "--yes", inventory=inv)
    assert r.returncode == 0, r.stderr
    assert "FreeBSD" in r.stdout and "XFS" in r.stdout and "read-write" in r.stdout


def test_check_vm_config_over_ssh_with_ssh_config(guest: Lab, tmp_path: Path) -> None:
    """`--host ALIAS --vm xdev`: the alias resolves through ~/.ssh/config (HostName, Port, User,
    IdentityFile, UserKnownHostsFile); the conf is found through vm-bhyve's vm_dir as on FreeBSD."""
    conf = (REPO / "tests/fixtures/vmbhyve/xdev.conf").read_text()
    fake_sysrc = "#!/bin/sh\n[ \"$1 $2\" = '-n vm_dir' ] && echo zfs:zdata/vms\n"
    fake_zfs = "#!/bin/sh\necho /zdata/vms\n"
    with guest.ssh() as s:
        setup = (
            f"mkdir -p /zdata/vms/xdev && printf %s {_q(conf)} > /zdata/vms/xdev/xdev.conf && "
            f"printf %s {_q(fake_sysrc)} > /usr/local/bin/sysrc && printf %s {_q(fake_zfs)} > "
            "/usr/local/bin/zfs && chmod +x /usr/local/bin/sysrc /usr/local/bin/zfs"
        )
        assert s.run(setup, root=True).status == 0
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "config").write_text(
        f"Host bhyvehost\n  HostName 127.0.0.1\n  Port {guest.ssh_port}\n  User admin\n"
        f"  IdentityFile {guest.paths.ssh_key}\n  UserKnownHostsFile {guest.paths.known_hosts}\n"
    )
    env = {**guest.env(), "HOME": str(home)}
    r = guest.invoke("check-vm-config", "--host", "bhyvehost", "--vm", "xdev", "--json", env=env)
    assert r.returncode == 1, r.stderr  # the predicted rename is a warning
    data = json.loads(r.stdout)
    assert data["vm"]["dir"] == "/zdata/vms/xdev" and data["vm"]["zvol_dataset"] == "zdata/vms"
    assert "-s 4:0,virtio-blk,/dev/zvol/zdata/vms/xdev/disk0 -s 5:0,nvme," in data["devices"]
    assert data["renames"][0]["message"].startswith("network0 moves from slot 5 to slot 6")


def _q(text: str) -> str:
    import shlex

    return shlex.quote(text)


def test_console_over_ssh_to_the_host(guest: Lab, tmp_path: Path) -> None:
    """The `ssh:` console transport: a command run with a pty on another machine over SSH (host keys
    verified). Here the guest stands in for the hypervisor host and `login` for `vm console xdev`."""
    from agent.inventory import ConsoleSettings, Guest, SSHConsole
    from agent.ops.connect import Connector

    with guest.ssh() as s:
        rule = "admin ALL=(root) NOPASSWD: /bin/login\n"
        assert (
            s.run(
                f"printf %s {_q(rule)} > /etc/sudoers.d/gda-test && chmod 440 /etc/sudoers.d/gda-test",
                root=True,
            ).status
            == 0
        )
    try:
        console = ConsoleSettings(
            ssh=SSHConsole(
                host="127.0.0.1",
                port=guest.ssh_port,
                user="admin",
                command="sudo -n /bin/login",
                identity_file=guest.paths.ssh_key,
                known_hosts=guest.paths.known_hosts,
            ),
            user="root",
        )
        transcript = tmp_path / "console.txt"
        with (
            transcript.open("w") as t,
            Connector(
                Guest(host="127.0.0.1", console=console),
                sudo_password=None,
                console_password=guest.secrets["root"],
            ).console(transcript=t) as shell,
        ):
            r = shell.run("id -un; tty", root=True)
            rc, out = r.status, r.output
        assert rc == 0
        assert out.split()[0] == "root" and out.split()[1].startswith("/dev/pts/")
        assert guest.secrets["root"] not in transcript.read_text()
    finally:
        with guest.ssh() as s:
            s.run("rm -f /etc/sudoers.d/gda-test", root=True)


def test_sudo_nopasswd_needs_no_password(guest: Lab, tmp_path: Path) -> None:
    with guest.ssh() as s:
        assert (
            s.run(
                "echo 'admin ALL=(ALL) NOPASSWD: ALL' > /etc/sudoers.d/gda-nopw && "
                "chmod 440 /etc/sudoers.d/gda-nopw",
                root=True,
            ).status
            == 0
        )
    try:
        inv = guest.inventory(tmp_path)
        text = inv.read_text().replace("    sudo_password_env: XDEV_SUDO_PASSWORD\n", "")
        inv.write_text(text)
        env = {k: v for k, v in guest.env().items() if k != "XDEV_SUDO_PASSWORD"}
        r = guest.invoke("disks", "--json", inventory=inv, env=env)
        assert r.returncode == 0, r.stderr
        assert "signatures were not probed" not in r.stdout + r.stderr
        nvme = next(d for d in json.loads(r.stdout)["disks"] if d["name"] == "nvme0n1")
        # Signatures are only readable as root: seeing the xfs left by the test above proves sudo -n ran.
        assert any("signature xfs" in reason for reason in nvme["reasons"])
    finally:
        with guest.ssh() as s:
            s.run("rm -f /etc/sudoers.d/gda-nopw", root=True)


def test_force_asks_for_the_device_name_on_a_terminal(guest: Lab, tmp_path: Path) -> None:
    """--force without --yes on a terminal: the device name must be typed; anything else changes nothing."""
    import sys

    import pexpect

    inv = guest.inventory(tmp_path)
    image = guest.paths.disk(1)
    before = subprocess.run(
        ["blkid", "-p", "-o", "export", str(image)], capture_output=True, text=True
    ).stdout
    assert "TYPE=" in before, "an earlier test left a filesystem on the disk"
    argv = ["-m", "invoke", "format", "--fs", "ext4", "--force", "--no-discard", "--inventory", str(inv)]

    def run(answer: str) -> tuple[str, int]:
        child = pexpect.spawn(
            sys.executable, argv, cwd=str(REPO), env=guest.env(), encoding="utf-8", timeout=120
        )
        child.expect(r"Type nvme0n1 to confirm: ")
        child.sendline(answer)
        child.expect(pexpect.EOF)
        child.close()
        return str(child.before), int(child.exitstatus or 0)

    text, code = run("vda")
    assert code == 1 and "not confirmed; nothing was changed" in text
    assert (
        subprocess.run(["blkid", "-p", "-o", "export", str(image)], capture_output=True, text=True).stdout
        == before
    )
    text, code = run("nvme0n1")
    assert code == 0, text
    assert "-E nodiscard" in text
    after = subprocess.run(["blkid", "-p", "-o", "export", str(image)], capture_output=True, text=True).stdout
    assert "TYPE=ext4" in after and after != before
