"""Generate host_facts.sh outputs for scenarios, with FreeBSD's printf formats (see the fixture sources).

The per-command printers (and ``diskinfo_for``/``fstyp_for``/``zdb_for``, one device's answer as
stdout, stderr and exit status) are also what the stand-in FreeBSD host's stub commands print
(tests/standin/stubs/freebsd_cmds.py), so the data cases and the stand-in cannot drift apart."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

NONCE = "5eed0b5e7a1c4f02"
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
            if v < 9.95:
                s = f"{v:.1f}{units[i]}"
            else:
                s = f"{int(v + 0.5)}{units[i]}"
            if len(s) <= 4:
                return s
        i += 1
        v = n / 1024**i


def base_state() -> dict:
    parts = [
        # index, start, sectors, type, label, mode, rawuuid
        dict(
            i=1,
            start=40,
            sectors=532480,
            type="efi",
            label="efiboot0",
            mode="r1w1e1",
            uuid="7a1f0c2e-9172-11f0-9751-0003ee002989",
        ),
        dict(
            i=2,
            start=534528,
            sectors=4194304,
            type="freebsd-swap",
            label="swap0",
            mode="r1w1e1",
            uuid="7a2b4e61-9172-11f0-9751-0003ee002989",
        ),
        dict(
            i=3,
            start=4728832,
            sectors=536870912,
            type="freebsd-zfs",
            label="zdata0",
            mode="r1w1e1",
            uuid="7a3c9d04-9172-11f0-9751-0003ee002989",
        ),
        dict(
            i=4,
            start=541599744,
            sectors=536870912,
            type="linux-data",
            label="(null)",
            mode="r0w0e0",
            uuid="7a4e1f88-9172-11f0-9751-0003ee002989",
        ),
        dict(
            i=5,
            start=1078470656,
            sectors=2828558336,
            type="freebsd-zfs",
            label="zroot0",
            mode="r1w1e1",
            uuid="7a5f7b3a-9172-11f0-9751-0003ee002989",
        ),
    ]
    return {
        "uid": 0,
        "uname": "FreeBSD 15.0-RELEASE",
        "missing": [],
        "fail": {},  # section -> (rc, stderr)
        "geom": DISKID,
        "disk": "nda0",
        "first": 40,
        "last": 3907029127,
        "parts": parts,
        "pools": {"zdata": [f"/dev/{DISKID}p3"], "zroot": [f"/dev/{DISKID}p5"]},
        "exported": {},  # partition index -> pool name (labels on disk, not imported)
        "mounts": [
            ("zroot/ROOT/default", "/", "zfs", "rw,noatime,nfsv4acls"),
            ("devfs", "/dev", "devfs", "rw,multilabel"),
            ("/dev/gpt/efiboot0", "/boot/efi", "msdosfs", "rw"),
            ("zroot/tmp", "/tmp", "zfs", "rw,nosuid,noatime,nfsv4acls"),
            ("zdata", "/zdata", "zfs", "rw,noatime,nfsv4acls"),
            ("zdata/vms", "/zdata/vms", "zfs", "rw,noatime,nfsv4acls"),
            ("zdata/vms/xdev", "/zdata/vms/xdev", "zfs", "rw,noatime,nfsv4acls"),
        ],
        "fstab": {"/dev/gpt/efiboot0": (2, 2)},
        "swaps": [("gpt/swap0.eli", 4194304)],
        "fstyp": {1: ("msdosfs", "EFISYS"), 2: ("geli", None), 3: ("zfs", "zdata"), 5: ("zfs", "zroot")},
        "devices": [f"/dev/{DISKID}p4"],
        "cut_after": None,  # cut the output after this many lines
        "label_extra": {},
    }


def part_name(st: dict, p: dict) -> str:
    return f"{st['geom']}p{p['i']}"


# ------------------------------------------------------------------------------------------ printers
def gpart_show(st: dict) -> str:
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
    for p, n in zip(sorted(st["parts"], key=lambda p: p["start"]), names):
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


def gpart_list(st: dict) -> str:
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


def glabel(st: dict) -> str:
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


def zpool_status(st: dict) -> str:
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


def mount_p(st: dict) -> str:
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


def swapctl(st: dict) -> str:
    out = "%-13s %*s %*s\n" % ("Device:", 10, "512-blocks", 10, "Used:")
    for name, blocks in st["swaps"]:
        out += "/dev/%-8s %*d " % (name, 10, blocks) + "%*d\n" % (10, 0)
    return out


# ------------------------------------------------------------------------------------------ framing
def section(name: str, arg: str, out: str, err: str, rc: int) -> str:
    s = f"@@GDA-{NONCE} BEGIN {name} {arg}@@\n{out}@@GDA-{NONCE} STDERR@@\n{err}"
    return s + f"@@GDA-{NONCE} END rc={rc}@@\n"


def run(st: dict, name: str, arg: str, tool: str, out: str, err: str = "", rc: int = 0) -> str:
    if tool in st["missing"]:
        return section(name, arg, "", f"sh: {tool}: not found\n", 127)
    if name in st["fail"]:
        rc2, err2 = st["fail"][name]
        return section(name, arg, "", err2, rc2)
    return section(name, arg, out, err, rc)


def find_part(st: dict, dev: str) -> dict | None:
    for p in st["parts"]:
        if dev in (f"/dev/{part_name(st, p)}", f"/dev/{st['disk']}p{p['i']}"):
            return p
    return None


def parent(dev: str) -> str:
    import re

    m = re.match(r"^(.+?)p(\d+)$", dev)
    return m[1] if m else dev


def diskinfo_for(st: dict, x: str) -> tuple[str, str, int]:
    """``diskinfo -v x``: (stdout, stderr, exit status) on the scenario's disk."""
    p = find_part(st, x)
    if p is not None:
        return diskinfo(x, p["sectors"] * SECTOR, p["start"] * SECTOR, "Y39B70RTK7AS"), "", 0
    if x in (f"/dev/{st['geom']}", f"/dev/{st['disk']}"):
        return diskinfo(x, DISK_BYTES, 0, "Y39B70RTK7AS"), "", 0
    return "", f"diskinfo: {x}: No such file or directory\n", 1


def fstyp_for(st: dict, dev: str) -> tuple[str, str, int]:
    """``fstyp -l -u dev`` from the scenario's ``fstyp`` table (partition index -> (type, label))."""
    p = find_part(st, dev)
    ft = st["fstyp"].get(p["i"]) if p else None
    if p is None and dev not in (f"/dev/{st['geom']}", f"/dev/{st['disk']}"):
        return "", f"fstyp: {dev}: No such file or directory\n", 1
    if ft is None:
        return "", f"fstyp: {dev}: filesystem not recognized\n", 1
    return ft[0] + (f" {ft[1]}" if ft[1] else "") + "\n", "", 0


def zdb_for(st: dict, c: str) -> tuple[str, str, int]:
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


def render(st: dict) -> str:
    text = f"@@GDA-HOSTFACTS v1 nonce={NONCE} uid={st['uid']}@@\n"
    text += run(st, "uname", "-", "uname", st["uname"] + "\n")
    tools = "".join(
        f"{t}="
        + ("" if t in st["missing"] else f"/{'usr/sbin' if t in ('diskinfo', 'fstyp') else 'sbin'}/{t}")
        + "\n"
        for t in ["glabel", "gpart", "diskinfo", "zpool", "zdb", "mount", "swapctl", "fstyp"]
    )
    text += run(st, "tools", "-", "true", tools)
    text += run(st, "glabel", "-", "glabel", glabel(st))
    text += run(st, "gpart_show", "-", "gpart", gpart_show(st))
    text += run(st, "gpart_list", "-", "gpart", gpart_list(st))
    text += run(st, "zpool_status", "-", "zpool", zpool_status(st))
    text += run(st, "mount", "-", "mount", mount_p(st))
    text += run(st, "swap", "-", "swapctl", swapctl(st))
    seen: set[tuple[str, str]] = set()
    for dev in st["devices"]:
        disk = parent(dev)
        for x in (dev, disk):
            if ("diskinfo", x) in seen:
                continue
            seen.add(("diskinfo", x))
            text += run(st, "diskinfo", x, "diskinfo", *diskinfo_for(st, x))
        text += run(st, "fstyp", dev, "fstyp", *fstyp_for(st, dev))
        cands = [dev] + [f"{disk}p{q['i']}" for q in st["parts"] if disk == f"/dev/{st['geom']}"]
        for c in cands:
            if ("zdb", c) in seen:
                continue
            seen.add(("zdb", c))
            text += run(st, "zdb", c, "zdb", *zdb_for(st, c))
    text += f"@@GDA-{NONCE} DONE@@\n"
    if st["cut_after"] is not None:
        text = "".join(text.splitlines(keepends=True)[: st["cut_after"]])
    return text


if __name__ == "__main__":
    st = base_state()
    sys.stdout.write(render(st))
