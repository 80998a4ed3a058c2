"""Token-level edits of a YAML text that keep every byte they do not touch (pure).

ruamel.yaml's round-trip loader gives the line and column of every key and value; a :class:`TokenEditor`
replaces exactly those tokens (keeping their quoting style), inserts whole lines, and deletes lines.
Every line not touched stays byte-identical (comments, blank lines, indentation, quoting, line endings).
Alongside the text edits the editor records the structural operations they are meant to perform
(:class:`SetOp`, :class:`RenameOp`); :func:`apply_ops` performs them on the plain data, so the caller
can check that the edited text parses to exactly what was intended.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ruamel.yaml import YAML

Path = tuple[str | int, ...]

_YAML_WORDS = frozenset({"y", "n", "yes", "no", "on", "off", "true", "false", "null", "~"})


class CannotEdit(Exception):
    """The text's layout does not allow a safe token edit (a scalar spanning lines, an odd layout ...)."""


def token_end(line: str, col: int) -> int:
    """End column of the scalar token (plain, 'single' or "double" quoted) starting at ``col``."""
    if col >= len(line):
        raise CannotEdit("no token")
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
        raise CannotEdit("a double-quoted scalar spans lines")
    if quote == "'":
        i = col + 1
        while i < len(line):
            if line[i] == "'":
                if line[i + 1 : i + 2] == "'":
                    i += 2
                    continue
                return i + 1
            i += 1
        raise CannotEdit("a single-quoted scalar spans lines")
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


_LINE_RE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")


def yaml_lines(text: str) -> list[str]:
    """``text`` split into lines (ends kept) as ruamel.yaml numbers them: at ``\n``, ``\r\n`` and a lone
    ``\r`` only. ``str.splitlines`` also splits at NEL, U+2028, U+2029 (which ruamel counts as no line
    break), so a comment holding one put every later edit on the wrong line."""
    return _LINE_RE.findall(text)


def skip_properties(line: str, col: int) -> int:
    """The column after the anchor (``&name``) and tag (``!tag``) properties starting at ``col``, if any:
    ruamel places a node's position on its first property, and an edit must keep them."""
    while col < len(line) and line[col] in "&!":
        while col < len(line) and line[col] not in " \t\r\n":
            col += 1
        while col < len(line) and line[col] in " \t":
            col += 1
    return col


def decode(token: str) -> str:
    """The string a scalar token stands for."""
    return str(YAML(typ="safe", pure=True).load(token))


def render_scalar(value: str, like: str = "", *, quote: bool = False) -> str:
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


def flow_text(value: Any) -> str:
    """Plain data (str, list, numbers, bool) as YAML flow text."""
    if isinstance(value, list):
        return "[" + ", ".join(flow_text(v) for v in value) + "]"
    if isinstance(value, str):
        return render_scalar(value)
    return json.dumps(value)


def flow_end(line: str, col: int) -> int:
    """End column (exclusive) of the flow mapping/sequence starting at ``col``; it must close on this line."""
    depth = 0
    i = col
    while i < len(line):
        ch = line[i]
        if ch in "\"'":
            i = token_end(line, i)
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
    raise CannotEdit("a flow collection spans lines")


@dataclass
class SetOp:
    """Set the value at ``path`` (through the original keys)."""

    path: Path
    value: Any
    first: bool = False  # a new key goes first in its mapping (where the text inserts it)


@dataclass
class RenameOp:
    """Rename the key ``old`` of the mapping at ``path`` to ``new``, keeping its place."""

    path: Path
    old: str
    new: str


Op = SetOp | RenameOp


class TokenEditor:
    """Token-level edits of one file's text, plus the structural operations they are meant to perform."""

    def __init__(self, path: str, text: str) -> None:
        self.path = path
        self.lines = yaml_lines(text)
        self.newline = "\r\n" if "\r\n" in text else "\n"
        self.splices: list[tuple[int, int, int, str]] = []
        self.inserts: list[tuple[int, str]] = []
        self.deleted: set[int] = set()
        self.ops: list[Op] = []
        self.changes: list[str] = []

    @property
    def edited(self) -> bool:
        return bool(self.splices or self.inserts or self.deleted)

    def token(self, line: int, col: int, expected: str) -> tuple[int, int, str]:
        """(start, end, text) of the scalar at ``col``, after its anchor or tag (``&a``, ``!!str``)."""
        text = self.lines[line]
        col = skip_properties(text, col)
        end = token_end(text, col)
        token = text[col:end]
        if decode(token) != expected:
            raise CannotEdit(f"line {line + 1}: found {token!r} where {expected!r} was expected")
        return col, end, token

    def replace(self, line: int, col: int, old: str, new: str, *, quote: bool = False) -> None:
        start, end, token = self.token(line, col, old)
        self.splices.append((line, start, end, render_scalar(new, token, quote=quote)))

    def insert_at(self, line: int, col: int, text: str) -> None:
        self.splices.append((line, col, col, text))

    def insert_lines(self, before: int, lines: Sequence[str]) -> None:
        self.inserts.append((before, "".join(s + self.newline for s in lines)))

    def delete_line(self, line: int) -> None:
        self.deleted.add(line)

    def note(self, line: int, message: str) -> None:
        self.changes.append(f"{self.path}:{line + 1}: {message}")

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
                # a set: an alias (``*a``) reports the anchored node's position, so following a
                # reference through it repeats the anchor's own edit, which is applied once
                for _, start, end, text in sorted(
                    {s for s in self.splices if s[0] == n}, key=lambda s: -s[1]
                ):
                    if end > limit:
                        raise CannotEdit(f"line {n + 1}: overlapping edits")
                    lines[n] = lines[n][:start] + text + lines[n][end:]
                    limit = start
                if n in self.deleted:
                    del lines[n]
            added = "".join(text for before, text in self.inserts if before == n)
            if added:
                lines[n:n] = [added]
        return "".join(lines)


def apply_ops(doc: Any, ops: Sequence[Op]) -> Any:
    """Perform ``ops`` on the plain data ``doc`` (in place; renames last) and return it."""

    def walk(path: Path) -> Any:
        node = doc
        for key in path:
            node = node[key]
        return node

    for op in ops:
        if isinstance(op, SetOp):
            parent = walk(op.path[:-1])
            key = op.path[-1]
            if op.first and isinstance(parent, dict) and key not in parent:
                items = list(parent.items())
                parent.clear()
                parent.update({key: op.value, **dict(items)})
            else:
                parent[key] = op.value
    for op in ops:
        if isinstance(op, RenameOp):
            mapping = walk(op.path)
            items = [(op.new if k == op.old else k, v) for k, v in mapping.items()]
            mapping.clear()
            mapping.update(items)
    return doc


def same_in_order(a: Any, b: Any) -> bool:
    """Equal, key order included."""
    return json.dumps(a, sort_keys=False, default=str) == json.dumps(b, sort_keys=False, default=str)
