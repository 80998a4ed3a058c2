"""Which present NIC each netplan entry is about (pure).

:func:`map_stale` chooses the new interface of each stale entry (one that fits no present interface):
the entry's own ``match.macaddress``, else the inventory's ``network.mac``, else the only physical NIC
no other entry configures, else a whole-slot move (:func:`find_slot_move`); anything less certain is
refused. :func:`choose_pins` picks the entries that fit a NIC by name, for the ``match_mac`` option to pin
to its MAC. The inventory MAC (``pin``) reaches these functions already normalised
(:func:`agent.core.values.parse_mac`).

With several stale entries the whole-slot move (:mod:`.slot_move`: ``enp0s5f0``, ``enp0s5f1`` →
``enp0s6f0``, ``enp0s6f1``) is the only rule that maps them, and an inventory MAC must confirm it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from agent.core.net.interfaces import Interface, find_by_mac
from agent.core.net.netplan_model import Entry, fits, fitting
from agent.core.net.slot_move import SLOT_MOVE_RULE, SlotMove, find_slot_move
from agent.core.values import mac_or_none
from agent.errors import Refused
from agent.hints import opt

Choice = tuple[Interface, str]  # the interface, and how it was chosen


def interface_table(interfaces: Sequence[Interface]) -> str:
    return "\n".join(f"  {i.describe()}" for i in interfaces) or "  (none)"


def present_interfaces_hint(interfaces: Sequence[Interface]) -> str:
    return "present interfaces:\n" + interface_table(interfaces)


def pinned_interface(interfaces: Sequence[Interface], pin: str) -> Interface:
    """The interface with the inventory's network.mac ``pin`` (normalized); refused when none has it."""
    pinned = find_by_mac(interfaces, pin)
    if pinned is None:
        raise Refused(
            f"network.mac {pin} (inventory) is not the MAC of any present interface\n"
            + present_interfaces_hint(interfaces),
            hint="correct network.mac in the inventory (vm-bhyve's network0_mac) or remove it",
        )
    return pinned


def _free_nics(
    fine: Sequence[Entry], interfaces: Sequence[Interface], chosen: dict[str, Choice]
) -> list[Interface]:
    """The physical NICs that no fine entry configures and no stale entry is mapped to yet."""
    configured = {i.name for e in fine for i in fitting(e, interfaces)}
    taken = {iface.name for iface, _ in chosen.values()}
    return [i for i in interfaces if i.is_physical and i.name not in configured and i.name not in taken]


def _by_name_warning(
    what: str, fine: Sequence[Entry], interfaces: Sequence[Interface], match_mac: bool
) -> list[str]:
    """A warning when other entries match by name: a slot change may have moved their NICs too."""
    by_name = [
        e.entry_id
        for e in fine
        if "macaddress" not in e.match and any(i.is_physical for i in fitting(e, interfaces))
    ]
    if not by_name:
        return []
    return [
        f"{what}; other entries match by name ({', '.join(by_name)}): if every NIC moved one slot, they "
        "now configure a different NIC. "
        + (
            f"{opt('match_mac')} pins them to the NICs that have those names now: check that is right"
            if match_mac
            else f"Set network.mac in the inventory, or use {opt('match_mac')}"
        )
    ]


def _moved(move: SlotMove) -> str:
    return ", ".join(f"ethernets.{eid} → {iface.name}" for eid, iface in move.targets.items())


def map_stale(
    stale: Sequence[Entry],
    fine: Sequence[Entry],
    interfaces: Sequence[Interface],
    pin: str | None,
    match_mac: bool = False,
) -> tuple[dict[str, Choice], list[str]]:
    """Choose the new interface of each stale entry: {entry ID: (interface, reason)}, plus warnings."""
    warnings: list[str] = []
    chosen: dict[str, Choice] = {}
    for entry in stale:
        own = entry.match.get("macaddress")
        if isinstance(own, str):
            iface = find_by_mac(interfaces, own) if mac_or_none(own) else None
            if iface is not None:
                chosen[entry.entry_id] = (iface, f"its match.macaddress {own}")
    rest = [e for e in stale if e.entry_id not in chosen]
    by_mac = [(e, chosen[e.entry_id][0]) for e in stale if e.entry_id in chosen]

    if pin is not None:
        pinned = pinned_interface(interfaces, pin)
        if len(rest) > 1:
            # Several stale entries: a whole-slot move maps them all, and the pinned NIC confirms it.
            move = find_slot_move(rest, _free_nics(fine, interfaces, chosen), by_mac)
            if isinstance(move, SlotMove) and pinned in move.targets.values():
                for entry_id, iface in move.targets.items():
                    chosen[entry_id] = (
                        iface,
                        f"{move.reason}, confirmed by network.mac {pin} ({pinned.name})",
                    )
                warnings += _by_name_warning(
                    f"{_moved(move)}: chosen because {move.reason}", fine, interfaces, match_mac
                )
                rest = []
            else:
                why = (
                    f"{SLOT_MOVE_RULE}: {move}"
                    if isinstance(move, str)
                    else f"a whole-slot move {move.old_slot} → {move.new_slot} would give {_moved(move)}, "
                    f"but network.mac {pin} is {pinned.name}, not one of them"
                )
                raise Refused(
                    f"{len(rest)} ethernets entries name no present interface; network.mac {pin} identifies "
                    f"one NIC ({pinned.name}) but not which entry it replaces\nstale entries:\n"
                    + "\n".join(f"  {e.describe()}" for e in rest)
                    + "\n"
                    + present_interfaces_hint(interfaces)
                    + f"\n{why}",
                    hint="repair the file by hand, or give each entry a `match: {macaddress: ...}`",
                )
        if rest:
            chosen[rest[0].entry_id] = (pinned, f"network.mac {pin} in the inventory")
            rest = []
        elif all(iface is not pinned for iface, _ in chosen.values()) and not any(
            fits(e, pinned) for e in fine
        ):
            warnings.append(
                f"network.mac {pin} is {pinned.name}, which no netplan entry configures after the repair"
            )

    if rest:
        free = _free_nics(fine, interfaces, chosen)
        if len(rest) == 1 and len(free) == 1:
            chosen[rest[0].entry_id] = (free[0], "the only physical NIC no other entry configures")
            warnings += _by_name_warning(
                f"ethernets.{rest[0].entry_id} → {free[0].name}: chosen as the only unconfigured NIC",
                fine,
                interfaces,
                match_mac,
            )
        else:
            move = find_slot_move(rest, free, by_mac)
            if isinstance(move, str):
                raise Refused(
                    "cannot tell which NIC replaces "
                    + (
                        "the stale netplan entry"
                        if len(rest) == 1
                        else f"the {len(rest)} stale netplan entries"
                    )
                    + "\nstale entries (they fit no present interface):\n"
                    + "\n".join(f"  {e.describe()}" for e in rest)
                    + "\npresent physical NICs no entry configures:\n"
                    + interface_table(free)
                    + f"\n{SLOT_MOVE_RULE}: {move}",
                    hint="set network.mac in the inventory to the guest NIC's MAC (vm-bhyve's network0_mac)",
                )
            for entry_id, iface in move.targets.items():
                chosen[entry_id] = (iface, move.reason)
            warnings += _by_name_warning(
                f"{_moved(move)}: chosen because {move.reason}", fine, interfaces, match_mac
            )

    # A NIC configured twice, by a repaired entry and by another one, would be worse than the breakage.
    targets: dict[str, str] = {}
    for entry_id, (iface, _) in chosen.items():
        if iface.name in targets:
            raise Refused(
                f"ethernets entries {targets[iface.name]} and {entry_id} would both configure {iface.name}"
            )
        targets[iface.name] = entry_id
        for other in fine:
            if fits(other, iface):
                raise Refused(
                    f"the stale entry ethernets.{entry_id} maps to {iface.name}, but "
                    f"ethernets.{other.entry_id} ({', '.join(other.paths)}) already configures {iface.name}; "
                    "the NICs may all have moved one slot, so the other entry may be stale too",
                    hint="repair the files by hand, matching each NIC by `match: {macaddress: ...}`",
                )
    return chosen, warnings


def choose_pins(
    fine: Sequence[Entry], interfaces: Sequence[Interface], pin: str | None
) -> tuple[list[tuple[Entry, Interface]], list[str]]:
    """``match_mac``: the entries that fit a present NIC by name, to pin to its MAC, plus notes on the rest.

    Only entries without ``match.macaddress`` whose ID (no ``match``) or ``match.name`` fits exactly one
    present interface, a physical one with a MAC. With ``pin`` (the inventory MAC) only the entry of that NIC.
    """
    pinned = pinned_interface(interfaces, pin) if pin is not None else None
    notes: list[str] = []
    candidates: list[tuple[Entry, Interface]] = []
    for entry in fine:
        if "macaddress" in entry.match:
            continue  # already pinned
        label = f"ethernets.{entry.entry_id}"
        if entry.has_match and "name" not in entry.match:
            notes.append(f"{label} matches by neither name nor MAC ({entry.describe()}); not pinned")
            continue
        fitting_now = fitting(entry, interfaces)
        if len(fitting_now) != 1:
            names = ", ".join(i.name for i in fitting_now)
            notes.append(
                f"{label}: {entry.old_name} fits {len(fitting_now)} interfaces ({names}); not pinned "
                "(ambiguous: which MAC?). Give each NIC its own entry to pin it"
            )
            continue
        (iface,) = fitting_now
        if pinned is not None and iface.name != pinned.name:
            notes.append(
                f"{label} ({iface.name}) left matching by name: network.mac {pin} "
                f"(inventory) selects {pinned.name}"
            )
            continue
        if not iface.is_physical:
            notes.append(f"{label} configures {iface.name}, which is not a physical NIC; not pinned")
            continue
        if iface.hardware_mac is None:
            notes.append(f"{label}: {iface.name} has no MAC address; not pinned")
            continue
        if any(inst.body is None for inst in entry.instances):
            notes.append(f"{label} has an empty body in {', '.join(entry.paths)}; not pinned")
            continue
        candidates.append((entry, iface))
    # Two entries that configure one NIC by name: pinning both would keep the clash; leave it to the user.
    shared: dict[str, list[str]] = {}
    for entry, iface in candidates:
        shared.setdefault(iface.name, []).append(entry.entry_id)
    for name, ids in shared.items():
        if len(ids) > 1:
            notes.append(
                f"ethernets entries {', '.join(ids)} all configure {name} by name; not pinned (which one?)"
            )
    return [(e, i) for e, i in candidates if len(shared[i.name]) == 1], notes


def nothing_notes(fine: Sequence[Entry], interfaces: Sequence[Interface], pin: str | None) -> Iterator[str]:
    """Notes for a :class:`~agent.core.net.repair_plan.NothingToFix`: unconfigured NICs, set-name renames,
    an inventory MAC on no interface."""
    configured = {i.name for e in fine for i in fitting(e, interfaces)}
    for iface in interfaces:
        if iface.is_physical and iface.name not in configured:
            yield f"{iface.name} ({iface.hardware_mac}) is not configured by any ethernets entry"
    for entry in fine:
        if entry.set_name is None:
            continue
        for iface in fitting(entry, interfaces):
            if iface.name != entry.set_name:
                yield (
                    f"ethernets.{entry.entry_id} fits {iface.name} by "
                    + ("MAC" if "macaddress" in entry.match else "its match")
                    + f"; its set-name renames it {entry.set_name} when netplan applies"
                )
    if pin is not None and find_by_mac(interfaces, pin) is None:
        yield f"network.mac {pin} (inventory) is not on any present interface"


def choose_unconfigured(interfaces: Sequence[Interface], pin: str | None) -> Choice | str:
    """The NIC a configuration written from nothing is for (no netplan entry exists at all), or why none
    can be told: the inventory's ``network.mac``, else the only physical NIC (the rules of
    :func:`map_stale` for one stale entry when no other entry configures a NIC)."""
    if pin is not None:
        pinned = find_by_mac(interfaces, pin)
        if pinned is None:
            return f"network.mac {pin} (inventory) is not the MAC of any present interface"
        return pinned, f"network.mac {pin} in the inventory"
    free = _free_nics([], interfaces, {})
    if len(free) == 1:
        return free[0], "the only physical NIC"
    if not free:
        return "the guest has no physical NIC"
    return f"{len(free)} physical NICs ({', '.join(i.name for i in free)}) and no network.mac: which one?"
