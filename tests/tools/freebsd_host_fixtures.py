"""(Run from tests/tools: python freebsd_host_fixtures.py.) Write tests/facts/host.facts and tests/facts/host.check cases (expected filled by GDA_UPDATE_FACTS=1)."""

from __future__ import annotations

import json
from pathlib import Path

from freebsd_host_outputs import DISKID, base_state, render

ROOT = Path(__file__).resolve().parents[1] / "facts"
P = f"/dev/{DISKID}p"

SOURCE = [
    "framing: agent/scripts/host_facts.sh with agent/scripts/lib/marker.sh (gda_run); the command outputs"
    " are printf renderings of FreeBSD's own formats, cited below, over a scenario's host state",
    "host state: the seed's disk (/work/shared/seed/bhyve_storage/gpart_show_output_all: p3 freebsd-zfs"
    " 256G, p4 linux-data 256G); pool zdata on p3 holds the VMs (vm-bhyve.log:"
    " /dev/zvol/zdata/vms/xdev/disk0), zroot on p5; the NVMe sits at slot 5 (vm-bhyve.log: -s 5:0,nvme)",
    "glabel status -s: freebsd-src sbin/geom/core/geom.c std_status/status_one_geom"
    " ('%*s  %*s  %s', status N/A for the label class)",
    "gpart show -p: freebsd-src sbin/geom/class/part/geom_part.c gpart_show_geom (provider names with -p;"
    " widths from the last LBA and the longest name)",
    "gpart list: freebsd-src sbin/geom/core/geom.c list_one_geom/list_one_provider/list_one_consumer;"
    " field set and order as captured in TritonDataCenter/smartos-docs"
    " docs/creating-a-smartos-bootable-usb-key.md; empty GPT label shown as 'label: (null)'",
    "GPT rawtype GUIDs: freebsd-src sys/sys/disk/gpt.h (freebsd-zfs 516e7cba..., freebsd-boot 83bd6b9d...,"
    " efi c12a7328... as in the captures above)",
    "diskinfo -v: freebsd-src usr.sbin/diskinfo/diskinfo.c main, the -v branch ('\\t%-12jd\\t# ...')",
    "zpool status -P: openzfs cmd/zpool/zpool_main.c status_callback/print_status_config; layout as"
    " captured in a FreeBSD root-on-ZFS write-up ('gpart show -p' and 'zpool status -P' side by side)",
    "zdb -l: openzfs cmd/zdb/zdb.c dump_label/print_label_header/dump_config_from_label ('    labels ="
    " 0 1 2 3 '); captured label dumps https://github.com/openzfs/zfs/pull/12685 (state: 1 exported),"
    " https://github.com/openzfs/zfs/issues/4337 ('failed to unpack label N'); exit 2 without a label:"
    " https://github.com/openzfs/zfs/pull/5730",
    "mount -p: freebsd-src sbin/mount/mount.c putfsent (tab padding below 8/16/24 characters, dump/pass)",
    "swapctl -l: freebsd-src sbin/swapon/swapon.c swaplist ('%-13s %*s %*s' header, '/dev/%-8s')",
    "fstyp -l -u: freebsd-src usr.sbin/fstyp/fstyp.c main ('<type> <label>', -u adds zfs/geli;"
    " 'filesystem not recognized', exit 1); usr.sbin/fstyp/tests/fstyp_test.sh ('ext2fs foo')",
]


def write(group: str, name: str, case: dict) -> None:
    folder = ROOT / group
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.json"
    old = json.loads(path.read_text()) if path.exists() else {}
    case = {"source": SOURCE, **case, "expected": old.get("expected")}
    path.write_text(json.dumps(case, indent=2, sort_keys=True, ensure_ascii=False) + "\n")


def part(st: dict, i: int) -> dict:
    return next(p for p in st["parts"] if p["i"] == i)


def check(name: str, description: str, device: str, st: dict, **options: object) -> None:
    st["devices"] = [device]
    write(
        "host.check",
        name,
        {"description": description, "device": device, "options": options, "output": render(st)},
    )


# ----------------------------------------------------------------------------------------- host.facts
st = base_state()
write("host.facts", "seed_host", {"description": "the seed's host, asked about p4", "output": render(st)})

st = base_state()
part(st, 4)["label"] = "\x1b[2Kdata\u202e"
st["label_extra"] = {}
write(
    "host.facts",
    "hostile_label_escapes",
    {
        "description": "a GPT label holding ESC[2K and a bidi override: shown as escapes in labels and"
        " providers",
        "output": render(st),
    },
)

st = base_state()
st["cut_after"] = 60
write(
    "host.facts",
    "cut_short_in_gpart_list",
    {
        "description": "the connection dropped inside gpart list: what was read is kept, the rest is named"
        " as not checked",
        "output": render(st),
    },
)

write(
    "host.facts",
    "not_the_script",
    {
        "description": "something else answered (a shell error): no header, a MarkerError",
        "output": "sh: 1: Syntax error: end of file unexpected\n",
    },
)

st = base_state()
st["geom"] = "nda0"
st["pools"] = {}
st["mounts"] = [("/dev/nda0p3", "/", "ufs", "rw"), ("devfs", "/dev", "devfs", "rw,multilabel")]
part(st, 3)["type"] = "freebsd-ufs"
st["fstyp"] = {1: ("msdosfs", "EFISYS"), 3: ("ufs", None)}
st["swaps"] = [("nda0p2", 4194304)]
for p in st["parts"]:
    p["label"] = "(null)"
st["devices"] = ["/dev/nda0p4"]
write(
    "host.facts",
    "ufs_host_no_labels_no_pools",
    {
        "description": "a UFS host without diskid labels: the table sits on nda0, no pool at all",
        "output": render(st),
    },
)

# ----------------------------------------------------------------------------------------- host.check
check(
    "seed_p4_accepted",
    "the seed's p4 (linux-data, unused): no error, size and slot serial as info",
    P + "4",
    base_state(),
    slot=5,
)
check(
    "seed_p3_refused_pool_named_p4_suggested",
    "the seed's p3: freebsd-zfs and in the imported pool zdata; p4 is suggested",
    P + "3",
    base_state(),
    slot=5,
)

st = base_state()
st["pools"] = {"zroot": [f"/dev/{DISKID}p5"]}
st["exported"] = {3: "zdata"}
st["mounts"] = [m for m in st["mounts"] if not m[0].startswith("zdata")]
part(st, 3)["mode"] = "r0w0e0"
check(
    "p3_exported_pool_found_by_zdb",
    "zdata exported: zpool status lists only zroot, zdb -l finds zdata's label on p3",
    P + "3",
    st,
    slot=5,
)

st = base_state()
st["exported"] = {4: "scratch"}
st["fstyp"][4] = ("zfs", "scratch")
check(
    "p4_linux_data_with_exported_pool",
    "p4 is linux-data but carries an exported pool's label: only zdb -l (and fstyp -u) reveal it",
    P + "4",
    st,
    slot=5,
)

st = base_state()
part(st, 4).update(type="freebsd-ufs", label="data", mode="r1w1e1")
st["mounts"].append(("/dev/gpt/data", "/data", "ufs", "rw"))
st["fstyp"][4] = ("ufs", "data")
check(
    "mounted_ufs",
    "p4 is a UFS filesystem mounted on /data through its /dev/gpt/data label",
    P + "4",
    st,
    slot=5,
)

check("swap_partition", "p2 is freebsd-swap, active as /dev/gpt/swap0.eli", P + "2", base_state(), slot=5)
check("efi_partition", "p1 is the EFI system partition, mounted on /boot/efi", P + "1", base_state(), slot=5)
check("whole_disk_with_table", "the whole disk nda0 carries the GPT table", "/dev/nda0", base_state(), slot=5)

st = base_state()
part(st, 4)["mode"] = "r1w1e1"
check("p4_open_while_guest_stopped", "p4 is open (Mode r1w1e1) with the guest stopped", P + "4", st, slot=5)
check(
    "p4_open_by_the_running_guest",
    "p4 is open because the guest (bhyve) runs: no warning",
    P + "4",
    st,
    slot=5,
    guest_running=True,
)

st = base_state()
st["fstyp"][4] = ("ext2fs", "data")
check("p4_already_ext2fs", "p4 already carries ext4 (fstyp: ext2fs data)", P + "4", st, slot=5)

st = base_state()
part(st, 4)["type"] = "ms-basic-data"
check("p4_type_ms_basic_data", "p4 has type ms-basic-data: a warning, not an error", P + "4", st, slot=5)

check(
    "p4_pinned_serial",
    "ser= given in disk1_opts: that serial, not NVME-5-0",
    P + "4",
    base_state(),
    serial="Y39B70RTK7ASp4",
    slot=5,
)
check(
    "p4_long_serial_truncated",
    "a ser= longer than the 20-byte NVMe field",
    P + "4",
    base_state(),
    serial="DISK-Y39B70RTK7ASp4-data",
)
check("no_such_partition", "a partition the host does not have", P + "9", base_state(), slot=5)

st = base_state()
st["missing"] = ["gpart"]
check("gpart_missing", "gpart cannot run: type and table unknown, an error", P + "4", st, slot=5)

st = base_state()
st["fail"] = {"zpool_status": (1, "internal error: failed to initialize ZFS library\n")}
check("zpool_failed", "zpool status failed: a warning that pools were not checked", P + "4", st, slot=5)

st = base_state()
st["cut_after"] = 200
check("cut_short", "the output stops before the end: an error (later checks missing)", P + "4", st, slot=5)

st = base_state()
st["geom"] = "nda0"
for p in st["parts"]:
    p["label"] = "(null)"
st["pools"] = {"zdata": ["/dev/nda0p3"], "zroot": ["/dev/nda0p5"]}
st["mounts"] = [m for m in st["mounts"] if m[0] != "/dev/gpt/efiboot0"] + [
    ("/dev/nda0p1", "/boot/efi", "msdosfs", "rw")
]
st["swaps"] = [("nda0p2.eli", 4194304)]
check(
    "plain_names_p3_refused",
    "no diskid labels (the table on nda0): /dev/nda0p3 refused, /dev/nda0p4 suggested",
    "/dev/nda0p3",
    st,
    slot=5,
)
