# GENERATED from agent/core/host/diskinfo_output.py by `python -m agent.collection_build`: do not edit.
"""``diskinfo -v <device>``: the media size in bytes and the sector size (pure).

Format (usr.sbin/diskinfo/diskinfo.c, ``main``, the ``-v`` branch): the device as given, then one
``\\t%-12<value>\\t# <what>`` line per fact::

    /dev/diskid/DISK-Y39B70RTK7ASp4
    \\t512         \\t# sectorsize
    \\t274877906944\\t# mediasize in bytes (256G)
    \\t536870912   \\t# mediasize in sectors
    ...
    \\tY39B70RTK7AS\\t# Disk ident.

Newer releases add lines (``# Disk descr.``, ``# Attachment``, ``# TRIM/UNMAP support``, ...); every
``<value>\\t# <what>`` line is kept under its description.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from ansible_collections.gda.bhyve.plugins.module_utils.gda.core.guest_text import clean
from ansible_collections.gda.bhyve.plugins.module_utils.gda.core.marker import lines_of

_LINE_RE = re.compile(r"^\s*(?P<value>.*?)\s*\t# (?P<what>.+?)\s*$")


@dataclass(frozen=True)
class DiskInfo:
    device: str
    sectorsize: int | None
    mediasize: int | None
    ident: str | None
    descr: str | None
    fields: Mapping[str, str] = field(default_factory=dict)


def _int(value: str | None) -> int | None:
    return int(value) if value is not None and value.isdigit() else None


def parse_diskinfo(text: str, device: str) -> DiskInfo:
    """One ``diskinfo -v`` block; missing or malformed lines leave their field None."""
    fields: dict[str, str] = {}
    for line in lines_of(text):
        m = _LINE_RE.match(line)
        if m is None:
            continue
        what = clean(m["what"])
        if what.startswith("mediasize in bytes"):
            what = "mediasize in bytes"
        fields.setdefault(what, clean(m["value"]))
    return DiskInfo(
        device=device,
        sectorsize=_int(fields.get("sectorsize")),
        mediasize=_int(fields.get("mediasize in bytes")),
        ident=fields.get("Disk ident.") or None,
        descr=fields.get("Disk descr.") or None,
        fields=fields,
    )
