"""agent.core.net.repair_plan: find the stale ethernets entries, map them to present NICs, rewrite in place.

More cases are data files: tests/facts/net.repair/*.json (the plan, the changed bytes or the refusal).
"""

from __future__ import annotations

import dataclasses
import difflib
import re
from pathlib import Path

import pytest
from ruamel.yaml import YAML

import agent.core.net
from agent.core.net.cloud_init import CLOUD_INIT_DISABLE_PATH, cloud_init_disable_config, is_cloud_init_file
from agent.core.net.interfaces import Interface, gather_interfaces
from agent.core.net.repair_plan import NothingToFix, RepairPlan, plan_repair
from agent.errors import Refused, UsageError
from agent.hints import render_options

ROOT = Path(__file__).resolve().parent.parent / "fixtures"
CLOUD = "/etc/netplan/50-cloud-init.yaml"
OTHER = "/etc/netplan/01-netcfg.yaml"
MAC6 = "58:9c:fc:03:19:32"
MAC7 = "58:9c:fc:0a:bb:01"


def netplan(name: str) -> str:
    return (ROOT / "netplan" / f"{name}.yaml").read_text()


def one_nic() -> list[Interface]:
    d = ROOT / "interfaces"
    return gather_interfaces(
        (d / "guest_ip_link.json").read_text(),
        (d / "guest_ip_addr.json").read_text(),
        (d / "guest_sysfs.tsv").read_text(),
    )


def two_nics() -> list[Interface]:
    d = ROOT / "interfaces"
    return gather_interfaces(
        (d / "guest_two_nics_ip_link.json").read_text(),
        (d / "guest_two_nics_ip_addr.json").read_text(),
        (d / "guest_two_nics_sysfs.tsv").read_text(),
    )


def repair(text: str, interfaces: list[Interface], path: str = OTHER, **kwargs: object) -> RepairPlan:
    plan = plan_repair({path: text}, interfaces, **kwargs)  # type: ignore[arg-type]
    assert isinstance(plan, RepairPlan), plan
    assert list(plan.files) == [path]
    return plan


def cloud_init_warned(plan: RepairPlan) -> list[str]:
    """The changed files the plan warns cloud-init may regenerate (it names the option, not a flag)."""
    marker = " is written by cloud-init, which may regenerate it"
    return [w.split(marker)[0] for w in plan.warnings if marker in w]


def changed_lines(old: str, new: str) -> list[tuple[str, list[str], list[str]]]:
    """The non-equal opcodes between the two texts, line by line (lines keep their endings)."""
    a, b = old.splitlines(keepends=True), new.splitlines(keepends=True)
    ops = difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes()
    return [(tag, a[i1:i2], b[j1:j2]) for tag, i1, i2, j1, j2 in ops if tag != "equal"]


# --------------------------------------------------------------------------- cloud-init's file (the lab)

CLOUD_INIT_FIXED = """\
# This file is generated from information provided by the datasource.  Changes
# to it will not persist across an instance reboot.  To disable cloud-init's
# network configuration capabilities, write a file
# /etc/cloud/cloud.cfg.d/99-disable-network-config.cfg with the following:
# network: {config: disabled}
network:
    ethernets:
        enp0s6:
            dhcp4: true
    version: 2
"""

CLOUD_INIT_MATCH_MAC = """\
# This file is generated from information provided by the datasource.  Changes
# to it will not persist across an instance reboot.  To disable cloud-init's
# network configuration capabilities, write a file
# /etc/cloud/cloud.cfg.d/99-disable-network-config.cfg with the following:
# network: {config: disabled}
network:
    ethernets:
        enp0s6:
            match:
                macaddress: "58:9c:fc:03:19:32"
            set-name: enp0s6
            dhcp4: true
    version: 2
"""


def test_cloud_init_file_name_keyed_entry_is_renamed() -> None:
    old = netplan("cloud_init")
    plan = repair(old, one_nic(), path=CLOUD)
    assert plan.files[CLOUD] == CLOUD_INIT_FIXED
    assert changed_lines(old, plan.files[CLOUD]) == [
        ("replace", ["        enp0s5:\n"], ["        enp0s6:\n"])
    ]
    assert list(plan.renames) == ["enp0s5"]
    assert plan.renames["enp0s5"].name == "enp0s6"
    assert plan.renames["enp0s5"].mac == MAC6
    (rep,) = plan.repairs
    assert (rep.entry_id, rep.new_id, rep.old_name, rep.final_name) == (
        "enp0s5",
        "enp0s6",
        "enp0s5",
        "enp0s6",
    )
    assert rep.reason == "the only physical NIC no other entry configures"
    assert rep.paths == (CLOUD,)
    assert plan.changes == (f"{CLOUD}:8: ethernets.enp0s5 → enp0s6",)
    assert cloud_init_warned(plan) == [CLOUD]
    (warning,) = plan.warnings
    assert "{opt:pin_cloud_init}" in warning and "--" not in warning  # the core spells no flag
    warning = render_options(warning)
    assert "cloud-init" in warning and "--pin-cloud-init" in warning and CLOUD_INIT_DISABLE_PATH in warning
    assert plan.has_bonds_or_bridges is False


def test_cloud_init_file_rerun_is_nothing_to_fix() -> None:
    plan = repair(netplan("cloud_init"), one_nic(), path=CLOUD)
    again = plan_repair(plan.files, one_nic())
    assert isinstance(again, NothingToFix)
    assert [(f.entry_id, f.interfaces, f.paths) for f in again.fits] == [("enp0s6", ("enp0s6",), (CLOUD,))]
    assert again.notes == ()
    assert (
        again.summary() == "nothing to fix: every ethernets entry fits a present interface\n  enp0s6 → enp0s6"
    )


def test_cloud_init_file_match_mac_uses_the_files_four_space_indent() -> None:
    old = netplan("cloud_init")
    plan = repair(old, one_nic(), path=CLOUD, match_mac=True)
    assert plan.files[CLOUD] == CLOUD_INIT_MATCH_MAC
    # The next slot change: the NIC comes up as enp0s7 with the same MAC; the entry still fits it.
    moved = [dataclasses.replace(one_nic()[1], name="enp0s7", pci_slot="0000:00:07.0")]
    assert isinstance(plan_repair(plan.files, moved), NothingToFix)


def test_cloud_init_helpers() -> None:
    assert is_cloud_init_file("/etc/netplan/50-cloud-init.yaml")
    assert not is_cloud_init_file("/etc/netplan/01-netcfg.yaml")
    assert is_cloud_init_file("/etc/netplan/01-netcfg.yaml", netplan("cloud_init"))
    assert CLOUD_INIT_DISABLE_PATH == "/etc/cloud/cloud.cfg.d/99-disable-network-config.cfg"
    text = cloud_init_disable_config()
    assert text.endswith("network: {config: disabled}\n")
    assert YAML(typ="safe").load(text) == {"network": {"config": "disabled"}}


# --------------------------------------------------------------------------- match: name / macaddress


def test_match_name_glob_that_still_matches_is_nothing_to_fix() -> None:
    result = plan_repair({OTHER: netplan("match_name_glob")}, two_nics())
    assert isinstance(result, NothingToFix)
    assert [(f.entry_id, f.interfaces) for f in result.fits] == [("all-en", ("enp0s6", "enp0s7"))]


def test_match_name_glob_that_no_longer_matches_becomes_the_exact_name() -> None:
    text = netplan("match_name_glob").replace('"en*"', '"eth*"')
    plan = repair(text, one_nic())
    assert '        name: "enp0s6"\n' in plan.files[OTHER]  # the quoting style is kept
    assert plan.renames["eth*"].name == "enp0s6"


def test_match_macaddress_that_fits_is_not_stale_even_though_the_id_differs() -> None:
    result = plan_repair({OTHER: netplan("match_mac_present")}, one_nic())
    assert isinstance(result, NothingToFix)
    assert [(f.entry_id, f.interfaces) for f in result.fits] == [("enp0s5", ("enp0s6",))]


def test_match_macaddress_of_a_replaced_nic_is_rewritten_keeping_quotes_comment_and_set_name() -> None:
    old = netplan("match_mac_replaced")
    plan = repair(old, one_nic())
    assert changed_lines(old, plan.files[OTHER]) == [
        (
            "replace",
            ['        macaddress: "58:9c:fc:00:00:01"  # the old NIC\n'],
            ['        macaddress: "58:9c:fc:03:19:32"  # the old NIC\n'],
        )
    ]
    (rep,) = plan.repairs
    assert (rep.new_id, rep.final_name, rep.interface.name) == ("uplink", "uplink0", "enp0s6")
    assert plan.warnings == ("enp0s6 will be renamed uplink0 by the entry's set-name",)


def test_match_mac_keeps_a_set_name_the_user_chose() -> None:
    old = netplan("match_mac_replaced")
    plan = repair(old, one_nic(), match_mac=True)
    assert changed_lines(old, plan.files[OTHER]) == [
        (
            "replace",
            ['        macaddress: "58:9c:fc:00:00:01"  # the old NIC\n'],
            ['        macaddress: "58:9c:fc:03:19:32"  # the old NIC\n'],
        )
    ]
    assert plan.repairs[0].final_name == "uplink0"


def test_match_mac_turns_match_name_into_macaddress() -> None:
    old = netplan("match_name")
    plan = repair(old, one_nic(), match_mac=True)
    assert changed_lines(old, plan.files[OTHER]) == [
        (
            "replace",
            ["        name: enp0s5\n", "      set-name: enp0s5\n"],
            ['        macaddress: "58:9c:fc:03:19:32"\n', "      set-name: enp0s6\n"],
        )
    ]


def test_match_with_name_and_mac_drops_the_name_under_match_mac() -> None:
    text = (
        "network:\n"
        "  version: 2\n"
        "  ethernets:\n"
        "    enp0s5:\n"
        "      match:\n"
        "        driver: virtio_net\n"
        "        name: enp0s5\n"
        "        macaddress: 58:9c:fc:03:19:32\n"
        "      dhcp4: true\n"
    )
    plan = repair(text, one_nic(), match_mac=True)
    assert plan.files[OTHER] == (
        "network:\n"
        "  version: 2\n"
        "  ethernets:\n"
        "    enp0s6:\n"
        "      set-name: enp0s6\n"
        "      match:\n"
        "        driver: virtio_net\n"
        "        macaddress: 58:9c:fc:03:19:32\n"  # already right: left as written
        "      dhcp4: true\n"
    )
    # Without --match-mac: the entry's own MAC chose the NIC, and only the name is fixed.
    plain = repair(text, one_nic())
    assert plain.repairs[0].reason == "its match.macaddress 58:9c:fc:03:19:32"
    assert "        name: enp0s6\n" in plain.files[OTHER]


def test_flow_style_entries_are_edited_in_place() -> None:
    old = netplan("flow_style")
    plan = repair(old, one_nic())
    assert changed_lines(old, plan.files[OTHER]) == [
        (
            "replace",
            ["    enp0s5: {dhcp4: true, match: {name: enp0s5}, set-name: enp0s5}\n"],
            ["    enp0s6: {dhcp4: true, match: {name: enp0s6}, set-name: enp0s6}\n"],
        )
    ]
    pinned = repair(old, one_nic(), match_mac=True)
    assert pinned.files[OTHER].splitlines()[3] == (
        '    enp0s6: {dhcp4: true, match: {macaddress: "58:9c:fc:03:19:32"}, set-name: enp0s6}'
    )


# --------------------------------------------------------------------------- two NICs, ambiguity, MAC pin


def test_two_nics_one_stale_one_fine() -> None:
    old = netplan("two_nics")
    plan = repair(old, two_nics())
    assert changed_lines(old, plan.files[OTHER]) == [("replace", ["    enp0s5:\n"], ["    enp0s6:\n"])]
    # The fallback trusts that enp0s7 (matched by name) did not move too: say so.
    (warning,) = map(render_options, plan.warnings)
    assert "enp0s7" in warning and "network.mac" in warning and "--match-mac" in warning


def test_one_stale_entry_and_two_unconfigured_nics_refused_then_the_mac_pin_resolves_it() -> None:
    with pytest.raises(Refused, match="cannot tell which NIC replaces the stale netplan entry"):
        plan_repair({CLOUD: netplan("cloud_init")}, two_nics())
    plan = repair(netplan("cloud_init"), two_nics(), path=CLOUD, pinned_mac=MAC7.upper())
    assert "        enp0s7:\n" in plan.files[CLOUD]
    assert plan.repairs[0].reason == f"network.mac {MAC7} in the inventory"
    assert plan.renames["enp0s5"].name == "enp0s7"


def test_mac_pin_with_two_stale_entries_still_refused() -> None:
    # One MAC names one NIC; it cannot say which of two entries that NIC replaces.
    with pytest.raises(Refused, match="identifies one NIC \\(enp0s6\\) but not which entry"):
        plan_repair({OTHER: netplan("two_stale")}, two_nics(), pinned_mac=MAC6)


def test_an_entrys_own_mac_resolves_it_and_the_other_takes_the_last_nic() -> None:
    text = (
        "network:\n"
        "  version: 2\n"
        "  ethernets:\n"
        "    enp0s5:\n"
        "      match: {name: enp0s5, macaddress: 58:9c:fc:0a:bb:01}\n"
        "    enp0s8:\n"
        "      dhcp4: true\n"
    )
    plan = repair(text, two_nics())
    assert {old: i.name for old, i in plan.renames.items()} == {"enp0s5": "enp0s7", "enp0s8": "enp0s6"}
    assert plan.files[OTHER] == (
        "network:\n"
        "  version: 2\n"
        "  ethernets:\n"
        "    enp0s7:\n"
        "      match: {name: enp0s7, macaddress: 58:9c:fc:0a:bb:01}\n"
        "    enp0s6:\n"
        "      dhcp4: true\n"
    )


def test_pinned_mac_not_present_is_refused_listing_the_present_interfaces() -> None:
    with pytest.raises(Refused) as err:
        plan_repair({CLOUD: netplan("cloud_init")}, one_nic(), pinned_mac="58:9c:fc:00:00:99")
    message = str(err.value)
    assert "network.mac 58:9c:fc:00:00:99 (inventory) is not the MAC of any present interface" in message
    assert "present interfaces:" in message
    assert f"enp0s6  mac {MAC6}  pci 0000:00:06.0  virtio_net  DOWN" in message
    assert "lo  mac 00:00:00:00:00:00  loopback  UNKNOWN  127.0.0.1/8 ::1/128" in message


def test_new_id_already_used_is_refused() -> None:
    text = netplan("cloud_init") + "    bridges:\n        enp0s6: {interfaces: []}\n"
    with pytest.raises(Refused, match="already uses that ID"):
        plan_repair({CLOUD: text}, one_nic())


# --------------------------------------------------------------------------- --match-mac before the slot move

CLOUD_INIT_PINNED = """\
# This file is generated from information provided by the datasource.  Changes
# to it will not persist across an instance reboot.  To disable cloud-init's
# network configuration capabilities, write a file
# /etc/cloud/cloud.cfg.d/99-disable-network-config.cfg with the following:
# network: {config: disabled}
network:
    ethernets:
        enp0s5:
            match:
                macaddress: "58:9c:fc:03:19:32"
            set-name: enp0s5
            dhcp4: true
    version: 2
"""


def before_the_slot_change() -> list[Interface]:
    """The lab guest while SSH still works: the NIC is enp0s5 (slot 5), with the MAC it keeps in slot 6."""
    return [
        dataclasses.replace(i, name="enp0s5", pci_slot="0000:00:05.0") if i.name == "enp0s6" else i
        for i in one_nic()
    ]


def test_match_mac_before_the_slot_change_pins_the_entry_by_mac() -> None:
    old = netplan("cloud_init")
    plan = repair(old, before_the_slot_change(), path=CLOUD, match_mac=True)
    assert plan.files[CLOUD] == CLOUD_INIT_PINNED
    assert changed_lines(old, plan.files[CLOUD]) == [
        (
            "insert",
            [],
            [
                "            match:\n",
                '                macaddress: "58:9c:fc:03:19:32"\n',
                "            set-name: enp0s5\n",
            ],
        )
    ]
    assert plan.changes == (
        f"{CLOUD}:8: ethernets.enp0s5: pinned to MAC {MAC6} (match.macaddress + set-name enp0s5)",
    )
    assert plan.renames == {} and plan.repairs == ()  # nothing was stale
    (pin,) = plan.pins
    assert (pin.entry_id, pin.old_name, pin.interface.name, pin.mac, pin.final_name, pin.paths) == (
        "enp0s5",
        "enp0s5",
        "enp0s5",
        MAC6,
        "enp0s5",
        (CLOUD,),
    )
    assert cloud_init_warned(plan) == [CLOUD]
    (warning,) = map(render_options, plan.warnings)
    assert "--pin-cloud-init" in warning
    # Without --match-mac nothing is stale, so there is nothing to do.
    assert isinstance(plan_repair({CLOUD: old}, before_the_slot_change()), NothingToFix)


def test_pinned_file_after_the_slot_change_is_nothing_to_fix() -> None:
    plan = repair(netplan("cloud_init"), before_the_slot_change(), path=CLOUD, match_mac=True)
    for match_mac in (False, True):
        after = plan_repair(plan.files, one_nic(), match_mac=match_mac)  # enp0s6 now, same MAC
        assert isinstance(after, NothingToFix)
        assert [(f.entry_id, f.interfaces) for f in after.fits] == [("enp0s5", ("enp0s6",))]
        assert after.notes == (
            "ethernets.enp0s5 fits enp0s6 by MAC; its set-name renames it enp0s5 when netplan applies",
        )
    # Pinning twice before the slot change changes nothing either.
    again = plan_repair(plan.files, before_the_slot_change(), match_mac=True)
    assert isinstance(again, NothingToFix) and again.notes == ()


def test_match_mac_pins_every_entry_that_fits_by_name_and_pinned_mac_selects_one() -> None:
    old = netplan("two_nics").replace("enp0s5", "enp0s6")  # enp0s6 and enp0s7, both by name
    plan = repair(old, two_nics(), match_mac=True)
    assert [(p.entry_id, p.mac) for p in plan.pins] == [("enp0s6", MAC6), ("enp0s7", MAC7)]
    assert plan.files[OTHER] == (
        "network:\n"
        "  version: 2\n"
        "  ethernets:\n"
        "    enp0s6:\n"
        "      match:\n"
        '        macaddress: "58:9c:fc:03:19:32"\n'
        "      set-name: enp0s6\n"
        "      dhcp4: true\n"
        "    enp0s7:\n"
        "      match:\n"
        '        macaddress: "58:9c:fc:0a:bb:01"\n'
        "      set-name: enp0s7\n"
        "      addresses:\n"
        "      - 10.10.0.5/24\n"
    )
    assert plan.warnings == ()

    one = repair(old, two_nics(), match_mac=True, pinned_mac=MAC7.upper())
    assert [(p.entry_id, p.interface.name) for p in one.pins] == [("enp0s7", "enp0s7")]
    assert changed_lines(old, one.files[OTHER]) == [
        (
            "insert",
            [],
            ["      match:\n", '        macaddress: "58:9c:fc:0a:bb:01"\n', "      set-name: enp0s7\n"],
        )
    ]
    assert one.changes == (
        f"{OTHER}:6: ethernets.enp0s7: pinned to MAC {MAC7} (match.macaddress + set-name enp0s7)",
    )
    assert one.warnings == (
        f"ethernets.enp0s6 (enp0s6) left matching by name: network.mac {MAC7} (inventory) selects enp0s7",
    )


def test_match_mac_pins_two_functions_of_one_slot_each_to_its_own_mac() -> None:
    # vm-bhyve's network0/network1 as functions of slot 5 (systemd: enp0s5f0, enp0s5f1), before the move.
    from agent.core.net.netplan_model import collect_entries, parse_file
    from agent.core.net.nic_choice import choose_pins

    macs = (MAC6, MAC7)
    before = [
        Interface(f"enp0s5f{f}", macs[f], pci_slot=f"0000:00:05.{f}", driver="virtio_net", is_physical=True)
        for f in (0, 1)
    ]
    after = [dataclasses.replace(i, name=i.name.replace("s5", "s6"), pci_slot=f"0000:00:06.{n}")
             for n, i in enumerate(before)]  # fmt: skip
    text = "network:\n  version: 2\n  ethernets:\n    enp0s5f0: {dhcp4: true}\n    enp0s5f1: {dhcp4: true}\n"
    entries = collect_entries([parse_file(OTHER, text)])
    pins, notes = choose_pins(entries, before, None)
    assert [(e.entry_id, i.name, i.hardware_mac) for e, i in pins] == [
        ("enp0s5f0", "enp0s5f0", MAC6),
        ("enp0s5f1", "enp0s5f1", MAC7),
    ]
    assert notes == []
    # with network.mac only that NIC's entry is pinned
    pins, notes = choose_pins(entries, before, MAC7)
    assert [e.entry_id for e, _ in pins] == ["enp0s5f1"]
    assert notes == [f"ethernets.enp0s5f0 (enp0s5f0) left matching by name: network.mac {MAC7} (inventory) "
                     "selects enp0s5f1"]  # fmt: skip

    plan = repair(text, before, match_mac=True)
    assert plan.files[OTHER] == (
        "network:\n  version: 2\n  ethernets:\n"
        f'    enp0s5f0: {{match: {{macaddress: "{MAC6}"}}, set-name: enp0s5f0, dhcp4: true}}\n'
        f'    enp0s5f1: {{match: {{macaddress: "{MAC7}"}}, set-name: enp0s5f1, dhcp4: true}}\n'
    )
    # After the slot move both still fit their NIC by MAC: nothing to fix, both set-names noted.
    moved = plan_repair(plan.files, after)
    assert isinstance(moved, NothingToFix)
    assert [(f.entry_id, f.interfaces) for f in moved.fits] == [
        ("enp0s5f0", ("enp0s6f0",)),
        ("enp0s5f1", ("enp0s6f1",)),
    ]
    assert moved.notes == tuple(
        f"ethernets.enp0s5f{f} fits enp0s6f{f} by MAC; its set-name renames it enp0s5f{f} "
        "when netplan applies"
        for f in (0, 1)
    )


def test_match_mac_pinned_mac_that_is_not_present_is_refused() -> None:
    with pytest.raises(Refused, match="not the MAC of any present interface"):
        plan_repair(
            {CLOUD: netplan("cloud_init")},
            before_the_slot_change(),
            match_mac=True,
            pinned_mac="58:9c:fc:00:00:99",
        )


def test_match_mac_when_every_entry_already_matches_by_mac_is_nothing_to_fix() -> None:
    text = netplan("match_mac_present")
    before = plan_repair({OTHER: text}, before_the_slot_change(), match_mac=True)
    assert isinstance(before, NothingToFix)
    assert before.notes == ()
    after = plan_repair({OTHER: text}, one_nic(), match_mac=True)
    assert isinstance(after, NothingToFix)
    assert [(f.entry_id, f.interfaces) for f in after.fits] == [("enp0s5", ("enp0s6",))]


def test_match_mac_leaves_a_glob_that_fits_two_nics_alone_with_a_note() -> None:
    result = plan_repair({OTHER: netplan("match_name_glob")}, two_nics(), match_mac=True)
    assert isinstance(result, NothingToFix)
    assert result.notes == (
        "ethernets.all-en: en* fits 2 interfaces (enp0s6, enp0s7); not pinned (ambiguous: which MAC?). "
        "Give each NIC its own entry to pin it",
    )
    # The same glob with one NIC is not ambiguous: it is pinned, its name becomes the MAC (the layout of
    # a repaired entry with a match: set-name goes right under the ID).
    plan = repair(netplan("match_name_glob"), one_nic(), match_mac=True)
    assert changed_lines(netplan("match_name_glob"), plan.files[OTHER]) == [
        ("insert", [], ["      set-name: enp0s6\n"]),
        ("replace", ['        name: "en*"\n'], ['        macaddress: "58:9c:fc:03:19:32"\n']),
    ]
    assert [(p.entry_id, p.old_name, p.final_name) for p in plan.pins] == [("all-en", "en*", "enp0s6")]


def test_match_mac_keeps_the_set_name_of_a_match_name_entry() -> None:
    text = netplan("match_name").replace("enp0s5", "enp0s6")
    plan = repair(text, one_nic(), match_mac=True)
    assert changed_lines(text, plan.files[OTHER]) == [
        ("replace", ["        name: enp0s6\n"], ['        macaddress: "58:9c:fc:03:19:32"\n'])
    ]
    assert plan.changes == (
        f"{OTHER}:5: ethernets.lan: pinned to MAC {MAC6} (match.macaddress; its set-name enp0s6 kept)",
    )


def test_match_mac_leaves_a_driver_only_match_alone() -> None:
    text = "network:\n  version: 2\n  ethernets:\n    virtio:\n      match: {driver: virtio_net}\n"
    result = plan_repair({OTHER: text}, one_nic(), match_mac=True)
    assert isinstance(result, NothingToFix)
    (note,) = result.notes
    assert note.startswith("ethernets.virtio matches by neither name nor MAC") and note.endswith("not pinned")


def test_match_mac_pins_an_entry_defined_in_two_files_in_both() -> None:
    extra = "network:\n  version: 2\n  ethernets:\n    enp0s5:\n      mtu: 9000\n"
    files = {CLOUD: netplan("cloud_init"), "/etc/netplan/90-mtu.yaml": extra}
    plan = plan_repair(files, before_the_slot_change(), match_mac=True)
    assert isinstance(plan, RepairPlan)
    assert plan.files == {
        CLOUD: CLOUD_INIT_PINNED,
        "/etc/netplan/90-mtu.yaml": (
            "network:\n  version: 2\n  ethernets:\n    enp0s5:\n"
            '      match:\n        macaddress: "58:9c:fc:03:19:32"\n      set-name: enp0s5\n      mtu: 9000\n'
        ),
    }
    assert plan.pins[0].paths == (CLOUD, "/etc/netplan/90-mtu.yaml")
    assert len(plan.changes) == 2


def test_match_mac_repairs_the_stale_entry_and_pins_the_fine_one_in_one_plan() -> None:
    old = netplan("two_nics")  # enp0s5 is stale, enp0s7 fits by name
    plan = repair(old, two_nics(), match_mac=True)
    assert plan.renames["enp0s5"].name == "enp0s6"
    assert [(p.entry_id, p.mac) for p in plan.pins] == [("enp0s7", MAC7)]
    assert plan.files[OTHER] == (
        "network:\n"
        "  version: 2\n"
        "  ethernets:\n"
        "    enp0s6:\n"
        "      match:\n"
        '        macaddress: "58:9c:fc:03:19:32"\n'
        "      set-name: enp0s6\n"
        "      dhcp4: true\n"
        "    enp0s7:\n"
        "      match:\n"
        '        macaddress: "58:9c:fc:0a:bb:01"\n'
        "      set-name: enp0s7\n"
        "      addresses:\n"
        "      - 10.10.0.5/24\n"
    )
    assert plan.changes[-1] == (
        f"{OTHER}:6: ethernets.enp0s7: pinned to MAC {MAC7} (match.macaddress + set-name enp0s7)"
    )
    (warning,) = map(render_options, plan.warnings)
    assert "--match-mac pins them to the NICs that have those names now" in warning


# --------------------------------------------------------------------------- references: bridge, bond, vlan


def test_vlan_link_to_the_old_nic_is_rewritten() -> None:
    old = netplan("vlan")
    plan = repair(old, one_nic())
    assert plan.files[OTHER] == old.replace("enp0s5", "enp0s6")
    assert plan.has_bonds_or_bridges is False


def test_references_in_another_file_and_the_same_id_in_two_files() -> None:
    extra = (
        "network:\n  version: 2\n  ethernets:\n    enp0s5:\n      mtu: 9000\n"
        "  bridges:\n    br0:\n      interfaces: [enp0s5]\n"
    )
    files = {CLOUD: netplan("cloud_init"), "/etc/netplan/90-bridge.yaml": extra}
    plan = plan_repair(files, one_nic())
    assert isinstance(plan, RepairPlan)
    assert plan.files == {
        CLOUD: CLOUD_INIT_FIXED,
        "/etc/netplan/90-bridge.yaml": extra.replace("enp0s5", "enp0s6"),
    }
    assert plan.repairs[0].paths == (CLOUD, "/etc/netplan/90-bridge.yaml")
    assert cloud_init_warned(plan) == [CLOUD]
    assert plan.has_bonds_or_bridges is True


# --------------------------------------------------------------------------- comments and layout


def test_comments_kept_with_match_mac_inserted_lines_use_the_entrys_indent() -> None:
    old = netplan("comments")
    plan = repair(old, one_nic(), match_mac=True)
    assert changed_lines(old, plan.files[OTHER]) == [
        (
            "replace",
            ['    "enp0s5":   # was enp0s4 before the AHCI controller moved\n'],
            [
                '    "enp0s6":   # was enp0s4 before the AHCI controller moved\n',
                "      match:\n",
                '        macaddress: "58:9c:fc:03:19:32"\n',
                "      set-name: enp0s6\n",
            ],
        )
    ]


# --------------------------------------------------------------------------- nothing to fix, bad input


def test_nothing_to_fix_when_the_entry_names_the_present_nic() -> None:
    text = netplan("cloud_init").replace("enp0s5", "enp0s6")
    result = plan_repair({CLOUD: text}, two_nics(), pinned_mac="58:9c:fc:00:00:99")
    assert isinstance(result, NothingToFix)
    assert result.notes == (
        f"enp0s7 ({MAC7}) is not configured by any ethernets entry",
        "network.mac 58:9c:fc:00:00:99 (inventory) is not on any present interface",
    )
    assert result.has_bonds_or_bridges is False


def test_no_ethernets_at_all_is_a_finding_not_nothing_to_fix() -> None:
    # more cases: tests/facts/net.repair/empty_*.json and tests/unit/test_empty_netplan.py
    with pytest.raises(Refused, match="no netplan configuration for any ethernet NIC"):
        plan_repair({OTHER: "# nothing here yet\n", CLOUD: "network:\n  version: 2\n"}, one_nic())


def test_no_ethernets_under_network_manager_is_nothing_to_fix() -> None:
    result = plan_repair({OTHER: "network:\n  version: 2\n  renderer: NetworkManager\n"}, one_nic())
    assert isinstance(result, NothingToFix)
    assert result.summary().startswith("nothing to fix: the netplan files define no ethernets entries")


def test_no_files_is_refused() -> None:
    with pytest.raises(Refused, match="no netplan file on the guest"):
        plan_repair({}, one_nic())


@pytest.mark.parametrize(
    ("text", "where", "what"),
    [
        ("- a\n- b\n", ":1:1:", "must be a mapping"),
        ("other: 1\n", ":1:1:", "no top-level `network:`"),
        ("network:\n  version: 1\n", ":2:3:", "network.version is 1"),
        ("network: [a]\n", ":1:1:", "`network:` must be a mapping"),
        ("network:\n  version: 2\n  ethernets: [enp0s5]\n", ":3:3:", "network.ethernets must be a mapping"),
        ("network:\n  ethernets:\n    enp0s5: true\n", ":3:5:", "ethernets.enp0s5 must be a mapping"),
        ("network:\n  ethernets:\n    e: {}\n    e: {}\n", ":4:5:", "not valid YAML"),
    ],
)
def test_not_netplan_is_a_usage_error_with_position(text: str, where: str, what: str) -> None:
    with pytest.raises(UsageError) as err:
        plan_repair({OTHER: text}, one_nic())
    assert str(err.value).startswith(OTHER + where), str(err.value)
    assert what in str(err.value)


def test_the_plan_is_frozen() -> None:
    plan = repair(netplan("cloud_init"), one_nic(), path=CLOUD)
    with pytest.raises(dataclasses.FrozenInstanceError):
        plan.warnings = ()  # type: ignore[misc]


def test_the_net_core_spells_no_cli_flag() -> None:
    # Options are named with agent.hints.opt("match_mac"); the CLI renders them as --match-mac.
    for source in Path(agent.core.net.__file__).parent.glob("*.py"):
        flags = re.findall(r"(?<![\w-])--[a-z][a-z-]+", source.read_text(encoding="utf-8"))
        assert flags == [], f"{source.name}: {flags}"


def test_netplan_reads_one_file_per_basename_run_then_etc_then_lib() -> None:
    from agent.core.net.netplan_model import netplan_order, shadowed_files

    files = {p: "" for p in ("/lib/netplan/50-a.yaml", "/etc/netplan/50-a.yaml", "/run/netplan/50-a.yaml",
                             "/lib/netplan/10-z.yaml", "/etc/netplan/60-b.yaml", "/lib/netplan/60-b.yaml",
                             "/srv/custom/50-a.yaml")}  # fmt: skip
    assert shadowed_files(files) == {
        "/lib/netplan/50-a.yaml": "/run/netplan/50-a.yaml",
        "/etc/netplan/50-a.yaml": "/run/netplan/50-a.yaml",
        "/lib/netplan/60-b.yaml": "/etc/netplan/60-b.yaml",
    }
    # then netplan's lexical merge order over the basenames (a file elsewhere is neither shadowed nor shadows)
    assert netplan_order(files) == [
        "/lib/netplan/10-z.yaml",
        "/run/netplan/50-a.yaml",
        "/srv/custom/50-a.yaml",
        "/etc/netplan/60-b.yaml",
    ]
