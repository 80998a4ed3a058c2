"""Reading ``inventory.yaml``: YAML with positions, the schema's checks, and every problem located.

Unknown keys are errors that name the key, its path, its file:line:column and the closest allowed key;
secret-looking keys are refused anywhere (agent.inventory.inventory_secrets). All expected failures raise
:class:`InventoryError` (a :class:`~agent.errors.UsageError`, exit 2) listing each :class:`Problem`.
"""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Union

from pydantic import BaseModel, ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from agent.core.yaml_limits import LIMIT_HINT, RUAMEL_LIMITS
from agent.errors import UsageError
from agent.hints import opt
from agent.inventory.groups import (
    Layer,
    Merged,
    build_tree,
    fill_console_from_host,
    guest_layers,
    merge_layers,
    plain_key,
)
from agent.inventory.groups import (
    plain as _plain,
)
from agent.inventory.inventory_secrets import SECRETS_MESSAGE, is_secret_key
from agent.inventory.schema import Guest, Inventory

Origins = dict[str, dict[tuple[str, ...], str]]
"""Per guest, per setting's key path (``("disk", "serial")``): which layer set it (``guest``, ``group
NAME``, ``all``); a setting not in it has its default."""

DEFAULT_INVENTORY = Path("inventory.yaml")


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the inventory, located in the file (line and column are 1-based)."""

    file: str
    line: int | None
    column: int | None
    key_path: str
    message: str

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}:{self.column}"
        return f"{where}: {self.key_path}: {self.message}" if self.key_path else f"{where}: {self.message}"


class InventoryError(UsageError):
    """The inventory is missing, unreadable or invalid (exit 2); ``problems`` lists each located problem."""

    def __init__(self, message: str, hint: str | None = None, problems: tuple[Problem, ...] = ()) -> None:
        super().__init__(message, hint)
        self.problems = problems


def _unwrap_optional(annotation: Any) -> Any:
    """``X | None`` → ``X`` (and strip ``Annotated``), else the annotation itself."""
    origin = typing.get_origin(annotation)
    if origin is Annotated:
        return _unwrap_optional(typing.get_args(annotation)[0])
    if origin is Union or origin is types.UnionType:
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return _unwrap_optional(args[0])
    return annotation


def _model_of(annotation: Any) -> type[BaseModel] | None:
    inner = _unwrap_optional(annotation)
    return inner if isinstance(inner, type) and issubclass(inner, BaseModel) else None


def _mapping_value_model(annotation: Any) -> type[BaseModel] | None:
    inner = _unwrap_optional(annotation)
    if typing.get_origin(inner) in (dict, Mapping):
        return _model_of(typing.get_args(inner)[1])
    return None


def _pos(line_col: object) -> tuple[int | None, int | None]:
    if isinstance(line_col, (list, tuple)) and len(line_col) >= 2:
        line, col = line_col[0], line_col[1]
        if isinstance(line, int) and isinstance(col, int):
            return line + 1, col + 1
    return None, None


def _key_pos(node: object, key: object) -> tuple[int | None, int | None]:
    if isinstance(node, CommentedMap):
        try:
            return _pos(node.lc.key(key))
        except (KeyError, TypeError, AttributeError):
            return _node_pos(node)
    return None, None


def _value_pos(node: object, key: object) -> tuple[int | None, int | None]:
    if isinstance(node, CommentedMap):
        try:
            return _pos(node.lc.value(key))
        except (KeyError, TypeError, AttributeError):
            return _key_pos(node, key)
    if isinstance(node, CommentedSeq) and isinstance(key, int):
        try:
            return _pos(node.lc.item(key))
        except (KeyError, TypeError, AttributeError, IndexError):
            return _node_pos(node)
    return None, None


def _node_pos(node: object) -> tuple[int | None, int | None]:
    lc = getattr(node, "lc", None)
    if lc is not None and isinstance(getattr(lc, "line", None), int):
        return lc.line + 1, lc.col + 1
    return None, None


def _join(path: tuple[object, ...]) -> str:
    return ".".join(str(p) for p in path)


class _Checker:
    """Walks the round-trip YAML against the models: unknown keys and secrets, located in the file."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.problems: list[Problem] = []
        # (mapping path, allowed key) for unknown keys that were probably meant as that key: pydantic's
        # "required key missing" for the same key would only repeat the problem.
        self.suggested: set[tuple[tuple[object, ...], str]] = set()

    def add(self, where: tuple[int | None, int | None], path: tuple[object, ...], message: str) -> None:
        self.problems.append(Problem(self.file, where[0], where[1], _join(path), message))

    def check_model(self, node: object, model: type[BaseModel], path: tuple[object, ...]) -> None:
        if not isinstance(node, Mapping):
            return  # the type error is pydantic's to report
        fields = model.model_fields
        allowed = list(fields)
        for key, value in node.items():
            key_path = (*path, key)
            if not isinstance(key, str):
                got = repr(key) if isinstance(key, int | float | bool) or key is None else _type_name(key)
                self.add(_key_pos(node, key), (*path, plain_key(key)), f"keys must be names, got {got}")
                continue
            if is_secret_key(key):
                self.add(_key_pos(node, key), key_path, SECRETS_MESSAGE)
                continue
            if key not in fields:
                close = difflib.get_close_matches(key.lower(), allowed, n=1, cutoff=0.6)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                if close:
                    self.suggested.add((path, close[0]))
                self.add(
                    _key_pos(node, key),
                    key_path,
                    f"unknown key {key!r}{hint}; allowed here: {', '.join(allowed)}",
                )
                continue
            annotation = fields[key].annotation
            sub = _model_of(annotation)
            if sub is not None:
                self.check_model(value, sub, key_path)
                continue
            item_model = _mapping_value_model(annotation)
            if item_model is not None and isinstance(value, Mapping):
                for name, item in value.items():
                    self.check_model(item, item_model, (*key_path, name))
            else:
                self.check_secrets(value, key_path)

    def check_secrets(self, node: object, path: tuple[object, ...]) -> None:
        """Secret-looking keys anywhere below a non-model value (e.g. ``host: {password: ...}``)."""
        if isinstance(node, Mapping):
            for key, value in node.items():
                if isinstance(key, str) and is_secret_key(key):
                    self.add(_key_pos(node, key), (*path, key), SECRETS_MESSAGE)
                else:
                    self.check_secrets(value, (*path, key))
        elif isinstance(node, list):
            for index, item in enumerate(node):
                self.check_secrets(item, (*path, index))


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
        message = f"{_FRIENDLY[kind]}, got {_type_name(value)}"
        if kind == "string_type" and isinstance(value, (int, float)) and not isinstance(value, bool):
            message += " (quote it so YAML keeps it as text)"
        return message
    msg = str(error["msg"])
    return msg.removeprefix("Value error, ")


def _type_name(value: object) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__


def _locate(root: object, loc: tuple[int | str, ...], kind: str) -> tuple[tuple[int | None, int | None], str]:
    """The file position and dotted key path for a pydantic error location."""
    node: object = root
    path: list[object] = []
    where = _node_pos(root)
    for index, part in enumerate(loc):
        last = index == len(loc) - 1
        if part == "[key]":
            break  # the previous part was the key itself: keep its position
        if isinstance(node, Mapping) and part in node:
            value = node[part]
            if kind == "[key]" or (last and isinstance(value, Mapping | list)):
                where = _key_pos(node, part)
            else:
                where = _value_pos(node, part) if last else _key_pos(node, part)
            path.append(part)
            node = value
        else:
            if kind != "missing" or not last:
                path.append(part)
            break
    if kind == "missing":
        where = _node_pos(node) if _node_pos(node)[0] is not None else where
        path.append(loc[-1])
    return where, _join(tuple(path))


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
                return where, f"{_join(base)}.{relative}" if base else relative, guest
    where, key_path = _locate(root, loc, kind)
    return where, key_path, None


def _merge_guests(
    file: str, root: Mapping[Any, Any], checker: _Checker
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
            where = _value_pos(node.get("members"), issue.path[2])
        elif len(issue.path) == 2:
            where = _key_pos(node, "members")
        else:
            where = _key_pos(groups_node, group)
        problems.append(Problem(file, where[0], where[1], _join(("groups", *issue.path)), issue.message))
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
        mark = exc.problem_mark or exc.context_mark
        where = f"{file}:{mark.line + 1}:{mark.column + 1}" if mark is not None else file
        detail = "; ".join(part for part in (exc.problem, exc.context) if part)
        raise InventoryError(f"{where}: YAML syntax error: {detail or exc}") from None
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
        line, col = _node_pos(root)
        where = file if line is None else f"{file}:{line}:{col}"
        raise InventoryError(
            f"{where}: the inventory must be a mapping with a guests: key, got {_type_name(root)}"
        )

    checker = _Checker(file)
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
