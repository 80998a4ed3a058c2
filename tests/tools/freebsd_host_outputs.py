"""Generate host_facts.sh outputs for scenarios, with FreeBSD's printf formats (see the fixture sources).

The per-command printers (and ``diskinfo_for``/``fstyp_for``/``zdb_for``) live in the package, in
agent/lab/standin/freebsd_outputs.py: the stand-in FreeBSD host's stub commands print them too
(agent/lab/standin/stubs/freebsd_cmds.py), so the data cases and the stand-in cannot drift apart. Here:
the seed's host state (:func:`base_state`) and host_facts.sh's framing of a whole run (:func:`render`)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from agent.lab.standin.freebsd_outputs import (
    DISK_BYTES,
    DISKID,
    RAW,
    SECTOR,
    diskinfo,
    diskinfo_for,
    find_part,
    fstyp_for,
    glabel,
    gpart_list,
    gpart_show,
    humanize,
    mount_p,
    parent,
    part_name,
    swapctl,
    zdb_for,
    zdb_label,
    zdb_none,
    zpool_status,
)

__all__ = [
    "DISKID",
    "DISK_BYTES",
    "NONCE",
    "RAW",
    "SECTOR",
    "base_state",
    "diskinfo",
    "diskinfo_for",
    "find_part",
    "fstyp_for",
    "glabel",
    "gpart_list",
    "gpart_show",
    "humanize",
    "mount_p",
    "parent",
    "part_name",
    "render",
    "run",
    "section",
    "swapctl",
    "zdb_for",
    "zdb_label",
    "zdb_none",
    "zpool_status",
]

NONCE = "5eed0b5e7a1c4f02"


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
