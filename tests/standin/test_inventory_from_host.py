"""``gda inventory --from-host`` against the stand-in FreeBSD host (a real sshd on loopback whose ``vm
list``, ``sysrc`` and ``zfs`` answer from the scenario, tests/standin/host.py): the printed YAML loads with
the project's own loader, and carries each guest's ``on:``, MAC, passed-through disk and serial."""

from __future__ import annotations

import json
from pathlib import Path

from agent.inventory import load_inventory
from tests.cli.gda_run import gda
from tests.standin.host import StandinHost, free_port
from tests.standin.test_host_ssh_options import bare_env

P4 = "/dev/diskid/DISK-Y39B70RTK7ASp4"
# a second guest: two NICs (the second without a MAC), a file disk, an NVMe pass-through pinned by ser=
WEB1 = """loader="bhyveload"
cpu=2
memory=2G
network0_type="virtio-net"
network0_switch="public"
network0_mac="58:9c:fc:00:00:01"
network1_type="virtio-net"
network1_switch="backend"
disk0_type="virtio-blk"
disk0_name="disk0.img"
disk1_type="nvme"
disk1_dev="custom"
disk1_name="/dev/gpt/web1data"
disk1_opts="ser=WEB1DATA0001"
comports="com1 com2"
"""


def ssh_args(host: StandinHost) -> list[str]:
    return [
        "--host-port", str(host.port), "--host-user", "root",
        "--host-identity-file", str(host.identity_file), "--host-known-hosts", str(host.known_hosts),
    ]  # fmt: skip


def draft(host: StandinHost, tmp_path: Path, *extra: str) -> tuple[dict[str, object], Path]:
    r = gda(
        "inventory", "--from-host", "127.0.0.1", *ssh_args(host), *extra, "--json", env=bare_env(tmp_path)
    )
    assert "Traceback" not in r.stderr, r.stderr
    assert r.returncode == 0, (r.stdout, r.stderr)
    data = json.loads(r.stdout)
    out = tmp_path / "drafted.yaml"
    out.write_text(str(data["inventory_yaml"]), encoding="utf-8")
    return data, out


def test_the_seed_host_drafts_xdev_and_the_draft_loads(freebsd_host: StandinHost, tmp_path: Path) -> None:
    freebsd_host.update(running=["xdev"])
    data, path = draft(freebsd_host, tmp_path)
    inv = load_inventory(path)  # the project's own loader: schema, on:, names
    assert sorted(inv.guests) == ["xdev"]
    (host_name,) = inv.hosts
    h = inv.hosts[host_name]
    assert (h.host, h.port, h.user) == ("127.0.0.1", freebsd_host.port, "root")
    xdev = inv.guests["xdev"]
    assert xdev.on == host_name
    assert xdev.network.mac == "58:9c:fc:03:19:32"  # network0_mac of the seed's xdev.conf
    assert str(xdev.disk.host_path) == P4 and xdev.disk.host_os == "freebsd"
    assert xdev.disk.serial == "NVME-5-0"  # no ser=: bhyve's default for disk1 at slot 5 (UEFI: 4 is disk0)
    assert xdev.console is not None and xdev.console.ssh is not None
    assert xdev.console.ssh.command == "vm console xdev"
    (guest,) = data["guests"]  # type: ignore[misc]
    assert guest["state"].startswith("Running (") and guest["running"] is True
    assert guest["conf"] == f"{freebsd_host.root}/zdata/vms/xdev/xdev.conf"  # zfs get mountpoint's answer
    text = path.read_text()
    assert "TODO the guest's SSH address" in text and "# user: admin" in text
    assert "cu on /dev/nmdm-xdev.1B (com1)" in text
    assert "/dev/zvol/zdata/vms/xdev/disk0 (slot 4:0): not passed through" in text


def test_plain_output_is_the_yaml_and_a_summary_on_stderr(freebsd_host: StandinHost, tmp_path: Path) -> None:
    r = gda("inventory", "--from-host", "127.0.0.1", *ssh_args(freebsd_host), env=bare_env(tmp_path))
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(
        "# guest-disk-agent inventory drafted by `gda inventory --from-host 127.0.0.1`"
    )
    assert "drafted 1 guest(s) from 127.0.0.1: xdev" in r.stderr
    path = tmp_path / "inventory.yaml"
    path.write_text(r.stdout)
    assert sorted(load_inventory(path).guests) == ["xdev"]


def test_a_second_guest_with_two_nics_and_a_pinned_serial(freebsd_host: StandinHost, tmp_path: Path) -> None:
    freebsd_host.write_file("/zdata/vms/web1/web1.conf", WEB1)
    freebsd_host.write_file("/zdata/vms/bad name/bad name.conf", "cpu=1\n")  # not a vm-bhyve name
    data, path = draft(freebsd_host, tmp_path)
    inv = load_inventory(path)
    assert sorted(inv.guests) == ["web1", "xdev"]
    web1 = inv.guests["web1"]
    assert web1.network.mac == "58:9c:fc:00:00:01"
    assert str(web1.disk.host_path) == "/dev/gpt/web1data" and web1.disk.serial == "WEB1DATA0001"
    text = path.read_text()
    assert "network1: no network1_mac: vm-bhyve makes up a MAC at every start" in text
    folder = f"{freebsd_host.root}/zdata/vms/web1"  # where the stand-in's zfs mounts zdata/vms
    assert f"disk0: virtio-blk, file, {folder}/disk0.img (slot 4:0): not passed through" in text
    assert "serial: WEB1DATA0001  # ser= in disk1_opts" in text
    assert "left out: bad name" in text
    assert [s["name"] for s in data["skipped"]] == ["bad name"]  # type: ignore[union-attr, index]


def test_the_host_entry_comes_from_the_inventory(freebsd_host: StandinHost, tmp_path: Path) -> None:
    given = tmp_path / "hosts.yaml"
    given.write_text(
        "hosts:\n"
        "  bhyvehost:\n"
        "    host: 127.0.0.1\n"
        f"    port: {freebsd_host.port}\n"
        "    user: root\n"
        f"    identity_file: {freebsd_host.identity_file}\n"
        f"    known_hosts: {freebsd_host.known_hosts}\n"
        "guests:\n"
        "  placeholder: {host: 127.0.0.1, on: bhyvehost}\n"
    )
    r = gda("inventory", "--from-host", "bhyvehost", "-i", str(given), "--json", env=bare_env(tmp_path))
    assert r.returncode == 0, (r.stdout, r.stderr)
    path = tmp_path / "drafted.yaml"
    path.write_text(json.loads(r.stdout)["inventory_yaml"])
    inv = load_inventory(path)
    assert inv.hosts["bhyvehost"].port == freebsd_host.port
    assert inv.hosts["bhyvehost"].identity_file == freebsd_host.identity_file
    assert inv.guests["xdev"].on == "bhyvehost"


def test_a_host_not_in_the_inventory_is_bad_usage(tmp_path: Path) -> None:
    given = tmp_path / "hosts.yaml"
    given.write_text("hosts:\n  bhyvehost: {host: 127.0.0.1}\nguests:\n  g: {host: 127.0.0.1}\n")
    r = gda("inventory", "--from-host", "other", "-i", str(given), "--json", env=bare_env(tmp_path))
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert "no host 'other' under hosts:" in json.loads(r.stdout)["error"]["message"]


def test_a_host_without_vm_bhyve_is_refused(freebsd_host: StandinHost, tmp_path: Path) -> None:
    freebsd_host.update(rc_conf={})
    r = gda(
        "inventory", "--from-host", "127.0.0.1", *ssh_args(freebsd_host), "--json", env=bare_env(tmp_path)
    )
    assert "Traceback" not in r.stderr, r.stderr
    assert r.returncode == 1, (r.stdout, r.stderr)
    err = json.loads(r.stdout)["error"]
    assert "vm_dir is not set in rc.conf" in err["message"], err
    assert "sysrc vm_enable=YES" in err["hint"], err


def test_an_unreachable_host_is_exit_4(tmp_path: Path) -> None:
    port = free_port()  # nothing listens there
    r = gda(
        "inventory", "--from-host", "127.0.0.1", "--host-port", str(port), "--json", env=bare_env(tmp_path)
    )
    assert "Traceback" not in r.stderr, r.stderr
    assert r.returncode == 4, (r.stdout, r.stderr)
    assert json.loads(r.stdout)["error"]["kind"] == "unreachable"
