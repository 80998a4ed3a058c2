"""agent.core.net.pci_names: systemd's PCI path names on bus 0 (``enp0s6``, ``enp0s6f1``).

The accepted forms follow ``names_pci_slot()`` in systemd's ``src/udev/udev-builtin-net_id.c``
(systemd/systemd): ``en`` + ``p<bus>s<slot>`` in decimal, ``f<func>`` when func > 0 or the slot is
multifunction, then ``n<port name>``/``d<dev_port>``; ``P<domain>`` before it when the domain is > 0.
"""

from __future__ import annotations

import pytest

from agent.core.net.pci_names import PciPathName, parse_pci_path_name


@pytest.mark.parametrize(
    ("name", "slot", "function", "has_function"),
    [
        ("enp0s5", 5, 0, False),
        ("enp0s6f0", 6, 0, True),  # function 0 of a multifunction slot carries its f0
        ("enp0s6f1", 6, 1, True),
        ("enp0s0", 0, 0, False),
        ("enp0s10f7", 10, 7, True),  # decimal in the name
        ("enp0s31", 31, 0, False),
    ],
)
def test_path_names_on_bus_0(name: str, slot: int, function: int, has_function: bool) -> None:
    assert parse_pci_path_name(name) == PciPathName(slot, function, has_function)


@pytest.mark.parametrize(
    "name",
    [
        "enP1p0s5",  # a PCI domain
        "enp1s0",  # another bus
        "enp0s5d1",  # dev_port suffix
        "enp0s5f0d1",
        "enp0s5f1np0",  # phys_port_name suffix
        "enp0s5f8",  # no function 8 without ARI
        "enp0s32",  # 5-bit device number
        "enp0s05",  # systemd prints %u: no leading zero
        "enp0s",
        "ens5",  # hotplug slot name
        "eth0",
        "enp0s5*",
        "wlp0s5",
        "enp0s5\n",
        "ENP0S5",
        "enp0s\u0665",  # an Arabic-Indic digit is no ASCII digit
    ],
)
def test_other_names_are_not_parsed(name: str) -> None:
    assert parse_pci_path_name(name) is None


def test_pci_address_is_the_sysfs_spelling_slot_in_hex() -> None:
    assert parse_pci_path_name("enp0s10f1") == PciPathName(10, 1, True)
    assert PciPathName(10, 1, True).pci_address() == "0000:00:0a.1"
    assert PciPathName(5, 0, False).pci_address() == "0000:00:05.0"
