"""The stand-in's ``vm`` in state mode (no lab in the scenario): start, stop, restart, list and console as
vm-bhyve v1.6.2 answers them (tests/standin/stubs/vm_bhyve.py), run as the session runs them (run_stub)
and once over the stand-in's SSH (the session's /dev/vmm follows ``vm start``)."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.standin.host import StandinHost, missing_requirements
from tests.standin.scenario import scenario_path

VM = "/usr/local/sbin/vm"


@pytest.fixture
def host(tmp_path: Path) -> StandinHost:
    """A prepared stand-in (its stubs and files; no sshd: run_stub runs a stub as the session would)."""
    h = StandinHost(scenario_path("seed"), tmp_path / "standin")
    h.prepare()
    return h


def state_of(host: StandinHost, name: str = "xdev") -> str:
    out = host.run_stub("vm", "list").stdout
    row = next(line for line in out.splitlines() if line.startswith(f"{name} "))
    m = re.search(r"(Running \(\d+\)|Stopped)$", row)
    assert m, row
    return m.group(1)


def guest_dir(host: StandinHost) -> Path:
    return host.root / "zdata" / "vms" / "xdev"


def test_start_boots_a_stopped_guest_and_lists_it_running(host: StandinHost) -> None:
    assert state_of(host) == "Stopped"
    r = host.run_stub("vm", "start", "xdev")
    assert r.returncode == 0, r.stderr
    assert r.stdout == f"Starting xdev\n  * found guest in {guest_dir(host)}\n  * booting...\n"
    assert r.stderr == ""
    assert re.fullmatch(r"Running \(\d+\)", state_of(host))
    assert host.state()["running"] == ["xdev"]  # later sessions see it too (their /dev/vmm/xdev)
    assert (host.workdir / "running").read_text() == "xdev\n"


def test_start_of_a_running_guest_is_vm_bhyves_message_and_exit_0(host: StandinHost) -> None:
    host.update(running=["xdev"])
    r = host.run_stub("vm", "start", "xdev")
    # lib/vm-core core::__start returns 1, but core::start's loop ends with `_done="1"`: vm exits 0
    assert (r.returncode, r.stderr) == (0, "")
    assert r.stdout.splitlines() == [
        "Starting xdev",
        f"  * found guest in {guest_dir(host)}",
        "  ! guest appears to be running already",
    ]


def test_start_of_an_unknown_guest_and_several_names(host: StandinHost) -> None:
    r = host.run_stub("vm", "start", "nope")
    said = "Starting nope\n  ! nope does not seem to be a valid virtual machine\n"
    assert (r.returncode, r.stdout) == (0, said)
    r = host.run_stub("vm", "start", "nope", "xdev")
    assert r.stdout.splitlines()[2:4] == ["Waiting 2 second(s)", "Starting xdev"]
    assert state_of(host).startswith("Running")
    assert host.run_stub("vm", "start").returncode == 1  # util::usage


def test_start_refuses_a_conf_without_cpu_or_memory(host: StandinHost) -> None:
    conf = guest_dir(host) / "xdev.conf"
    kept = [line for line in conf.read_text().splitlines() if not line.startswith("cpu=")]
    conf.write_text("".join(line + "\n" for line in kept))
    r = host.run_stub("vm", "start", "xdev")
    assert r.stdout.endswith("  ! incomplete virtual machine configuration\n") and r.returncode == 0
    assert state_of(host) == "Stopped"


def test_stop_after_start_takes_stop_polls_lists(host: StandinHost) -> None:
    host.run_stub("vm", "start", "xdev")
    r = host.run_stub("vm", "stop", "xdev")
    assert (r.returncode, r.stdout, r.stderr) == (0, "Sending ACPI shutdown to xdev\n", "")
    # stop_polls (default 2): two more lists show it running, the third Stopped
    assert [state_of(host)[:7] for _ in range(3)] == ["Running", "Running", "Stopped"]
    assert host.state()["running"] == []
    r = host.run_stub("vm", "stop", "xdev")
    assert (r.returncode, r.stdout) == (0, "")
    assert r.stderr == f"{VM}: WARNING: xdev doesn't appear to be a running virtual machine\n"


def test_restart_keeps_the_guest_running_with_a_new_bhyve(host: StandinHost) -> None:
    host.update(stop_polls=0)
    host.run_stub("vm", "start", "xdev")
    before = state_of(host)
    r = host.run_stub("vm", "restart", "xdev")
    assert (r.returncode, r.stdout) == (0, "Setting guest restart flag\nSending ACPI shutdown to xdev\n")
    after = state_of(host)  # bhyve exited, vm::handle_exit found the flag, bhyve runs again: a new pid
    assert after.startswith("Running") and after != before
    assert not (guest_dir(host) / "restart").exists()  # the flag is used up
    host.run_stub("vm", "stop", "xdev")
    assert state_of(host) == "Stopped"


def test_restart_of_a_stopped_guest_leaves_the_flag_for_the_next_stop(host: StandinHost) -> None:
    host.update(stop_polls=0)
    r = host.run_stub("vm", "restart", "xdev")
    assert r.returncode == 0 and r.stdout == "Setting guest restart flag\n"
    assert r.stderr == f"{VM}: WARNING: xdev doesn't appear to be a running virtual machine\n"
    assert (guest_dir(host) / "restart").exists() and state_of(host) == "Stopped"
    host.run_stub("vm", "start", "xdev")
    host.run_stub("vm", "stop", "xdev")  # vm-bhyve: the old flag turns this stop into a restart
    assert state_of(host).startswith("Running")
    host.run_stub("vm", "stop", "xdev")
    assert state_of(host) == "Stopped"
    r = host.run_stub("vm", "restart", "nope")
    assert (r.returncode, r.stdout, r.stderr) == (1, "", f"{VM}: ERROR: unable to locate specified guest\n")


def test_stop_hangs_and_console_in_state_mode(host: StandinHost) -> None:
    host.update(stop_hangs=["xdev"])
    host.run_stub("vm", "start", "xdev")
    host.run_stub("vm", "stop", "xdev")
    assert all(state_of(host).startswith("Running") for _ in range(4))
    r = host.run_stub("vm", "console", "xdev")  # no lab: no console device to open
    assert r.returncode == 1 and "unable to locate console device" in r.stderr
    r = host.run_stub("vm", "console", "nope")
    assert r.stderr == f"{VM}: ERROR: nope doesn't appear to be a valid virtual machine\n"
    r = host.run_stub("vm", "frobnicate", "xdev")
    assert r.returncode == 1 and "not in its repertoire" in r.stderr


@pytest.fixture
def ssh_host(tmp_path: Path) -> Iterator[StandinHost]:
    why = missing_requirements()
    if why is not None:
        pytest.fail(f"stand-in FreeBSD host: {why}")
    h = StandinHost(scenario_path("seed"), tmp_path / "standin").start()
    try:
        yield h
    finally:
        h.stop()


def test_vm_start_over_ssh_makes_dev_vmm_for_later_sessions(ssh_host: StandinHost) -> None:
    def ssh(command: str) -> subprocess.CompletedProcess[str]:
        argv = ["ssh", "-F", "none", "-p", str(ssh_host.port), "-i", str(ssh_host.identity_file),
                "-o", f"UserKnownHostsFile={ssh_host.known_hosts}", "-o", "BatchMode=yes",
                f"root@{ssh_host.host}", command]  # fmt: skip
        return subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)

    r = ssh("vm start xdev && ls /dev/vmm")
    assert r.returncode == 0 and r.stdout.endswith("  * booting...\nxdev\n"), r.stderr
    assert ssh("test -e /dev/vmm/xdev && vm list").stdout.rstrip().endswith(")")
    assert not Path("/dev/vmm/xdev").exists()  # the machine's own /dev is untouched
    assert ssh("vm stop xdev; vm list; vm list; vm list; test -e /dev/vmm/xdev").returncode == 1
