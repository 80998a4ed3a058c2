"""agent.core.net.interfaces: interfaces from `ip -j -d link`, `ip -j addr` and the sysfs listing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent.core.net.interfaces import (
    Address,
    Interface,
    SysfsInfo,
    find_by_mac,
    gather_interfaces,
    parse_ip_addr,
    parse_ip_link,
    parse_sysfs_listing,
    pci_slot_from_path,
)
from agent.core.values import parse_mac
from agent.errors import RemoteError

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "interfaces"


def fixture(name: str) -> str:
    return (FIXTURES / name).read_text()


def by_name(interfaces: list[Interface]) -> dict[str, Interface]:
    return {i.name: i for i in interfaces}


def test_guest_after_the_slot_change() -> None:
    ifaces = gather_interfaces(
        fixture("guest_ip_link.json"), fixture("guest_ip_addr.json"), fixture("guest_sysfs.tsv")
    )
    assert [i.name for i in ifaces] == ["lo", "enp0s6"]
    assert ifaces[1] == Interface(
        name="enp0s6",
        mac="58:9c:fc:03:19:32",
        permanent_mac=None,
        pci_slot="0000:00:06.0",
        driver="virtio_net",
        is_physical=True,
        operstate="DOWN",
        kind=None,
        altnames=(),
        addresses=(),
    )
    assert [a for a in ifaces[1].addresses if a.family == "inet"] == []
    lo = ifaces[0]
    assert (lo.is_physical, lo.kind, lo.operstate) == (False, "loopback", "UNKNOWN")
    assert [str(a) for a in lo.addresses] == ["127.0.0.1/8", "::1/128"]
    assert ifaces[1].describe() == "enp0s6  mac 58:9c:fc:03:19:32  pci 0000:00:06.0  virtio_net  DOWN"


def test_guest_with_two_nics() -> None:
    ifaces = by_name(
        gather_interfaces(
            fixture("guest_two_nics_ip_link.json"),
            fixture("guest_two_nics_ip_addr.json"),
            fixture("guest_two_nics_sysfs.tsv"),
        )
    )
    assert sorted(ifaces) == ["enp0s6", "enp0s7", "lo"]
    assert ifaces["enp0s7"].mac == "58:9c:fc:0a:bb:01"
    assert (ifaces["enp0s6"].pci_slot, ifaces["enp0s7"].pci_slot) == ("0000:00:06.0", "0000:00:07.0")
    assert all(ifaces[n].is_physical for n in ("enp0s6", "enp0s7"))


def test_virtio_nic_without_sysfs_listing_is_physical_but_slot_unknown() -> None:
    # ip names the virtio device as the parent, not the PCI function: the slot needs the sysfs listing.
    enp0s6 = by_name(parse_ip_link(fixture("guest_ip_link.json")))["enp0s6"]
    assert enp0s6.is_physical
    assert enp0s6.pci_slot is None
    assert enp0s6.driver is None


def test_this_machines_real_output() -> None:
    """Fixtures captured with `ip -j -d link show`, `ip -j addr show` and the sysfs script on a real host."""
    ifaces = by_name(
        gather_interfaces(
            fixture("host_ip_link.json"), fixture("host_ip_addr.json"), fixture("host_sysfs.tsv")
        )
    )
    assert sorted(ifaces) == ["eth0", "ifb0", "ifb1", "lo"]
    eth0 = ifaces["eth0"]
    assert eth0.is_physical
    assert (eth0.mac, eth0.pci_slot, eth0.driver, eth0.operstate) == (
        "02:fc:00:00:00:01",
        "0000:00:03.0",
        "virtio_net",
        "UP",
    )
    assert [str(a) for a in eth0.addresses if a.family == "inet"] == ["192.0.2.2/24"]
    assert Address("inet6", "fd00::2", 64, "global") in eth0.addresses
    assert (ifaces["ifb0"].is_physical, ifaces["ifb0"].kind) == (False, "ifb")
    assert not ifaces["lo"].is_physical
    # Without the sysfs listing ip's parentbus still tells the NIC apart from ifb and lo.
    plain = by_name(parse_ip_link(fixture("host_ip_link.json")))
    assert [n for n, i in plain.items() if i.is_physical] == ["eth0"]


def _link(name: str, mac: str, **extra: object) -> dict[str, object]:
    item: dict[str, object] = {
        "ifindex": 1,
        "ifname": name,
        "flags": ["BROADCAST", "MULTICAST", "UP", "LOWER_UP"],
        "operstate": "UP",
        "link_type": "ether",
        "address": mac,
    }
    item.update(extra)
    return item


def test_virtual_kinds_permanent_mac_pci_parent_and_altnames() -> None:
    text = json.dumps(
        [
            _link(
                "enp0s6",
                "aa:bb:cc:00:00:01",
                permaddr="58:9C:FC:03:19:32",
                parentbus="pci",
                parentdev="0000:00:06.0",
                altnames=["enx589cfc031932"],
            ),
            _link("br0", "aa:bb:cc:00:00:01", linkinfo={"info_kind": "bridge"}),
            _link("bond0", "aa:bb:cc:00:00:01", linkinfo={"info_kind": "bond"}),
            _link("vlan10", "aa:bb:cc:00:00:01", linkinfo={"info_kind": "vlan"}),
            _link("veth0", "aa:bb:cc:00:00:09", linkinfo={"info_kind": "veth"}),
        ]
    )
    ifaces = by_name(parse_ip_link(text))
    nic = ifaces["enp0s6"]
    assert (nic.mac, nic.permanent_mac, nic.hardware_mac) == (
        "aa:bb:cc:00:00:01",
        "58:9c:fc:03:19:32",
        "58:9c:fc:03:19:32",
    )
    assert (nic.pci_slot, nic.altnames, nic.is_physical) == ("0000:00:06.0", ("enx589cfc031932",), True)
    assert {n: i.kind for n, i in ifaces.items() if not i.is_physical} == {
        "br0": "bridge",
        "bond0": "bond",
        "vlan10": "vlan",
        "veth0": "veth",
    }
    # A bond (and what sits on it) shares its member's current MAC: the NIC wins.
    assert find_by_mac(ifaces.values(), "58-9c-fc-03-19-32") is nic
    assert find_by_mac(ifaces.values(), "aa:bb:cc:00:00:01") is nic
    assert find_by_mac(ifaces.values(), "00:00:00:00:00:42") is None


def test_old_ip_without_parentbus_falls_back_to_ether_without_kind() -> None:
    text = json.dumps(
        [
            {"ifname": "lo", "link_type": "loopback", "address": "00:00:00:00:00:00", "operstate": "UNKNOWN"},
            _link("ens3", "52:54:00:12:34:56"),
            _link("docker0", "02:42:00:00:00:01", linkinfo={"info_kind": "bridge"}),
        ]
    )
    assert [i.name for i in parse_ip_link(text) if i.is_physical] == ["ens3"]


def test_sysfs_listing_overrides_and_virtual_paths() -> None:
    listing = parse_sysfs_listing(
        "eth0\t/sys/devices/pci0000:00/0000:00:1c.0/0000:02:00.0/net/eth0\t52:54:00:AA:BB:CC\te1000e\n"
        "dummy0\t/sys/devices/virtual/net/dummy0/device\t4a:00:00:00:00:01\t\n"
        "lo\t\t00:00:00:00:00:00\n"
        "\n"
    )
    assert listing["eth0"] == SysfsInfo(
        "eth0", "/sys/devices/pci0000:00/0000:00:1c.0/0000:02:00.0/net/eth0", "52:54:00:aa:bb:cc", "e1000e"
    )
    assert listing["eth0"].pci_slot == "0000:02:00.0"
    assert listing["dummy0"].device_path is None
    assert listing["lo"] == SysfsInfo("lo", None, "00:00:00:00:00:00", None)
    with pytest.raises(RemoteError, match="line 1"):
        parse_sysfs_listing("just-a-name\n")


def test_pci_slot_from_path() -> None:
    assert pci_slot_from_path("/sys/devices/pci0000:00/0000:00:06.0/virtio2") == "0000:00:06.0"
    assert pci_slot_from_path("/sys/devices/pci0000:00/0000:00:1c.0/0000:02:00.0") == "0000:02:00.0"
    assert pci_slot_from_path("/sys/devices/virtual/net/lo") is None


def test_ip_addr_parsing() -> None:
    addrs = parse_ip_addr(fixture("guest_ip_addr.json"))
    assert addrs == {
        "lo": (Address("inet", "127.0.0.1", 8, "host"), Address("inet6", "::1", 128, "host")),
        "enp0s6": (),
    }


@pytest.mark.parametrize("text", ["not json", '{"ifname": "lo"}', '[{"mtu": 1500}]'])
def test_bad_ip_output_is_a_remote_error(text: str) -> None:
    with pytest.raises(RemoteError):
        parse_ip_link(text)


def test_macs_are_read_by_the_one_parser() -> None:
    # The module has no MAC regex of its own: agent.core.values.parse_mac / mac_or_none.
    assert parse_mac(" 58-9C-FC-03-19-32 ") == "58:9c:fc:03:19:32"
    assert parse_mac("58:9c:fc:03:19:32") == "58:9c:fc:03:19:32"
    nic = Interface("enp0s6", mac="58:9c:fc:03:19:32")
    assert nic.has_mac(" 58-9C-FC-03-19-32 ")
    for bad in ("58:9c:fc:03:19", "58:9c-fc:03:19:32", "zz:9c:fc:03:19:32"):
        with pytest.raises(ValueError):
            parse_mac(bad)
        assert not nic.has_mac(bad)
        assert find_by_mac([nic], bad) is None
