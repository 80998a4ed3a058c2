"""fix-netplan's way back survives a reboot, against the real lab guest: the controller dies in the
middle of ``netplan try`` (``--pin-cloud-init``) and the guest loses power before the change is confirmed
(the transient revert timer is gone with it). At the next boot the way back's boot unit puts the old
netplan file back, removes the cloud-init pin file it wrote (it did not exist before), and removes itself.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from agent.errors import AgentError
from agent.lab.recipe import CLOUD_INIT_NETPLAN
from tests.lab.conftest import REPO, Lab
from tests.lab.test_fix_netplan import CLOUD_CFG, NETPLAN, Guest, bad_port_inventory, sections

UNITS = "/etc/systemd/system"


@pytest.fixture(scope="module")
def broken(lab: Lab, tmp_path_factory: pytest.TempPathFactory) -> Guest:
    lab.boot(disk1=True)
    tmp = tmp_path_factory.mktemp("reboot")
    # a roomy prompt timeout: right after a boot, under TCG on shared cores, login can take a while
    return Guest(lab, lab.inventory(tmp, guest_extra="      prompt_timeout: 45\n"), tmp)


def test_reboot_in_the_netplan_try_window_restores_the_old_config(broken: Guest) -> None:
    argv = [sys.executable, "-m", "invoke", "fix-netplan", "--deadline", "60", "--pin-cloud-init",
            "--inventory", str(bad_port_inventory(broken))]  # fmt: skip
    proc = subprocess.Popen(argv, cwd=REPO, env=broken.lab.env(), stderr=subprocess.PIPE, text=True,
                            start_new_session=True)  # fmt: skip
    assert proc.stderr is not None
    seen = ""
    for line in proc.stderr:
        seen += line
        if "netplan try applied the new configuration" in line:
            break
    assert "way back armed" in seen and "-boot.service at boot" in seen, seen
    os.killpg(proc.pid, signal.SIGKILL)  # the controller dies with netplan try waiting on the console
    proc.wait()
    # The unconfirmed change is live (SSH answers on the right port), its way back is on disk.
    out = sections(broken.root_ssh(f"cat {NETPLAN}; echo @@; ls {UNITS}; echo @@; cat {CLOUD_CFG}"))
    assert "enp0s6:" in out[0]
    assert any(n.startswith("gda-netplan-revert-") and n.endswith("-boot.service") for n in out[1].split())
    assert "config: disabled" in out[2]
    # Power off and boot the same guest (same overlay, same disk): the transient timer is gone.
    broken.lab.boot(fresh=False, disk1=True)
    end = time.monotonic() + 180
    while True:
        try:
            out = sections(
                broken.root_console(
                    f"cat {NETPLAN}; echo @@; ls {UNITS} {UNITS}/multi-user.target.wants; echo @@; "
                    f"ls /var/lib/guest-disk-agent 2>/dev/null; echo @@; "
                    f"test -e {CLOUD_CFG} && echo pinned || echo unpinned; echo @@; "
                    "systemctl --no-pager --all status 'gda-netplan-revert-*' 2>&1 | tail -n 8; true"
                )
            )
        except AgentError as e:  # the guest is still booting (a slow login under TCG): try again
            out = [f"console: {e.message}"]
        # the file comes back first; the unit removes itself once `netplan apply` is done
        if out[0] == CLOUD_INIT_NETPLAN and "gda-netplan-revert" not in out[1]:
            break
        assert time.monotonic() < end, f"the way back did not run to its end after the reboot:\n{out}"
        time.sleep(5)
    assert "gda-netplan-revert" not in out[1], f"the boot unit removed itself:\n{out[1]}"
    assert not out[2].strip(), f"the job script removed itself: {out[2]}"
    assert out[3].strip() == "unpinned", "the cloud-init pin file, new in this change, is removed"
