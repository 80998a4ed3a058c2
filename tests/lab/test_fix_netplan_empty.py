"""fix-netplan on an EMPTY netplan file, against the real lab guest (bookworm, one boot, ports 2370/4700).

A power cut right after cloud-init wrote ``50-cloud-init.yaml`` left it empty: netplan configures no NIC,
SSH is gone, and "nothing to fix" would be a false success. Here the disk is attached (the NIC is
``enp0s6``), the file is emptied through a console login of the test's own, and fix-netplan writes a
minimal DHCP config for the inventory's MAC through the console, confirmed once SSH is back.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from agent.core.net.empty_config import minimal_config
from agent.core.net.interfaces import Interface
from tests.lab.conftest import Lab
from tests.lab.test_fix_netplan import BACKUP, MAC, NETPLAN, Guest, sections, ssh_unreachable


@pytest.fixture(scope="module")
def emptied(lab_image: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Guest]:
    lab = Lab(state=tmp_path_factory.mktemp("lab-empty-state"), ssh_port=2370, console_port=4700)
    try:
        st = lab.boot(disk1=True)
        assert st.nic_name == "enp0s6"
        tmp = tmp_path_factory.mktemp("fix-empty")
        g = Guest(lab, lab.inventory(tmp, guest_extra="      prompt_timeout: 45\n"), tmp)
        g.root_console(f": > {NETPLAN} && sync")
        yield g
    finally:
        lab.down()


def test_an_empty_file_is_filled_with_a_minimal_config(emptied: Guest) -> None:
    ssh_unreachable(emptied.lab)
    r = emptied.cli("--json")
    assert r.returncode == 0, r.stdout + r.stderr
    data = json.loads(r.stdout)
    assert data["action"] == "fixed" and data["via"] == "console", data
    assert data["new_config"] == {NETPLAN: "enp0s6"} and data["renames"] == {}
    finding = f"no netplan configuration for any ethernet NIC: {NETPLAN} is empty (0 bytes)"
    assert data["warnings"][0].startswith(finding), data["warnings"]
    assert data["interface"] == "enp0s6" and any(a.startswith("10.0.2.15/") for a in data["addresses"])
    (backup,) = data["backups"]
    assert BACKUP.fullmatch(backup)
    text, mode, size = sections(
        emptied.root_ssh(f"cat {NETPLAN}; echo @@; stat -c %a {NETPLAN}; echo @@; stat -c %s {backup}")
    )
    nic = Interface("enp0s6", mac=MAC, is_physical=True)
    assert text == minimal_config(nic, MAC)
    assert mode.strip() == "600" and size.strip() == "0", "the backup is the empty file, byte for byte"


def test_the_rerun_is_nothing_to_fix(emptied: Guest) -> None:
    r = emptied.cli("--json")
    assert r.returncode == 0, r.stdout + r.stderr
    data = json.loads(r.stdout)
    assert data["action"] == "nothing-to-fix" and data["via"] == "ssh", data
