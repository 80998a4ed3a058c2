"""The stand-in FreeBSD host's ``vm`` drives the real lab guest (tests/standin/stubs/vm_lab.py), over the
stand-in's SSH: ``vm start xdev`` boots QEMU from the conf (disk1, an NVMe ``custom`` disk
named ``/dev/diskid/...p4``, at its planned slot 5 with its ``ser=``; the NIC at slot 6 with
``network0_mac``) and returns at once; the project's ``ssh`` console (``vm console xdev`` over SSH to the
host, agent/console/transports.py) logs in through the real ``cu`` as root, runs commands (the NVMe
seen at 0000:00:05.0; netplan renamed to the NIC's new name) and logs out, after which cu and socat are
gone; the guest is then reached over its own SSH (the disk's PCI address, driver and serial); ``vm
restart`` boots it again with the devices of the first start (vm-bhyve does not reread the conf);
``vm stop`` powers it off (ACPI, else a power cut) and ``vm list`` goes from Running (QEMU's pid) to
Stopped. Two boots in all.

Own ports (SSH 2360, console 4690) and its own lab state, so no other lab is touched.
"""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pexpect
import pytest

from agent.inventory import load_inventory
from agent.lab import control
from agent.lab.paths import StatePaths
from agent.ops.connect import Connector
from agent.transport.ssh import SshSession, SshTarget
from tests.standin.host import LabLink, StandinHost, missing_requirements
from tests.standin.scenario import REPO, scenario_path

pytestmark = pytest.mark.lab

SSH_PORT = 2360
CONSOLE_PORT = 4690
P4 = "/dev/diskid/DISK-Y39B70RTK7ASp4"
SERIAL = "Y39B70RTK7AS"
CONF = "/zdata/vms/xdev/xdev.conf"
BOOT_DEADLINE = 420.0


@dataclass
class Linked:
    host: StandinHost
    sp: StatePaths
    started: subprocess.CompletedProcess[str]
    start_seconds: float
    tmp: Path

    def ssh_argv(self, *args: str) -> list[str]:
        h = self.host
        *options, command = args
        return ["-F", "none", "-p", str(h.port), "-i", str(h.identity_file), "-o", "BatchMode=yes",
                "-o", f"UserKnownHostsFile={h.known_hosts}", *options, f"root@{h.host}", command]  # fmt: skip

    def ssh(self, command: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        argv = ["ssh", *self.ssh_argv(command)]
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)

    def vm_state(self) -> str:
        out = self.ssh("vm list").stdout
        row = next(line for line in out.splitlines() if line.startswith("xdev "))
        m = re.search(r"(Running \((\d+)\)|Stopped)$", row)
        assert m, out
        return m.group(1)


def _wait(what: str, check: Callable[[], bool], deadline: float, interval: float = 1.0) -> None:
    end = time.monotonic() + deadline
    while not check():
        assert time.monotonic() < end, f"timed out waiting for {what}"
        time.sleep(interval)


def _bridge_processes(tty: Path) -> list[int]:
    """Processes (socat, cu) whose command line names the console's pty link."""
    out = []
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                if str(tty).encode() in (p / "cmdline").read_bytes():
                    out.append(int(p.name))
            except OSError:
                continue
    return out


@pytest.fixture(scope="module")
def linked(lab_image: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Linked]:
    why = missing_requirements()
    if why is not None:
        pytest.fail(f"stand-in FreeBSD host: {why}")
    tmp = tmp_path_factory.mktemp("standin-vm")
    sp = StatePaths(tmp / "lab-state")
    image = tmp / "p4.img"
    with image.open("wb") as f:
        f.truncate(1 << 30)
    host = StandinHost(scenario_path("seed"), tmp / "standin", lab=LabLink(sp.root, SSH_PORT, CONSOLE_PORT))
    host.start()
    conf = (REPO / "tests/fixtures/vmbhyve/xdev.conf").read_text() + f'disk1_opts="ser={SERIAL}"\n'
    host.write_file(CONF, conf)
    host.update(images={P4: str(image)})
    t0 = time.monotonic()
    try:
        link = Linked(host, sp, subprocess.CompletedProcess([], 0), 0.0, tmp)
        link.started = link.ssh("vm start xdev")
        link.start_seconds = time.monotonic() - t0
        yield link
    finally:
        if control.running_state(sp) is not None:
            link.ssh("vm stop xdev")
            _wait("the guest to stop", lambda: control.running_state(sp) is None, 60)
        control.down(sp, log=lambda _m: None)
        host.stop()


def test_vm_start_boots_the_conf_on_the_lab_and_returns_at_once(linked: Linked) -> None:
    r = linked.started
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.splitlines() == ["Starting xdev", f"  * found guest in {linked.host.root}/zdata/vms/xdev",
                                     "  * booting..."]  # fmt: skip
    assert linked.start_seconds < 20  # vm-bhyve leaves the boot to `vm _run` in the background
    assert linked.vm_state().startswith("Running")

    def up() -> bool:
        try:
            return control.LOGIN_PROMPT.search(linked.sp.console_log.read_bytes()) is not None
        except OSError:
            return False

    _wait("the lab guest's login prompt", up, BOOT_DEADLINE)
    lab = control.running_state(linked.sp)
    assert lab is not None
    assert linked.vm_state() == f"Running ({lab.pid})"  # QEMU's own pid
    assert (lab.nic_slot, lab.nic_name) == (6, "enp0s6")
    assert [(d["slot"], d["serial"], d["image"]) for d in lab.disks] == [
        (5, SERIAL, str(linked.tmp / "p4.img"))
    ]
    assert linked.ssh("vm start xdev").stdout.endswith("  ! guest appears to be running already\n")
    assert "-s 6:0,virtio-net,tap0,mac=58:9c:fc:03:19:32" in (linked.host.workdir / "vm-lab.json").read_text()


def test_console_over_ssh_through_cu_logs_in_and_out(linked: Linked) -> None:
    inv = linked.tmp / "inventory.yaml"
    h = linked.host
    inv.write_text(
        f"hosts:\n  standin:\n    host: {h.host}\n    port: {h.port}\n    user: root\n"
        f"    identity_file: {h.identity_file}\n    known_hosts: {h.known_hosts}\n"
        f"guests:\n  xdev:\n    host: 127.0.0.1\n    port: {SSH_PORT}\n    user: admin\n"
        f"    identity_file: {linked.sp.ssh_key}\n    known_hosts: {linked.sp.known_hosts}\n"
        "    on: standin\n"
    )
    _, guest = load_inventory(inv).choose("xdev")
    assert guest.console is not None and guest.console.ssh is not None
    assert guest.console.ssh.command == "vm console xdev"
    secrets = control.lab_secrets(flavour="bookworm")
    tty = h.workdir / "ttyxdev"
    transcript = linked.tmp / "console.txt"
    with (
        transcript.open("w") as log,
        Connector(guest, sudo_password=None, console_password=secrets["root"]).console(
            transcript=log
        ) as shell,
    ):
        assert tty.is_symlink()  # the socat pty cu runs on
        session = shell.session
        assert session.run("id -un").output.strip() == "root"
        pci = session.run(
            "cat /sys/bus/pci/devices/0000:00:05.0/class; ls /sys/bus/pci/devices/0000:00:05.0/nvme"
        )
        assert pci.status == 0 and pci.output.split()[:2] == ["0x010802", "nvme0"], pci.output
        # SSH for the next test: netplan names the NIC as installed (enp0s5): enp0s6 behind the NVMe
        fix = session.run("sed -i 's/enp0s5/enp0s6/' /etc/netplan/50-cloud-init.yaml && netplan apply")
        assert fix.status == 0, fix.output
    text = transcript.read_text(errors="replace")
    assert "Connected." in text  # cu's banner, through the SSH channel's pty
    _wait("cu and socat to end", lambda: not _bridge_processes(tty), 15, 0.1)
    assert not tty.exists()
    # a terminal's view: `ssh -t -e none host vm console xdev` (-e none: ssh's own ~. would take the line),
    # cu's banner, its ~. escape, its goodbye, exit 0
    argv = linked.ssh_argv("-tt", "-e", "none", "vm console xdev")
    child = pexpect.spawn("ssh", argv, encoding="utf-8", timeout=30)
    child.expect_exact("Connected.")
    child.send("\r~.")
    child.expect_exact("Disconnected.")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    _wait("cu and socat to end", lambda: not _bridge_processes(tty), 15, 0.1)


def test_vm_restart_boots_again_with_the_devices_of_the_first_start(linked: Linked) -> None:
    before = control.running_state(linked.sp)
    assert before is not None
    conf = linked.host.root / CONF.lstrip("/")
    original = conf.read_text()
    # vm-bhyve's restart runs bhyve again with the devices vm::run built at the start: a conf changed
    # since (here: disk1 gone) is not read until a stop and a start
    conf.write_text("".join(line + "\n" for line in original.splitlines() if not line.startswith("disk1_")))
    try:
        r = linked.ssh("vm restart xdev")
        assert (r.returncode, r.stdout) == (0, "Setting guest restart flag\nSending ACPI shutdown to xdev\n")
        seen: list[str] = []

        def rebooted() -> bool:
            seen.append(linked.vm_state())
            now = control.running_state(linked.sp)
            try:
                log = linked.sp.console_log.read_bytes()
            except OSError:
                return False
            return now is not None and now.pid != before.pid and control.LOGIN_PROMPT.search(log) is not None

        _wait("the guest to boot again", rebooted, BOOT_DEADLINE)
    finally:
        conf.write_text(original)
    assert all(s.startswith("Running") for s in seen), seen  # never Stopped in between
    after = control.running_state(linked.sp)
    assert after is not None and seen[-1] == f"Running ({after.pid})"
    assert [(d["slot"], d["serial"]) for d in after.disks] == [(5, SERIAL)]
    assert not (conf.parent / "restart").exists()


def test_the_guest_sees_the_nvme_at_its_planned_slot_over_ssh(linked: Linked) -> None:
    target = SshTarget(host="127.0.0.1", port=SSH_PORT, user="admin", identity_file=linked.sp.ssh_key,
                       known_hosts=linked.sp.known_hosts)  # fmt: skip
    deadline = time.monotonic() + 120
    while True:
        try:
            with SshSession(target) as s:
                r = s.run(
                    "readlink -f /sys/bus/pci/devices/0000:00:05.0/driver; cat /sys/class/nvme/nvme0/serial;"
                    " readlink -f /sys/class/nvme/nvme0/device; cat /sys/class/net/enp0s6/address"
                )
            break
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(2)
    lines = [line.strip() for line in r.stdout.splitlines()]
    assert r.status == 0, r.stdout + r.stderr
    assert lines == ["/sys/bus/pci/drivers/nvme", SERIAL, "/sys/devices/pci0000:00/0000:00:05.0",
                     "58:9c:fc:03:19:32"]  # fmt: skip


def test_vm_stop_powers_the_guest_off_and_vm_list_says_stopped(linked: Linked) -> None:
    lab = control.running_state(linked.sp)
    assert lab is not None
    r = linked.ssh("vm stop xdev")
    assert (r.returncode, r.stdout) == (0, "Sending ACPI shutdown to xdev\n")
    seen: list[str] = []

    def stopped() -> bool:
        seen.append(linked.vm_state())
        return seen[-1] == "Stopped"

    _wait("vm list to say Stopped", stopped, 60, 0.5)
    assert seen[0] == f"Running ({lab.pid})"  # Running until QEMU is gone
    assert not control.pid_alive(lab.pid)
    record = (linked.host.workdir / "vm-lab.json").read_text()
    m = re.search(r'"path": "(\w+)"', record)
    assert m and m.group(1) in ("powerdown", "quit")
    print(f"\nvm stop on bookworm: {m.group(1)} ({record[record.index('last_stop') :][:60]!r})")
    assert not (linked.host.root / "zdata/vms/xdev/console").exists()
    r = linked.ssh("vm console xdev")
    assert r.returncode == 1 and "xdev doesn't appear to be a running virtual machine" in r.stderr
    assert (linked.tmp / "p4.img").stat().st_size == 1 << 30  # the scenario's image, attached as it is
