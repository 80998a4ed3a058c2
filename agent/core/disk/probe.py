"""Discovery: the read-only facts script (``agent/scripts/disk_facts.sh``) and its parser (pure).

The script is POSIX ``sh`` (dash on Debian/Ubuntu, or bash), needs no root and never calls ``sudo``:
run as a normal user, the probes that open a device (``wipefs``, ``blkid -p``, the ``od`` reads of the
first/last sectors, ``fdisk -l``) fail with "Permission denied" and the parser records their result as
*unknown*, not *none*. Run as root the same script sees everything. It never writes to any device.

It runs whole (part ``all``: one round trip, the console's and the Ansible module's way) or in two parts
(:data:`PARTS`), SSH's way: ``user``, everything but the content probes, as the login user on its own
channel while sudo authenticates on the root shell's, then ``root``, the content probes of the disks the
user part listed (:func:`disks_to_probe`), parsed together by :func:`parse_facts_parts`.

Output: the common framing (:mod:`agent.core.marker`), kind ``FACTS``, header attributes ``uid=`` and
``part=``. Sections (``SECTION_*`` in :mod:`agent.core.disk.facts_sections`): ``os`` (/etc/os-release),
``tools`` (``name=path`` of each tool, empty when missing), ``version`` per tool (arg = tool; stderr
folded in), ``lsblk`` (JSON, with a MOUNTPOINTS → MOUNTPOINT → minimal-columns fallback), ``root``
(``source=`` and ``dep=<kname> <type>`` lines from ``lsblk -s``), ``mounts`` (/proc/self/mounts),
``swaps`` (/proc/swaps), ``byid`` (``<link name><TAB><resolved target>``), ``loops`` (``<loop><TAB><maj:min
of the backing block device, or -><TAB><offset><TAB><backing file>``: a disk backing a loop is in use,
the kernel lists no holder), and for every non-empty /sys/block entry: ``sysfs`` (``key=value``: size in
512-byte units, ro, removable, dev, block sizes, serial/model/wwid, holders, partitions and their
holders, ``serial_hex``: the serial's sysfs bytes as hex, as the guard reads them); then the content
probes: ``wipefs`` (JSON), ``blkid`` (``blkid -p -o export``, only when wipefs failed), ``rawsig`` (hex
of the MBR partition entries + boot signature, the first 8 bytes of LBA 1 and of the last LBA, where a
primary/backup GPT header starts with ``EFI PART``; libblkid ignores a backup GPT whose primary header
and protective MBR are gone; ``geom=``: the first 16 bytes of the last LBA, where FreeBSD GEOM classes
keep ``GEOM::<class>``, which libblkid does not know), and, unless the listing asks without them
(``report=False``), ``fdisk`` (``fdisk -l``, for the human summary) and, for a disk wipefs (or blkid)
finds ext4 on, ``dumpe2fs`` (``dumpe2fs -h``: a rerun compares its features with the request). The
root disk (the ``root`` section's disks) gets ``sysfs`` and, instead of the content probes, ``skipped``
(stdout ``root``): it is refused whatever it carries.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from agent.core import marker, script_render
from agent.core.disk.devices import Disk, Facts, Mount, ProbeState
from agent.core.disk.facts_sections import (
    SECTION_BLKID,
    SECTION_BYID,
    SECTION_DUMPE2FS,
    SECTION_FDISK,
    SECTION_LOOPS,
    SECTION_LSBLK,
    SECTION_MOUNTS,
    SECTION_OS,
    SECTION_RAWSIG,
    SECTION_ROOT,
    SECTION_SKIPPED,
    SECTION_SWAPS,
    SECTION_SYSFS,
    SECTION_WIPEFS,
    as_bool,
    as_int,
    clean_str,
    first_line,
    parse_block_node,
    parse_by_id,
    parse_key_values,
    parse_loops,
    parse_lsblk_json,
    parse_mounts,
    parse_root,
    parse_swaps,
    parse_sysfs,
    parse_versions,
)
from agent.core.disk.signatures import combine_probes, lsblk_fallback_probe
from agent.errors import RemoteError

FACTS_KIND = "FACTS"
FACTS_FORMAT_VERSION = "1"

#: Tools whose location the script reports (``command -v``), so a missing mkfs is known before planning.
TOOLS: tuple[str, ...] = (
    "lsblk",
    "wipefs",
    "blkid",
    "findmnt",
    "fdisk",
    "mke2fs",
    "mkfs.ext4",
    "mkfs.xfs",
    "flock",
    "udevadm",
    "dd",
    "od",
    "awk",
)

#: lsblk columns; MOUNTPOINTS (a list) needs util-linux >= 2.37, older ones only know MOUNTPOINT.
LSBLK_COLUMNS: tuple[str, ...] = (
    "NAME",
    "KNAME",
    "PATH",
    "TYPE",
    "SIZE",
    "MODEL",
    "SERIAL",
    "WWN",
    "TRAN",
    "ROTA",
    "RO",
    "RM",
    "FSTYPE",
    "FSVER",
    "LABEL",
    "UUID",
    "PTTYPE",
    "PTUUID",
    "PKNAME",
    "MAJ:MIN",
    "LOG-SEC",
    "PHY-SEC",
)
#: Last-resort columns for util-linux older than 2.33 (no PATH) — the parser derives the path.
LSBLK_MINIMAL_COLUMNS: tuple[str, ...] = (
    "NAME",
    "KNAME",
    "TYPE",
    "SIZE",
    "MODEL",
    "SERIAL",
    "TRAN",
    "ROTA",
    "RO",
    "FSTYPE",
    "MOUNTPOINT",
)


#: The tools whose version the script can report (section ``version``, arg = the name).
VERSION_TOOLS: tuple[str, ...] = ("util-linux", "mke2fs", "mkfs.xfs")


#: The parts of the facts script: ``all`` (one run), ``user`` (what needs no root), ``root`` (the content
#: probes of the disks the user part found, :func:`disks_to_probe`).
PARTS: tuple[str, ...] = ("all", "user", "root")
_KNAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:!+-]*$")


def render_facts_script(
    nonce: str | None = None,
    versions: tuple[str, ...] = VERSION_TOOLS,
    *,
    part: str = "all",
    disks: tuple[str, ...] = (),
    report: bool = True,
) -> str:
    """The facts-gathering script (POSIX sh). ``nonce`` fixes the marker nonce (tests); by default a
    fresh random one is used. The parser reads it back from the header line. ``versions``: the tools
    (of :data:`VERSION_TOOLS`) whose version to ask, each a fork: only those the plan needs. ``part``
    (:data:`PARTS`): ``user`` and ``root`` split the one run in two, so the first can run without root
    while sudo authenticates; ``disks``: the kernel names the root part probes; ``report``: also the
    probes only a format reads (``fdisk -l`` for its report, ``dumpe2fs -h`` for a rerun), not for the
    listing."""
    unknown = set(versions) - set(VERSION_TOOLS)
    if unknown:
        raise ValueError(f"no version probe for {sorted(unknown)}")
    if part not in PARTS:
        raise ValueError(f"no facts part {part!r}")
    bad = [d for d in disks if not _KNAME_RE.match(d)]
    if bad or (disks and part != "root"):
        raise ValueError(f"bad disks for the {part} part: {bad or list(disks)}")
    return script_render.render(
        "disk_facts",
        {
            "GDA_VERSION": FACTS_FORMAT_VERSION,
            "GDA_TOOLS": " ".join(TOOLS),
            "GDA_VERSIONS": " ".join(versions),
            "GDA_COLS": ",".join(LSBLK_COLUMNS),
            "GDA_MINCOLS": ",".join(LSBLK_MINIMAL_COLUMNS),
            "GDA_PART": part,
            "GDA_DISKS": " ".join(disks),
            "GDA_REPORT": report,
        },
        nonce=nonce,
        libs=("sysfs",),
    )


def disks_to_probe(user: marker.Framed) -> tuple[str, ...]:
    """The disks the root part probes, from the user part's output: every disk it listed (a ``sysfs``
    section) but the root disk (``skipped``), in the order listed. Pure."""
    names = [s.arg for s in user.all(SECTION_SYSFS) if user.get(SECTION_SKIPPED, s.arg) is None]
    return tuple(n for n in dict.fromkeys(names) if _KNAME_RE.match(n))


def uid_of(framed: marker.Framed) -> int | None:
    """The uid the facts script ran as (None when the header does not say)."""
    uid = framed.attrs.get("uid", "")
    return int(uid) if uid.isdigit() else None


def _hex_or_none(value: str | None) -> str | None:
    """The facts' ``serial_hex``: lower-case pairs of hex digits, anything else (or empty) → None."""
    v = (value or "").strip().lower()
    return v if re.fullmatch(r"(?:[0-9a-f]{2})+", v) else None


def _disk_from_node(node: Mapping[str, Any], raw: marker.Framed, ctx: _Context) -> Disk:
    """Build a Disk from a top-level lsblk node plus the per-disk sections."""
    base = parse_block_node(node)
    sysfs = raw.get(SECTION_SYSFS, base.kname)
    kv, sys_parts, holders = parse_sysfs(sysfs.stdout) if sysfs else ({}, (), ())
    sys_size = as_int(kv.get("size"))
    size = (
        base.size_bytes if base.size_bytes is not None else (sys_size * 512 if sys_size is not None else None)
    )
    ro = as_bool(node.get("ro"))
    sys_ro = as_bool(kv.get("ro"))
    skipped = raw.get(SECTION_SKIPPED, base.kname)
    not_probed = (first_line(skipped.stdout) or "skipped") if skipped is not None else None
    probe = combine_probes(
        raw.get(SECTION_WIPEFS, base.kname),
        raw.get(SECTION_BLKID, base.kname),
        raw.get(SECTION_RAWSIG, base.kname),
    )
    if probe.state is ProbeState.UNKNOWN:
        probe = lsblk_fallback_probe(node, probe)
    paths = (
        {base.path, f"/dev/{base.kname}"}
        | {n.path for n in base.walk()}
        | {f"/dev/{n.kname}" for n in base.walk()}
    )
    mounts = list(base.mountpoints)
    for n in base.walk():
        mounts.extend(n.mountpoints)
    mounts.extend(m.target for m in ctx.mounts if m.source in paths)
    swap = [s for s in ctx.swaps if s in paths]
    if "[SWAP]" in mounts:
        swap.append(base.path)
    fdisk = raw.get(SECTION_FDISK, base.kname)
    dumpe2fs = raw.get(SECTION_DUMPE2FS, base.kname)
    maj_min = clean_str(node.get("maj:min")) or clean_str(kv.get("dev"))
    loops = [
        name
        for name, mm, file in ctx.loops
        if (mm is not None and mm == maj_min) or file in paths or file in {f"/dev/{p}" for p in sys_parts}
    ]
    return Disk(
        name=base.name,
        kname=base.kname,
        path=base.path,
        type=base.type,
        size_bytes=size,
        model=clean_str(node.get("model")) or clean_str(kv.get("device/model")),
        serial=clean_str(node.get("serial")) or clean_str(kv.get("device/serial")),
        serial_hex=_hex_or_none(kv.get("serial_hex")),
        wwn=clean_str(node.get("wwn")) or clean_str(kv.get("wwid")) or clean_str(kv.get("device/wwid")),
        tran=clean_str(node.get("tran")),
        rotational=as_bool(node.get("rota")),
        read_only=(ro or sys_ro) if (ro is not None or sys_ro is not None) else None,
        removable=as_bool(node.get("rm")) if node.get("rm") is not None else as_bool(kv.get("removable")),
        fstype=base.fstype,
        uuid=base.uuid,
        label=base.label,
        pttype=clean_str(node.get("pttype")),
        maj_min=maj_min,
        logical_sector_size=as_int(node.get("log-sec")) or as_int(kv.get("queue/logical_block_size")),
        physical_sector_size=as_int(node.get("phy-sec")) or as_int(kv.get("queue/physical_block_size")),
        mountpoints=base.mountpoints,
        children=base.children,
        signatures=probe,
        by_id=tuple(sorted(k for k, t in ctx.by_id.items() if t in {base.path, f"/dev/{base.kname}"})),
        holders=holders,
        sysfs_partitions=sys_parts,
        is_root_disk=base.kname in ctx.root_disks or "/" in mounts or not_probed == "root",
        swap_devices=tuple(dict.fromkeys(swap)),
        mounts=tuple(dict.fromkeys(m for m in mounts if m != "[SWAP]")),
        fdisk=fdisk.stdout if fdisk is not None and fdisk.ok else None,
        dumpe2fs=dumpe2fs.stdout if dumpe2fs is not None and dumpe2fs.ok else None,
        loop_devices=tuple(dict.fromkeys(loops)),
        not_probed=not_probed,
    )


@dataclass(frozen=True)
class _Context:
    mounts: tuple[Mount, ...]
    swaps: tuple[str, ...]
    by_id: Mapping[str, str]
    root_disks: tuple[str, ...]
    loops: tuple[tuple[str, str | None, str], ...] = ()  # (loop, backing maj:min, backing file)


def parse_facts(text: str) -> Facts:
    """Parse the facts script's stdout (the ``all`` part) into :class:`Facts`.

    Raises RemoteError if the output has no header or lsblk's JSON is missing/unreadable (without it
    nothing can be decided safely).
    """
    return parse_framed(marker.parse(text, FACTS_KIND, what="the disk-facts script"))


def parse_facts_parts(user: str, root: str) -> Facts:
    """Parse the two parts' outputs (``user``, then ``root``) as one: the user part's sections and the
    root part's, whose header tells the uid the probes ran as; complete when both are."""
    u = marker.parse(user, FACTS_KIND, what="the disk-facts script")
    r = marker.parse(root, FACTS_KIND, what="the disk-facts script (root part)")
    return parse_framed(
        replace(u, attrs=r.attrs, sections=u.sections + r.sections, complete=u.complete and r.complete)
    )


def parse_framed(raw: marker.Framed) -> Facts:
    """:func:`parse_facts` on the framed output."""
    uid = uid_of(raw)
    warnings: list[str] = []
    if not raw.complete:
        warnings.append("the facts output was truncated (no DONE marker)")
    lsblk = raw.get(SECTION_LSBLK)
    if lsblk is None or not lsblk.ok:
        err = first_line(lsblk.stderr) if lsblk else "section missing"
        raise RemoteError(f"lsblk failed on the guest: {err}", hint="util-linux >= 2.27 (lsblk -J) is needed")
    try:
        nodes = parse_lsblk_json(lsblk.stdout)
    except ValueError as e:
        raise RemoteError(f"unreadable lsblk JSON from the guest: {e}") from e
    mounts_s = raw.get(SECTION_MOUNTS)
    swaps_s = raw.get(SECTION_SWAPS)
    byid_s = raw.get(SECTION_BYID)
    root_source, root_disks = parse_root(raw.get(SECTION_ROOT))
    if root_source is None:
        warnings.append("the root filesystem's source could not be determined")
    ctx = _Context(
        mounts=parse_mounts(mounts_s.stdout) if mounts_s else (),
        swaps=parse_swaps(swaps_s.stdout) if swaps_s else (),
        by_id=parse_by_id(byid_s.stdout) if byid_s and byid_s.ok else {},
        root_disks=root_disks,
        loops=parse_loops(loops_s.stdout) if (loops_s := raw.get(SECTION_LOOPS)) else (),
    )
    if not ctx.by_id:
        warnings.append("no /dev/disk/by-id links (udev not running?): kernel names will be used")
    if uid != 0:
        warnings.append("facts gathered without root: signature probes may be unknown")
    os_s = raw.get(SECTION_OS)
    return Facts(
        uid=uid,
        disks=tuple(_disk_from_node(n, raw, ctx) for n in nodes),
        root_source=root_source,
        root_disks=root_disks,
        swaps=ctx.swaps,
        mounts=ctx.mounts,
        by_id=ctx.by_id,
        versions=parse_versions(raw),
        os_name=parse_key_values(os_s.stdout).get("PRETTY_NAME") if os_s else None,
        complete=raw.complete,
        warnings=tuple(warnings),
    )
