"""The netplan model the repair relies on: reading the files, and the ethernets entries they define (pure).

An ``ethernets`` key is an ID; without ``match`` the ID is the interface name, with ``match`` (``name``
glob, ``macaddress``, ``driver``; all must hold) it is only a label. Other definitions refer to IDs:
``bridges``/``bonds``/``vrfs`` ``interfaces`` lists, ``bonds.*.parameters.primary``,
``bridges.*.parameters.path-cost``/``port-priority`` keys, ``vlans``/``tunnels`` ``link``. Routes and
routing policy name no interface. Definitions with the same ID in several files are merged by netplan
(files ordered by basename), so they are treated as one :class:`Entry`. Of files with the same basename
netplan reads one: ``/run/netplan`` before ``/etc/netplan`` before ``/lib/netplan`` (netplan-generate(8));
the others are never read, so never repaired.
"""

from __future__ import annotations

import fnmatch
import posixpath
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from agent.core.net.interfaces import Interface
from agent.core.yaml_limits import LIMIT_HINT, RUAMEL_LIMITS, error_where
from agent.errors import UsageError

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
MEMBER_LIST_SECTIONS = ("bridges", "bonds", "vrfs")
LINK_SECTIONS = ("vlans", "tunnels")


@dataclass
class NetplanFile:
    """One parsed netplan file: its text, ruamel's round-trip document and its ``network`` mapping."""

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


def parse_file(path: str, text: str) -> NetplanFile:
    """Parse one netplan file; :class:`UsageError` (with ``path:line:column``) when it is not netplan."""
    try:
        doc = _rt_yaml().load(text)
    except YAMLError as exc:
        problem = (getattr(exc, "problem", None) if isinstance(exc, MarkedYAMLError) else None) or str(
            exc
        ).splitlines()[0]
        raise UsageError(f"{error_where(path, exc)}: not valid YAML: {problem}") from exc
    except RUAMEL_LIMITS as exc:
        raise UsageError(
            f"{path}: YAML that ruamel.yaml cannot read ({type(exc).__name__}); {LIMIT_HINT}"
        ) from exc
    if doc is None:  # empty, or only comments
        return NetplanFile(path, text, doc, None)
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
    return NetplanFile(path, text, doc, network)


#: netplan-generate(8): a file in a later directory shadows the file of the same name in an earlier one
NETPLAN_PRECEDENCE = ("/lib/netplan", "/etc/netplan", "/run/netplan")


def _precedence(path: str) -> int:
    directory = posixpath.dirname(posixpath.normpath(path))
    return NETPLAN_PRECEDENCE.index(directory) if directory in NETPLAN_PRECEDENCE else -1


def shadowed_files(files: Mapping[str, str]) -> dict[str, str]:
    """The files netplan never reads, each with the file that shadows it: of the files sharing a
    basename, netplan reads only the one in /run/netplan, else /etc/netplan, else /lib/netplan (a file
    elsewhere, the inventory's ``network.netplan_file``, neither shadows nor is shadowed)."""
    winner: dict[str, str] = {}
    for path in files:
        name = posixpath.basename(path)
        if _precedence(path) >= 0 and (name not in winner or _precedence(path) > _precedence(winner[name])):
            winner[name] = path
    hidden = {}
    for path in files:
        best = winner.get(posixpath.basename(path))
        if _precedence(path) >= 0 and best is not None and best != path:
            hidden[path] = best
    return hidden


def netplan_order(files: Mapping[str, str]) -> list[str]:
    """The files netplan reads, in its order: one per basename (:func:`shadowed_files`), ordered by
    basename (later ones override)."""
    hidden = shadowed_files(files)
    return sorted((p for p in files if p not in hidden), key=lambda p: (posixpath.basename(p), p))


def shadowed_notes(files: Mapping[str, str]) -> list[str]:
    return [
        f"{path} is not read by netplan ({winner} has the same name and takes precedence): left alone"
        for path, winner in sorted(shadowed_files(files).items())
    ]


def plain(value: Any) -> Any:
    """ruamel's round-trip objects → plain dicts, lists, str, int, bool, None (order kept)."""
    if isinstance(value, Mapping):
        return {(str(k) if isinstance(k, str) else k): plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, str):
        return str(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    return value


# --------------------------------------------------------------------------------------------- entries


@dataclass
class Instance:
    """One file's definition of an entry (``body`` None: ``enp0s5:`` with nothing under it)."""

    file: NetplanFile
    body: CommentedMap | None


@dataclass
class Entry:
    """One ethernets ID, merged over the files that define it."""

    entry_id: str
    instances: list[Instance] = field(default_factory=list)
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
        return name if isinstance(name, str) and not is_glob(name) else None

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


def is_glob(text: str) -> bool:
    return any(ch in text for ch in "*?[")


def collect_entries(parsed: Sequence[NetplanFile]) -> list[Entry]:
    """The ethernets entries of the files (in netplan's order), each ID merged over its files."""
    entries: dict[str, Entry] = {}
    for f in parsed:
        ethernets = f.section("ethernets")
        if ethernets is None:
            continue
        for key, body in ethernets.items():
            entry = entries.setdefault(str(key), Entry(str(key)))
            entry.instances.append(Instance(f, body))
            if body is None:
                continue
            if isinstance(body.get("match"), CommentedMap):
                entry.has_match = True
                entry.match.update(plain(body["match"]))
            if isinstance(body.get("set-name"), str):
                entry.set_name = str(body["set-name"])
    return list(entries.values())


def all_ids(parsed: Sequence[NetplanFile]) -> dict[str, str]:
    """Every ID of every device section → where it is defined (for messages)."""
    ids: dict[str, str] = {}
    for f in parsed:
        for name in DEVICE_SECTIONS:
            section = f.section(name)
            for key in section or {}:
                ids.setdefault(str(key), f"{f.path}: {name}.{key}")
    return ids


def bonds_or_bridges(parsed: Sequence[NetplanFile]) -> bool:
    return any(f.section("bonds") or f.section("bridges") for f in parsed)


# --------------------------------------------------------------------------------------------- fitting


def name_fits(pattern: str, iface: Interface) -> bool:
    return any(fnmatch.fnmatchcase(name, pattern) for name in (iface.name, *iface.altnames))


def driver_fits(driver: Any, iface: Interface) -> bool:
    if iface.driver is None:  # unknown: cannot tell, so it does not make the entry stale
        return True
    patterns = driver if isinstance(driver, list) else [driver]
    return any(fnmatch.fnmatchcase(iface.driver, str(p)) for p in patterns)


def fits(entry: Entry, iface: Interface) -> bool:
    """Whether netplan would apply ``entry`` to ``iface``."""
    if not entry.has_match:
        return entry.entry_id == iface.name or entry.entry_id in iface.altnames
    m = entry.match
    mac_ok = "macaddress" not in m or iface.has_mac(str(m["macaddress"]))
    if (
        mac_ok
        and ("name" not in m or name_fits(str(m["name"]), iface))
        and ("driver" not in m or driver_fits(m["driver"], iface))
    ):
        return True
    # Already renamed by this entry's set-name: the match named the interface's kernel name.
    return mac_ok and entry.set_name is not None and iface.name == entry.set_name


def fitting(entry: Entry, interfaces: Sequence[Interface]) -> list[Interface]:
    return [i for i in interfaces if fits(entry, i)]
