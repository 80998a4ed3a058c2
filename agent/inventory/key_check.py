"""The inventory's round-trip YAML walked against its models (pure): unknown keys (with the closest
allowed one), secret-looking keys and keys that are not names, each a :class:`Problem` located in the file
(``path:line:column`` from ruamel.yaml's positions)."""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Union

from pydantic import BaseModel
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from agent.inventory.groups import plain_key
from agent.inventory.inventory_secrets import SECRETS_MESSAGE, is_secret_key


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


def pos(line_col: object) -> tuple[int | None, int | None]:
    if isinstance(line_col, (list, tuple)) and len(line_col) >= 2:
        line, col = line_col[0], line_col[1]
        if isinstance(line, int) and isinstance(col, int):
            return line + 1, col + 1
    return None, None


def key_pos(node: object, key: object) -> tuple[int | None, int | None]:
    if isinstance(node, CommentedMap):
        try:
            return pos(node.lc.key(key))
        except (KeyError, TypeError, AttributeError):
            return node_pos(node)
    return None, None


def value_pos(node: object, key: object) -> tuple[int | None, int | None]:
    if isinstance(node, CommentedMap):
        try:
            return pos(node.lc.value(key))
        except (KeyError, TypeError, AttributeError):
            return key_pos(node, key)
    if isinstance(node, CommentedSeq) and isinstance(key, int):
        try:
            return pos(node.lc.item(key))
        except (KeyError, TypeError, AttributeError, IndexError):
            return node_pos(node)
    return None, None


def node_pos(node: object) -> tuple[int | None, int | None]:
    lc = getattr(node, "lc", None)
    if lc is not None and isinstance(getattr(lc, "line", None), int):
        return lc.line + 1, lc.col + 1
    return None, None


def join_path(path: tuple[object, ...]) -> str:
    return ".".join(str(p) for p in path)


class KeyChecker:
    """Walks the round-trip YAML against the models: unknown keys and secrets, located in the file."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.problems: list[Problem] = []
        # (mapping path, allowed key) for unknown keys that were probably meant as that key: pydantic's
        # "required key missing" for the same key would only repeat the problem.
        self.suggested: set[tuple[tuple[object, ...], str]] = set()

    def add(self, where: tuple[int | None, int | None], path: tuple[object, ...], message: str) -> None:
        self.problems.append(Problem(self.file, where[0], where[1], join_path(path), message))

    def check_model(self, node: object, model: type[BaseModel], path: tuple[object, ...]) -> None:
        if not isinstance(node, Mapping):
            return  # the type error is pydantic's to report
        fields = model.model_fields
        allowed = list(fields)
        for key, value in node.items():
            key_path = (*path, key)
            if not isinstance(key, str):
                got = repr(key) if isinstance(key, int | float | bool) or key is None else type_name(key)
                self.add(key_pos(node, key), (*path, plain_key(key)), f"keys must be names, got {got}")
                continue
            if is_secret_key(key):
                self.add(key_pos(node, key), key_path, SECRETS_MESSAGE)
                continue
            if key not in fields:
                close = difflib.get_close_matches(key.lower(), allowed, n=1, cutoff=0.6)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                if close:
                    self.suggested.add((path, close[0]))
                self.add(
                    key_pos(node, key),
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
                    self.add(key_pos(node, key), (*path, key), SECRETS_MESSAGE)
                else:
                    self.check_secrets(value, (*path, key))
        elif isinstance(node, list):
            for index, item in enumerate(node):
                self.check_secrets(item, (*path, index))


def type_name(value: object) -> str:
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
