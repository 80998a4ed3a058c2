"""Readers of the facts script's sections: lsblk JSON, mounts, swaps, by-id links, sysfs, tool versions
(pure).

Parsing is tolerant: missing columns, ``null`` values, numbers or booleans given as strings (old
util-linux) and whitespace-padded model/serial strings are all accepted. Guest strings pass through
:func:`agent.core.guest_text.clean` here, at the parse boundary.
"""

from __future__ import annotations

import json
import posixpath
import re
from collections.abc import Mapping
from typing import Any

from agent.core.disk.devices import BlockNode, Mount, ToolVersions
from agent.core.guest_text import clean
from agent.core.marker import Framed, Section, lines_of

SECTION_OS = "os"
SECTION_TOOLS = "tools"
SECTION_VERSION = "version"
SECTION_LSBLK = "lsblk"
SECTION_ROOT = "root"
SECTION_MOUNTS = "mounts"
SECTION_SWAPS = "swaps"
SECTION_BYID = "byid"
SECTION_SYSFS = "sysfs"
SECTION_WIPEFS = "wipefs"
SECTION_BLKID = "blkid"
SECTION_RAWSIG = "rawsig"
SECTION_FDISK = "fdisk"
SECTION_DUMPE2FS = "dumpe2fs"
SECTION_LOOPS = "loops"
SECTION_SKIPPED = "skipped"  # arg: a disk whose contents were not probed; stdout: why ("root")


def clean_str(value: Any) -> str | None:
    """Strip a string value; empty or null → None; numbers are stringified; control characters shown
    as escapes (:func:`agent.core.guest_text.clean`: a label with ESC[2K is ``\\x1b[2K``)."""
    if value is None:
        return None
    s = clean(str(value).strip())
    return s or None


def as_int(value: Any) -> int | None:
    """An int from an int or a decimal string; anything else → None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def as_bool(value: Any) -> bool | None:
    """A bool from JSON true/false, 1/0, "1"/"0", "true"/"false"; anything else → None."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value != 0
    if isinstance(value, str):
        v = value.strip().lower()
        if v in {"1", "true", "yes"}:
            return True
        if v in {"0", "false", "no"}:
            return False
    return None


def _mountpoints(node: Mapping[str, Any]) -> tuple[str, ...]:
    raw = node.get("mountpoints")
    if not isinstance(raw, list):
        raw = [node.get("mountpoint")]
    return tuple(s for s in (clean_str(v) for v in raw) if s)


def parse_key_values(text: str) -> dict[str, str]:
    """Parse ``KEY=value`` lines (first ``=`` splits; later duplicates win); strips shell quotes."""
    out: dict[str, str] = {}
    for line in lines_of(text):
        key, sep, value = line.partition("=")
        if sep and key.strip():
            v = value.strip()
            if len(v) >= 2 and v[0] == v[-1] and v[0] in "\"'":
                v = v[1:-1]
            out[clean(key.strip())] = clean(v)
    return out


def unescape_octal(text: str) -> str:
    r"""Decode the ``\040``-style escapes of /proc/mounts and /proc/swaps."""
    return clean(re.sub(r"\\([0-7]{3})", lambda m: chr(int(m[1], 8)), text))


# -------------------------------------------------------------------------------- section interpreters


def parse_lsblk_json(text: str) -> list[dict[str, Any]]:
    """Return lsblk's ``blockdevices`` list (raises ValueError on malformed or absurdly nested JSON)."""
    try:
        data = json.loads(text)
    except RecursionError:
        raise ValueError("lsblk JSON is nested too deeply") from None
    devs = data.get("blockdevices") if isinstance(data, dict) else None
    if not isinstance(devs, list):
        raise ValueError("lsblk JSON has no blockdevices list")
    return [d for d in devs if isinstance(d, dict)]


def _node_path(node: Mapping[str, Any]) -> str:
    path = clean_str(node.get("path"))
    if path:
        return path
    return "/dev/" + (clean_str(node.get("kname")) or clean_str(node.get("name")) or "?")


def parse_block_node(node: Mapping[str, Any]) -> BlockNode:
    """Convert one lsblk JSON child node (recursively)."""
    name = clean_str(node.get("name")) or "?"
    kids = node.get("children")
    return BlockNode(
        name=name,
        kname=clean_str(node.get("kname")) or name,
        path=_node_path(node),
        type=(clean_str(node.get("type")) or "?").lower(),
        size_bytes=as_int(node.get("size")),
        fstype=clean_str(node.get("fstype")),
        uuid=clean_str(node.get("uuid")),
        label=clean_str(node.get("label")),
        mountpoints=_mountpoints(node),
        children=tuple(parse_block_node(c) for c in kids if isinstance(c, dict))
        if isinstance(kids, list)
        else (),
    )


def first_line(text: str) -> str | None:
    for line in lines_of(text):
        if line.strip():
            return line.strip()
    return None


def proc_fields(line: str) -> list[str]:
    """The fields of a /proc/mounts or /proc/swaps line: split on ASCII spaces and tabs only (the kernel
    escapes those in names as ``\\040``/``\\011``); ``str.split()`` would also split on U+2028, U+0085,
    FS/GS/RS, which a mount source may contain raw."""
    return [p for p in re.split(r"[ \t]+", line) if p]


def parse_mounts(text: str) -> tuple[Mount, ...]:
    """Parse /proc/self/mounts."""
    out = []
    for line in lines_of(text):
        parts = proc_fields(line)
        if len(parts) >= 3:
            out.append(Mount(unescape_octal(parts[0]), unescape_octal(parts[1]), parts[2]))
    return tuple(out)


def parse_swaps(text: str) -> tuple[str, ...]:
    """Active swap areas (devices or files) from /proc/swaps."""
    out = []
    for line in lines_of(text)[1:]:
        parts = proc_fields(line)
        if parts:
            out.append(unescape_octal(parts[0]))
    return tuple(out)


def parse_by_id(text: str) -> dict[str, str]:
    """``link<TAB>target`` lines → {link name: target}; a relative target (what the link itself says,
    udev's ``../../nvme0n1``) is resolved against ``/dev/disk/by-id``."""
    out: dict[str, str] = {}
    for line in lines_of(text):
        name, sep, target = line.partition("\t")
        name, target = name.strip(), target.strip()
        if sep and name and target:
            out[name] = target if target.startswith("/") else posixpath.normpath(f"/dev/disk/by-id/{target}")
    return out


def parse_loops(text: str) -> tuple[tuple[str, str | None, str], ...]:
    """``loop<TAB>maj:min|-<TAB>offset<TAB>backing file`` lines → ((loop, maj:min or None, file), ...)."""
    out: list[tuple[str, str | None, str]] = []
    for line in lines_of(text):
        fields = line.split("\t", 3)
        if len(fields) == 4 and fields[0].strip():
            mm = fields[1].strip()
            out.append((fields[0].strip(), mm if mm and mm != "-" else None, fields[3].strip()))
    return tuple(out)


def parse_root(section: Section | None) -> tuple[str | None, tuple[str, ...]]:
    """(root mount source, knames of the disks under it) from the ``root`` section."""
    if section is None:
        return None, ()
    source: str | None = None
    disks: list[str] = []
    for line in lines_of(section.stdout):
        key, _, value = line.partition("=")
        if key == "source":
            source = value.strip() or None
        elif key == "dep":
            kname, _, typ = value.strip().partition(" ")
            if typ.strip() == "disk" and kname not in disks:
                disks.append(kname)
    return source, tuple(disks)


def parse_sysfs(text: str) -> tuple[dict[str, str], tuple[str, ...], tuple[str, ...]]:
    """(key/values, partitions, holders of the disk and its partitions) from a sysfs section."""
    kv: dict[str, str] = {}
    parts: list[str] = []
    holders: list[str] = []
    for line in lines_of(text):
        key, sep, value = line.partition("=")
        if not sep:
            continue
        if key == "partition":
            parts.append(value.strip())
        elif key == "partition_holders":
            _, _, hs = value.partition(":")
            holders.extend(hs.split())
        elif key == "holders":
            holders.extend(value.split())
        else:
            kv[key] = value
    return kv, tuple(parts), tuple(dict.fromkeys(holders))


_VERSION_RES: Mapping[str, re.Pattern[str]] = {
    "util-linux": re.compile(r"util-linux\S*\s+(\d+(?:\.\d+)+)"),
    "mke2fs": re.compile(r"mke2fs\s+(\d+(?:\.\d+)+)"),
    "mkfs.xfs": re.compile(r"version\s+(\d+(?:\.\d+)+)"),
}


def parse_versions(raw: Framed) -> ToolVersions:
    """Tool paths and the util-linux, e2fsprogs and xfsprogs versions."""
    found: dict[str, str | None] = {}
    for key, rx in _VERSION_RES.items():
        s = raw.get(SECTION_VERSION, key)
        m = rx.search((s.stdout + s.stderr) if s is not None and s.ok else "")
        found[key] = m[1] if m else None
    tools = raw.get(SECTION_TOOLS)
    paths = {k: v for k, v in parse_key_values(tools.stdout if tools else "").items() if v}
    return ToolVersions(found["util-linux"], found["mke2fs"], found["mkfs.xfs"], paths)
