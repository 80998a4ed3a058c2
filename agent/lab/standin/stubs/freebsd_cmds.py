"""The stand-in FreeBSD host's commands: glabel, gpart, diskinfo, zpool, zdb, mount, umount, swapctl,
fstyp, sysrc, zfs, kldstat, uname and vm-bhyve's vm (stubs/vm_bhyve.py), answering from one scenario
file (agent/lab/standin/scenario.py).

Run as ``python -m agent.lab.standin.stubs.freebsd_cmds SCENARIO ROOT TOOL ARGS...`` by the wrappers the
stand-in writes on its session's PATH. The outputs are those of agent/lab/standin/freebsd_outputs.py
(FreeBSD's printf formats, cited there and in tests/facts/host.*/*.json "source"), for exactly the
arguments agent/scripts/
host_facts.sh and vm_conf.sh give; any other arguments exit 1 with a FreeBSD-like usage message and a
line saying the stand-in does not know them, so that a script asking something else fails visibly.

``fstyp`` of a device the scenario maps to a local image probes it with ``blkid -p``, answering as
FreeBSD's fstyp does (freebsd-src usr.sbin/fstyp/fstyp.c main: ``printf("%s %s\\n", name, label)``
with -l and a label, else the name; ``warnx("%s: filesystem not recognized", path)`` and exit 1;
``err(1, "%s", path)`` when it cannot be opened; usage ``usage: fstyp [-l] [-s] [-u] special``). Its
ext2/3/4 probe is called ``ext2fs`` (usr.sbin/fstyp/tests/fstyp_test.sh: 'ext2fs foo'); it has no XFS
probe, so an XFS image is "filesystem not recognized". The label is encoded as its strsnvis
(VIS_GLOB | VIS_NL, extra ``"'$``) would: graphic characters and spaces as they are, the rest octal.
"""

from __future__ import annotations

import getopt
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from agent.lab.standin import freebsd_outputs as fho
from agent.lab.standin.scenario import load_state

Answer = tuple[str, str, int]

USAGE = {
    "glabel": "usage: glabel status [-ags] [name ...]\n",
    "gpart": "usage: gpart show [-l | -r] [-p] [geom ...]\n       gpart list [geom ...]\n",
    "diskinfo": "usage: diskinfo [-cipsStvw] disk ...\n",
    "zpool": "usage: zpool status [-P] [pool] ...\n",
    "zdb": "Usage:\tzdb -l [-Aqu] <device>\n",
    "mount": "usage: mount [-adflpruvw] [-F fstab] [-o options] [-t ufs | external_type]\n"
    "       mount [-dfpruvw] special | node\n"
    "       mount [-dfpruvw] [-o options] [-t ufs | external_type] special node\n",
    "swapctl": "usage: swapctl [-AghklmsU] [-a file ... | -d file ...]\n",
    "fstyp": "usage: fstyp [-l] [-s] [-u] special\n",
    "sysrc": "usage: sysrc [-cdDeEhinNqvx] [-f file] [--] name[[+|-]=value] ...\n",
    "zfs": "usage: zfs get [-Hp] [-o field[,...]] property[,...] filesystem ...\n",
    "kldstat": "usage: kldstat [-dhqv] [-i id] [-n filename]\n       kldstat [-dhqv] [-m modname]\n",
    "uname": "usage: uname [-abiKmnoprsUv]\n",
    "umount": "usage: umount [-fNnv] special ... | node ... | fsid ...\n"
    "       umount -a | -A [-F fstab] [-fnv] [-h host] [-t type]\n",
}


def usage(tool: str, args: list[str]) -> Answer:
    why = f"(stand-in FreeBSD host: {tool} {' '.join(args)!r} is not in its repertoire)\n"
    return "", USAGE[tool] + why, 1


# ------------------------------------------------------------------------------------------ fstyp
def vis(label: str) -> str:
    out = []
    for ch in label:
        if ch in "*?[#\"'$\n" or not (ch.isprintable() or ch == " "):
            out += [f"\\{b:03o}" for b in ch.encode("utf-8")]
        else:
            out.append(ch)
    return "".join(out)


def blkid(image: str) -> dict[str, str]:
    path = os.pathsep.join(["/usr/sbin", "/sbin", "/usr/bin", "/bin"])
    exe = shutil.which("blkid", path=path) or "blkid"
    r = subprocess.run([exe, "-p", "-o", "export", image], capture_output=True, text=True, check=False)
    return dict(line.split("=", 1) for line in r.stdout.splitlines() if "=" in line)


FSTYP_NAMES = {"ext2": "ext2fs", "ext3": "ext2fs", "ext4": "ext2fs", "vfat": "msdosfs", "ntfs": "ntfs"}


def fstyp(st: dict[str, Any], args: list[str]) -> Answer:
    try:
        opts, rest = getopt.getopt(args, "lsu")
    except getopt.GetoptError:
        return "", USAGE["fstyp"], 1
    if len(rest) != 1:
        return "", USAGE["fstyp"], 1
    flags = {o for o, _ in opts}
    dev = rest[0]
    image = st["images"].get(dev)
    if image is not None:
        if not Path(image).is_file():
            return "", f"fstyp: {dev}: No such file or directory\n", 1
        found = blkid(image)
        name = FSTYP_NAMES.get(found.get("TYPE", ""))
        if name is None:
            return "", f"fstyp: {dev}: filesystem not recognized\n", 1
        label = found.get("LABEL", "")
        return (f"{name} {vis(label)}" if "-l" in flags and label else name) + "\n", "", 0
    out, err, rc = fho.fstyp_for(st, dev)
    if rc == 0:
        name, _, label = out.rstrip("\n").partition(" ")
        if name in ("zfs", "geli") and "-u" not in flags:
            return "", f"fstyp: {dev}: filesystem not recognized\n", 1
        out = (f"{name} {label}" if label and "-l" in flags else name) + "\n"
    return out, err, rc


# ------------------------------------------------------------------------------------------ mount
LINUX_PATH = "/usr/sbin:/sbin:/usr/bin:/bin"


def _superblock(path: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read(4096)
    except OSError:
        return b""


def mount(st: dict[str, Any], args: list[str]) -> Answer:
    """``mount -p``, and the read-only test mount ``mount -t ext2fs -o ro <dev> <dir>`` (nothing else:
    never a read-write mount). FreeBSD's ext2fs refuses a superblock with an incompat feature outside
    EXT2F_INCOMPAT_SUPP (sys/fs/ext2fs/ext2_vfsops.c ext2_check_sb_compat: the kernel prints "WARNING:
    mount of %s denied due to unsupported optional features:" and the names to the console;
    ext2_mountfs returns EINVAL), or a wrong magic; mount(8) then says ``mount: <dev>: Invalid argument``
    (sbin/mount/mount_fs.c: ``warn("%s", dev)``). The stand-in decides that from the image's bytes with
    the feature list agent.core.host.host_verify holds (from sys/fs/ext2fs/ext2fs.h), then mounts the
    image with Linux (``ro,loop,noload``: no journal replay, nothing written) in the session's namespace."""
    if args == ["-p"]:
        return fho.mount_p(st), "", 0
    if len(args) != 6 or args[0] != "-t" or args[2] != "-o" or args[1] != "ext2fs" or args[3] != "ro":
        return usage("mount", args)
    from agent.core.host.host_verify import FREEBSD_INCOMPAT, parse_superblock

    dev, node = args[4], args[5]
    if not Path(node).is_dir():
        return "", f"mount: {node}: No such file or directory\n", 1
    image = st["images"].get(dev)
    sb = parse_superblock(_superblock(image)) if image else None
    if sb is None or sb.kind != "ext":
        return "", f"mount: {dev}: Invalid argument\n", 1
    denied = sb.incompat & ~FREEBSD_INCOMPAT if (sb.rev_level or 0) > 0 else 0
    if denied:  # the kernel's console line goes to dmesg, not to mount's stderr
        return "", f"mount: {dev}: Invalid argument\n", 1
    exe = shutil.which("mount", path=LINUX_PATH) or "/bin/mount"
    r = subprocess.run([exe, "-t", "ext4", "-o", "ro,loop,noload", str(image), node], capture_output=True,
                       text=True, check=False)  # fmt: skip
    if r.returncode != 0:
        return "", f"mount: {dev}: Input/output error\n(stand-in: Linux said {r.stderr.strip()!r})\n", 1
    return "", "", 0


def umount(args: list[str]) -> Answer:
    """``umount <dir>`` (the test mount's): the Linux umount of it."""
    if len(args) != 1 or args[0].startswith("-"):
        return usage("umount", args)
    exe = shutil.which("umount", path=LINUX_PATH) or "/bin/umount"
    r = subprocess.run([exe, args[0]], capture_output=True, text=True, check=False)
    if r.returncode != 0:
        return "", f"umount: {args[0]}: not a file system root directory\n", 1
    return "", "", 0


# ------------------------------------------------------------------------------------------ vm-bhyve
def _vm_dir(st: dict[str, Any], root: str) -> Path | None:
    """``$vm_dir`` (rc.conf's ``vm_dir``; ``zfs:<dataset>`` is the dataset's mountpoint) under ``root``."""
    vm_dir = st["rc_conf"].get("vm_dir", "")
    if vm_dir.startswith("zfs:"):
        mp = zfs_mountpoints(st, root).get(vm_dir[4:])
        return Path(mp) if mp else None
    return Path(root + vm_dir) if vm_dir else None


# ------------------------------------------------------------------------------------------ the rest
def geom_tools(tool: str, st: dict[str, Any], args: list[str]) -> Answer:
    table: dict[tuple[str, ...], Callable[[dict[str, Any]], str]] = {
        ("glabel", "status", "-s"): fho.glabel,
        ("gpart", "show", "-p"): fho.gpart_show,
        ("gpart", "list"): fho.gpart_list,
        ("zpool", "status", "-P"): fho.zpool_status,
        ("swapctl", "-l"): fho.swapctl,
    }
    printer = table.get((tool, *args))
    return (printer(st), "", 0) if printer else usage(tool, args)


def sysrc(st: dict[str, Any], args: list[str]) -> Answer:
    names = args[1:] if args[:1] == ["-n"] else args
    if not names or any(n.startswith("-") or "=" in n for n in names):
        return usage("sysrc", args)
    out, err, rc = "", "", 0
    for n in names:
        if n in st["rc_conf"]:
            out += (st["rc_conf"][n] if args[:1] == ["-n"] else f"{n}: {st['rc_conf'][n]}") + "\n"
        else:
            err, rc = err + f"sysrc: unknown variable '{n}'\n", 1
    return out, err, rc


def zfs_mountpoints(st: dict[str, Any], root: str) -> dict[str, str]:
    return {dev: root + mp for dev, mp, typ, _ in st["mounts"] if typ == "zfs"}


def zfs(st: dict[str, Any], root: str, args: list[str]) -> Answer:
    if args[:1] != ["get"]:
        return usage("zfs", args)
    try:
        opts, rest = getopt.getopt(args[1:], "Hpo:")
    except getopt.GetoptError:
        return usage("zfs", args)
    fields = next((v for o, v in opts if o == "-o"), "name,property,value,source").split(",")
    if (
        ("-H", "") not in opts
        or len(rest) < 2
        or rest[0] != "mountpoint"
        or not set(fields) <= {"name", "property", "value", "source"}
    ):
        return usage("zfs", args)
    mps = zfs_mountpoints(st, root)
    out, err, rc = "", "", 0
    for ds in rest[1:]:
        if ds not in mps:
            err, rc = err + f"cannot open '{ds}': dataset does not exist\n", 1
            continue
        row = {"name": ds, "property": "mountpoint", "value": mps[ds], "source": "default"}
        out += "\t".join(row[f] for f in fields) + "\n"
    return out, err, rc


def kldstat(st: dict[str, Any], args: list[str]) -> Answer:
    if len(args) == 3 and args[0] == "-q" and args[1] in ("-m", "-n"):
        want = args[2].removesuffix(".ko")
        return "", "", 0 if any(k.removesuffix(".ko") == want for k in st["kld"]) else 1
    if args:
        return usage("kldstat", args)
    out = "Id Refs Address                Size Name\n"
    for n, name in enumerate(st["kld"], 1):
        out += f"{n:2d} {1:4d} 0x{0xFFFFFFFF80200000 + n * 0x100000:016x} {0x10000:8x} {name}\n"
    return out, "", 0


def uname(st: dict[str, Any], args: list[str]) -> Answer:
    sysname, _, release = st["uname"].partition(" ")
    values = {"s": sysname, "n": "bhyvehost", "r": release, "m": "amd64", "p": "amd64"}
    letters = "".join(a[1:] for a in args)
    if any(not a.startswith("-") for a in args) or set(letters) - set(values) - {"a"}:
        return usage("uname", args)
    if "a" in letters:
        letters = "snrm"
    order = [k for k in "snrmp" if k in (letters or "s")]
    return " ".join(values[k] for k in order) + "\n", "", 0


def answer(scenario: str, root: str, tool: str, args: list[str]) -> Answer:
    st = load_state(Path(scenario))
    if tool == "mount":
        return mount(st, args)
    if tool == "umount":
        return umount(args)
    if tool == "vm":
        from agent.lab.standin.stubs import vm_bhyve

        return vm_bhyve.vm(st, scenario, _vm_dir(st, root), args)
    if tool in ("glabel", "gpart", "zpool", "swapctl"):
        return geom_tools(tool, st, args)
    if tool == "diskinfo":
        return fho.diskinfo_for(st, args[1]) if len(args) == 2 and args[0] == "-v" else usage(tool, args)
    if tool == "zdb":
        return fho.zdb_for(st, args[1]) if len(args) == 2 and args[0] == "-l" else usage(tool, args)
    if tool == "fstyp":
        return fstyp(st, args)
    if tool == "sysrc":
        return sysrc(st, args)
    if tool == "zfs":
        return zfs(st, root, args)
    if tool == "kldstat":
        return kldstat(st, args)
    if tool == "uname":
        return uname(st, args)
    return "", f"{tool}: not a stand-in command\n", 127


def main(argv: list[str]) -> int:
    scenario, root, tool, *args = argv
    out, err, rc = answer(scenario, root, tool, args)
    sys.stdout.write(out)
    sys.stderr.write(err)
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
