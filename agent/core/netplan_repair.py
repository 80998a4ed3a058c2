"""Repair netplan files whose ethernets entries name a NIC that is gone (enp0s5 → enp0s6 after a slot change).

Pure: :func:`plan_repair` takes the files' text and the present interfaces and returns either a
:class:`RepairPlan` (the new text of each file that changes, and why) or :class:`NothingToFix`.

How the files are edited: ruamel.yaml's round-trip loader gives the line and column of every key and value;
the repair replaces exactly those tokens in the original text (keeping their quoting style), and inserts whole
lines indented like their neighbours for ``--match-mac``. Every line the repair does not touch stays
byte-identical (header comments, inline comments, blank lines, indentation, quoting, key order). The edited
text is parsed again and must equal the intended structure, and every repaired entry must fit its new
interface; otherwise the repair refuses rather than write something else.

``match_mac=True`` (``--match-mac``) also works before anything is stale, i.e. before the slot change while
SSH still works: every ethernets entry that configures a present physical NIC *by name* (its ID without
``match``, or ``match.name``) and has no ``match.macaddress`` is pinned to that NIC, i.e. becomes
``match: {macaddress: <its hardware MAC>}`` plus ``set-name: <its current name>`` (the ID and the entry's
other keys are kept). After the slot change the entry still fits the NIC by MAC, and ``set-name`` gives it
back its old name, so nothing is stale. Entries already matched by MAC are left alone; a name glob that fits
several NICs is left alone with a note (which MAC?). With ``pinned_mac`` only the entry that configures that
NIC is pinned.

netplan's model (what the code relies on): an ``ethernets`` key is an ID; without ``match`` the ID is the
interface name, with ``match`` (``name`` glob, ``macaddress``, ``driver``; all must hold) it is only a label.
Other definitions refer to IDs: ``bridges``/``bonds``/``vrfs`` ``interfaces`` lists,
``bonds.*.parameters.primary``, ``bridges.*.parameters.path-cost``/``port-priority`` keys,
``vlans``/``tunnels`` ``link``. Routes and routing policy name no interface. Definitions with the same ID
in several files are merged by netplan (files ordered by basename), so they are treated as one entry.
"""

from __future__ import annotations

import fnmatch
import json
import posixpath
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from agent.core.links import Interface, find_by_mac, normalize_mac
from agent.errors import Refused, UsageError

CLOUD_INIT_FILE_NAME = "50-cloud-init.yaml"
CLOUD_INIT_DISABLE_PATH = "/etc/cloud/cloud.cfg.d/99-disable-network-config.cfg"
_CLOUD_INIT_HEADER = "This file is generated from information provided by the datasource"

#: Device sections whose keys are netplan IDs (IDs are unique across all of them).
DEVICE_SECTIONS = (
    "ethernets",
    "wifis",
    "modems",
    "bridges",
    "bonds",
    "vlans",
    "tunnels",
    "vrfs",
    "dummy-devices",
    "virtual-ethernets",
    "nm-devices",
)
_MEMBER_LIST_SECTIONS = ("bridges", "bonds", "vrfs")
_LINK_SECTIONS = ("vlans", "tunnels")
_YAML_WORDS = frozenset({"y", "n", "yes", "no", "on", "off", "true", "false", "null", "~"})

Path = tuple[str | int, ...]


# --------------------------------------------------------------------------------------------- results


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
    """

    files: dict[str, str]  # path → new text
    renames: dict[str, Interface]  # old interface name → the interface that replaces it
    repairs: tuple[EntryRepair, ...]
    changes: tuple[str, ...]  # human-readable, one per edit (one per file defining a pinned entry)
    warnings: tuple[str, ...]  # includes why entries were not pinned under match_mac
    has_bonds_or_bridges: bool  # `netplan try` refuses such configs (exit 78)
    cloud_init_files: tuple[str, ...]  # changed files that cloud-init writes (see --pin-cloud-init)
    pins: tuple[EntryPin, ...] = ()  # entries that fitted by name and now match by MAC (match_mac)


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


# --------------------------------------------------------------------------------------------- cloud-init


def is_cloud_init_file(path: str, text: str | None = None) -> bool:
    """True for cloud-init's netplan file: ``50-cloud-init.yaml``, or (given ``text``) one with its header."""
    if posixpath.basename(path) == CLOUD_INIT_FILE_NAME:
        return True
    return text is not None and _CLOUD_INIT_HEADER in text


def cloud_init_disable_config() -> str:
    """Content for :data:`CLOUD_INIT_DISABLE_PATH`: stops cloud-init from rewriting the netplan file."""
    return (
        "# Written by guest-disk-agent (fix-netplan --pin-cloud-init): the netplan configuration is managed\n"
        "# by hand; stop cloud-init from regenerating it.\n"
        "network: {config: disabled}\n"
    )


# --------------------------------------------------------------------------------------------- parsing


@dataclass
class _File:
    path: str
    text: str
    doc: Any
    network: CommentedMap | None

    def section(self, name: str) -> CommentedMap | None:
        if self.network is None:
            return None
        value = self.network.get(name)
        return value if isinstance(value, CommentedMap) else None


def _rt_yaml() -> YAML:
    yaml = YAML(typ="rt")
    yaml.allow_duplicate_keys = False
    return yaml


def _where(path: str, container: Any, key: str | int | None = None) -> str:
    """``path:line:column`` (1-based) of a key (or the container) for messages."""
    try:
        if key is None:
            line, col = container.lc.line, container.lc.col
        elif isinstance(container, CommentedSeq):
            line, col = container.lc.item(key)
        else:
            line, col = container.lc.key(key)
    except (AttributeError, KeyError, IndexError, TypeError):
        return path
    return f"{path}:{line + 1}:{col + 1}"


def _parse_file(path: str, text: str) -> _File:
    try:
        doc = _rt_yaml().load(text)
    except YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        problem = (getattr(exc, "problem", None) if isinstance(exc, MarkedYAMLError) else None) or str(
            exc
        ).splitlines()[0]
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark is not None else path
        raise UsageError(f"{where}: not valid YAML: {problem}") from exc
    if doc is None:  # empty, or only comments
        return _File(path, text, doc, None)
    if not isinstance(doc, CommentedMap):
        raise UsageError(f"{path}:1:1: a netplan file must be a mapping with a top-level `network:` key")
    if "network" not in doc:
        raise UsageError(f"{path}:1:1: no top-level `network:` key")
    network = doc["network"]
    if not isinstance(network, CommentedMap):
        raise UsageError(f"{_where(path, doc, 'network')}: `network:` must be a mapping")
    version = network.get("version")
    if "version" in network and version != 2:
        raise UsageError(
            f"{_where(path, network, 'version')}: network.version is {version!r}; netplan needs 2"
        )
    for name in DEVICE_SECTIONS:
        if name in network and network[name] is not None and not isinstance(network[name], CommentedMap):
            raise UsageError(f"{_where(path, network, name)}: network.{name} must be a mapping of IDs")
    ethernets = network.get("ethernets")
    if isinstance(ethernets, CommentedMap):
        for key, body in ethernets.items():
            if not isinstance(key, str):
                raise UsageError(f"{_where(path, ethernets, key)}: ethernets ID {key!r} is not a string")
            if body is not None and not isinstance(body, CommentedMap):
                raise UsageError(f"{_where(path, ethernets, key)}: ethernets.{key} must be a mapping")
            match = body.get("match") if body is not None else None
            if match is not None and not isinstance(match, CommentedMap):
                raise UsageError(f"{_where(path, body, 'match')}: ethernets.{key}.match must be a mapping")
    return _File(path, text, doc, network)


def _netplan_order(files: Mapping[str, str]) -> list[str]:
    """netplan reads files ordered by basename (later ones override)."""
    return sorted(files, key=lambda p: (posixpath.basename(p), p))


# --------------------------------------------------------------------------------------------- entries


@dataclass
class _Instance:
    file: _File
    body: CommentedMap | None


@dataclass
class _Entry:
    """One ethernets ID, merged over the files that define it."""

    entry_id: str
    instances: list[_Instance] = field(default_factory=list)
    has_match: bool = False
    match: dict[str, Any] = field(default_factory=dict)
    set_name: str | None = None

    @property
    def paths(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(inst.file.path for inst in self.instances))

    @property
    def old_name(self) -> str:
        """The interface name (or glob) this entry names."""
        if not self.has_match:
            return self.entry_id
        name = self.match.get("name")
        return str(name) if isinstance(name, str) else self.entry_id

    @property
    def literal_match_name(self) -> str | None:
        name = self.match.get("name")
        return name if isinstance(name, str) and not _is_glob(name) else None

    def describe(self) -> str:
        if not self.has_match:
            what = f"interface name {self.entry_id}"
        else:
            what = (
                "match " + ", ".join(f"{k}: {v}" for k, v in self.match.items())
                if self.match
                else "empty match"
            )
        return f"{', '.join(self.paths)}: ethernets.{self.entry_id} ({what})"


def _is_glob(text: str) -> bool:
    return any(ch in text for ch in "*?[")


def _plain(value: Any) -> Any:
    """ruamel's round-trip objects → plain dicts, lists, str, int, bool, None (order kept)."""
    if isinstance(value, Mapping):
        return {(str(k) if isinstance(k, str) else k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, str):
        return str(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    return value


def _collect_entries(parsed: Sequence[_File]) -> list[_Entry]:
    entries: dict[str, _Entry] = {}
    for f in parsed:
        ethernets = f.section("ethernets")
        if ethernets is None:
            continue
        for key, body in ethernets.items():
            entry = entries.setdefault(str(key), _Entry(str(key)))
            entry.instances.append(_Instance(f, body))
            if body is None:
                continue
            if isinstance(body.get("match"), CommentedMap):
                entry.has_match = True
                entry.match.update(_plain(body["match"]))
            if isinstance(body.get("set-name"), str):
                entry.set_name = str(body["set-name"])
    return list(entries.values())


def _name_fits(pattern: str, iface: Interface) -> bool:
    return any(fnmatch.fnmatchcase(name, pattern) for name in (iface.name, *iface.altnames))


def _driver_fits(driver: Any, iface: Interface) -> bool:
    if iface.driver is None:  # unknown: cannot tell, so it does not make the entry stale
        return True
    patterns = driver if isinstance(driver, list) else [driver]
    return any(fnmatch.fnmatchcase(iface.driver, str(p)) for p in patterns)


def _fits(entry: _Entry, iface: Interface) -> bool:
    if not entry.has_match:
        return entry.entry_id == iface.name or entry.entry_id in iface.altnames
    m = entry.match
    mac_ok = "macaddress" not in m or iface.has_mac(str(m["macaddress"]))
    if (
        mac_ok
        and ("name" not in m or _name_fits(str(m["name"]), iface))
        and ("driver" not in m or _driver_fits(m["driver"], iface))
    ):
        return True
    # Already renamed by this entry's set-name: the match named the interface's kernel name.
    return mac_ok and entry.set_name is not None and iface.name == entry.set_name


def _fitting(entry: _Entry, interfaces: Sequence[Interface]) -> list[Interface]:
    return [i for i in interfaces if _fits(entry, i)]


def _bonds_or_bridges(parsed: Sequence[_File]) -> bool:
    return any(f.section("bonds") or f.section("bridges") for f in parsed)


def _interface_table(interfaces: Sequence[Interface]) -> str:
    return "\n".join(f"  {i.describe()}" for i in interfaces) or "  (none)"


# --------------------------------------------------------------------------------------------- text edits


class _CannotEdit(Exception):
    pass


def _token_end(line: str, col: int) -> int:
    """End column of the scalar token (plain, 'single' or "double" quoted) starting at ``col``."""
    if col >= len(line):
        raise _CannotEdit("no token")
    quote = line[col]
    if quote == '"':
        i = col + 1
        while i < len(line):
            if line[i] == "\\":
                i += 2
                continue
            if line[i] == '"':
                return i + 1
            i += 1
        raise _CannotEdit("a double-quoted scalar spans lines")
    if quote == "'":
        i = col + 1
        while i < len(line):
            if line[i] == "'":
                if line[i + 1 : i + 2] == "'":
                    i += 2
                    continue
                return i + 1
            i += 1
        raise _CannotEdit("a single-quoted scalar spans lines")
    i = col
    while i < len(line):
        ch = line[i]
        if ch in "\r\n,[]{}":
            break
        if ch == ":" and (i + 1 >= len(line) or line[i + 1] in " \t\r\n,[]{}"):
            break
        if ch == "#" and i > col and line[i - 1] in " \t":
            break
        i += 1
    while i > col and line[i - 1] in " \t":
        i -= 1
    return i


def _decode(token: str) -> str:
    return str(YAML(typ="safe", pure=True).load(token))


def _render(value: str, like: str = "", *, quote: bool = False) -> str:
    """``value`` as a YAML scalar in the quoting style of the token ``like`` (plain when safe)."""
    if like.startswith("'"):
        return "'" + value.replace("'", "''") + "'"
    plain_ok = (
        not quote
        and value
        and value.lower() not in _YAML_WORDS
        and (value[0].isalpha() or value[0] == "_")
        and all(ch.isalnum() or ch in "_.-@+%" for ch in value)
    )
    if plain_ok and not like.startswith('"'):
        return value
    return json.dumps(value)


def _flow_end(line: str, col: int) -> int:
    """End column (exclusive) of the flow mapping/sequence starting at ``col``; it must close on this line."""
    depth = 0
    i = col
    while i < len(line):
        ch = line[i]
        if ch in "\"'":
            i = _token_end(line, i)
            continue
        if ch in "{[":
            depth += 1
        elif ch in "}]":
            depth -= 1
            if depth == 0:
                return i + 1
        elif ch == "#" and line[i - 1] in " \t":
            break
        i += 1
    raise _CannotEdit("a flow collection spans lines")


@dataclass
class _SetOp:
    path: Path  # through the original keys
    value: Any
    first: bool = False  # a new key goes first in its mapping (where the text inserts it)


@dataclass
class _RenameOp:
    path: Path  # of the mapping
    old: str
    new: str


@dataclass
class _DeleteOp:
    path: Path


class _Editor:
    """Token-level edits of one file, plus the structural operations they are meant to perform."""

    def __init__(self, f: _File) -> None:
        self.file = f
        self.lines = f.text.splitlines(keepends=True)
        self.newline = "\r\n" if "\r\n" in f.text else "\n"
        self.splices: list[tuple[int, int, int, str]] = []
        self.inserts: list[tuple[int, str]] = []
        self.deleted: set[int] = set()
        self.ops: list[_SetOp | _RenameOp | _DeleteOp] = []
        self.changes: list[str] = []

    def token(self, line: int, col: int, expected: str) -> tuple[int, str]:
        text = self.lines[line]
        end = _token_end(text, col)
        token = text[col:end]
        if _decode(token) != expected:
            raise _CannotEdit(f"line {line + 1}: found {token!r} where {expected!r} was expected")
        return end, token

    def replace(self, line: int, col: int, old: str, new: str, *, quote: bool = False) -> None:
        end, token = self.token(line, col, old)
        self.splices.append((line, col, end, _render(new, token, quote=quote)))

    def insert_at(self, line: int, col: int, text: str) -> None:
        self.splices.append((line, col, col, text))

    def insert_lines(self, before: int, lines: Sequence[str]) -> None:
        self.inserts.append((before, "".join(s + self.newline for s in lines)))

    def delete_line(self, line: int) -> None:
        self.deleted.add(line)

    def note(self, line: int, message: str) -> None:
        self.changes.append(f"{self.file.path}:{line + 1}: {message}")

    def result(self) -> str:
        lines = list(self.lines)
        if (
            self.inserts
            and max(b for b, _ in self.inserts) >= len(lines)
            and lines
            and not lines[-1].endswith("\n")
        ):
            lines[-1] += self.newline
        touched = sorted(
            {s[0] for s in self.splices} | {b for b, _ in self.inserts} | self.deleted, reverse=True
        )
        for n in touched:
            if n < len(lines):
                limit = len(lines[n])
                for _, start, end, text in sorted(
                    (s for s in self.splices if s[0] == n), key=lambda s: -s[1]
                ):
                    if end > limit:
                        raise _CannotEdit(f"line {n + 1}: overlapping edits")
                    lines[n] = lines[n][:start] + text + lines[n][end:]
                    limit = start
                if n in self.deleted:
                    del lines[n]
            added = "".join(text for before, text in self.inserts if before == n)
            if added:
                lines[n:n] = [added]
        return "".join(lines)


def _apply_ops(doc: Any, ops: Sequence[_SetOp | _RenameOp | _DeleteOp]) -> Any:
    def walk(path: Path) -> Any:
        node = doc
        for key in path:
            node = node[key]
        return node

    for op in ops:
        if isinstance(op, _SetOp):
            parent = walk(op.path[:-1])
            key = op.path[-1]
            if op.first and isinstance(parent, dict) and key not in parent:
                items = list(parent.items())
                parent.clear()
                parent.update({key: op.value, **dict(items)})
            else:
                parent[key] = op.value
        elif isinstance(op, _DeleteOp):
            del walk(op.path[:-1])[op.path[-1]]
    for op in ops:
        if isinstance(op, _RenameOp):
            mapping = walk(op.path)
            items = [(op.new if k == op.old else k, v) for k, v in mapping.items()]
            mapping.clear()
            mapping.update(items)
    return doc


def _ordered(value: Any) -> str:
    return json.dumps(value, sort_keys=False, default=str)


# --------------------------------------------------------------------------------------------- the repair


def _present_interfaces_hint(interfaces: Sequence[Interface]) -> str:
    return "present interfaces:\n" + _interface_table(interfaces)


def _map_stale(
    stale: Sequence[_Entry],
    fine: Sequence[_Entry],
    interfaces: Sequence[Interface],
    pinned_mac: str | None,
    match_mac: bool = False,
) -> tuple[dict[str, tuple[Interface, str]], list[str]]:
    """Choose the new interface of each stale entry: {entry ID: (interface, reason)}, plus warnings."""
    warnings: list[str] = []
    chosen: dict[str, tuple[Interface, str]] = {}
    for entry in stale:
        own = entry.match.get("macaddress")
        if isinstance(own, str):
            iface = find_by_mac(interfaces, own) if _safe_mac(own) else None
            if iface is not None:
                chosen[entry.entry_id] = (iface, f"its match.macaddress {own}")
    rest = [e for e in stale if e.entry_id not in chosen]

    if pinned_mac is not None:
        pin = normalize_mac(pinned_mac)
        pinned = _pinned_interface(interfaces, pin)
        if len(rest) > 1:
            raise Refused(
                f"{len(rest)} ethernets entries name no present interface; network.mac {pin} identifies "
                f"one NIC ({pinned.name}) but not which entry it replaces\nstale entries:\n"
                + "\n".join(f"  {e.describe()}" for e in rest)
                + "\n"
                + _present_interfaces_hint(interfaces),
                hint="repair the file by hand, or give each entry a `match: {macaddress: ...}`",
            )
        if rest:
            chosen[rest[0].entry_id] = (pinned, f"network.mac {pin} in the inventory")
            rest = []
        elif all(iface is not pinned for iface, _ in chosen.values()) and not any(
            _fits(e, pinned) for e in fine
        ):
            warnings.append(
                f"network.mac {pin} is {pinned.name}, which no netplan entry configures after the repair"
            )

    if rest:
        configured = {i.name for e in fine for i in _fitting(e, interfaces)}
        taken = {iface.name for iface, _ in chosen.values()}
        free = [i for i in interfaces if i.is_physical and i.name not in configured and i.name not in taken]
        if len(rest) == 1 and len(free) == 1:
            chosen[rest[0].entry_id] = (free[0], "the only physical NIC no other entry configures")
            by_name = [
                e.entry_id
                for e in fine
                if "macaddress" not in e.match and any(i.is_physical for i in _fitting(e, interfaces))
            ]
            if by_name:
                warnings.append(
                    f"ethernets.{rest[0].entry_id} → {free[0].name}: chosen as the only unconfigured NIC; "
                    f"other entries match by name ({', '.join(by_name)}): if every NIC moved one slot, they "
                    "now configure a different NIC. "
                    + (
                        "--match-mac pins them to the NICs that have those names now: check that is right"
                        if match_mac
                        else "Set network.mac in the inventory, or use --match-mac"
                    )
                )
        else:
            raise Refused(
                "cannot tell which NIC replaces "
                + ("the stale netplan entry" if len(rest) == 1 else f"the {len(rest)} stale netplan entries")
                + "\nstale entries (they fit no present interface):\n"
                + "\n".join(f"  {e.describe()}" for e in rest)
                + "\npresent physical NICs no entry configures:\n"
                + _interface_table(free),
                hint="set network.mac in the inventory to the guest NIC's MAC (vm-bhyve's network0_mac)",
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
            if _fits(other, iface):
                raise Refused(
                    f"the stale entry ethernets.{entry_id} maps to {iface.name}, but "
                    f"ethernets.{other.entry_id} ({', '.join(other.paths)}) already configures {iface.name}; "
                    "the NICs may all have moved one slot, so the other entry may be stale too",
                    hint="repair the files by hand, matching each NIC by `match: {macaddress: ...}`",
                )
    return chosen, warnings


def _pinned_interface(interfaces: Sequence[Interface], pin: str) -> Interface:
    """The interface with the inventory's network.mac ``pin`` (normalized); refused when none has it."""
    pinned = find_by_mac(interfaces, pin)
    if pinned is None:
        raise Refused(
            f"network.mac {pin} (inventory) is not the MAC of any present interface\n"
            + _present_interfaces_hint(interfaces),
            hint="correct network.mac in the inventory (vm-bhyve's network0_mac) or remove it",
        )
    return pinned


def _choose_pins(
    fine: Sequence[_Entry], interfaces: Sequence[Interface], pinned_mac: str | None
) -> tuple[list[tuple[_Entry, Interface]], list[str]]:
    """``match_mac``: the entries that fit a present NIC by name, to pin to its MAC, plus notes on the rest.

    Only entries without ``match.macaddress`` whose ID (no ``match``) or ``match.name`` fits exactly one
    present interface, a physical one with a MAC. With ``pinned_mac`` only the entry of that NIC.
    """
    pin = normalize_mac(pinned_mac) if pinned_mac is not None else None
    pinned = _pinned_interface(interfaces, pin) if pin is not None else None
    notes: list[str] = []
    candidates: list[tuple[_Entry, Interface]] = []
    for entry in fine:
        if "macaddress" in entry.match:
            continue  # already pinned
        label = f"ethernets.{entry.entry_id}"
        if entry.has_match and "name" not in entry.match:
            notes.append(f"{label} matches by neither name nor MAC ({entry.describe()}); not pinned")
            continue
        fitting = _fitting(entry, interfaces)
        if len(fitting) != 1:
            names = ", ".join(i.name for i in fitting)
            notes.append(
                f"{label}: {entry.old_name} fits {len(fitting)} interfaces ({names}); not pinned "
                "(ambiguous: which MAC?). Give each NIC its own entry to pin it"
            )
            continue
        (iface,) = fitting
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


def _pin_instance(editor: _Editor, entry: _Entry, body: CommentedMap, iface: Interface) -> None:
    """Edit one file's definition of a fitting entry to ``match: {macaddress: ...}`` + ``set-name``."""
    ethernets = editor.file.section("ethernets")
    assert ethernets is not None
    key = entry.entry_id
    key_line, key_col = ethernets.lc.key(key)
    before = len(editor.changes)
    _pin_by_mac(
        editor, entry, body, iface, key_line, key_col, ("network", "ethernets", key), body.get("set-name")
    )
    del editor.changes[before:]  # one line per pinned entry instead of one per edited key
    how = (
        f"match.macaddress + set-name {iface.name}"
        if entry.set_name is None
        else f"match.macaddress; its set-name {entry.set_name} kept"
    )
    editor.note(key_line, f"ethernets.{key}: pinned to MAC {iface.hardware_mac} ({how})")


def _safe_mac(value: str) -> bool:
    try:
        normalize_mac(value)
    except UsageError:
        return False
    return True


def _all_ids(parsed: Sequence[_File]) -> dict[str, str]:
    ids: dict[str, str] = {}
    for f in parsed:
        for name in DEVICE_SECTIONS:
            section = f.section(name)
            for key in section or {}:
                ids.setdefault(str(key), f"{f.path}: {name}.{key}")
    return ids


def _follow_references(editor: _Editor, old: str, new: str) -> None:
    """Rename the ID ``old`` → ``new`` where other definitions of this file refer to it."""
    f = editor.file
    for name in (*_MEMBER_LIST_SECTIONS, *_LINK_SECTIONS):
        section = f.section(name)
        for dev_id, body in (section or {}).items():
            if not isinstance(body, CommentedMap):
                continue
            base: Path = ("network", name, dev_id)
            members = body.get("interfaces")
            if name in _MEMBER_LIST_SECTIONS and isinstance(members, CommentedSeq):
                for index, item in enumerate(members):
                    if item == old:
                        line, col = members.lc.item(index)
                        editor.replace(line, col, old, new)
                        editor.ops.append(_SetOp((*base, "interfaces", index), new))
                        editor.note(line, f"{name}.{dev_id}.interfaces: {old} → {new}")
            if name in _LINK_SECTIONS and body.get("link") == old:
                line, col = body.lc.value("link")
                editor.replace(line, col, old, new)
                editor.ops.append(_SetOp((*base, "link"), new))
                editor.note(line, f"{name}.{dev_id}.link: {old} → {new}")
            params = body.get("parameters")
            if not isinstance(params, CommentedMap):
                continue
            if name == "bonds" and params.get("primary") == old:
                line, col = params.lc.value("primary")
                editor.replace(line, col, old, new)
                editor.ops.append(_SetOp((*base, "parameters", "primary"), new))
                editor.note(line, f"bonds.{dev_id}.parameters.primary: {old} → {new}")
            if name == "bridges":
                for param in ("path-cost", "port-priority"):
                    costs = params.get(param)
                    if isinstance(costs, CommentedMap) and old in costs:
                        line, col = costs.lc.key(old)
                        editor.replace(line, col, old, new)
                        editor.ops.append(_RenameOp((*base, "parameters", param), old, new))
                        editor.note(line, f"bridges.{dev_id}.parameters.{param}: {old} → {new}")


def _rewrite_instance(
    editor: _Editor,
    entry: _Entry,
    body: CommentedMap | None,
    iface: Interface,
    new_id: str,
    match_mac: bool,
) -> None:
    """Edit one file's definition of a stale entry so that it configures ``iface``."""
    ethernets = editor.file.section("ethernets")
    assert ethernets is not None
    key = entry.entry_id
    path: Path = ("network", "ethernets", key)
    key_line, key_col = ethernets.lc.key(key)
    new_name = iface.name
    mac = iface.hardware_mac

    if new_id != key:
        editor.replace(key_line, key_col, key, new_id)
        editor.ops.append(_RenameOp(("network", "ethernets"), key, new_id))
        editor.note(key_line, f"ethernets.{key} → {new_id}")
    if body is None:
        if match_mac:
            raise _CannotEdit(f"ethernets.{key} has an empty body; cannot add a match to it")
        return

    match = body.get("match")
    if isinstance(match, CommentedMap) and not match_mac:
        name = match.get("name")
        if isinstance(name, str) and not _name_fits(name, iface):
            line, col = match.lc.value("name")
            editor.replace(line, col, name, new_name)
            editor.ops.append(_SetOp((*path, "match", "name"), new_name))
            editor.note(line, f"ethernets.{key}.match.name: {name} → {new_name}")
        own = match.get("macaddress")
        if isinstance(own, str) and not iface.has_mac(own):
            if mac is None:
                raise _CannotEdit(f"{iface.name} has no MAC address to match")
            line, col = match.lc.value("macaddress")
            editor.replace(line, col, own, mac, quote=True)
            editor.ops.append(_SetOp((*path, "match", "macaddress"), mac))
            editor.note(line, f"ethernets.{key}.match.macaddress: {own} → {mac}")
        driver = match.get("driver")
        if isinstance(driver, str) and iface.driver and not _driver_fits(driver, iface):
            line, col = match.lc.value("driver")
            editor.replace(line, col, driver, iface.driver)
            editor.ops.append(_SetOp((*path, "match", "driver"), iface.driver))
            editor.note(line, f"ethernets.{key}.match.driver: {driver} → {iface.driver}")

    set_name = body.get("set-name")
    old_names = {n for n in (entry.literal_match_name, None if entry.has_match else key) if n}
    if isinstance(set_name, str) and set_name in old_names and set_name != new_name:
        line, col = body.lc.value("set-name")
        editor.replace(line, col, set_name, new_name)
        editor.ops.append(_SetOp((*path, "set-name"), new_name))
        editor.note(line, f"ethernets.{key}.set-name: {set_name} → {new_name}")
        set_name = new_name

    if match_mac:
        _pin_by_mac(editor, entry, body, iface, key_line, key_col, path, set_name)


def _pin_by_mac(
    editor: _Editor,
    entry: _Entry,
    body: CommentedMap,
    iface: Interface,
    key_line: int,
    key_col: int,
    path: Path,
    set_name: Any,
) -> None:
    """``--match-mac``: make the entry ``match: {macaddress: <mac>}`` plus ``set-name: <name>``."""
    key = entry.entry_id
    mac = iface.hardware_mac
    if mac is None:
        raise _CannotEdit(f"{iface.name} has no MAC address to match")
    new_name = iface.name
    quoted_mac = json.dumps(mac)
    match = body.get("match")
    new_keys: list[tuple[str, str]] = []  # (key, flow text) of keys to add, in order

    if isinstance(match, CommentedMap) and len(match) > 0 and not match.fa.flow_style():
        expected: dict[str, Any] = {}
        for k, v in match.items():
            if k == "macaddress" or (k == "name" and "macaddress" not in match):
                expected["macaddress"] = mac
            elif k != "name":
                expected[str(k)] = _plain(v)
        if "macaddress" in match:
            old = str(match["macaddress"])
            if not iface.has_mac(old) or old != mac:
                line, col = match.lc.value("macaddress")
                editor.replace(line, col, old, mac, quote=True)
            if "name" in match:
                line, _ = match.lc.key("name")
                if match.lc.value("name")[0] != line:
                    raise _CannotEdit(f"ethernets.{key}.match.name spans lines")
                editor.delete_line(line)
        elif "name" in match:
            line, col = match.lc.key("name")
            editor.replace(line, col, "name", "macaddress")
            vline, vcol = match.lc.value("name")
            editor.replace(vline, vcol, str(match["name"]), mac, quote=True)
        else:
            first = next(iter(match))
            line, col = match.lc.key(first)
            editor.insert_lines(line, [" " * col + f"macaddress: {quoted_mac}"])
            expected = {"macaddress": mac, **expected}
        editor.ops.append(_SetOp((*path, "match"), expected))
        editor.note(match.lc.line, f"ethernets.{key}.match → macaddress: {mac}")
    elif match is not None or "match" in body:
        if not isinstance(match, CommentedMap):
            raise _CannotEdit(f"ethernets.{key}.match is empty")
        kept = {k: _plain(v) for k, v in match.items() if k not in ("name", "macaddress")}
        line, col = body.lc.value("match")
        text = editor.lines[line]
        if text[col : col + 1] != "{":
            raise _CannotEdit(f"ethernets.{key}.match: unexpected layout")
        end = _flow_end(text, col)
        parts = [f"macaddress: {quoted_mac}"] + [f"{k}: {_flow(v)}" for k, v in kept.items()]
        editor.splices.append((line, col, end, "{" + ", ".join(parts) + "}"))
        editor.ops.append(_SetOp((*path, "match"), {"macaddress": mac, **kept}))
        editor.note(line, f"ethernets.{key}.match → macaddress: {mac}")
    else:
        new_keys.append(("match", f"{{macaddress: {quoted_mac}}}"))
        editor.note(key_line, f"ethernets.{key}: added match: macaddress: {mac}")

    # A set-name of the user's choosing is kept: the MAC match pins it too. One in another file of the
    # same ID counts (netplan merges them): adding a different one here would contradict it.
    if not isinstance(set_name, str) and entry.set_name is None:
        new_keys.append(("set-name", _render(new_name)))
        editor.note(key_line, f"ethernets.{key}: added set-name: {new_name}")

    if not new_keys:
        return
    for name, _ in reversed(new_keys):
        value: Any = {"macaddress": mac} if name == "match" else new_name
        editor.ops.append(_SetOp((*path, name), value, first=True))
    if body.fa.flow_style() or len(body) == 0:
        line, col = body.lc.line, body.lc.col
        text = editor.lines[line]
        if text[col : col + 1] != "{":
            raise _CannotEdit(f"ethernets.{key}: unexpected layout")
        inner = ", ".join(f"{k}: {v}" for k, v in new_keys)
        editor.insert_at(line, col + 1, inner + (", " if len(body) else ""))
        return
    body_col = body.lc.key(next(iter(body)))[1]
    step = max(body_col - key_col, 1)
    indent = " " * body_col
    new_lines: list[str] = []
    for name, flow in new_keys:
        if name == "match":
            new_lines += [f"{indent}match:", f"{indent}{' ' * step}macaddress: {quoted_mac}"]
        else:
            new_lines.append(f"{indent}{name}: {flow}")
    editor.insert_lines(key_line + 1, new_lines)


def _flow(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_flow(v) for v in value) + "]"
    if isinstance(value, str):
        return _render(value)
    return json.dumps(value)


def plan_repair(
    files: Mapping[str, str],
    interfaces: Sequence[Interface],
    *,
    pinned_mac: str | None = None,
    match_mac: bool = False,
) -> RepairPlan | NothingToFix:
    """Decide how to repair the netplan ``files`` ({path: text}) for the present ``interfaces``.

    Raises :class:`UsageError` for a file that is not valid netplan YAML (with file:line:column) and
    :class:`Refused` when the new interface of a stale entry cannot be told for sure.
    """
    if not files:
        raise Refused("no netplan files to repair", hint="is /etc/netplan empty on the guest?")
    order = _netplan_order(files)
    parsed = [_parse_file(path, files[path]) for path in order]
    entries = _collect_entries(parsed)
    stale = [e for e in entries if not _fitting(e, interfaces)]
    fine = [e for e in entries if e not in stale]
    to_pin, pin_notes = _choose_pins(fine, interfaces, pinned_mac) if match_mac else ([], [])

    if not stale and not to_pin:
        return NothingToFix(
            fits=tuple(
                EntryFit(e.entry_id, e.paths, tuple(i.name for i in _fitting(e, interfaces))) for e in fine
            ),
            notes=(*_nothing_notes(fine, interfaces, pinned_mac), *pin_notes),
            has_bonds_or_bridges=_bonds_or_bridges(parsed),
        )

    chosen, warnings = _map_stale(stale, fine, interfaces, pinned_mac, match_mac)
    warnings += pin_notes
    ids = _all_ids(parsed)
    editors = {f.path: _Editor(f) for f in parsed}
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
                _rewrite_instance(editors[inst.file.path], entry, inst.body, iface, new_id, match_mac)
            if new_id != entry.entry_id:
                for editor in editors.values():
                    _follow_references(editor, entry.entry_id, new_id)
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
                assert inst.body is not None  # _choose_pins skips entries with an empty body
                _pin_instance(editors[inst.file.path], entry, inst.body, iface)
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
        new_texts = {
            path: ed.result() for path, ed in editors.items() if ed.splices or ed.inserts or ed.deleted
        }
    except _CannotEdit as exc:
        raise Refused(
            f"cannot edit the netplan file safely: {exc}",
            hint="repair it by hand, or rerun without --match-mac",
        ) from exc

    _verify(parsed, editors, new_texts, repairs, pins)
    new_parsed = [_parse_file(p, new_texts.get(p, files[p])) for p in order]
    changes = [c for ed in editors.values() for c in ed.changes]
    cloud = tuple(p for p in new_texts if is_cloud_init_file(p, files[p]))
    for path in cloud:
        warnings.append(
            f"{path} is written by cloud-init, which may regenerate it (and undo this change) at the "
            f"next boot; --pin-cloud-init writes {CLOUD_INIT_DISABLE_PATH} to stop that"
        )
    for pin in pins:
        if pin.final_name != pin.interface.name:
            warnings.append(f"{pin.interface.name} will be renamed {pin.final_name} by the entry's set-name")
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
        has_bonds_or_bridges=_bonds_or_bridges(new_parsed),
        cloud_init_files=cloud,
        pins=tuple(pins),
    )


def _nothing_notes(
    fine: Sequence[_Entry], interfaces: Sequence[Interface], pinned_mac: str | None
) -> Iterator[str]:
    configured = {i.name for e in fine for i in _fitting(e, interfaces)}
    for iface in interfaces:
        if iface.is_physical and iface.name not in configured:
            yield f"{iface.name} ({iface.hardware_mac}) is not configured by any ethernets entry"
    for entry in fine:
        if entry.set_name is None:
            continue
        for iface in _fitting(entry, interfaces):
            if iface.name != entry.set_name:
                yield (
                    f"ethernets.{entry.entry_id} fits {iface.name} by "
                    + ("MAC" if "macaddress" in entry.match else "its match")
                    + f"; its set-name renames it {entry.set_name} when netplan applies"
                )
    if pinned_mac is not None:
        pinned = find_by_mac(interfaces, pinned_mac)
        if pinned is None:
            yield f"network.mac {normalize_mac(pinned_mac)} (inventory) is not on any present interface"


def _verify(
    parsed: Sequence[_File],
    editors: Mapping[str, _Editor],
    new_texts: Mapping[str, str],
    repairs: Sequence[EntryRepair],
    pins: Sequence[EntryPin] = (),
) -> None:
    """The edited text must parse to exactly the intended structure, each repaired entry must fit, and
    each pinned entry must fit its NIC by MAC."""
    new_parsed: list[_File] = []
    for f in parsed:
        if f.path not in new_texts:
            new_parsed.append(f)
            continue
        try:
            new = _parse_file(f.path, new_texts[f.path])
        except UsageError as exc:
            raise Refused(
                f"internal: the repaired {f.path} would not parse ({exc}); nothing written"
            ) from exc
        expected = _apply_ops(_plain(f.doc), editors[f.path].ops)
        if _ordered(_plain(new.doc)) != _ordered(expected):
            raise Refused(f"internal: the repaired {f.path} would not say what was intended; nothing written")
        new_parsed.append(new)
    by_id = {e.entry_id: e for e in _collect_entries(new_parsed)}
    for rep in repairs:
        entry = by_id.get(rep.new_id)
        if entry is None or not _fits(entry, rep.interface):
            raise Refused(
                f"internal: after the repair ethernets.{rep.new_id} would still not fit "
                f"{rep.interface.name}; nothing written"
            )
    for pin in pins:
        entry = by_id.get(pin.entry_id)
        own = entry.match.get("macaddress") if entry is not None else None
        if (
            entry is None
            or not isinstance(own, str)
            or not pin.interface.has_mac(own)
            or not _fits(entry, pin.interface)
        ):
            raise Refused(
                f"internal: after pinning, ethernets.{pin.entry_id} would not match {pin.interface.name} "
                "by MAC; nothing written"
            )
