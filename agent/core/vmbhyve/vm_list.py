"""Parse vm-bhyve's ``vm list`` (pure).

churchers/vm-bhyve v1.6.2 ``lib/vm-core`` ``core::list`` (``git show v1.6.2:lib/vm-core``, lines 30-131)
prints, for every datastore of ``VM_DATASTORE_LIST`` (``default`` first) and every folder ``NAME`` of it
holding ``NAME/NAME.conf``, one ``printf "%s^%s^%s^%s^%s^%s^%s^%s\\n"`` row (line 35: NAME, DATASTORE,
LOADER, CPU, MEMORY, VNC, AUTO, STATE; the header at line 58), all piped to ``column -ts^`` (line 131):
each column left-aligned, padded to its widest cell plus blanks. So every column starts at the same
offset on every line, and the header's offsets cut each row into its cells. The cells:

- LOADER ``none`` when the conf sets none (``config::get "_loader" "loader" "none"``, line 69);
- VNC ``-`` unless the guest runs with graphics (then the ``vnc=`` line of its ``console`` file);
- AUTO ``No`` or ``Yes [N]`` (its place in rc.conf's ``vm_list``, lines 106-112);
- STATE ``Running (PID)`` or ``Bootloader (PID)`` (lib/vm-run ``vm::running_check``, lines 841-866),
  ``Stopped``, or ``Locked (HOST)`` (run.lock of another host, lines 115-118).

A cell may hold blanks (``Yes [1]``, ``Running (4242)``), so rows are never split on blanks. An empty
cell (a conf without ``cpu`` or ``memory``) is merged away by ``column``, which splits on runs of the
separator: the row's later cells shift one column left. Such a row keeps its first two cells (NAME and
DATASTORE, never empty) and its last (STATE); the cells between are not trusted and are reported.
The verbose form (``vm -v list``: ``%CPU``, ``RSZ``, ``UPTIME`` before STATE) is read the same way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from agent.core.guest_text import clean

HEADER = ("NAME", "DATASTORE", "LOADER", "CPU", "MEMORY", "VNC", "AUTO", "STATE")
_STATE_RE = re.compile(r"^(Running|Bootloader|Locked) \((?P<what>[^)]*)\)$|^Stopped$")


@dataclass(frozen=True)
class VmListRow:
    """One guest of ``vm list`` (cells cleaned of control characters; None: not known from the row)."""

    name: str
    datastore: str
    state: str
    loader: str | None = None
    cpu: str | None = None
    memory: str | None = None
    vnc: str | None = None
    auto: str | None = None
    line: int = 0
    note: str | None = None  # why some cells are not known

    @property
    def running(self) -> bool | None:
        """True while bhyve (or its loader) runs the guest, False when stopped or locked elsewhere,
        None for a STATE vm-bhyve does not print."""
        word = self.state.split(" ", 1)[0]
        if word in ("Running", "Bootloader"):
            return True
        if word in ("Stopped", "Locked"):
            return False
        return None

    @property
    def pid(self) -> int | None:
        m = _STATE_RE.match(self.state)
        if m and self.state.startswith(("Running", "Bootloader")) and m["what"].isdigit():
            return int(m["what"])
        return None


@dataclass(frozen=True)
class VmListing:
    """``vm list``'s guests, and the lines it could not read (line number, why)."""

    rows: tuple[VmListRow, ...]
    problems: tuple[tuple[int, str], ...] = ()

    def names(self) -> tuple[str, ...]:
        return tuple(r.name for r in self.rows)

    def row(self, name: str) -> VmListRow | None:
        return next((r for r in self.rows if r.name == name), None)


class VmListError(ValueError):
    """The text is not ``vm list`` output (no header line)."""


def _offsets(header: str) -> tuple[list[str], list[int]]:
    words, starts = [], []
    for m in re.finditer(r"\S+", header):
        words.append(m.group())
        starts.append(m.start())
    return words, starts


def _cells(line: str, starts: list[int]) -> list[str]:
    """The line cut at the header's column offsets; the last column takes the rest of the line."""
    ends = [*starts[1:], None]
    return [line[a:b].strip() for a, b in zip(starts, ends, strict=True)]


def _row(cells: list[str], columns: list[str], lineno: int) -> VmListRow | str:
    """The row of these cells, or why it cannot be read."""
    filled = [i for i, c in enumerate(cells) if c]
    if len(filled) < 3 or filled[:2] != [0, 1]:
        return "fewer cells than NAME, DATASTORE and STATE"
    last = filled[-1]
    if filled != list(range(last + 1)):
        return "a cell in the middle of the row is blank (the columns do not line up)"
    name, datastore, state = cells[0], cells[1], cells[last]
    if last == len(columns) - 1:
        by = dict(zip(columns, cells, strict=True))
        return VmListRow(name, datastore, state, by.get("LOADER"), by.get("CPU"), by.get("MEMORY"),
                         by.get("VNC"), by.get("AUTO"), lineno)  # fmt: skip
    note = f"{len(columns) - 1 - last} cell(s) empty (column merges them): only NAME, DATASTORE, STATE read"
    return VmListRow(name, datastore, state, line=lineno, note=note)


def parse_vm_list(text: str) -> VmListing:
    """The guests in ``text`` (what ``vm list`` printed). :class:`VmListError` without the header."""
    lines = text.split("\n")
    at = next((i for i, ln in enumerate(lines) if ln.split()[:2] == ["NAME", "DATASTORE"]), None)
    if at is None:
        shown = " | ".join(clean(ln) for ln in lines[:3] if ln.strip()) or "(nothing)"
        raise VmListError(f"no NAME DATASTORE ... STATE header in vm list's output; it printed: {shown}")
    columns, starts = _offsets(lines[at].rstrip("\r"))
    if columns[-1] != "STATE":
        raise VmListError(f"vm list's header does not end in STATE: {clean(lines[at])}")
    rows: list[VmListRow] = []
    problems: list[tuple[int, str]] = []
    for lineno, raw in enumerate(lines[at + 1 :], start=at + 2):
        line = raw.rstrip("\r")
        shown = clean(line.strip())
        if not shown:
            continue
        if line[:1].isspace():
            problems.append((lineno, f"does not start with a name: {shown}"))
            continue
        if any(len(line) > at and not line[at - 1].isspace() for at in starts[1:]):
            problems.append((lineno, f"its cells do not line up with the header's columns: {shown}"))
            continue
        # cut first, then clean each cell: an escaped control character must not shift the offsets
        got = _row([clean(c) for c in _cells(line, starts)], columns, lineno)
        if isinstance(got, str):
            problems.append((lineno, f"{got}: {shown}"))
        else:
            rows.append(got)
    return VmListing(tuple(rows), tuple(problems))
