"""The whole-slot move of several NICs: stale netplan entries of one PCI slot → the NICs of another (pure).

vm-bhyve puts network0, network1 … on functions 0, 1 … of one PCI slot, which bhyve marks multifunction,
so systemd names them ``enp0s5f0``, ``enp0s5f1`` (:mod:`.pci_names`). A disk attached before them moves
the whole slot (``enp0s6f0``, ``enp0s6f1``), each NIC keeping its function. :func:`find_slot_move` maps
the stale entries to the free NICs by function number when the evidence is exactly that: every stale
entry names a function of one old slot, the free NICs are the functions of one new slot, and the function
numbers are the same set. Anything else gives the reason there is no such move, for the refusal.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from agent.core.net.interfaces import Interface
from agent.core.net.netplan_model import Entry
from agent.core.net.pci_names import PciPathName, parse_pci_path_name

#: What the slot-move rule looks for, for the refusal when it finds nothing.
SLOT_MOVE_RULE = (
    "no whole-slot move either (looked for: every stale entry named enp0s<slot> or enp0s<slot>f<func> on "
    "one old slot, the free physical NICs on one new slot, the same function numbers)"
)


@dataclass(frozen=True)
class SlotMove:
    """Stale entries of one old PCI slot → the free NICs of one new slot, function by function."""

    old_slot: int
    new_slot: int
    targets: dict[str, Interface]  # entry ID → the NIC with the entry's function number

    @property
    def reason(self) -> str:
        return (
            f"the NIC slot moved {self.old_slot} → {self.new_slot} "
            "(vm-bhyve keeps the functions in networkN order)"
        )


def _functions(names: Sequence[PciPathName]) -> str:
    funcs = sorted(n.function for n in names)
    return ("function " if len(funcs) == 1 else "functions ") + ", ".join(map(str, funcs))


def _single_function(names: dict[str, PciPathName], what: str) -> str | None:
    """A name without ``f<func>`` among several on one slot: systemd gives every function of a
    multifunction slot its ``f<func>``, so such names are not one slot's functions."""
    if len(names) < 2:
        return None
    bare = [name for name, p in names.items() if not p.has_function]
    if not bare:
        return None
    return (
        f"{what} {bare[0]} has no f<func>, so its slot was single-function, yet "
        f"{len(names)} names are on that slot"
    )


def find_slot_move(
    rest: Sequence[Entry],
    free: Sequence[Interface],
    by_mac: Sequence[tuple[Entry, Interface]] = (),
) -> SlotMove | str:
    """The whole-slot move that maps each entry of ``rest`` to one of the ``free`` NICs, or why there is
    none. ``by_mac``: stale entries already mapped by their own ``match.macaddress``; one of the old slot
    must have landed on its own function of the new slot, else the functions did not keep their order."""
    if not free:
        return "there is no free physical NIC"
    old: dict[str, PciPathName] = {}  # entry ID → its name's slot and function
    old_names: dict[str, PciPathName] = {}  # the entries' interface names → the same
    for entry in rest:
        own = entry.match.get("macaddress")
        if own is not None:
            return f"ethernets.{entry.entry_id} matches MAC {own}, which no present NIC has"
        name = entry.literal_match_name if entry.has_match else entry.entry_id
        parsed = parse_pci_path_name(name) if name is not None else None
        if name is None or parsed is None:
            return f"ethernets.{entry.entry_id} names {entry.old_name}, not a PCI path name on bus 0"
        if name in old_names:
            return f"two stale entries name {name}"
        old[entry.entry_id] = old_names[name] = parsed
    new: dict[str, PciPathName] = {}  # NIC name → its slot and function
    for iface in free:
        parsed = parse_pci_path_name(iface.name)
        if parsed is None:
            return f"the free NIC {iface.name} has no PCI path name on bus 0"
        if iface.pci_slot is not None and iface.pci_slot != parsed.pci_address():
            return f"the free NIC {iface.name} is at PCI {iface.pci_slot}, not {parsed.pci_address()}"
        new[iface.name] = parsed
    old_slots = sorted({p.slot for p in old.values()})
    new_slots = sorted({p.slot for p in new.values()})
    if len(old_slots) > 1:
        return f"the stale entries name {len(old_slots)} slots ({', '.join(map(str, old_slots))}), not one"
    if len(new_slots) > 1:
        return f"the free NICs are on {len(new_slots)} slots ({', '.join(map(str, new_slots))}), not one"
    (old_slot,), (new_slot,) = old_slots, new_slots
    old_funcs = sorted(p.function for p in old.values())
    if old_funcs != sorted(p.function for p in new.values()) or len(set(old_funcs)) != len(old_funcs):
        return (
            ("the stale entries name " if len(old) > 1 else "the stale entry names ")
            + f"{_functions(list(old.values()))} of slot {old_slot}, the free "
            + ("NICs are " if len(new) > 1 else "NIC is ")
            + f"{_functions(list(new.values()))} of slot {new_slot}: they do not pair one to one"
        )
    bare = _single_function(old_names, "the stale name") or _single_function(new, "the free NIC")
    if bare is not None:
        return bare
    for entry, iface in by_mac:
        was = parse_pci_path_name(entry.old_name)
        now = parse_pci_path_name(iface.name)
        if (
            was is not None
            and was.slot == old_slot
            and (now is None or (now.slot, now.function) != (new_slot, was.function))
        ):
            return (
                f"ethernets.{entry.entry_id} ({entry.old_name}) is {iface.name} by its match.macaddress, "
                f"not function {was.function} of slot {new_slot}: the functions did not keep their order"
            )
    by_function = {p.function: name for name, p in new.items()}
    nics = {i.name: i for i in free}
    return SlotMove(old_slot, new_slot, {eid: nics[by_function[p.function]] for eid, p in old.items()})
