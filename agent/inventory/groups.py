"""Inventory groups (pure): membership, depth, and the group_vars merge that gives each guest its settings.

A group lists ``members:`` (guest names or other group names) and carries ``vars:`` (any guest setting).
``all`` is the implicit group of every guest (it takes ``vars:`` only). A guest's settings are merged from
layers, lowest first, the later layer winning (Ansible's "How variables are merged"):

1. ``all``;
2. every group the guest belongs to (directly or through nested groups), ordered by ``(depth, priority,
   name)``: a child group (deeper) beats its parents; between groups of the same depth the higher
   ``priority:`` (Ansible's ``ansible_group_priority``, default 1) wins, then the name that sorts later
   (``b_group`` beats ``a_group``). A group's depth is 1 for a group no other group lists, else one more
   than the deepest group listing it;
3. the guest's own entry under ``guests:``.

``console``, ``disk`` and ``network`` (and ``console.ssh``) merge key by key (unlike Ansible's default
``hash_behaviour=replace``); a layer that sets a console transport (``tcp``, ``unix``, ``command`` or
``ssh``) replaces the transport of the layers below it. Every other value is replaced whole.
"""

from __future__ import annotations

import difflib
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

ALL = "all"
NESTED = frozenset({"console", "disk", "network"})
CONSOLE_TRANSPORTS = ("tcp", "unix", "command", "ssh")

Path = tuple[str, ...]


def closest(name: str, names: Sequence[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest of ``names``, or an empty text."""
    close = difflib.get_close_matches(name, list(names), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


@dataclass(frozen=True)
class GroupIssue:
    """A problem with the groups: ``path`` under ``groups:`` (``(group,)`` or ``(group, "members", i)``)."""

    path: tuple[str | int, ...]
    message: str


@dataclass(frozen=True)
class GroupTree:
    """The groups' direct members (only the valid ones), their priorities, and the guests in order."""

    members: Mapping[str, tuple[str, ...]]
    priority: Mapping[str, int]
    guests: tuple[str, ...]

    @property
    def names(self) -> tuple[str, ...]:
        """The group names, ``all`` first."""
        return (ALL, *(g for g in self.members if g != ALL))

    def guests_of(self, group: str) -> tuple[str, ...]:
        """The guests of ``group`` (nested groups expanded depth-first, each guest once, listed order)."""
        if group == ALL:
            return self.guests
        found: list[str] = []
        seen: set[str] = set()

        def walk(name: str) -> None:
            if name in seen:
                return
            seen.add(name)
            for member in self.members.get(name, ()):
                if member in self.members:
                    walk(member)
                elif member not in found:
                    found.append(member)

        walk(group)
        return tuple(found)

    def depth(self, group: str) -> int:
        """0 for ``all``, 1 for a group no group lists, else one more than its deepest parent."""
        if group == ALL:
            return 0
        parents = [g for g, ms in self.members.items() if group in ms and g != ALL]
        return 1 + max((self.depth(p) for p in parents), default=0)

    def groups_of(self, guest: str) -> tuple[str, ...]:
        """The groups ``guest`` belongs to (not ``all``), in merge order: (depth, priority, name)."""
        groups = [g for g in self.members if g != ALL and guest in self.guests_of(g)]
        return tuple(sorted(groups, key=lambda g: (self.depth(g), self.priority.get(g, 1), g)))


def build_tree(
    members: Mapping[str, Sequence[object]], guests: Sequence[str], priority: Mapping[str, int] | None = None
) -> tuple[GroupTree, list[GroupIssue]]:
    """The group tree of ``members`` (group → listed names), and each problem: a member that is neither a
    guest nor a group, ``all`` with members, a group named like a guest, a cycle. Problem members are left
    out of the tree, so it is always usable."""
    issues: list[GroupIssue] = []
    groups = [g for g in members if g != ALL]
    known = [*guests, *groups]
    valid: dict[str, list[str]] = {}
    for group, listed in members.items():
        if group in guests:
            issues.append(GroupIssue((group,), f"group {group!r} has the name of a guest: rename one"))
        if group == ALL:
            if listed:
                issues.append(GroupIssue((group, "members"), "all is every guest: it takes vars: only"))
            continue
        valid[group] = []
        for index, member in enumerate(listed):
            if not isinstance(member, str):
                continue  # the type is the schema's to report
            if member == ALL:
                issues.append(
                    GroupIssue((group, "members", index), "all cannot be a member (it is every guest)")
                )
            elif member not in known:
                issues.append(
                    GroupIssue(
                        (group, "members", index),
                        f"no guest or group {member!r}{closest(member, known)}",
                    )
                )
            elif member in valid[group]:
                issues.append(GroupIssue((group, "members", index), f"{member!r} is listed twice"))
            else:
                valid[group].append(member)
    _break_cycles(valid, issues, members)
    tree = GroupTree(
        members={g: tuple(ms) for g, ms in valid.items()},
        priority=dict(priority or {}),
        guests=tuple(guests),
    )
    return tree, issues


def _break_cycles(valid: dict[str, list[str]], issues: list[GroupIssue], listed: Mapping[str, Any]) -> None:
    """Remove each member that closes a cycle (reported with the cycle), so the tree is a DAG."""
    state: dict[str, int] = {}  # 1 on the current path, 2 done

    def visit(group: str, path: list[str]) -> None:
        state[group] = 1
        for member in list(valid.get(group, ())):
            if member not in valid:
                continue
            if state.get(member) == 1:
                cycle = " → ".join([*path[path.index(member) :], member])
                index = list(listed[group]).index(member)
                issues.append(GroupIssue((group, "members", index), f"groups form a cycle: {cycle}"))
                valid[group].remove(member)
            elif state.get(member) is None:
                visit(member, [*path, member])
        state[group] = 2

    for group in list(valid):
        if state.get(group) is None:
            visit(group, [group])


# ---------------------------------------------------------------------------------------------------------
# the merge


@dataclass(frozen=True)
class Layer:
    """One source of a guest's settings: ``label`` (``all``, ``group NAME``, ``guest``), its mapping
    (as read: it may carry YAML positions) and the key path of that mapping in the file."""

    label: str
    values: Mapping[Any, Any]
    base: tuple[str, ...]


@dataclass
class Merged:
    """A guest's merged settings: ``data`` (plain), and per key path the label of the layer that set it
    (``origin``, leaves) and the mapping + key it came from (``anchor``, leaves and nested mappings)."""

    data: dict[str, Any] = field(default_factory=dict)
    origin: dict[Path, str] = field(default_factory=dict)
    anchor: dict[Path, tuple[Layer, Mapping[Any, Any], Path]] = field(default_factory=dict)


def merge_layers(layers: Sequence[Layer]) -> Merged:
    """Merge ``layers`` (lowest first) by the rules in the module's docstring."""
    merged = Merged()
    for layer in layers:
        _merge_into(merged, merged.data, layer.values, layer, ())
    return merged


def _merge_into(
    merged: Merged, target: dict[str, Any], values: Mapping[Any, Any], layer: Layer, at: Path
) -> None:
    if at == ("console",) and any(values.get(t) is not None for t in CONSOLE_TRANSPORTS):
        for transport in CONSOLE_TRANSPORTS:
            if transport not in values and transport in target:
                del target[transport]
                _forget(merged, (*at, transport))
    for key, value in values.items():
        if not isinstance(key, str):
            continue  # reported by the checker
        path = (*at, key)
        nested = (not at and key in NESTED) or path == ("console", "ssh")
        if nested and isinstance(value, Mapping):
            current = target.get(key)
            if not isinstance(current, dict):
                current = {}
                _forget(merged, path)
            target[key] = current
            merged.anchor[path] = (layer, values, (*layer.base, *at))
            merged.origin.pop(path, None)
            _merge_into(merged, current, value, layer, path)
            continue
        if nested and value is None and not at and key in NESTED:
            continue  # ``disk:`` with nothing under it changes nothing
        _forget(merged, path)
        target[key] = plain(value)
        merged.origin[path] = layer.label
        merged.anchor[path] = (layer, values, (*layer.base, *at))


def _forget(merged: Merged, path: Path) -> None:
    for known in [p for p in merged.origin if p[: len(path)] == path]:
        del merged.origin[known]
    for known in [p for p in merged.anchor if p[: len(path)] == path]:
        del merged.anchor[known]


def plain(node: object) -> object:
    """Round-trip YAML objects → plain Python (dict, list, str, int, float, bool, None)."""
    if isinstance(node, Mapping):
        return {plain_key(k): plain(v) for k, v in node.items()}
    if isinstance(node, list | tuple):
        return [plain(v) for v in node]
    if isinstance(node, bool):
        return bool(node)
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    if isinstance(node, str):
        return str(node)
    return node


def plain_key(key: object) -> object:
    """A mapping key as plain Python; a complex key (``? {a: 1}``, a mapping or list) as its text, so the
    mapping can still be built (the loader reports such a key: keys must be names)."""
    value = plain(key)
    return str(value) if isinstance(value, dict | list) else value


def guest_layers(
    name: str, guest: Mapping[Any, Any], tree: GroupTree, group_vars: Mapping[str, Mapping[Any, Any]]
) -> list[Layer]:
    """The layers of guest ``name``, lowest first: ``all``, its groups in merge order, its own entry."""
    layers = []
    if ALL in group_vars:
        layers.append(Layer(ALL, group_vars[ALL], ("groups", ALL, "vars")))
    for group in tree.groups_of(name):
        if group in group_vars:
            layers.append(Layer(f"group {group}", group_vars[group], ("groups", group, "vars")))
    layers.append(Layer("guest", guest, ("guests", name)))
    return layers


def fill_console_from_host(name: str, merged: Merged, hosts: Mapping[Any, Any]) -> None:
    """A guest ``on:`` a host whose merged ``console:`` names no transport (e.g. ``all`` gives only
    ``user``/``password_env``) gets the host's console, ``<vm_command> console <guest>`` over SSH to it,
    as :meth:`agent.inventory.schema.Host.console_for` builds it; its origin is ``default (on: HOST)``."""
    console, on = merged.data.get("console"), merged.data.get("on")
    if not isinstance(console, dict) or not isinstance(on, str) or not isinstance(hosts.get(on), Mapping):
        return
    if any(console.get(t) is not None for t in CONSOLE_TRANSPORTS):
        return
    host = hosts[on]
    ssh: dict[str, Any] = {"host": plain(host.get("host"))}
    ssh["command"] = f"{plain(host.get('vm_command', 'vm'))} console {shlex.quote(name)}"
    for key in ("port", "user", "identity_file", "known_hosts"):
        if host.get(key) is not None:
            ssh[key] = plain(host[key])
    console["ssh"] = ssh
    for key in ssh:
        merged.origin[("console", "ssh", key)] = f"default (on: {on})"
