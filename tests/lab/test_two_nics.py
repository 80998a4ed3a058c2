"""Two NICs on one multifunction slot (vm-bhyve's network0 and network1), on the cloud-init flavour.

vm-bhyve puts network0, network1, … as functions of the NIC slot; bhyve marks such a slot multifunction,
so systemd names every NIC with its function, the first one too: ``enp0s5f0``, ``enp0s5f1``. With the
disk attached at slot 5 they become ``enp0s6f0``, ``enp0s6f1``: check-vm-config predicts both renames,
and fix-netplan repairs both through the console.

One boot, as the guest is after the disk was attached: the disk at slot 5, the NICs at slot 6, while
cloud-init's seed names the NICs as installed (slot 5), so the first boot's netplan file is already stale.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.lab.conftest import REPO, Lab
from tests.lab.test_fix_netplan import NETPLAN, Guest, ssh_unreachable

TWO_NIC_CONF = """\
loader="uefi"
cpu=4
memory=16G
network0_type="virtio-net"
network0_switch="public"
network0_mac="58:9c:fc:03:19:32"
network1_type="virtio-net"
network1_switch="private"
network1_mac="58:9c:fc:03:19:33"
disk0_name="disk0"
disk0_dev="sparse-zvol"
disk0_type="virtio-blk"
disk1_name="/dev/diskid/DISK-Y39B70RTK7ASp4"
disk1_dev="custom"
disk1_type="nvme"
"""


def _links(g: Guest) -> dict[str, str]:
    """Interface name → its IPv4 address (or "")."""
    out = g.root_ssh("ip -4 -o addr show scope global; echo @@; ls /sys/class/net")
    addrs, names = out.split("@@\n")
    found = {n: "" for n in names.split() if n.startswith("enp")}
    for line in addrs.splitlines():
        parts = line.split()
        if len(parts) >= 4 and parts[1] in found:
            found[parts[1]] = parts[3].split("/")[0]
    return found


@pytest.fixture(scope="module")
def two(lab: Lab, trixie_image: None, tmp_path_factory: pytest.TempPathFactory) -> Guest:
    st = lab.boot(flavour="trixie", nics=2, disk1=True)
    assert st.nic_names == ["enp0s6f0", "enp0s6f1"]
    tmp = tmp_path_factory.mktemp("two-nics")
    return Guest(lab, lab.inventory(tmp), tmp)


def test_check_vm_config_predicts_both_renames(tmp_path: Path) -> None:
    conf = tmp_path / "xdev.conf"
    conf.write_text(TWO_NIC_CONF)
    r = subprocess.run(
        [sys.executable, "-m", "invoke", "check-vm-config", "--conf", str(conf), "--json"],
        cwd=REPO, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert r.returncode == 1, r.stderr  # a predicted rename is a warning
    renames = {x["from"]["name"]: x["to"]["name"] for x in json.loads(r.stdout)["renames"]}
    assert renames == {"enp0s5f0": "enp0s6f0", "enp0s5f1": "enp0s6f1"}


def test_both_nics_moved_and_netplan_names_the_old_pair(two: Guest) -> None:
    ssh_unreachable(two.lab)
    out = two.root_console(
        f"cat {NETPLAN}; echo @@; ls /sys/class/net; echo @@; "
        "udevadm info -q property -p /sys/class/net/enp0s6f0 | grep ^ID_NET_NAME_PATH="
    )
    text, names, path = out.replace("\r\n", "\n").split("@@\n")
    assert "enp0s5f0:" in text and "enp0s5f1:" in text  # cloud-init wrote them from the seed
    assert {"enp0s6f0", "enp0s6f1"} <= set(names.split())
    assert path.strip() == "ID_NET_NAME_PATH=enp0s6f0"  # function 0 named with f0: a multifunction slot


def test_fix_netplan_repairs_both(two: Guest) -> None:
    r = two.cli()
    assert r.returncode == 0, (r.stdout, r.stderr)
    for old, new in (("enp0s5f0", "enp0s6f0"), ("enp0s5f1", "enp0s6f1")):
        assert re.search(rf"{old}\s*→\s*{new}", r.stdout), r.stdout
    text = two.root_ssh(f"cat {NETPLAN}")
    assert "enp0s6f0:" in text and "enp0s6f1:" in text and "enp0s5" not in text
    assert _links(two) == {"enp0s6f0": "10.0.2.15", "enp0s6f1": "10.0.3.15"}
