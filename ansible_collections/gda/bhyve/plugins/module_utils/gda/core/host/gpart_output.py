# GENERATED from agent/core/host/gpart_output.py by `python -m agent.collection_build`: do not edit.
"""``gpart show -p`` and ``gpart list``: partition tables, types, sizes and open modes (pure).

``gpart show -p`` (sbin/geom/class/part/geom_part.c, ``gpart_show_geom``)::

    "=>%*jd  %*jd  %*s  %s  (%s)%s\\n"   first, count, geom name, scheme, size, " [CORRUPT]"
    "  %*jd  %*jd  %*s  %s %s (%s)\\n"   start, length, provider name (index without -p), type,
                                         attributes (" [active] " or ""), size
    "  %*jd  %*jd  %*s  - free -  (%s)\\n"

and a blank line after each table. A type gpart has no alias for shows as ``!<rawtype>``.

``gpart list`` (sbin/geom/core/geom.c, ``list_one_geom``/``list_one_provider``/``list_one_consumer``):
``Geom name: X``, the geom's ``key: value`` config (scheme, first, last, entries, state, ...), then
``Providers:`` and ``Consumers:``, each entry ``N. Name: X`` followed by ``   Mediasize: <bytes> (<h>)``,
``   Sectorsize:``, ``   Mode: rNwNeN`` and the provider's config (``type``, ``rawtype``, ``label``,
``rawuuid``, ``index``, ``start``, ``end``, ...), indented three spaces.

Strings (names, types, labels) pass through :func:`agent.core.guest_text.clean`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from ansible_collections.gda.bhyve.plugins.module_utils.gda.core.guest_text import clean
from ansible_collections.gda.bhyve.plugins.module_utils.gda.core.marker import lines_of

_HEADER_RE = re.compile(
    r"^=>\s*(?P<first>\d+)\s+(?P<count>\d+)\s+(?P<geom>\S+)\s+(?P<scheme>\S+)\s+\((?P<size>[^)]*)\)"
    r"(?P<corrupt>\s+\[CORRUPT\])?\s*$"
)
_FREE_RE = re.compile(r"^\s*(?P<start>\d+)\s+(?P<count>\d+)\s+- free -\s+\((?P<size>[^)]*)\)\s*$")
_ROW_RE = re.compile(
    r"^\s*(?P<start>\d+)\s+(?P<count>\d+)\s+(?P<name>\S+)\s+(?P<type>\S+)"
    r"(?:\s+\[(?P<attrs>[^\]]*)\])?\s+\((?P<size>[^)]*)\)\s*$"
)
_MODE_RE = re.compile(r"^r(\d+)w(\d+)e(\d+)$")


@dataclass(frozen=True)
class ShowRow:
    """One partition line of ``gpart show``: ``provider`` with ``-p``, else ``index``."""

    start: int
    sectors: int
    provider: str | None
    index: int | None
    type: str
    attrs: tuple[str, ...]
    size_text: str


@dataclass(frozen=True)
class ShowTable:
    geom: str
    scheme: str
    first: int
    sectors: int
    size_text: str
    corrupt: bool
    rows: tuple[ShowRow, ...]


def parse_gpart_show(text: str) -> tuple[ShowTable, ...]:
    """Every table of ``gpart show [-p]``; free-space lines are dropped, unknown lines skipped."""
    tables: list[ShowTable] = []
    head: re.Match[str] | None = None
    rows: list[ShowRow] = []

    def flush() -> None:
        if head is not None:
            tables.append(
                ShowTable(
                    geom=clean(head["geom"]),
                    scheme=clean(head["scheme"]),
                    first=int(head["first"]),
                    sectors=int(head["count"]),
                    size_text=clean(head["size"]),
                    corrupt=bool(head["corrupt"]),
                    rows=tuple(rows),
                )
            )

    for line in lines_of(text):
        if m := _HEADER_RE.match(line):
            flush()
            head, rows = m, []
            continue
        if head is None or _FREE_RE.match(line):
            continue
        if r := _ROW_RE.match(line):
            name = clean(r["name"])
            rows.append(
                ShowRow(
                    start=int(r["start"]),
                    sectors=int(r["count"]),
                    provider=None if name.isdigit() else name,
                    index=int(name) if name.isdigit() else None,
                    type=clean(r["type"]),
                    attrs=tuple(clean(a) for a in (r["attrs"] or "").split(",") if a),
                    size_text=clean(r["size"]),
                )
            )
    flush()
    return tuple(tables)


@dataclass(frozen=True)
class GeomEntry:
    """A provider or consumer of ``gpart list``."""

    name: str
    mediasize: int | None
    sectorsize: int | None
    mode: str | None
    config: Mapping[str, str] = field(default_factory=dict)

    def get(self, key: str) -> str | None:
        return self.config.get(key)

    @property
    def type(self) -> str | None:
        return self.config.get("type")

    @property
    def index(self) -> int | None:
        v = self.config.get("index", "")
        return int(v) if v.isdigit() else None

    @property
    def opened(self) -> bool | None:
        """True when someone holds it open (a count in ``Mode`` is not 0); None if unknown."""
        m = _MODE_RE.match(self.mode or "")
        return None if m is None else any(int(g) for g in m.groups())


@dataclass(frozen=True)
class ListGeom:
    name: str
    config: Mapping[str, str]
    providers: tuple[GeomEntry, ...]
    consumers: tuple[GeomEntry, ...]

    @property
    def scheme(self) -> str | None:
        return self.config.get("scheme")


def _int_prefix(value: str) -> int | None:
    m = re.match(r"\s*(\d+)", value)
    return int(m[1]) if m else None


class _Builder:
    def __init__(self, name: str) -> None:
        self.name = name
        self.config: dict[str, str] = {}
        self.providers: list[GeomEntry] = []
        self.consumers: list[GeomEntry] = []
        self.where: list[GeomEntry] | None = None
        self.cur: dict[str, str] | None = None
        self.cur_name = ""

    def close_entry(self) -> None:
        if self.cur is not None and self.where is not None:
            c = self.cur
            self.where.append(
                GeomEntry(
                    name=self.cur_name,
                    mediasize=_int_prefix(c.pop("Mediasize", "")),
                    sectorsize=_int_prefix(c.pop("Sectorsize", "")),
                    mode=c.pop("Mode", None),
                    config=c,
                )
            )
        self.cur = None

    def build(self) -> ListGeom:
        self.close_entry()
        return ListGeom(self.name, self.config, tuple(self.providers), tuple(self.consumers))


def parse_gpart_list(text: str) -> tuple[ListGeom, ...]:
    """Every geom of ``gpart list`` (a geom cut short keeps what was read)."""
    geoms: list[ListGeom] = []
    b: _Builder | None = None
    for raw in lines_of(text):
        line = clean(raw)
        if line.startswith("Geom name: "):
            if b is not None:
                geoms.append(b.build())
            b = _Builder(line[len("Geom name: ") :].strip())
            continue
        if b is None or not line.strip():
            continue
        if line in ("Providers:", "Consumers:"):
            b.close_entry()
            b.where = b.providers if line == "Providers:" else b.consumers
            continue
        if b.where is not None and (m := re.match(r"^(\d+)\. Name: (.*)$", line)):
            b.close_entry()
            b.cur, b.cur_name = {}, m[2].strip()
            continue
        key, sep, value = line.strip().partition(": ")
        if not sep:
            continue
        if b.cur is not None and line.startswith(" "):
            if value.strip() != "(null)":  # an empty GPT label prints as "label: (null)"
                b.cur[key] = value.strip()
        elif b.where is None:
            b.config[key] = value.strip()
    if b is not None:
        geoms.append(b.build())
    return tuple(geoms)
