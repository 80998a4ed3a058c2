"""The lab with the passed-through disk: the bhyve situation (NVMe at slot 5, NIC renamed, SSH gone)."""

from __future__ import annotations

import json
import socket
import subprocess
import time
from pathlib import Path

import pytest

from agent.console.session import ConsoleSession
from agent.console.transports import ConsoleSpec, open_console
from agent.transport.ssh import SshSession, SshUnreachable
from tests.lab.conftest import Lab


@pytest.fixture(scope="module")
def broken(lab: Lab) -> Lab:
    st = lab.boot(disk1=True, disk1_size="1G")
    assert (st.nic_slot, st.nic_name) == (6, "enp0s6")
    assert st.disks[0]["slot"] == 5
    return lab


def test_ssh_times_out(broken: Lab) -> None:
    t0 = time.monotonic()
    with pytest.raises(SshUnreachable, match="cannot reach SSH"):
        SshSession(broken.target(connect_timeout=3)).open()
    assert time.monotonic() - t0 < 15


def test_console_shows_a_login_prompt(broken: Lab) -> None:
    with socket.create_connection(("127.0.0.1", broken.console_port), timeout=5) as s:
        s.settimeout(10)
        s.sendall(b"\r")
        seen = b""
        while b"login:" not in seen:
            chunk = s.recv(4096)
            assert chunk, f"console closed; got {seen!r}"
            seen += chunk
    assert b"xdev login:" in seen


def test_guest_sees_enp0s6_and_an_unpartitioned_nvme(broken: Lab) -> None:
    spawn = open_console(ConsoleSpec(kind="tcp", target=f"127.0.0.1:{broken.console_port}"))
    try:
        with ConsoleSession(spawn, secrets=[broken.secrets["root"]]) as c:
            c.login("root", broken.secrets["root"])
            links = c.run_checked("ls /sys/class/net").split()
            operstate = c.run_checked("cat /sys/class/net/enp0s6/operstate").strip()
            disks = json.loads(c.run_checked("lsblk -J -b -o NAME,TYPE,SERIAL,SIZE,PTTYPE,FSTYPE,MODEL"))
            netplan = c.run_checked("cat /etc/netplan/50-cloud-init.yaml")
    finally:
        spawn.close()
    assert sorted(links) == ["enp0s6", "lo"]
    assert operstate == "down", "netplan still names enp0s5, so enp0s6 is unconfigured"
    assert "enp0s5:" in netplan
    nvme = [d for d in disks["blockdevices"] if d["name"] == "nvme0n1"]
    assert len(nvme) == 1
    d = nvme[0]
    assert d["serial"] == "Y39B70RTK7AS"
    assert d["size"] == 1024**3
    assert d["pttype"] is None and d["fstype"] is None and not d.get("children")


def test_host_view_of_the_disk_image_is_empty(broken: Lab) -> None:
    image = broken.paths.disk(1)
    assert image.stat().st_size == 1024**3
    assert image.stat().st_blocks == 0, "the disk image is sparse"
    r = subprocess.run(["blkid", "-p", str(image)], capture_output=True, text=True, check=False)
    assert r.returncode == 2 and r.stdout == "", "blkid -p finds nothing: no table, no filesystem"


def test_status_says_ssh_is_expected_down(broken: Lab) -> None:
    r = broken.invoke("lab.status", "--state", str(broken.state))
    assert r.returncode == 0, r.stderr
    assert "slot 6 -> enp0s6" in r.stdout and "SSH unreachable until `gda fix-netplan`" in r.stdout
    assert "NVMe serial Y39B70RTK7AS at slot 5" in r.stdout


def test_lab_console_attaches_a_terminal(broken: Lab) -> None:
    import sys

    import pexpect

    child = pexpect.spawn(
        sys.executable,
        ["-m", "invoke", "lab.console", "--state", str(broken.state)],
        cwd=str(Path(__file__).resolve().parents[2]),
        env=broken.env(),
        encoding="utf-8",
        timeout=30,
    )
    try:
        child.expect("Ctrl-] to leave")
        child.expect("login: ")
        child.sendline("")
        child.expect("login: ")
        child.send("\x1d")  # Ctrl-]
        child.expect("disconnected from the console")
        child.expect(pexpect.EOF)
    finally:
        child.close()
    assert child.exitstatus == 0
