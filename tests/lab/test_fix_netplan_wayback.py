"""fix-netplan's way back when things go wrong, against the real lab guest:

* the controller dies in the middle of ``netplan try`` (SIGKILL): the guest reverts the network by itself
  (netplan try's timeout) and the armed timer puts the old file back;
* a bridge over the renamed NIC: ``netplan try`` refuses bridges, so the repair is applied with
  ``netplan apply`` under the revert timer, which is cancelled once SSH is back.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from agent.lab.recipe import CLOUD_INIT_NETPLAN
from agent.ops.netplan_apply import UNIT_DIR
from agent.transport.ssh import SshAuthError
from tests.lab.conftest import REPO, Lab
from tests.lab.test_fix_netplan import NETPLAN, Guest, bad_port_inventory, ssh_unreachable, wait_for_ssh

BRIDGE_NETPLAN = """\
# a bridge over the NIC, as a host for containers would have it
network:
    version: 2
    ethernets:
        enp0s5:
            dhcp4: false
    bridges:
        br0:
            interfaces: [enp0s5]
            dhcp4: true
"""


@pytest.fixture(scope="module")
def broken(lab: Lab, tmp_path_factory: pytest.TempPathFactory) -> Guest:
    lab.boot(disk1=True)
    tmp = tmp_path_factory.mktemp("wayback")
    return Guest(lab, lab.inventory(tmp), tmp)


def test_controller_killed_mid_apply_the_guest_goes_back_by_itself(broken: Guest) -> None:
    argv = [sys.executable, "-m", "invoke", "fix-netplan", "--deadline", "5", "--inventory",
            str(bad_port_inventory(broken))]  # fmt: skip
    proc = subprocess.Popen(argv, cwd=REPO, env=broken.lab.env(), stderr=subprocess.PIPE, text=True,
                            start_new_session=True)  # fmt: skip
    assert proc.stderr is not None
    seen = ""
    for line in proc.stderr:
        seen += line
        if "netplan try applied the new configuration" in line:
            break
    assert "way back armed" in seen, seen
    os.killpg(proc.pid, signal.SIGKILL)  # the controller dies with netplan try waiting on the console
    proc.wait()
    # The new config is live: SSH (on the right port) answers and shows the unconfirmed file. Nobody may
    # touch the console now: an Enter there would confirm netplan try (netplan's own behaviour).
    assert "enp0s6:" in broken.root_ssh(f"cat {NETPLAN}")
    # netplan try reverts the running network at its own timeout (deadline + 30 s): SSH goes away.
    end = time.monotonic() + 120
    while True:
        try:
            ssh_unreachable(broken.lab)
            break
        except (pytest.fail.Exception, SshAuthError):  # still up, or going away in the middle of the login
            assert time.monotonic() < end, "netplan try did not revert the network at its timeout"
            time.sleep(2)
    # Now netplan try has exited; the armed timer (deadline + 60 s) puts the old file back.
    end = time.monotonic() + 120
    while True:
        out = broken.root_console(
            f"cat {NETPLAN}; echo @@; ip -4 -o addr show dev enp0s6; echo @@; "
            "pgrep -f '[n]etplan try' || true"
        )
        text, addrs, procs = out.replace("\r\n", "\n").split("@@\n")
        if text == CLOUD_INIT_NETPLAN:
            break
        assert time.monotonic() < end, f"the guest did not put the old file back by itself:\n{out}"
        time.sleep(5)
    assert not procs.strip(), "no netplan try left running"
    assert "10.0.2.15" not in addrs, "the running network was reverted too"


@pytest.fixture(scope="module")
def bridged(lab: Lab, tmp_path_factory: pytest.TempPathFactory) -> Guest:
    lab.boot()  # NIC at slot 5: put a bridge over enp0s5, then attach the disk to the same guest
    tmp = tmp_path_factory.mktemp("bridge")
    g = Guest(lab, lab.inventory(tmp), tmp)
    g.root_ssh(f"printf %s '{BRIDGE_NETPLAN}' > {NETPLAN} && chmod 600 {NETPLAN} && sync")
    lab.boot(fresh=False, disk1=True)
    return g


def test_bridge_is_repaired_under_the_revert_timer(bridged: Guest) -> None:
    ssh_unreachable(bridged.lab)
    r = bridged.cli()
    assert r.returncode == 0, r.stderr
    assert "enp0s5 → enp0s6" in r.stdout
    assert "netplan apply + revert timer" in r.stdout and "bonds/bridges" in r.stdout
    wait_for_ssh(bridged.lab, 30)
    out = bridged.root_ssh(
        f"cat {NETPLAN}; echo @@; ip -4 -o addr show dev br0; echo @@; "
        "systemctl list-units --all --no-legend 'gda-netplan-revert-*' | grep -v -- -boot.service | wc -l; "
        f"ls {UNIT_DIR} | grep -c gda-netplan-revert || true"
    )
    text, addrs, timers = out.split("@@\n")
    timers, boot_units = timers.split()
    assert text == BRIDGE_NETPLAN.replace("enp0s5", "enp0s6")
    assert "10.0.2.15" in addrs
    # (the boot unit's file goes too; systemd keeps what it loaded of it until its next daemon-reload)
    assert (timers, boot_units) == ("0", "0"), (
        "the revert timer, its service and boot unit went once SSH was back"
    )
