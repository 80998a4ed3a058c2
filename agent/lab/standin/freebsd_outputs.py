# ruff: noqa: UP031 -- FreeBSD's outputs are written with its C printf formats (%*d, %-12s) on purpose
"""The stand-in FreeBSD host's outputs: FreeBSD's own printf formats over one host state (a scenario,
:mod:`agent.lab.standin.scenario`), for the commands agent/scripts/host_facts.sh runs.

The per-command printers (and ``diskinfo_for``/``fstyp_for``/``zdb_for``, one device's answer as
stdout, stderr and exit status) are what the stand-in's stub commands print
(:mod:`agent.lab.standin.stubs.freebsd_cmds`), and what tests/tools/freebsd_host_outputs.py frames into
the data cases of tests/facts/host.*, so the data cases and the stand-in cannot drift apart. The
sources of each format are cited in those data cases' ``source`` (tests/tools/freebsd_host_fixtures.py):
``glabel status -s`` freebsd-src sbin/geom/core/geom.c std_status/status_one_geom; ``gpart show -p``
sbin/geom/class/part/geom_part.c gpart_show_geom; ``gpart list`` sbin/geom/core/geom.c
list_one_geom/list_one_provider/list_one_consumer; the GPT rawtype GUIDs sys/sys/disk/gpt.h;
``diskinfo -v`` usr.sbin/diskinfo/diskinfo.c main; ``zpool status -P`` openzfs cmd/zpool/zpool_main.c
status_callback/print_status_config; ``zdb -l`` openzfs cmd/zdb/zdb.c dump_label (state 1: an exported
pool's label, openzfs/zfs#12685; "failed to unpack label N", #4337; exit 2 without a label, #5730);
``mount -p`` freebsd-src sbin/mount/mount.c putfsent; ``swapctl -l`` sbin/swapon/swapon.c swaplist;
``fstyp -l -u`` usr.sbin/fstyp/fstyp.c main; sizes as lib/libutil humanize_number(3) prints them
(``humanize_number(buf, 5, n, "", HN_AUTOSCALE, HN_B | HN_NOSPACE | HN_DECIMAL)``).
"""

from __future__ import annotations

import re
from typing import Any

SECTOR = 512
DISK_BYTES = 2000398934016
DISKID = "diskid/DISK-Y39B70RTK7AS"
RAW = {
    "efi": "c12a7328-f81f-11d2-ba4b-00a0c93ec93b",
    "freebsd-swap": "516e7cb5-6ecf-11d6-8ff8-00022d09712b",
    "freebsd-ufs": "516e7cb6-6ecf-11d6-8ff8-00022d09712b",
    "freebsd-zfs": "516e7cba-6ecf-11d6-8ff8-00022d09712b",
    "freebsd-boot": "83bd6b9d-7f41-11dc-be0b-001560b84f0f",
    "linux-data": "0fc63daf-8483-4772-8e79-3d69d8477de4",
    "ms-basic-data": "ebd0a0a2-b9e5-4433-87c0-68b6b72699c7",
}


def humanize(n: int) -> str:
    """humanize_number(buf, 5, n, "", HN_AUTOSCALE, HN_B | HN_NOSPACE | HN_DECIMAL)."""
    units = ["B", "K", "M", "G", "T", "P", "E"]
    if n < 1000 and len(f"{n}B") <= 4:
        return f"{n}B"
    i = 0
    v = float(n)
    while True:
        if i > 0:
            s = f"{v:.1f}{units[i]}" if v < 9.95 else f"{int(v + 0.5)}{units[i]}"
            if len(s) <= 4:
                return s
        i += 1
        v = n / 1024**i


def part_name(st: dict[str, Any], p: dict[str, Any]) -> str:
    return f"{st['geom']}p{p['i']}"


# ------------------------------------------------------------------------------------------ printers
def gpart_show(st: dict[str, Any]) -> str:
    first, last = st["first"], st["last"]
    wblocks = len(str(last))
    names = [part_name(st, p) for p in st["parts"]]
    wname = max([len(st["geom"])] + [len(n) for n in names])
    out = "=>%*d  %*d  %*s  %s  (%s)%s\n" % (
        wblocks,
        first,
        wblocks,
        last - first + 1,
        wname,
        st["geom"],
        "GPT",
        humanize(DISK_BYTES),
        "",
    )
    cur = first
    for p in sorted(st["parts"], key=lambda p: p["start"]):
        if cur < p["start"]:
            out += "  %*d  %*d  %*s  - free -  (%s)\n" % (
                wblocks,
                cur,
                wblocks,
                p["start"] - cur,
                wname,
                "",
                humanize((p["start"] - cur) * SECTOR),
            )
        attrib = ""
        out += "  %*d  %*d  %*s  %s %s (%s)\n" % (
            wblocks,
            p["start"],
            wblocks,
            p["sectors"],
            wname,
            part_name(st, p),
            p["type"],
            attrib,
            humanize(p["sectors"] * SECTOR),
        )
        cur = p["start"] + p["sectors"]
    if cur <= last:
        out += "  %*d  %*d  %*s  - free -  (%s)\n" % (
            wblocks,
            cur,
            wblocks,
            last - cur + 1,
            wname,
            "",
            humanize((last - cur + 1) * SECTOR),
        )
    return out + "\n"


def gpart_list(st: dict[str, Any]) -> str:
    out = f"Geom name: {st['geom']}\n"
    for k, v in [
        ("modified", "false"),
        ("state", "OK"),
        ("fwheads", "255"),
        ("fwsectors", "63"),
        ("last", str(st["last"])),
        ("first", str(st["first"])),
        ("entries", "128"),
        ("scheme", "GPT"),
    ]:
        out += f"{k}: {v}\n"
    out += "Providers:\n"
    tr = tw = te = 0
    for n, p in enumerate(st["parts"], 1):
        size = p["sectors"] * SECTOR
        mode = p["mode"]
        r, w, e = (int(x) for x in mode[1:].replace("w", " ").replace("e", " ").split())
        tr, tw, te = tr + r, tw + w, te + e
        out += f"{n}. Name: {part_name(st, p)}\n"
        out += f"   Mediasize: {size} ({humanize(size)})\n"
        out += f"   Sectorsize: {SECTOR}\n   Stripesize: 0\n   Stripeoffset: {p['start'] * SECTOR}\n"
        out += f"   Mode: {mode}\n"
        out += f"   efimedia: HD({p['i']},GPT,{p['uuid']},{hex(p['start'])},{hex(p['sectors'])})\n"
        out += f"   rawuuid: {p['uuid']}\n   rawtype: {RAW.get(p['type'], p.get('rawtype', '?'))}\n"
        out += f"   label: {p['label']}\n"
        out += f"   length: {size}\n   offset: {p['start'] * SECTOR}\n   type: {p['type']}\n"
        out += f"   index: {p['i']}\n   end: {p['start'] + p['sectors'] - 1}\n   start: {p['start']}\n"
    out += "Consumers:\n"
    out += f"1. Name: {st['geom']}\n   Mediasize: {DISK_BYTES} ({humanize(DISK_BYTES)})\n"
    out += f"   Sectorsize: {SECTOR}\n   Stripesize: 0\n   Stripeoffset: 0\n"
    out += f"   Mode: r{tr}w{tw}e{te + 1}\n"
    return out + "\n"


def glabel(st: dict[str, Any]) -> str:
    rows = [(st["geom"], st["disk"])] if st["geom"] != st["disk"] else []
    for p in st["parts"]:
        if p["label"] != "(null)":
            rows.append((f"gpt/{p['label']}", part_name(st, p)))
    rows += list(st["label_extra"].items())
    name_len = max([4] + [len(a) for a, _ in rows])
    return "".join("%*s  %*s  %s\n" % (name_len, a, 6, "N/A", b) for a, b in rows)


def diskinfo(dev: str, size: int, stripeoffset: int, ident: str) -> str:
    out = f"{dev}\n"
    out += "\t%-12u\t# sectorsize\n" % SECTOR
    out += "\t%-12d\t# mediasize in bytes (%s)\n" % (size, humanize(size))
    out += "\t%-12d\t# mediasize in sectors\n" % (size // SECTOR)
    out += "\t%-12d\t# stripesize\n" % 0
    out += "\t%-12d\t# stripeoffset\n" % stripeoffset
    out += "\t%-12s\t# Disk ident.\n" % ident
    return out + "\n"


def zpool_status(st: dict[str, Any]) -> str:
    if not st["pools"]:
        return "no pools available\n"
    blocks = []
    for name, vdevs in st["pools"].items():
        width = max([10, len(name)] + [len(v) + 2 for v in vdevs])
        s = f"  pool: {name}\n state: ONLINE\nconfig:\n\n"
        s += "\t%-*s  %-8s %5s %5s %5s\n" % (width, "NAME", "STATE", "READ", "WRITE", "CKSUM")
        s += "\t%*s%-*s  %-8s" % (0, "", width, name, "ONLINE") + " %5s %5s %5s\n" % ("0", "0", "0")
        for v in vdevs:
            s += "\t%*s%-*s  %-8s" % (2, "", width - 2, v, "ONLINE") + " %5s %5s %5s\n" % ("0", "0", "0")
        s += "\nerrors: No known data errors\n"
        blocks.append(s)
    return "\n".join(blocks)


def zdb_label(pool: str, state: int, path: str, guid: str) -> str:
    dash = "-" * 36
    out = f"{dash}\nLABEL 0\n{dash}\n"
    out += (
        "    version: 5000\n"
        f"    name: '{pool}'\n"
        f"    state: {state}\n"
        "    txg: 1843261\n"
        f"    pool_guid: {guid}\n"
        "    errata: 0\n"
        "    hostid: 2887340389\n"
        "    hostname: 'bhyvehost'\n"
        "    top_guid: 9204126530514176803\n"
        "    guid: 9204126530514176803\n"
        "    vdev_children: 1\n"
        "    vdev_tree:\n"
        "        type: 'disk'\n"
        "        id: 0\n"
        "        guid: 9204126530514176803\n"
        f"        path: '{path}'\n"
        "        whole_disk: 1\n"
        "        metaslab_array: 128\n"
        "        metaslab_shift: 34\n"
        "        ashift: 12\n"
        "        asize: 274872401920\n"
        "        is_log: 0\n"
        "        create_txg: 4\n"
        "    features_for_read:\n"
        "        com.delphix:hole_birth\n"
        "        com.delphix:embedded_data\n"
        "    labels = 0 1 2 3 \n"
    )
    return out


def zdb_none() -> str:
    dash = "-" * 36
    return "".join(f"{dash}\nLABEL {n}\n{dash}\nfailed to unpack label {n}\n" for n in range(4))


def mount_p(st: dict[str, Any]) -> str:
    out = ""
    for dev, mp, typ, opts in st["mounts"]:

        def tabs(s: str) -> str:
            n = len(s)
            return s + ("\t" if n < 8 else "") + ("\t" if n < 16 else "") + ("\t" if n < 24 else " ")

        line = tabs(dev) + tabs(mp) + f"{typ}\t" + opts + ("\t" if len(opts) < 8 else " ")
        if dev in st["fstab"]:
            a, b = st["fstab"][dev]
            line += f"\t{a} {b}\n"
        elif typ == "ufs":
            line += "\t1 1\n" if mp == "/" else "\t2 2\n"
        else:
            line += "\t0 0\n"
        out += line
    return out


def swapctl(st: dict[str, Any]) -> str:
    out = "%-13s %*s %*s\n" % ("Device:", 10, "512-blocks", 10, "Used:")
    for name, blocks in st["swaps"]:
        out += "/dev/%-8s %*d " % (name, 10, blocks) + "%*d\n" % (10, 0)
    return out


def find_part(st: dict[str, Any], dev: str) -> dict[str, Any] | None:
    parts: list[dict[str, Any]] = st["parts"]
    for p in parts:
        if dev in (f"/dev/{part_name(st, p)}", f"/dev/{st['disk']}p{p['i']}"):
            return p
    return None


def parent(dev: str) -> str:
    m = re.match(r"^(.+?)p(\d+)$", dev)
    return m[1] if m else dev


def diskinfo_for(st: dict[str, Any], x: str) -> tuple[str, str, int]:
    """``diskinfo -v x``: (stdout, stderr, exit status) on the scenario's disk."""
    p = find_part(st, x)
    if p is not None:
        return diskinfo(x, p["sectors"] * SECTOR, p["start"] * SECTOR, "Y39B70RTK7AS"), "", 0
    if x in (f"/dev/{st['geom']}", f"/dev/{st['disk']}"):
        return diskinfo(x, DISK_BYTES, 0, "Y39B70RTK7AS"), "", 0
    return "", f"diskinfo: {x}: No such file or directory\n", 1


def fstyp_for(st: dict[str, Any], dev: str) -> tuple[str, str, int]:
    """``fstyp -l -u dev`` from the scenario's ``fstyp`` table (partition index -> (type, label))."""
    p = find_part(st, dev)
    ft = st["fstyp"].get(p["i"]) if p else None
    if p is None and dev not in (f"/dev/{st['geom']}", f"/dev/{st['disk']}"):
        return "", f"fstyp: {dev}: No such file or directory\n", 1
    if ft is None:
        return "", f"fstyp: {dev}: filesystem not recognized\n", 1
    return ft[0] + (f" {ft[1]}" if ft[1] else "") + "\n", "", 0


def zdb_for(st: dict[str, Any], c: str) -> tuple[str, str, int]:
    """``zdb -l c``: the label of an imported or exported pool member, else zdb's failures."""
    q = find_part(st, c)
    pool = None
    state = 0
    if q is not None:
        for name, vdevs in st["pools"].items():
            if f"/dev/{part_name(st, q)}" in vdevs:
                pool = name
        if pool is None and q["i"] in st["exported"]:
            pool, state = st["exported"][q["i"]], 1
    if pool is not None:
        assert q is not None
        guid = "11793924510418463322" if pool == "zdata" else "4417063812398846301"
        return zdb_label(pool, state, f"/dev/{part_name(st, q)}", guid), "", 0
    if q is None and c not in (f"/dev/{st['geom']}", f"/dev/{st['disk']}"):
        return f"cannot open '{c}': No such file or directory\n", "", 1
    return zdb_none(), "", 2
