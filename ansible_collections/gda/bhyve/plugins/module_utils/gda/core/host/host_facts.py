# GENERATED from agent/core/host/host_facts.py by `python -m agent.collection_build`: do not edit.
"""What ``host_facts.sh`` reports about a FreeBSD host, as one :class:`HostFacts` (pure).

The script (agent/scripts/host_facts.sh, rendered by :func:`render_host_facts`) prints, framed by
agent/core/marker.py under the header ``@@GDA-HOSTFACTS v1 nonce=... uid=<n>@@``, the sections
``uname``, ``tools``, ``glabel``, ``gpart_show``, ``gpart_list``, ``zpool_status``, ``mount``,
``swap`` (arg ``-``) and, per device path, ``diskinfo <dev>`` (the device and its disk), ``fstyp
<dev>`` and ``zdb <dev>`` (the device and every partition of its disk). A section that is missing,
cut short or failed is named in :attr:`HostFacts.problems` (what could not be checked), never fatal.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ansible_collections.gda.bhyve.plugins.module_utils.gda.core import marker
from ansible_collections.gda.bhyve.plugins.module_utils.gda.core.guest_text import clean
from ansible_collections.gda.bhyve.plugins.module_utils.gda.core.host.diskinfo_output import DiskInfo, parse_diskinfo
from ansible_collections.gda.bhyve.plugins.module_utils.gda.core.host.fstyp_output import Fstyp, parse_fstyp
from ansible_collections.gda.bhyve.plugins.module_utils.gda.core.host.glabel_status import GeomNames, LabelEntry, parse_glabel_status
from ansible_collections.gda.bhyve.plugins.module_utils.gda.core.host.gpart_output import ListGeom, ShowTable, parse_gpart_list, parse_gpart_show
from ansible_collections.gda.bhyve.plugins.module_utils.gda.core.host.host_mounts import HostMount, parse_mount_p, parse_swapctl
from ansible_collections.gda.bhyve.plugins.module_utils.gda.core.host.zpool_output import PoolStatus, ZdbLabel, parse_zdb_label, parse_zpool_status
from ansible_collections.gda.bhyve.plugins.module_utils.gda.core.script_render import render

KIND = "HOSTFACTS"
VERSION = 1
_DEVICE_RE = re.compile(r"^/dev/[A-Za-z0-9._:/+@-]+$")

# section → (what it is needed for, "no answer" is acceptable when this text is in its output)
_REQUIRED: Mapping[str, str] = {
    "glabel": "label names (glabel status -s)",
    "gpart_show": "partition types (gpart show -p)",
    "gpart_list": "partition details and open modes (gpart list)",
    "zpool_status": "imported pools (zpool status -P)",
    "mount": "mounts (mount -p)",
    "swap": "swap devices (swapctl -l)",
}


def render_host_facts(devices: Sequence[str], *, nonce: str | None = None) -> str:
    """The facts script for ``devices`` (each a ``/dev/...`` path without spaces or shell syntax)."""
    for d in devices:
        if not _DEVICE_RE.match(d) or ".." in d.split("/"):
            raise ValueError(f"not a device path the host check can take: {d!r}")
    return render("host_facts", {"GDA_VERSION": str(VERSION), "GDA_DEVICES": " ".join(devices)}, nonce=nonce)


@dataclass(frozen=True)
class HostFacts:
    uid: int | None
    complete: bool
    uname: str | None
    tools: Mapping[str, str | None]
    labels: tuple[LabelEntry, ...]
    names: GeomNames
    tables: tuple[ShowTable, ...]
    geoms: tuple[ListGeom, ...]
    diskinfo: Mapping[str, DiskInfo]
    pools: tuple[PoolStatus, ...]
    zdb: Mapping[str, ZdbLabel]
    mounts: tuple[HostMount, ...]
    swaps: tuple[str, ...]
    fstyp: Mapping[str, Fstyp]
    problems: tuple[Problem, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class Problem:
    """A check that could not be made: the section (``gpart_list``, ``zdb``, ...) and what happened."""

    section: str
    text: str
    device: str | None = None  # the device a per-device section (diskinfo, fstyp, zdb) was about


def _problem(
    name: str, section: marker.Section | None, what: str, device: str | None = None
) -> Problem | None:
    if section is None:
        return Problem(name, f"{what}: not run (the output was cut short)", device)
    if section.rc is None:
        return Problem(name, f"{what}: cut short", device)
    if section.rc == 0:
        return None
    err = " ".join(ln.strip() for ln in marker.lines_of(section.stderr) if ln.strip())
    if section.rc == 127:
        return Problem(name, f"{what}: command not found", device)
    text = f"{what}: exit {section.rc}" + (f" ({clean(err)[:200]})" if err else "")
    return Problem(name, text, device)


def _tools(section: marker.Section | None) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for line in marker.lines_of(section.stdout if section else ""):
        key, sep, value = line.partition("=")
        if sep and key.strip():
            out[clean(key.strip())] = clean(value.strip()) or None
    return out


def parse_host_facts(text: str) -> HostFacts:
    """Split the script's output (MarkerError when it is not the host facts script's)."""
    raw = marker.parse(text, KIND, what="the host facts script")
    problems = [p for name, what in _REQUIRED.items() if (p := _problem(name, raw.get(name), what))]

    def out(name: str) -> str:
        s = raw.get(name)
        return s.stdout if s is not None else ""

    diskinfo: dict[str, DiskInfo] = {}
    fstyp: dict[str, Fstyp] = {}
    zdb: dict[str, ZdbLabel] = {}
    for s in raw.sections:
        dev = clean(s.arg)
        if s.name == "diskinfo":
            if (p := _problem("diskinfo", s, f"diskinfo -v {dev}", dev)) is not None:
                problems.append(p)
            diskinfo[dev] = parse_diskinfo(s.stdout, dev)
        elif s.name == "fstyp":
            fstyp[dev] = parse_fstyp(s, dev)
            if fstyp[dev].error:
                problems.append(Problem("fstyp", f"fstyp -l -u {dev}: {fstyp[dev].error}", dev))
        elif s.name == "zdb":
            zdb[dev] = parse_zdb_label(s, dev)
            if zdb[dev].error:
                problems.append(Problem("zdb", f"zdb -l {dev}: {zdb[dev].error}", dev))
    if not raw.complete:
        problems.append(
            Problem("done", "the facts script did not finish (no DONE marker): later checks are missing")
        )
    labels = parse_glabel_status(out("glabel"))
    uid = raw.attrs.get("uid", "")
    uname = raw.get("uname")
    return HostFacts(
        uid=int(uid) if uid.isdigit() else None,
        complete=raw.complete,
        uname=(clean(uname.stdout.strip()) or None) if uname is not None else None,
        tools=_tools(raw.get("tools")),
        labels=labels,
        names=GeomNames.from_entries(labels),
        tables=parse_gpart_show(out("gpart_show")),
        geoms=parse_gpart_list(out("gpart_list")),
        diskinfo=diskinfo,
        pools=parse_zpool_status(out("zpool_status")),
        zdb=zdb,
        mounts=parse_mount_p(out("mount")),
        swaps=parse_swapctl(out("swap")),
        fstyp=fstyp,
        problems=tuple(problems),
    )


def facts_to_json(f: HostFacts) -> dict[str, Any]:
    """The facts as plain JSON data (for ``--json`` and the data-file tests)."""
    return {
        "uid": f.uid,
        "complete": f.complete,
        "uname": f.uname,
        "missing_tools": sorted(k for k, v in f.tools.items() if v is None),
        "labels": {e.name: e.component for e in f.labels},
        "tables": [
            {
                "geom": t.geom,
                "canonical": f.names.canonical(t.geom),
                "scheme": t.scheme,
                "corrupt": t.corrupt,
                "partitions": [
                    {
                        "provider": r.provider,
                        "canonical": f.names.canonical(r.provider) if r.provider else None,
                        "index": r.index,
                        "type": r.type,
                        "sectors": r.sectors,
                        "attrs": list(r.attrs),
                    }
                    for r in t.rows
                ],
            }
            for t in f.tables
        ],
        "providers": {
            p.name: {
                "mediasize": p.mediasize,
                "mode": p.mode,
                "type": p.type,
                "rawtype": p.get("rawtype"),
                "label": p.get("label"),
            }
            for g in f.geoms
            for p in g.providers
        },
        "diskinfo": {
            d: {"mediasize": i.mediasize, "sectorsize": i.sectorsize, "ident": i.ident}
            for d, i in f.diskinfo.items()
        },
        "pools": [{"name": p.name, "state": p.state, "vdevs": list(p.vdevs)} for p in f.pools],
        "zdb": {
            d: {"found": z.found, "pool": z.pool, "state": z.state_name, "pool_guid": z.pool_guid}
            for d, z in f.zdb.items()
        },
        "mounts": [[m.device, m.mountpoint, m.fstype] for m in f.mounts],
        "swaps": list(f.swaps),
        "fstyp": {d: {"type": x.type, "label": x.label} for d, x in f.fstyp.items()},
        "problems": [p.text for p in f.problems],
    }
