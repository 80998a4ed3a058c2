"""agent.core.net.slot_move via plan_repair: several NICs (functions of one PCI slot) that moved together.

vm-bhyve puts network0, network1 … on functions 0, 1 … of one slot; systemd names them enp0s5f0,
enp0s5f1 (``names_pci_slot()`` in systemd's src/udev/udev-builtin-net_id.c appends f<func> on a
multifunction slot). The main cases are data files: tests/facts/net.repair/slot_move_*.json; these are
the refusals and edges that read better as code.
"""

from __future__ import annotations

import pytest

from agent.core.net.interfaces import Interface
from agent.core.net.netplan_model import collect_entries, parse_file
from agent.core.net.repair_plan import RepairPlan, plan_repair
from agent.core.net.slot_move import SLOT_MOVE_RULE, SlotMove, find_slot_move
from agent.errors import Refused
from agent.hints import render_options

PATH = "/etc/netplan/01-netcfg.yaml"
MACS = ("58:9c:fc:03:19:32", "58:9c:fc:0a:bb:01", "58:9c:fc:0b:cc:02", "58:9c:fc:0c:dd:03")


def nic(name: str, mac: str, pci: str | None) -> Interface:
    return Interface(
        name=name, mac=mac, pci_slot=pci, driver="virtio_net", is_physical=True, operstate="DOWN"
    )


def slot(number: int, functions: int) -> list[Interface]:
    return [nic(f"enp0s{number}f{f}", MACS[f], f"0000:00:{number:02x}.{f}") for f in range(functions)]


def ethernets(*bodies: str) -> str:
    return "network:\n  version: 2\n  ethernets:\n" + "".join(f"    {b}\n" for b in bodies)


def refusal(text: str, interfaces: list[Interface], **options: object) -> str:
    with pytest.raises(Refused) as err:
        plan_repair({PATH: text}, interfaces, **options)  # type: ignore[arg-type]
    return err.value.message


def test_find_slot_move_maps_by_function_in_the_entries_order() -> None:
    text = ethernets("enp0s5f1: {dhcp4: true}", "enp0s5f0: {dhcp4: true}")
    entries = collect_entries([parse_file(PATH, text)])
    move = find_slot_move(entries, list(reversed(slot(6, 2))))
    assert isinstance(move, SlotMove)
    assert (move.old_slot, move.new_slot) == (5, 6)
    assert {k: v.name for k, v in move.targets.items()} == {"enp0s5f1": "enp0s6f1", "enp0s5f0": "enp0s6f0"}
    assert list(move.targets) == ["enp0s5f1", "enp0s5f0"]
    assert move.reason == "the NIC slot moved 5 → 6 (vm-bhyve keeps the functions in networkN order)"


def test_the_plan_lists_both_renames_and_reasons() -> None:
    text = ethernets("enp0s5f0: {dhcp4: true}", "enp0s5f1: {dhcp4: true}")
    plan = plan_repair({PATH: text}, slot(6, 2))
    assert isinstance(plan, RepairPlan)
    assert {old: i.name for old, i in plan.renames.items()} == {
        "enp0s5f0": "enp0s6f0",
        "enp0s5f1": "enp0s6f1",
    }
    assert plan.files[PATH] == ethernets("enp0s6f0: {dhcp4: true}", "enp0s6f1: {dhcp4: true}")
    assert plan.changes == (
        f"{PATH}:4: ethernets.enp0s5f0 → enp0s6f0",
        f"{PATH}:5: ethernets.enp0s5f1 → enp0s6f1",
    )
    assert {r.reason for r in plan.repairs} == {
        "the NIC slot moved 5 → 6 (vm-bhyve keeps the functions in networkN order)"
    }
    # Once repaired, nothing is stale any more.
    assert plan_repair(plan.files, slot(6, 2)).__class__.__name__ == "NothingToFix"


@pytest.mark.parametrize(
    ("bodies", "interfaces", "why"),
    [
        # a name that is no PCI path name, on either side
        (("enp0s5f0: {}", "all:\n      match: {name: 'enp0s5*'}"), slot(6, 2),
         "ethernets.all names enp0s5*, not a PCI path name on bus 0"),
        (("enp0s5f0: {}", "enp0s5f1: {}"), [slot(6, 2)[0], nic("eth1", MACS[1], "0000:00:06.1")],
         "the free NIC eth1 has no PCI path name on bus 0"),
        # a name that does not say where the NIC is (renamed by a udev rule, say)
        (("enp0s5f0: {}", "enp0s5f1: {}"), [slot(6, 2)[0], nic("enp0s6f1", MACS[1], "0000:00:07.0")],
         "the free NIC enp0s6f1 is at PCI 0000:00:07.0, not 0000:00:06.1"),
        # systemd never names one slot both enp0s5 and enp0s5f1
        (("enp0s5: {}", "enp0s5f1: {}"), slot(6, 2),
         "the stale name enp0s5 has no f<func>, so its slot was single-function, "
         "yet 2 names are on that slot"),
        (("enp0s5f0: {}", "enp0s5f1: {}"), [nic("enp0s6", MACS[0], None), slot(6, 2)[1]],
         "the free NIC enp0s6 has no f<func>, so its slot was single-function, "
         "yet 2 names are on that slot"),
        # two free slots
        (("enp0s5f0: {}", "enp0s5f1: {}"), [slot(6, 1)[0], nic("enp0s7f1", MACS[1], "0000:00:07.1")],
         "the free NICs are on 2 slots (6, 7), not one"),
        # one entry's own MAC is on no present NIC: a replaced NIC, not a moved one
        (("enp0s5f0: {}", "b:\n      match: {name: enp0s5f1, macaddress: '02:00:00:00:00:99'}"), slot(6, 2),
         "ethernets.b matches MAC 02:00:00:00:00:99, which no present NIC has"),
        # one NIC for two entries
        (("enp0s5f0: {}", "enp0s5f1: {}"), slot(6, 1),
         "the stale entries name functions 0, 1 of slot 5, the free NIC is function 0 of slot 6: "
         "they do not pair one to one"),
    ],
)  # fmt: skip
def test_anything_less_than_a_whole_slot_move_is_refused_saying_why(
    bodies: tuple[str, ...], interfaces: list[Interface], why: str
) -> None:
    message = refusal(ethernets(*bodies), interfaces)
    assert message.startswith("cannot tell which NIC replaces the 2 stale netplan entries\n")
    assert message.endswith(f"\n{SLOT_MOVE_RULE}: {why}")


def test_no_free_nic_at_all() -> None:
    text = ethernets("enp0s5f0: {}", "enp0s5f1: {}", "enp0s6f0: {}", "enp0s6f1: {}")
    message = refusal(text, slot(6, 2))
    assert message.endswith(f"\n{SLOT_MOVE_RULE}: there is no free physical NIC")


def test_an_entrys_own_mac_that_contradicts_the_function_order_is_refused() -> None:
    # function 0 says by MAC it is now function 1: the functions did not keep their order, so mapping
    # functions 2 and 3 by number would be a guess.
    text = ethernets(
        "a:\n      match: {name: enp0s5f0, macaddress: '58:9c:fc:0a:bb:01'}",
        "enp0s5f2: {}",
        "enp0s5f3: {}",
    )
    interfaces = [nic(f"enp0s6f{f}", MACS[f], f"0000:00:06.{f}") for f in (1, 2, 3)]
    message = refusal(text, interfaces)
    assert message.endswith(
        "ethernets.a (enp0s5f0) is enp0s6f1 by its match.macaddress, not function 0 of slot 6: "
        "the functions did not keep their order"
    )


def test_other_entries_matching_by_name_are_warned_about() -> None:
    text = ethernets("enp0s5f0: {}", "enp0s5f1: {}", "enp0s8: {dhcp4: true}")
    plan = plan_repair({PATH: text}, [*slot(6, 2), nic("enp0s8", MACS[3], "0000:00:08.0")])
    assert isinstance(plan, RepairPlan)
    (warning,) = map(render_options, plan.warnings)
    assert warning.startswith(
        "ethernets.enp0s5f0 → enp0s6f0, ethernets.enp0s5f1 → enp0s6f1: chosen because the NIC slot moved "
        "5 → 6 (vm-bhyve keeps the functions in networkN order); other entries match by name (enp0s8)"
    )
    assert warning.endswith("Set network.mac in the inventory, or use --match-mac")


def test_a_pin_without_a_slot_move_keeps_the_pin_refusal_and_says_why() -> None:
    text = ethernets("enp0s5f0: {}", "enp0s7f1: {}")
    message = refusal(text, slot(6, 2), pinned_mac=MACS[1])
    assert message.startswith(
        f"2 ethernets entries name no present interface; network.mac {MACS[1]} identifies one NIC "
        "(enp0s6f1) but not which entry it replaces\n"
    )
    assert message.endswith(f"\n{SLOT_MOVE_RULE}: the stale entries name 2 slots (5, 7), not one")


def test_a_pin_on_the_second_function_confirms_the_move_too() -> None:
    text = ethernets("enp0s5f0: {}", "enp0s5f1: {}")
    plan = plan_repair({PATH: text}, slot(6, 2), pinned_mac=MACS[1].upper())
    assert isinstance(plan, RepairPlan)
    assert [(r.entry_id, r.interface.name) for r in plan.repairs] == [
        ("enp0s5f0", "enp0s6f0"),
        ("enp0s5f1", "enp0s6f1"),
    ]
    assert plan.repairs[0].reason.endswith(f", confirmed by network.mac {MACS[1]} (enp0s6f1)")


def test_the_single_nic_rule_is_unchanged() -> None:
    # enp0s5 → enp0s6 (one stale entry, one free NIC) keeps its reason, whatever the names look like.
    plan = plan_repair({PATH: ethernets("enp0s5: {dhcp4: true}")}, [nic("enp0s6", MACS[0], "0000:00:06.0")])
    assert isinstance(plan, RepairPlan)
    assert plan.repairs[0].reason == "the only physical NIC no other entry configures"
    plan = plan_repair({PATH: ethernets("enp0s5: {dhcp4: true}")}, slot(6, 1))
    assert isinstance(plan, RepairPlan)
    assert plan.renames["enp0s5"].name == "enp0s6f0"
