"""Reading ``inventory.yaml``: YAML with positions, the schema's checks, and every problem located.

Unknown keys are errors that name the key, its path, its file:line:column and the closest allowed key;
secret-looking keys are refused anywhere (agent.inventory.inventory_secrets). All expected failures raise
:class:`InventoryError` (a :class:`~agent.errors.UsageError`, exit 2) listing each :class:`Problem`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from agent.core.yaml_limits import LIMIT_HINT, RUAMEL_LIMITS, error_where
from agent.errors import UsageError
from agent.hints import opt
from agent.inventory.groups import (
    Layer,
    Merged,
    build_tree,
    fill_console_from_host,
    guest_layers,
    merge_layers,
)
from agent.inventory.groups import (
    plain as _plain,
)
from agent.inventory.key_check import (
    KeyChecker,
    Problem,
    join_path,
    key_pos,
    node_pos,
    type_name,
    value_pos,
)
from agent.inventory.schema import Guest, Inventory

__all__ = [
    "DEFAULT_INVENTORY",
    "InventoryError",
    "Origins",
    "Problem",
    "load_inventory",
    "load_inventory_with_origins",
]

Origins = dict[str, dict[tuple[str, ...], str]]
"""Per guest, per setting's key path (``("disk", "serial")``): which layer set it (``guest``, ``group
NAME``, ``all``); a setting not in it has its default."""

DEFAULT_INVENTORY = Path("inventory.yaml")


class InventoryError(UsageError):
    """The inventory is missing, unreadable or invalid (exit 2); ``problems`` lists each located problem."""

    def __init__(self, message: str, hint: str | None = None, problems: tuple[Problem, ...] = ()) -> None:
        super().__init__(message, hint)
        self.problems = problems


_FRIENDLY = {
    "string_type": "expected a string",
    "int_type": "expected a whole number",
    "model_type": "expected a mapping of keys",
    "dict_type": "expected a mapping of keys",
    "mapping_type": "expected a mapping of keys",
}


def _describe(error: Mapping[str, Any]) -> str:
    kind = error["type"]
    if kind == "missing":
        return f"required key {error['loc'][-1]!r} is missing"
    if kind in _FRIENDLY:
        value = error.get("input")
        message = f"{_FRIENDLY[kind]}, got {type_name(value)}"
        if kind == "string_type" and isinstance(value, (int, float)) and not isinstance(value, bool):
            message += " (quote it so YAML keeps it as text)"
        return message
    msg = str(error["msg"])
    return msg.removeprefix("Value error, ")


def _locate(root: object, loc: tuple[int | str, ...], kind: str) -> tuple[tuple[int | None, int | None], str]:
    """The file position and dotted key path for a pydantic error location."""
    node: object = root
    path: list[object] = []
    where = node_pos(root)
    for index, part in enumerate(loc):
        last = index == len(loc) - 1
        if part == "[key]":
            break  # the previous part was the key itself: keep its position
        if isinstance(node, Mapping) and part in node:
            value = node[part]
            if kind == "[key]" or (last and isinstance(value, Mapping | list)):
                where = key_pos(node, part)
            else:
                where = value_pos(node, part) if last else key_pos(node, part)
            path.append(part)
            node = value
        else:
            if kind != "missing" or not last:
                path.append(part)
            break
    if kind == "missing":
        where = node_pos(node) if node_pos(node)[0] is not None else where
        path.append(loc[-1])
    return where, join_path(tuple(path))


def _validation_problems(
    file: str,
    root: object,
    exc: ValidationError,
    suggested: set[tuple[tuple[object, ...], str]],
    merged: Mapping[str, Merged],
) -> list[Problem]:
    found: dict[tuple[int | None, int | None, str, str], list[str]] = {}
    for error in exc.errors(include_url=False):
        loc = tuple(error["loc"])
        if error["type"] == "extra_forbidden":
            continue  # already reported by the checker, with a hint
        if error["type"] == "missing" and (loc[:-1], loc[-1]) in suggested:
            continue  # the misspelt key was reported with "did you mean"
        kind = "[key]" if "[key]" in loc else error["type"]
        (line, col), key_path, guest = _locate_merged(root, loc, kind, merged)
        found.setdefault((line, col, key_path, _describe(error)), []).extend([guest] if guest else [])
    problems = []
    for (line, col, key_path, message), guests in found.items():
        if guests:  # a value from a group's vars: located there, naming the guests it broke
            message += f" (guest{'s' if len(guests) > 1 else ''} {', '.join(guests)})"
        problems.append(Problem(file, line, col, key_path, message))
    return problems


def _locate_merged(
    root: object, loc: tuple[int | str, ...], kind: str, merged: Mapping[str, Merged]
) -> tuple[tuple[int | None, int | None], str, str | None]:
    """Like :func:`_locate`; a guest's setting is located in the layer it came from (a group's vars, or
    the guest); the third item names the guest when the layer was a group's."""
    if len(loc) > 2 and loc[0] == "guests" and loc[1] in merged:
        anchors = merged[str(loc[1])].anchor
        rest = loc[2:]
        for size in range(len(rest), 0, -1):
            prefix = tuple(str(p) for p in rest[:size])
            if prefix in anchors:
                layer, node, base = anchors[prefix]
                where, relative = _locate(node, (prefix[-1], *rest[size:]), kind)
                guest = None if layer.label == "guest" else str(loc[1])
                return where, f"{join_path(base)}.{relative}" if base else relative, guest
    where, key_path = _locate(root, loc, kind)
    return where, key_path, None


def _merge_guests(
    file: str, root: Mapping[Any, Any], checker: KeyChecker
) -> tuple[dict[str, Merged], list[Problem]]:
    """Each guest's settings merged from ``all``, its groups and its own entry, and the groups' problems
    (members, cycles; their vars' keys go through ``checker``). Without ``groups:`` a guest is its entry."""
    guests_node = root.get("guests")
    if not isinstance(guests_node, Mapping):
        return {}, []
    groups_node = root.get("groups")
    groups_node = groups_node if isinstance(groups_node, Mapping) else {}
    members: dict[str, list[object]] = {}
    priority: dict[str, int] = {}
    group_vars: dict[str, Mapping[Any, Any]] = {}
    for name, node in groups_node.items():
        if not isinstance(name, str) or not isinstance(node, Mapping):
            continue  # the schema reports it
        listed = node.get("members")
        members[name] = list(listed) if isinstance(listed, list) else []
        rank = node.get("priority")
        if isinstance(rank, int) and not isinstance(rank, bool):
            priority[name] = rank
        values = node.get("vars")
        if isinstance(values, Mapping):
            checker.check_model(values, Guest, ("groups", name, "vars"))
            group_vars[name] = values
    names = [str(k) for k in guests_node]
    tree, issues = build_tree(members, names, priority)
    problems = []
    for issue in issues:
        group = str(issue.path[0])
        node = groups_node[group]
        if len(issue.path) == 3:
            where = value_pos(node.get("members"), issue.path[2])
        elif len(issue.path) == 2:
            where = key_pos(node, "members")
        else:
            where = key_pos(groups_node, group)
        problems.append(Problem(file, where[0], where[1], join_path(("groups", *issue.path)), issue.message))
    merged = {}
    for name, guest in guests_node.items():
        if isinstance(name, str) and isinstance(guest, Mapping):
            layers = (
                guest_layers(name, guest, tree, group_vars)
                if groups_node
                else [Layer("guest", guest, ("guests", name))]
            )
            merged[name] = merge_layers(layers)
            hosts = root.get("hosts")
            fill_console_from_host(name, merged[name], hosts if isinstance(hosts, Mapping) else {})
    return merged, problems


def _unique(problems: list[Problem]) -> list[Problem]:
    return list(dict.fromkeys(problems))  # a secret in a group's vars is found by both checks


def load_inventory(path: Path) -> Inventory:
    """Read and validate ``path`` (groups' vars merged into the guests). Every expected failure raises
    :class:`InventoryError` (exit 2)."""
    return load_inventory_with_origins(path)[0]


def load_inventory_with_origins(path: Path) -> tuple[Inventory, Origins]:
    """:func:`load_inventory`, and where each guest's settings came from (:data:`Origins`)."""
    file = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InventoryError(f"inventory not found: {file} (use {opt('inventory')} PATH)") from None
    except IsADirectoryError:
        raise InventoryError(
            f"inventory is a directory, not a file: {file} (use {opt('inventory')} PATH)"
        ) from None
    except UnicodeDecodeError as exc:
        raise InventoryError(f"cannot read inventory {file}: not UTF-8 text ({exc.reason})") from None
    except OSError as exc:
        raise InventoryError(f"cannot read inventory {file}: {exc.strerror or exc}") from None

    yaml = YAML(typ="rt")
    try:
        root = yaml.load(text)
    except MarkedYAMLError as exc:
        detail = "; ".join(part for part in (exc.problem, exc.context) if part)
        raise InventoryError(f"{error_where(file, exc)}: YAML syntax error: {detail or exc}") from None
    except YAMLError as exc:
        raise InventoryError(f"{file}: YAML error: {exc}") from None
    except RUAMEL_LIMITS as exc:
        raise InventoryError(
            f"{file}: YAML that ruamel.yaml cannot read ({type(exc).__name__})", hint=LIMIT_HINT
        ) from None

    if root is None:
        raise InventoryError(
            f"inventory is empty: {file}",
            hint="it needs a guests: mapping (see the repository's inventory.yaml)",
        )
    if not isinstance(root, Mapping):
        line, col = node_pos(root)
        where = file if line is None else f"{file}:{line}:{col}"
        raise InventoryError(
            f"{where}: the inventory must be a mapping with a guests: key, got {type_name(root)}"
        )

    checker = KeyChecker(file)
    checker.check_model(root, Inventory, ())
    merged, group_problems = _merge_guests(file, root, checker)
    problems = _unique([*checker.problems, *group_problems])

    result: Inventory | None = None
    try:
        base_dir = path.resolve().parent
        hosts = root.get("hosts")
        host_names = tuple(str(k) for k in hosts) if isinstance(hosts, Mapping) else ()
        context = {"base_dir": base_dir, "host_names": host_names}  # an unknown on: is located on its line
        data = _plain(root)
        if isinstance(data, dict) and isinstance(data.get("guests"), dict):
            # with groups: the merged guests; without: as written (plus a host's console, see groups.py)
            grouped = bool(root.get("groups"))
            data["guests"] = {
                k: merged[k].data if k in merged and (grouped or merged[k].data != v) else v
                for k, v in data["guests"].items()
            }
        result = Inventory.model_validate(data, context=context)
    except ValidationError as exc:
        located = merged if root.get("groups") else {}  # without groups: located exactly as before
        problems.extend(_validation_problems(file, root, exc, checker.suggested, located))

    if problems or result is None:
        problems.sort(key=lambda p: (p.line or 0, p.column or 0))
        count = f"{len(problems)} problem{'s' if len(problems) != 1 else ''}"
        listing = "\n".join(f"  {p}" for p in problems)
        raise InventoryError(f"invalid inventory {file} ({count}):\n{listing}", problems=tuple(problems))
    return result, {name: dict(m.origin) for name, m in merged.items()}
