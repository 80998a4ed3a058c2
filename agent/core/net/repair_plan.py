"""Repair netplan files whose ethernets entries name a NIC that is gone (enp0s5 → enp0s6 after a slot change).

Several NICs that moved together (vm-bhyve's network0, network1 … as functions of one PCI slot:
``enp0s5f0``, ``enp0s5f1`` → ``enp0s6f0``, ``enp0s6f1``) are repaired in one plan, each entry renamed
to the function it had (:mod:`.slot_move`); the plan lists every rename.

Pure: :func:`plan_repair` takes the files' text and the present interfaces and returns either a
:class:`RepairPlan` (the new text of each file that changes, and why) or :class:`NothingToFix`.

The steps, one module each: read the files into entries (:mod:`.netplan_model`), find the stale ones
and choose the NIC each now means (:mod:`.nic_choice`), rewrite them in place keeping every other byte
(:mod:`.netplan_rewrite` over :mod:`.yaml_tokens`), check the result, and warn about cloud-init's file
(:mod:`.cloud_init`). Whatever cannot be told for sure is refused rather than written.

No ethernets entry at all (an empty ``50-cloud-init.yaml`` after a power cut, only comments, no
``ethernets``) is its own finding, never "nothing to fix": :mod:`.empty_config` fills the empty file
with a minimal config for the one NIC it can tell (a plan with ``new_entries``) or refuses.

``match_mac=True`` also works before anything is stale, i.e. before the slot change while SSH still
works: every ethernets entry that configures a present physical NIC *by name* (its ID without ``match``,
or ``match.name``) and has no ``match.macaddress`` is pinned to that NIC (``match: {macaddress: ...}``
plus ``set-name``); see :mod:`.netplan_rewrite`. Entries already matched by MAC are left alone; a name
glob that fits several NICs is left alone with a note (which MAC?). With ``pinned_mac`` (the inventory's
``network.mac``) only the entry that configures that NIC is pinned.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from agent.core.net.cloud_init import cloud_init_warning, is_cloud_init_file
from agent.core.net.empty_config import (
    NewEntry,
    empty_notes,
    network_manager_file,
    plan_unconfigured,
)
from agent.core.net.interfaces import Interface
from agent.core.net.netplan_model import (
    NetplanFile,
    all_ids,
    bonds_or_bridges,
    collect_entries,
    fitting,
    netplan_order,
    parse_file,
    shadowed_notes,
)
from agent.core.net.netplan_rewrite import follow_references, pin_instance, rewrite_instance, verify
from agent.core.net.nic_choice import choose_pins, map_stale, nothing_notes
from agent.core.net.yaml_tokens import CannotEdit, TokenEditor
from agent.core.values import parse_mac
from agent.errors import Refused, UsageError
from agent.hints import opt


@dataclass(frozen=True)
class EntryRepair:
    """One repaired ethernets entry (one netplan ID, possibly defined in several files)."""

    entry_id: str  # the ID before the repair
    new_id: str  # the ID after it (equal to entry_id unless the ID was the old interface name)
    old_name: str  # the interface name (or glob) the entry named
    interface: Interface  # the present interface it now configures
    final_name: str  # the interface's name once netplan applies the file (its set-name, if any)
    reason: str  # how the interface was chosen
    paths: tuple[str, ...]  # files that define the entry


@dataclass(frozen=True)
class EntryPin:
    """An ethernets entry that fitted its NIC by name and now matches it by MAC (``match_mac``, not stale)."""

    entry_id: str  # the ID (kept)
    old_name: str  # the interface name (or glob) the entry named
    interface: Interface  # the NIC it is pinned to
    mac: str  # the MAC written to match.macaddress (the NIC's hardware MAC)
    final_name: str  # its set-name: the NIC's current name, or the one the entry already set
    paths: tuple[str, ...]  # files that define the entry


@dataclass(frozen=True)
class RepairPlan:
    """What to write. ``files`` holds only the files that change.

    ``renames`` and ``repairs`` describe stale entries only; a plan that merely pins entries by MAC
    (``match_mac`` before the slot change) has both empty and lists the entries in ``pins``.
    ``changes``, ``warnings`` may name options as ``{opt:name}`` (render with
    :func:`agent.hints.render_options`).
    """

    files: dict[str, str]  # path → new text
    renames: dict[str, Interface]  # old interface name → the interface that replaces it
    repairs: tuple[EntryRepair, ...]
    changes: tuple[str, ...]  # human-readable, one per edit (one per file defining a pinned entry)
    warnings: tuple[str, ...]  # includes why entries were not pinned under match_mac
    has_bonds_or_bridges: bool  # `netplan try` refuses such configs (exit 78)
    pins: tuple[EntryPin, ...] = ()  # entries that fitted by name and now match by MAC (match_mac)
    new_entries: tuple[NewEntry, ...] = ()  # written from nothing into an empty file (no entry existed)


@dataclass(frozen=True)
class EntryFit:
    """An ethernets entry and the present interfaces it configures."""

    entry_id: str
    paths: tuple[str, ...]
    interfaces: tuple[str, ...]


@dataclass(frozen=True)
class NothingToFix:
    """Every ethernets entry fits a present interface: there is nothing to repair (exit 0)."""

    fits: tuple[EntryFit, ...]
    notes: tuple[str, ...] = ()
    has_bonds_or_bridges: bool = False

    def summary(self) -> str:
        if not self.fits:
            lines = ["nothing to fix: the netplan files define no ethernets entries"]
        else:
            lines = ["nothing to fix: every ethernets entry fits a present interface"]
            lines += [f"  {fit.entry_id} → {', '.join(fit.interfaces)}" for fit in self.fits]
        lines += [f"note: {note}" for note in self.notes]
        return "\n".join(lines)


def _inventory_mac(pinned_mac: str | None) -> str | None:
    if pinned_mac is None:
        return None
    try:
        return parse_mac(pinned_mac)
    except ValueError as exc:
        raise UsageError(f"network.mac in the inventory: {exc}") from None


def plan_repair(
    files: Mapping[str, str],
    interfaces: Sequence[Interface],
    *,
    pinned_mac: str | None = None,
    match_mac: bool = False,
    netplan_file: str | None = None,
) -> RepairPlan | NothingToFix:
    """Decide how to repair the netplan ``files`` ({path: text}) for the present ``interfaces``.

    ``netplan_file`` is the inventory's ``network.netplan_file`` (the only file read then).
    Raises :class:`UsageError` for a file that is not valid netplan YAML (with file:line:column) or a
    ``pinned_mac`` that is not a MAC, and :class:`Refused` when the new interface of a stale entry cannot
    be told for sure, or no file configures any ethernet NIC and no safe configuration can be written.
    """
    if not files:
        raise _no_files(netplan_file)
    pin = _inventory_mac(pinned_mac)
    order = netplan_order(files)
    parsed = [parse_file(path, files[path]) for path in order]
    entries = collect_entries(parsed)
    if not entries and network_manager_file(parsed) is None:
        return _unconfigured_plan(parsed, files, interfaces, pin, match_mac, netplan_file)
    stale = [e for e in entries if not fitting(e, interfaces)]
    fine = [e for e in entries if e not in stale]
    to_pin, pin_notes = choose_pins(fine, interfaces, pin) if match_mac else ([], [])

    if not stale and not to_pin:
        return NothingToFix(
            fits=tuple(
                EntryFit(e.entry_id, e.paths, tuple(i.name for i in fitting(e, interfaces))) for e in fine
            ),
            notes=(
                *nothing_notes(fine, interfaces, pin),
                *pin_notes,
                *shadowed_notes(files),
                *_manager_notes(parsed, entries),
                *empty_notes(parsed),
            ),
            has_bonds_or_bridges=bonds_or_bridges(parsed),
        )

    chosen, warnings = map_stale(stale, fine, interfaces, pin, match_mac)
    warnings += pin_notes + shadowed_notes(files) + empty_notes(parsed)
    ids = all_ids(parsed)
    editors = {f.path: TokenEditor(f.path, f.text) for f in parsed}
    repairs: list[EntryRepair] = []
    pins: list[EntryPin] = []
    try:
        for entry in stale:
            iface, reason = chosen[entry.entry_id]
            renames_id = not entry.has_match or entry.entry_id == entry.literal_match_name
            new_id = iface.name if renames_id else entry.entry_id
            if new_id != entry.entry_id and new_id in ids:
                raise Refused(
                    f"cannot rename ethernets.{entry.entry_id} to {new_id}: "
                    f"{ids[new_id]} already uses that ID"
                )
            for inst in entry.instances:
                rewrite_instance(editors[inst.file.path], inst, entry, iface, new_id, match_mac)
            if new_id != entry.entry_id:
                for f in parsed:
                    follow_references(editors[f.path], f, entry.entry_id, new_id)
            keeps_set_name = entry.set_name is not None and entry.set_name not in (
                entry.literal_match_name,
                None if entry.has_match else entry.entry_id,
            )
            final = entry.set_name if keeps_set_name and entry.set_name else iface.name
            repairs.append(
                EntryRepair(
                    entry_id=entry.entry_id,
                    new_id=new_id,
                    old_name=entry.old_name,
                    interface=iface,
                    final_name=final,
                    reason=reason,
                    paths=entry.paths,
                )
            )
        for entry, iface in to_pin:
            for inst in entry.instances:
                pin_instance(editors[inst.file.path], inst, entry, iface)
            assert iface.hardware_mac is not None
            pins.append(
                EntryPin(
                    entry_id=entry.entry_id,
                    old_name=entry.old_name,
                    interface=iface,
                    mac=iface.hardware_mac,
                    final_name=entry.set_name or iface.name,
                    paths=entry.paths,
                )
            )
        new_texts = {path: ed.result() for path, ed in editors.items() if ed.edited}
    except CannotEdit as exc:
        raise Refused(
            f"cannot edit the netplan file safely: {exc}",
            hint=f"repair it by hand, or rerun without {opt('match_mac')}",
        ) from exc

    verify(
        parsed,
        editors,
        new_texts,
        [(rep.new_id, rep.interface) for rep in repairs],
        [(pin.entry_id, pin.interface) for pin in pins],
    )
    new_parsed = [parse_file(p, new_texts.get(p, files[p])) for p in order]
    changes = [c for ed in editors.values() for c in ed.changes]
    warnings += [cloud_init_warning(p) for p in new_texts if is_cloud_init_file(p, files[p])]
    warnings += [
        f"{p} is in /run/netplan (a tmpfs): the repair lasts until the next boot, whatever wrote it "
        "may write it again"
        for p in new_texts
        if p.startswith("/run/netplan/")
    ]
    for p in pins:
        if p.final_name != p.interface.name:
            warnings.append(f"{p.interface.name} will be renamed {p.final_name} by the entry's set-name")
    for rep in repairs:
        if not rep.interface.is_physical:
            warnings.append(
                f"ethernets.{rep.new_id} now configures {rep.interface.name}, which is not a physical NIC"
            )
        if rep.final_name != rep.interface.name:
            warnings.append(f"{rep.interface.name} will be renamed {rep.final_name} by the entry's set-name")
    return RepairPlan(
        files=new_texts,
        renames={rep.old_name: rep.interface for rep in repairs},
        repairs=tuple(repairs),
        changes=tuple(changes),
        warnings=tuple(warnings),
        has_bonds_or_bridges=bonds_or_bridges(new_parsed),
        pins=tuple(pins),
    )


def _no_files(netplan_file: str | None) -> Refused:
    if netplan_file is not None:
        found = f"network.netplan_file {netplan_file} (inventory) does not exist on the guest"
        hint = "correct network.netplan_file in the inventory, or remove it to read every netplan file"
    else:
        found = "no netplan file on the guest (/lib/netplan, /etc/netplan, /run/netplan hold no *.yaml)"
        hint = "is netplan what configures this guest's network? If so, write its configuration by hand"
    return Refused(
        f"{found}: no netplan configuration for any NIC, and none is written from nothing "
        "(nothing tells that netplan should configure the network)",
        hint=hint,
    )


def _manager_notes(parsed: Sequence[NetplanFile], entries: Sequence[object]) -> list[str]:
    manager = network_manager_file(parsed)
    if manager is None or entries:
        return []
    return [f"network.renderer is NetworkManager ({manager}): NetworkManager configures the NICs itself"]


def _unconfigured_plan(
    parsed: Sequence[NetplanFile],
    files: Mapping[str, str],
    interfaces: Sequence[Interface],
    pin: str | None,
    match_mac: bool,
    netplan_file: str | None,
) -> RepairPlan:
    """No file defines an ethernets entry: write the empty file from nothing (:mod:`.empty_config`)."""
    fill = plan_unconfigured(parsed, interfaces, pin=pin, match_mac=match_mac, netplan_file=netplan_file)
    warnings = [fill.finding, *shadowed_notes(files)]
    if is_cloud_init_file(fill.path, files[fill.path]):
        warnings.append(cloud_init_warning(fill.path))
    return RepairPlan(
        files={fill.path: fill.text},
        renames={},
        repairs=(),
        changes=(fill.change,),
        warnings=tuple(warnings),
        has_bonds_or_bridges=False,
        new_entries=(fill.entry,),
    )
