"""The lab without the passed-through disk: SSH works, the NIC is enp0s5, host keys are verified."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from agent.hints import render_options
from agent.transport.hostkeys import HostKeyError
from agent.transport.ssh import SshSession
from tests.lab.conftest import Lab


@pytest.fixture(scope="module")
def plain(lab: Lab) -> Lab:
    st = lab.boot()
    assert st.nic_name == "enp0s5"
    return lab


def test_ssh_works_and_nic_is_enp0s5(plain: Lab) -> None:
    with plain.ssh() as s:
        r = s.run(
            "hostname; cat /sys/class/net/enp0s5/address; cat /sys/class/net/enp0s5/operstate; "
            "ls /sys/class/net; ip -4 -o addr show dev enp0s5"
        )
    lines = r.stdout.splitlines()
    assert r.status == 0, r.stderr
    assert lines[0] == "xdev"
    assert lines[1] == "58:9c:fc:03:19:32"
    assert lines[2] == "up"
    assert sorted(lines[3:5]) == ["enp0s5", "lo"]
    assert "inet 10.0.2.15/24" in r.stdout


def test_guest_contents_match_the_bhyve_guest(plain: Lab) -> None:
    with plain.ssh() as s:
        r = s.run(
            "stat -c '%a %U' /etc/netplan/50-cloud-init.yaml; cat /etc/netplan/50-cloud-init.yaml; "
            "lsblk -dn -o NAME,TYPE; id -nG admin",
            root=True,
        )
        no_pw = s.run("sudo -n true")
    out = r.stdout
    assert out.startswith("600 root\n")
    assert "# This file is generated from information provided by the datasource." in out
    assert "        enp0s5:\n            dhcp4: true\n" in out
    assert "nvme" not in out, "no NVMe disk without --disk1"
    assert "sudo" in out.split("\n")[-2]
    assert no_pw.status != 0 and "password is required" in no_pw.stderr, "sudo must ask for a password"


def test_lab_files_are_private(plain: Lab) -> None:
    assert stat.S_IMODE(plain.paths.ssh_key.stat().st_mode) == 0o600
    assert stat.S_IMODE(plain.paths.secrets_env.stat().st_mode) == 0o600
    line = plain.paths.known_hosts.read_text().strip()
    assert line.startswith(f"[127.0.0.1]:{plain.ssh_port} ssh-ed25519 ")


def test_wrong_host_key_is_rejected(plain: Lab, tmp_path: Path) -> None:
    other = tmp_path / "other_key"
    import subprocess

    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True)
    keytype, data = (other.with_suffix(".pub")).read_text().split()[:2]
    kh = tmp_path / "known_hosts"
    kh.write_text(f"[127.0.0.1]:{plain.ssh_port} {keytype} {data}\n")
    with pytest.raises(HostKeyError, match="does NOT match"):
        SshSession(plain.target(known_hosts=kh)).open()


def test_unknown_host_key_refused_unless_accept_new(plain: Lab, tmp_path: Path) -> None:
    kh = tmp_path / "known_hosts"
    with pytest.raises(HostKeyError, match="not in") as info:
        SshSession(plain.target(known_hosts=kh)).open()
    assert "--accept-new-host-key" in render_options(info.value.hint or "")
    assert not kh.exists()
    with SshSession(plain.target(known_hosts=kh), accept_new_host_key=True) as s:
        assert s.run("true").status == 0
        assert s.accepted_host_keys and "SHA256:" in s.accepted_host_keys[0]
    assert kh.read_text() == plain.paths.known_hosts.read_text()
    with SshSession(plain.target(known_hosts=kh)) as s:  # now known: no flag needed
        assert s.run("echo ok").stdout == "ok\n"


def test_lab_status_cli(plain: Lab) -> None:
    r = plain.invoke("lab.status", "--state", str(plain.state))
    assert r.returncode == 0, r.stderr
    assert "guest: running" in r.stdout
    assert f"127.0.0.1:{plain.ssh_port} (SSH-2.0-OpenSSH" in r.stdout
