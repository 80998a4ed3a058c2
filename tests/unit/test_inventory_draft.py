"""``gda inventory --from-host``'s pure parts and its read script: a guest's conf → its draft
(agent.core.vmbhyve.guest_draft), the draft → inventory YAML that the project's loader takes
(agent.core.vmbhyve.inventory_draft), and inventory_from_host.sh run with the local sh against a fake
``vm``/``sysrc``/``zfs`` (agent.ops.inventory_from_host)."""

from __future__ import annotations

import io
import os
import subprocess
from pathlib import Path

import pytest
from ruamel.yaml import YAML
from ruamel.yaml.scalarstring import DoubleQuotedScalarString

from agent.core.vmbhyve.guest_draft import draft_guest
from agent.core.vmbhyve.inventory_draft import HostEntry, build_draft, render_yaml, yaml_scalar
from agent.core.vmbhyve.vm_list import parse_vm_list
from agent.errors import Refused
from agent.inventory import load_inventory
from agent.ops import inventory_from_host as op
from agent.transport.protocol import Result

FIX = Path(__file__).parent.parent / "fixtures" / "vmbhyve"
XDEV = (FIX / "xdev.conf").read_text()
HOST = HostEntry("bhyvehost", "192.168.7.1", 22, "admin", sudo_password_env="BHYVE_SUDO_PASSWORD")


def header(*names: str, datastore: dict[str, str] | None = None) -> str:
    """``vm list``'s output for these guests (column -t: widest cell plus two blanks)."""
    rows = [["NAME", "DATASTORE", "LOADER", "CPU", "MEMORY", "VNC", "AUTO", "STATE"]]
    rows += [[n, (datastore or {}).get(n, "default"), "uefi", "1", "1G", "-", "No", "Stopped"] for n in names]
    widths = [max(len(r[i]) for r in rows) for i in range(8)]
    return "".join("".join(c.ljust(widths[i] + 2) for i, c in enumerate(r[:-1])) + r[-1] + "\n" for r in rows)


def load(text: str, tmp_path: Path) -> object:
    path = tmp_path / "inventory.yaml"
    path.write_text(text, encoding="utf-8")
    return load_inventory(path)


def drafted(confs: dict[str, str], listing: str | None = None) -> str:
    lst = parse_vm_list(listing or header(*confs))
    return render_yaml(build_draft(HOST, lst, confs, vm_dir="zfs:zdata/vms", folder="/zdata/vms",
                                   dataset="zdata/vms"))  # fmt: skip


# ------------------------------------------------------------------------------------------ guests
def test_the_seeds_xdev() -> None:
    g = draft_guest("xdev", XDEV, vm_dir="/zdata/vms", zvol_dataset="zdata/vms")
    (nic,) = g.nics
    assert (nic.mac, nic.switch, nic.attached) == ("58:9c:fc:03:19:32", "igc0bridge", True)
    disk0, disk1 = g.disks
    assert disk0.path == "/dev/zvol/zdata/vms/xdev/disk0" and not disk0.passed_through
    assert (disk1.path, disk1.slot, disk1.serial, disk1.serial_source) == (
        "/dev/diskid/DISK-Y39B70RTK7ASp4", "5:0", "NVME-5-0", "slot",
    )  # fmt: skip
    assert g.passthrough == (disk1,)
    assert g.console_device == "/dev/nmdm-xdev.1B" and g.comports == ("com1",)


def test_ser_is_the_serial_cut_to_twenty_bytes() -> None:
    conf = XDEV + 'disk1_opts="sectsz=512,ser=ABCDEFGHIJKLMNOPQRSTUVWXYZ"\n'
    (_, disk1) = draft_guest("xdev", conf, vm_dir="/zdata/vms", zvol_dataset="zdata/vms").disks
    assert (disk1.serial, disk1.serial_source) == ("ABCDEFGHIJKLMNOPQRST", "ser")


def test_a_disk_after_a_gap_is_not_attached() -> None:
    conf = XDEV.replace("disk1_", "disk2_")  # vm-bhyve's disk loop stops at the first missing disk1
    (_, disk2) = draft_guest("xdev", conf, vm_dir="/zdata/vms", zvol_dataset="zdata/vms").disks
    assert disk2.attached is False and disk2.serial is None


# ------------------------------------------------------------------------------------------ YAML
def test_the_draft_loads_with_the_projects_loader(tmp_path: Path) -> None:
    inv = load(drafted({"xdev": XDEV}), tmp_path)
    xdev = inv.guests["xdev"]  # type: ignore[attr-defined]
    assert xdev.on == "bhyvehost" and xdev.host == "xdev"
    assert xdev.network.mac == "58:9c:fc:03:19:32"
    assert str(xdev.disk.host_path) == "/dev/diskid/DISK-Y39B70RTK7ASp4" and xdev.disk.serial == "NVME-5-0"
    h = inv.hosts["bhyvehost"]  # type: ignore[attr-defined]
    assert (h.host, h.port, h.user, h.sudo_password_env) == (
        "192.168.7.1",
        22,
        "admin",
        "BHYVE_SUDO_PASSWORD",
    )


def test_the_comments_say_what_is_not_known() -> None:
    text = drafted({"xdev": XDEV})
    assert "host: xdev  # TODO the guest's SSH address" in text
    assert (
        "    # user: admin  # TODO the guest's login user\n    # sudo_password_env: XDEV_SUDO_PASSWORD\n"
        in text
    )
    assert "# netplan_file: /etc/netplan/50-cloud-init.yaml" in text
    assert "serial: NVME-5-0  # bhyve's default from slot 5:0: it changes with the slot" in text
    assert "`vm console xdev` over SSH to bhyvehost, cu on /dev/nmdm-xdev.1B (com1)" in text


@pytest.mark.parametrize("name", ["yes", "on", "null", "1e3", "0x10", "12", "true", "y"])
def test_names_yaml_would_read_otherwise_are_quoted(name: str, tmp_path: Path) -> None:
    text = drafted({name: "loader=uefi\ncpu=1\nmemory=1G\n"})
    assert f'  "{name}":\n' in text
    assert list(load(text, tmp_path).guests) == [name]  # type: ignore[attr-defined]
    old = YAML(typ="safe")  # YAML 1.1 (Ansible's): "yes" would be True, "12" an int
    assert list(old.load(io.StringIO("%YAML 1.1\n---\n" + text))["guests"]) == [name]


def test_a_mac_of_digits_stays_a_string() -> None:
    assert isinstance(yaml_scalar("12:34:56:12:34:56"), DoubleQuotedScalarString)  # YAML 1.1: sexagesimal
    assert not isinstance(yaml_scalar("/dev/gpt/data"), DoubleQuotedScalarString)


def test_control_characters_from_the_host_never_reach_the_yaml_raw(tmp_path: Path) -> None:
    conf = XDEV.replace('disk1_name="/dev/diskid/DISK-Y39B70RTK7ASp4"', 'disk1_name="/dev/gpt/ev\x1b[2Kil"')
    conf = conf.replace('network0_switch="igc0bridge"', 'network0_switch="br\x07idge"')
    text = drafted({"xdev": conf})
    assert "\x1b" not in text and "\x07" not in text
    assert "/dev/gpt/ev\\\\x1b[2Kil" in text  # clean()'s visible escape, in a double-quoted scalar
    assert "br\\x07idge" in text
    load(text, tmp_path)


def test_a_guest_without_a_host_device_and_one_of_another_datastore(tmp_path: Path) -> None:
    listing = header("plain", "other", datastore={"other": "tank"})
    text = drafted(
        {"plain": "loader=uefi\ncpu=1\nmemory=1G\ndisk0_name=disk0\ndisk0_type=virtio-blk\n"}, listing
    )
    inv = load(text, tmp_path)
    assert sorted(inv.guests) == ["other", "plain"]  # type: ignore[attr-defined]
    assert inv.guests["plain"].disk.host_path is None  # type: ignore[attr-defined]
    assert "# disk: no host device passed through yet" in text
    assert "# not known: in datastore tank, whose folder was not found (path_tank in system.conf)" in text


def test_two_nics_the_second_without_a_mac() -> None:
    conf = XDEV + 'network1_type="virtio-net"\nnetwork1_switch="backend"\n'
    text = drafted({"xdev": conf})
    assert 'mac: "58:9c:fc:03:19:32"  # network0_mac (virtio-net on igc0bridge)' in text
    assert "# network1: no network1_mac: vm-bhyve makes up a MAC at every start" in text


# ------------------------------------------------------------------------------------------ the script
class FakeHost:
    """Runs the script with the local sh; ``bin`` (fake vm, sysrc, zfs) first on PATH."""

    label = "fakehost"

    def __init__(self, bin_dir: Path) -> None:
        self.bin_dir = bin_dir
        self.runs = 0

    def run(
        self, script: str, *, root: bool = False, stdin: bytes | None = None, timeout: float | None = None
    ) -> Result:
        self.runs += 1
        env = {**os.environ, "PATH": f"{self.bin_dir}:{os.environ['PATH']}"}
        p = subprocess.run(["sh", "-c", script], capture_output=True, text=True, env=env, check=False)
        return Result(p.returncode, p.stdout, p.stderr)


def fake_host(tmp_path: Path, *, vm_dir: str | None, listing: str = "") -> FakeHost:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    tools = {
        "sysrc": f"#!/bin/sh\n[ \"$*\" = '-n vm_dir' ] && printf '%s\\n' '{vm_dir}' && exit 0\nexit 1\n"
        if vm_dir is not None
        else "#!/bin/sh\necho \"sysrc: unknown variable 'vm_dir'\" >&2\nexit 1\n",
        "zfs": "#!/bin/sh\n[ \"$*\" = 'get -H -o value mountpoint zdata/vms' ] && "
        f"echo '{tmp_path}/vms' && exit 0\n"
        "[ \"$*\" = 'get -H -o value mountpoint tank/vms' ] && "
        f"echo '{tmp_path}/tankvms' && exit 0\n"
        "echo \"cannot open '$5': dataset does not exist\" >&2\nexit 1\n",
        "vm": f"#!/bin/sh\n[ \"$1\" = list ] && printf '%s' '{listing}' && exit 0\nexit 1\n",
    }
    for name, body in tools.items():
        (bin_dir / name).write_text(body)
        (bin_dir / name).chmod(0o755)
    return FakeHost(bin_dir)


def test_one_run_reads_the_listing_and_every_conf_as_bytes(tmp_path: Path) -> None:
    vms = tmp_path / "vms"
    (vms / "xdev").mkdir(parents=True)
    (vms / "xdev" / "xdev.conf").write_bytes(XDEV.replace("\n", "\r\n").encode())  # a CRLF conf arrives as is
    (vms / "bad name").mkdir()
    (vms / "bad name" / "bad name.conf").write_text("cpu=1\n")
    (vms / "nothing").mkdir()  # a folder without a conf is no guest
    host = fake_host(tmp_path, vm_dir="zfs:zdata/vms", listing=header("xdev"))
    read = op.read_host(host, "vm", root=False)
    assert host.runs == 1
    assert (read.vm_dir, read.folder, read.dataset) == ("zfs:zdata/vms", f"{tmp_path}/vms", "zdata/vms")
    assert read.confs == {"xdev": XDEV.replace("\n", "\r\n")}
    assert read.skipped == ("bad name",)
    d = op.draft(read, HOST)
    assert [g.draft.name for g in d.guests] == ["xdev"]
    assert ("bad name", "a folder of vm_dir whose name vm-bhyve would not take: not read") in d.skipped


def test_no_vm_command_is_refused_with_what_was_found(tmp_path: Path) -> None:
    host = fake_host(tmp_path, vm_dir="zfs:zdata/vms")
    with pytest.raises(Refused) as e:
        op.read_host(host, "gda-no-such-vm", root=False)
    assert "no gda-no-such-vm command on the host" in e.value.message
    assert e.value.hint is not None and "pkg install vm-bhyve" in e.value.hint
    assert e.value.exit_code == 1


def test_no_vm_dir_is_refused_with_vm_lists_words(tmp_path: Path) -> None:
    host = fake_host(tmp_path, vm_dir=None)
    with pytest.raises(Refused, match=r"vm_dir is not set in rc\.conf"):
        op.read_host(host, "vm", root=False)


def test_a_dataset_without_mountpoint_is_refused(tmp_path: Path) -> None:
    host = fake_host(tmp_path, vm_dir="zfs:tank/none")
    with pytest.raises(Refused, match="zfs get mountpoint tank/none failed: cannot open"):
        op.read_host(host, "vm", root=False)


def test_vm_command_words_are_arguments_never_script_text() -> None:
    script = op.read_script("sudo vm; rm -rf /", nonce="0123abcd4567ef89")
    assert "set -- sudo vm';' rm -rf /" not in script  # shlex.split: "vm;" is one word, quoted
    assert "set -- sudo 'vm;' rm -rf /\n" in script


def test_output_of_another_run_is_refused() -> None:
    out = "@@GDA-VMINV v1 nonce=aaaaaaaaaaaaaaaa@@\n@@GDA-aaaaaaaaaaaaaaaa DONE@@\n"
    with pytest.raises(Refused, match="this run's marker"):
        op.parse_read(out, nonce="bbbbbbbbbbbbbbbb", label="h")


def test_a_conf_od_could_not_read_is_drafted_with_why() -> None:
    n = "0123abcd4567ef89"
    out = (
        f"@@GDA-VMINV v1 nonce={n}@@\n"
        f"@@GDA-{n} OBS vm_dir=/vm\n@@GDA-{n} OBS dir=/vm\n@@GDA-{n} OBS dataset=\n"
        f"@@GDA-{n} BEGIN vm_list -@@\n{header('xdev')}@@GDA-{n} STDERR@@\n@@GDA-{n} END rc=0@@\n"
        f"@@GDA-{n} BEGIN conf_hex xdev@@\n@@GDA-{n} STDERR@@\nod: /vm/xdev/xdev.conf: Permission denied\n"
        f"@@GDA-{n} END rc=1@@\n@@GDA-{n} RESULT code=0 reason=ok@@\n@@GDA-{n} DONE@@\n"
    )
    read = op.parse_read(out, nonce=n, label="h")
    assert read.confs == {} and read.unread == {"xdev": "od: /vm/xdev/xdev.conf: Permission denied"}
    (g,) = op.draft(read, HOST).guests
    assert g.draft.problems == ("/vm/xdev/xdev.conf was not read: od: /vm/xdev/xdev.conf: Permission denied",)


def test_a_failing_vm_list_is_refused_with_its_words(tmp_path: Path) -> None:
    host = fake_host(tmp_path, vm_dir="/nonexistent")
    (host.bin_dir / "vm").write_text(
        "#!/bin/sh\necho '/usr/local/sbin/vm: ERROR: unable to load config' >&2\nexit 1\n"
    )
    with pytest.raises(Refused) as e:
        op.read_host(host, "vm", root=False)
    assert (
        "`vm list` failed; `vm list` said: /usr/local/sbin/vm: ERROR: unable to load config"
        in e.value.message
    )


def test_the_other_datastores_of_system_conf_are_read(tmp_path: Path) -> None:
    # vm-bhyve's own layout (lib/vm-datastore datastore::get, lib/vm-config config::core::load)
    (tmp_path / "vms" / ".config").mkdir(parents=True)
    (tmp_path / "vms" / ".config" / "system.conf").write_text(
        'datastore_list="tank isos"\npath_tank="zfs:tank/vms"\npath_isos="iso:/isos"\n'
    )
    (tmp_path / "tankvms" / "web1").mkdir(parents=True)
    web1 = XDEV.replace("disk1_", "diskX_").replace('disk0_dev="sparse-zvol"', 'disk0_dev="zvol"')
    (tmp_path / "tankvms" / "web1" / "web1.conf").write_text(web1)
    listing = header("web1", datastore={"web1": "tank"})
    read = op.read_host(fake_host(tmp_path, vm_dir="zfs:zdata/vms", listing=listing), "vm", root=False)
    assert read.datastores == {"tank": (f"{tmp_path}/tankvms", "tank/vms")}
    assert set(read.confs) == {"tank/web1"}
    (g,) = op.draft(read, HOST).guests
    assert g.draft.conf_path == f"{tmp_path}/tankvms/web1/web1.conf"
    assert g.draft.disks[0].path == "/dev/zvol/tank/vms/web1/disk0"  # the datastore's own dataset
