"""Parse a vm-bhyve guest config the way vm-bhyve itself reads it. Pure.

vm-bhyve does not source the file with sh. ``config::load`` in churchers/vm-bhyve ``lib/vm-config``
(release v1.6.2; unchanged since the 1.x releases) runs::

    grep '^[a-z]' FILE | awk -F# '{print $1}' | sed -e 's@ *$@@' | tr -d '"'

and ``config::get`` walks those lines and returns the FIRST one whose text before the first ``=`` equals the
key (value: the text after the first ``=``). Consequences this parser reproduces, and reports:

- only lines starting with a lowercase letter count (indented or upper-case lines are ignored);
- ``#`` starts a comment anywhere, even inside double quotes (``config.sample``: "The '#' character
  signifies the start of a comment, even within double-quotes");
- trailing spaces are cut (not tabs, not ``\\r``);
- every double quote is deleted, single quotes are kept as part of the value;
- a key given twice: the first one wins (unlike sh, where the last would);
- ``key = value`` (spaces around ``=``) defines the key ``"key "``, which nothing ever asks for.
- a value is everything after the first ``=``, blanks included, quoted or not: unlike sh (``. FILE``,
  where an unquoted ``passthru0=2/0/0 3/0/0`` would run a command ``3/0/0``) vm-bhyve never evaluates
  the file. vm-run then expands its device string unquoted, so a value with a blank reaches bhyve as
  two arguments (agent.core.vmbhyve.vmslots ``SlotPlan.bhyve_error``).

The seed's excerpts contain ``...`` lines; they are recorded as elisions (the file is not complete).

The file is read as bytes (:func:`decode_conf`), never with Python's universal newlines: a file saved
with CRLF gives vm-bhyve values ending in ``\r`` (``disk1_dev=custom\r`` is no longer ``custom``), and
each line where that happens is reported; a byte that is not UTF-8 is reported, never a traceback.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

IssueKind = Literal[
    "elision",
    "commented-key",
    "ignored-indented",
    "ignored-uppercase",
    "no-equals",
    "space-in-key",
    "single-quoted",
    "hash-in-quotes",
    "carriage-return",
    "not-utf8",
    "unbalanced-quotes",
]

_KEY_RE = re.compile(r"^[a-z][a-z0-9_]*$")
_DISK_KEY_RE = re.compile(r"^disk(\d+)_(name|dev|type|opts|slot|size)$")
_NIC_KEY_RE = re.compile(r"^network(\d+)_(type|switch|device|mac|span|slot|name)$")
_COMMENTED_RE = re.compile(r"^#\s*([a-z][a-z0-9_]*)=(.*)$")


@dataclass(frozen=True)
class ConfEntry:
    """One ``key=value`` line as vm-bhyve sees it (after its quote and comment stripping)."""

    key: str
    value: str
    line: int
    raw: str


@dataclass(frozen=True)
class ParseIssue:
    """Something in the text that vm-bhyve reads differently from what it looks like."""

    kind: IssueKind
    line: int
    text: str
    key: str | None = None


@dataclass(frozen=True)
class DiskConf:
    """Everything the config says about ``diskN`` (None: not set). ``lines`` maps field → line number."""

    index: int
    name: str | None
    dev: str | None
    type: str | None
    opts: str | None
    lines: Mapping[str, int] = field(default_factory=dict)

    @property
    def first_line(self) -> int | None:
        return min(self.lines.values()) if self.lines else None


@dataclass(frozen=True)
class NicConf:
    """Everything the config says about ``networkN``."""

    index: int
    type: str | None
    switch: str | None
    device: str | None
    mac: str | None
    name: str | None = None  # networkN_name: the tap is created under this name
    lines: Mapping[str, int] = field(default_factory=dict)

    @property
    def first_line(self) -> int | None:
        return min(self.lines.values()) if self.lines else None


def is_yes(value: str | None) -> bool:
    """vm-bhyve's ``util::yesno`` (lib/vm-util): empty is no; no/false/off/0 (any case) are no; else yes."""
    if not value:
        return False
    return value.lower() not in {"no", "false", "off", "0"}


@dataclass(frozen=True)
class VmConfig:
    text: str
    entries: tuple[ConfEntry, ...]
    issues: tuple[ParseIssue, ...]
    commented: tuple[ConfEntry, ...]

    # -- lookups with vm-bhyve's semantics -------------------------------------------------------
    def get(self, key: str, default: str | None = None) -> str | None:
        for e in self.entries:
            if e.key == key:
                return e.value
        return default

    def entry(self, key: str) -> ConfEntry | None:
        for e in self.entries:
            if e.key == key:
                return e
        return None

    def line_of(self, key: str) -> int | None:
        e = self.entry(key)
        return e.line if e else None

    def yesno(self, key: str, default: str = "") -> bool:
        """``config::yesno``: the value (or ``default`` when unset) through ``util::yesno``."""
        return is_yes(self.get(key, default))

    @property
    def duplicates(self) -> dict[str, tuple[int, ...]]:
        """Keys set more than once → all their line numbers (vm-bhyve uses the first)."""
        seen: dict[str, list[int]] = {}
        for e in self.entries:
            seen.setdefault(e.key, []).append(e.line)
        return {k: tuple(v) for k, v in seen.items() if len(v) > 1}

    @property
    def elisions(self) -> tuple[int, ...]:
        return tuple(i.line for i in self.issues if i.kind == "elision")

    @property
    def is_excerpt(self) -> bool:
        return bool(self.elisions)

    # -- devices ---------------------------------------------------------------------------------
    @property
    def disks(self) -> tuple[DiskConf, ...]:
        """Every ``diskN`` any key mentions, by index (whether vm-bhyve attaches it or not)."""
        fields: dict[int, dict[str, str]] = {}
        lines: dict[int, dict[str, int]] = {}
        for e in self.entries:
            m = _DISK_KEY_RE.match(e.key)
            if not m:
                continue
            idx, fld = int(m.group(1)), m.group(2)
            if fld in fields.setdefault(idx, {}):
                continue  # first wins
            fields[idx][fld] = e.value
            lines.setdefault(idx, {})[fld] = e.line
        return tuple(
            DiskConf(
                index=i,
                name=fields[i].get("name"),
                dev=fields[i].get("dev"),
                type=fields[i].get("type"),
                opts=fields[i].get("opts"),
                lines=dict(lines[i]),
            )
            for i in sorted(fields)
        )

    def disk(self, index: int) -> DiskConf | None:
        for d in self.disks:
            if d.index == index:
                return d
        return None

    @property
    def nics(self) -> tuple[NicConf, ...]:
        fields: dict[int, dict[str, str]] = {}
        lines: dict[int, dict[str, int]] = {}
        for e in self.entries:
            m = _NIC_KEY_RE.match(e.key)
            if not m:
                continue
            idx, fld = int(m.group(1)), m.group(2)
            if fld in fields.setdefault(idx, {}):
                continue
            fields[idx][fld] = e.value
            lines.setdefault(idx, {})[fld] = e.line
        return tuple(
            NicConf(
                index=i,
                type=fields[i].get("type"),
                switch=fields[i].get("switch"),
                device=fields[i].get("device"),
                mac=fields[i].get("mac"),
                name=fields[i].get("name"),
                lines=dict(lines[i]),
            )
            for i in sorted(fields)
        )

    # -- global settings -------------------------------------------------------------------------
    @property
    def loader(self) -> str | None:
        return self.get("loader")

    @property
    def legacy_uefi(self) -> str | None:
        """The pre-1.1 ``uefi=`` key (config.sample at 089e6d6: "any value other than
        [empty]/off/false/no/0"; containing 'csm' selects the CSM firmware)."""
        return self.get("uefi")

    @property
    def uefi(self) -> bool:
        """UEFI mode as vm-run decides it: ``[ "${_loader%-*}" = "uefi" ]`` (uefi, uefi-csm,
        uefi-devel, uefi-custom). Without any ``loader``, the old ``uefi=yes`` of vm-bhyve <= 1.0."""
        loader = self.loader
        if loader is not None:
            return _strip_shortest_dash_suffix(loader) == "uefi"
        return is_yes(self.legacy_uefi)

    @property
    def graphics(self) -> bool:
        return self.yesno("graphics")

    @property
    def ahci_device_limit_raw(self) -> str | None:
        return self.get("ahci_device_limit")

    @property
    def ahci_device_limit(self) -> int:
        """vm::bhyve_device_disks: an integer 2..32 is used, anything else means 1 (one disk per
        controller). (It also requires FreeBSD >= 10.4/11.1/12; every host this tool targets is.)"""
        raw = self.ahci_device_limit_raw
        if raw is not None and re.fullmatch(r"[0-9]+", raw):
            n = int(raw)
            if 1 < n <= 32:
                return n
        return 1

    # -- derived configs -------------------------------------------------------------------------
    def without_keys(self, keys: set[str]) -> VmConfig:
        """The same text with every line assigning one of ``keys`` blanked (line numbers kept)."""
        lines = self.text.split("\n")
        drop = {e.line for e in self.entries if e.key in keys}
        kept = ["" if i + 1 in drop else ln for i, ln in enumerate(lines)]
        return parse_vm_config("\n".join(kept))

    def without_disk(self, index: int) -> VmConfig:
        prefix = f"disk{index}_"
        return self.without_keys({e.key for e in self.entries if e.key.startswith(prefix)})


def _strip_shortest_dash_suffix(value: str) -> str:
    """sh's ``${var%-*}``: remove the shortest suffix matching ``-*`` (i.e. from the last ``-``)."""
    pos = value.rfind("-")
    return value if pos < 0 else value[:pos]


def decode_conf(data: bytes) -> str:
    """A conf file's bytes as the text :func:`parse_vm_config` reads: nothing normalised (a CRLF file
    keeps its ``\r``, as vm-bhyve's grep/awk/sed keep it), bytes that are not UTF-8 replaced by U+FFFD
    (the parser reports the lines that hold one). Never raises."""
    return data.decode("utf-8", errors="replace")


def parse_vm_config(text: str) -> VmConfig:
    """Parse ``text`` (the whole ``<vm>.conf``) into a VmConfig. Never raises on odd input."""
    entries: list[ConfEntry] = []
    issues: list[ParseIssue] = []
    commented: list[ConfEntry] = []
    for lineno, raw in enumerate(text.split("\n"), start=1):
        # a file ending in "\n" gives one trailing empty string: harmless (blank line)
        stripped = raw.strip()
        if stripped in {"...", "…"}:
            issues.append(ParseIssue("elision", lineno, raw))
            continue
        if not stripped:
            continue
        if not re.match(r"[a-z]", raw):
            # grep '^[a-z]' drops it
            cm = _COMMENTED_RE.match(stripped)
            if stripped.startswith("#"):
                if cm:
                    commented.append(ConfEntry(cm.group(1), cm.group(2).replace('"', ""), lineno, raw))
                    issues.append(ParseIssue("commented-key", lineno, raw, cm.group(1)))
                continue
            if "=" in stripped and re.match(r"[A-Za-z]", stripped):
                key = stripped.split("=", 1)[0].strip()
                kind: IssueKind = "ignored-indented" if raw[:1].isspace() else "ignored-uppercase"
                issues.append(ParseIssue(kind, lineno, raw, key))
            continue
        # awk -F# '{print $1}'
        before_hash = raw.split("#", 1)[0]
        if "#" in raw and before_hash.count('"') % 2 == 1:
            issues.append(ParseIssue("hash-in-quotes", lineno, raw))
        # sed -e 's@ *$@@'
        line = before_hash.rstrip(" ")
        # tr -d '"'
        line = line.replace('"', "")
        if "\r" in line:
            issues.append(ParseIssue("carriage-return", lineno, raw))
        if "\ufffd" in line:
            issues.append(ParseIssue("not-utf8", lineno, raw))
        if "=" not in line:
            # config::get would match the whole line as key *and* value; report, do not record
            issues.append(ParseIssue("no-equals", lineno, raw))
            continue
        key, value = line.split("=", 1)
        if not _KEY_RE.match(key):
            issues.append(ParseIssue("space-in-key", lineno, raw, key.strip()))
            continue
        if "'" in value:
            issues.append(ParseIssue("single-quoted", lineno, raw, key))
        if before_hash.count('"') % 2 == 1 and "#" not in raw:
            issues.append(ParseIssue("unbalanced-quotes", lineno, raw, key))
        entries.append(ConfEntry(key, value, lineno, raw))
    return VmConfig(text=text, entries=tuple(entries), issues=tuple(issues), commented=tuple(commented))


def ser_option(opts: str | None) -> str | None:
    """The value of the last ``ser=`` in a ``diskN_opts`` (bhyve's comma-separated options)."""
    found = None
    for word in (opts or "").split(","):
        key, sep, value = word.strip().partition("=")
        if sep and key == "ser" and value:
            found = value
    return found
