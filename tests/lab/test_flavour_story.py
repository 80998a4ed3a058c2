"""The seed story on both lab flavours: Debian 12 (netplan file from the build) and Debian 13 with
cloud-init (the netplan file written by cloud-init itself at first boot, as on the user's Ubuntu 24.04).

Per flavour, one guest, tests in file order:

1. the guest's versions (netplan, systemd, e2fsprogs; python3 and cloud-init on trixie);
2. the disk attached at slot 5: the NIC is enp0s6, the netplan file still names enp0s5, SSH is gone
   (on trixie the file is cloud-init's: cloud-init 25 renders it through netplan's API, without the
   comment header older releases wrote; the test checks its instance, its datasource and its log);
3. ``fix-netplan`` through the serial console brings SSH back;
4. what each mke2fs turns on by default, read from the guest's /etc/mke2fs.conf, and what the FreeBSD
   profile turns off; an ext4 made with those features on first is refused by the profile's rerun;
5. ``format --host-compat freebsd`` on the whole device, checked from the host side with dumpe2fs on the
   disk image;
6. trixie only: ``fix-netplan --pin-cloud-init`` writes cloud-init's off switch for the network; a new
   cloud-init instance at the next boot (as after a clone) then leaves the repaired file alone, and its
   log says the network config was disabled by the system config.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator

import pytest

from tests.lab.conftest import Lab
from tests.lab.test_fix_netplan import NETPLAN, Guest, ssh_unreachable, wait_for_ssh

FLAVOURS = ("bookworm", "trixie")
CLOUD_CFG = "/etc/cloud/cloud.cfg.d/99-disable-network-config.cfg"

# What each flavour's packages must be at least (major, minor, patch): the versions.
MINIMUM = {
    "bookworm": {"netplan.io": (0, 106), "systemd": (252,), "e2fsprogs": (1, 47, 0)},
    "trixie": {
        "netplan.io": (1, 1),
        "systemd": (257,),
        "e2fsprogs": (1, 47, 2),
        "python3": (3, 13),
        "cloud-init": (25,),
    },
}
# ext4 features each mke2fs.conf turns on that a FreeBSD host cannot mount read-write (orphan_file) or that
# the profile leaves out (metadata_csum_seed): Debian 12 patches both off, Debian 13 has upstream's defaults.
DEFAULTS_FREEBSD_TURNS_OFF = {"bookworm": set(), "trixie": {"orphan_file", "metadata_csum_seed"}}


def _version(text: str) -> tuple[int, ...]:
    """``1:10.0p1-7`` → (10, 0); ``257.13-1~deb13u1`` → (257, 13)."""
    text = text.split(":", 1)[-1]
    return tuple(int(n) for n in re.findall(r"\d+", text.split("-")[0])[:3])


@pytest.fixture(scope="module", params=FLAVOURS)
def story(
    request: pytest.FixtureRequest, lab: Lab, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Guest]:
    flavour = request.param
    if flavour == "trixie":
        request.getfixturevalue("trixie_image")
    st = lab.boot(disk1=True, flavour=flavour)
    assert st.flavour == flavour and st.nic_name == "enp0s6"
    tmp = tmp_path_factory.mktemp(f"story-{flavour}")
    yield Guest(lab, lab.inventory(tmp), tmp)
    lab.down()


def test_disk_attached_ssh_lost_and_netplan_names_enp0s5(story: Guest) -> None:
    ssh_unreachable(story.lab)
    text, _ = story.netplan_dir("console")
    assert re.search(r"(?m)^        enp0s5:$|^    enp0s5:$", text), text
    assert "enp0s6" not in text
    if story.lab.flavour == "trixie":
        # cloud-init's own file: its header, the instance the lab's seed gave, cloud-init's log of it
        out = story.root_console(
            "cat /var/lib/cloud/data/instance-id; echo @@; cloud-init status --format json; echo @@; "
            "grep -c 'Rendered netplan config' /var/log/cloud-init.log"
        )
        iid, status, writes = (part.strip() for part in out.replace("\r\n", "\n").split("@@"))
        assert iid == (story.lab.paths.instance_id.read_text().strip())
        assert json.loads(status[status.index("{") :])["datasource"] == "nocloud", status
        assert int(writes) >= 1


def test_fix_over_the_console_brings_ssh_back(story: Guest) -> None:
    r = story.cli()
    assert r.returncode == 0, (r.stdout, r.stderr)
    assert "enp0s5" in r.stdout and "enp0s6" in r.stdout
    if story.lab.flavour == "trixie":
        assert "cloud-init" in r.stderr + r.stdout  # the warning: it may write the file again
    text, _ = story.netplan_dir("ssh")
    assert "enp0s6:" in text and "enp0s5" not in text


def test_guest_versions(story: Guest) -> None:
    want = MINIMUM[story.lab.flavour]
    out = story.root_ssh("dpkg-query -W -f '${Package} ${Version}\\n' " + " ".join(want))
    have = dict(line.split() for line in out.splitlines())
    for package, minimum in want.items():
        assert _version(have[package]) >= minimum, (package, have[package])
    recorded = json.loads(story.lab.paths.root.joinpath("state.json").read_text())
    assert recorded["flavour"] == story.lab.flavour
    status = story.lab.invoke("lab.status", "--state", str(story.lab.state))
    assert status.returncode == 0, status.stderr
    line = next(x for x in status.stdout.splitlines() if x.startswith(f"image {story.lab.flavour}:"))
    for package in want:
        assert f"{package} {have[package]}" in line, line


def test_mke2fs_defaults_and_what_the_freebsd_profile_turns_off(story: Guest) -> None:
    conf = story.root_ssh("cat /etc/mke2fs.conf")
    ext4 = re.search(r"(?ms)^\s*ext4 = \{\s*features = (\S+)", conf)
    assert ext4, conf
    defaults = set(ext4[1].split(","))
    turned_off = DEFAULTS_FREEBSD_TURNS_OFF[story.lab.flavour]
    assert defaults & {"orphan_file", "metadata_csum_seed"} == turned_off, defaults

    # An ext4 that has them on (made explicitly where the defaults leave them off): the profile refuses it.
    dev = _nvme(story)
    story.root_ssh(f"mkfs.ext4 -q -F -L linux-data -O orphan_file,metadata_csum_seed {dev} && sync")
    r = story.lab.invoke("format", "--fs", "ext4", "--label", "linux-data", "--host-compat", "freebsd",
                         inventory=story.inv)  # fmt: skip
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert "orphan_file" in r.stderr and "metadata_csum_seed" in r.stderr, r.stderr
    story.root_ssh(f"wipefs -a -q {dev} && sync")


def test_format_for_freebsd_and_the_host_view(story: Guest) -> None:
    r = story.lab.invoke(
        "format", "--fs", "ext4", "--label", "linux-data", "--host-compat", "freebsd", "--json",
        inventory=story.inv,
    )  # fmt: skip
    assert r.returncode == 0, (r.stdout, r.stderr)
    data = json.loads(r.stdout)
    assert data["ok"] and data["action"] == "formatted", data
    image = story.lab.paths.disk(1)
    blkid = subprocess.run(["blkid", "-p", "-o", "export", str(image)], capture_output=True, text=True)
    assert "TYPE=ext4" in blkid.stdout and "PTTYPE" not in blkid.stdout, blkid.stdout
    assert f"UUID={data['uuid']}" in blkid.stdout
    d = subprocess.run(["dumpe2fs", "-h", str(image)], capture_output=True, text=True, check=True)
    features = set(re.search(r"(?m)^Filesystem features:\s*(.*)$", d.stdout)[1].split())  # type: ignore[index]
    assert not features & {"orphan_file", "metadata_csum_seed", "needs_recovery"}, features
    assert {"extent", "64bit", "metadata_csum"} <= features


def test_pinned_repair_survives_a_new_cloud_init_instance(story: Guest) -> None:
    if story.lab.flavour != "trixie":
        pytest.skip("cloud-init runs on the trixie flavour only")
    lab = story.lab
    r = story.cli("--pin-cloud-init")  # SSH works now, the file names enp0s6: only the pin is written
    assert r.returncode == 0, (r.stdout, r.stderr)
    assert "network: {config: disabled}" in story.root_ssh(f"cat {CLOUD_CFG}")

    # A new instance (as after a clone): cloud-init runs its per-instance stages again, and would write
    # enp0s5 from the seed again; the pin stops it, and SSH comes back by itself on enp0s6.
    old_iid = lab.paths.instance_id.read_text().strip()
    lab.boot(fresh=False, disk1=True, flavour="trixie", new_instance=True)
    new_iid = lab.paths.instance_id.read_text().strip()
    assert new_iid != old_iid
    wait_for_ssh(lab, 180)
    out = story.root_ssh(
        f"cat /var/lib/cloud/data/instance-id; echo @@; cat {NETPLAN}; echo @@; "
        "grep -ciE 'network config (is )?disabled by .*system_cfg' /var/log/cloud-init.log"
    )
    iid, text, disabled = out.split("@@\n")
    assert iid.strip() == new_iid  # cloud-init did take the new instance
    assert "enp0s6:" in text and "enp0s5" not in text
    assert int(disabled) >= 1  # and it left the network alone because of the pin


def _nvme(story: Guest) -> str:
    out = story.root_ssh("ls /dev/disk/by-id/ | grep '^nvme-.*Y39B70RTK7AS$'").split()
    assert len(out) == 1, out
    return f"/dev/disk/by-id/{out[0]}"
