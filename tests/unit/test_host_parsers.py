"""The FreeBSD host parsers on their own: real layouts (cited in agent/core/host/*), hostile and cut input."""

from __future__ import annotations

from agent.core.host.diskinfo_output import parse_diskinfo
from agent.core.host.fstyp_output import parse_fstyp
from agent.core.host.glabel_status import GeomNames, parse_glabel_status, strip_layers
from agent.core.host.gpart_output import parse_gpart_list, parse_gpart_show
from agent.core.host.host_mounts import parse_mount_p, parse_swapctl
from agent.core.host.zpool_output import parse_zdb_label, parse_zpool_status
from agent.core.marker import Section

# gpart show (no -p) exactly as the seed's host printed it (/work/shared/seed/.../gpart_show_output_all)
SEED_SHOW = """\
=>        40  3907029088  diskid/DISK-Y39B70RTK7AS  GPT  (1.8T)
          40      532480                         1  efi  (260M)
      532520        2008                            - free -  (1.0M)
      534528     4194304                         2  freebsd-swap  (2.0G)
     4728832   536870912                         3  freebsd-zfs  (256G)
   541599744   536870912                         4  linux-data  (256G)
  1078470656  2828558336                         5  freebsd-zfs  (1.3T)
  3907028992         136                            - free -  (68K)
"""

# gpart show -p and zpool status -P as captured side by side on a FreeBSD root-on-ZFS host
CAPTURED_SHOW_P = """\
=>      40  41942960    da0  GPT  (20G)
        40      1024  da0p1  freebsd-boot  (512K)
      1064       984         - free -  (492K)
      2048  41940952  da0p2  freebsd-zfs  (20G)
"""
CAPTURED_ZPOOL = """\
  pool: zroot
 state: ONLINE
config:
\tNAME              STATE     READ WRITE CKSUM
\tzroot             ONLINE       0     0     0
\t  /dev/da0p2.eli  ONLINE       0     0     0
"""

# gpart list as captured (TritonDataCenter/smartos-docs, creating-a-smartos-bootable-usb-key.md), cut
CAPTURED_LIST = """\
Geom name: da0
modified: false
state: OK
fwheads: 255
fwsectors: 63
last: 15248831
first: 63
entries: 4
scheme: MBR
Providers:
1. Name: da0s1
   Mediasize: 1999564800 (1.9G)
   Sectorsize: 512
   Stripesize: 0
   Stripeoffset: 307200
   Mode: r1w1e2
   efimedia: HD(1,MBR,00000000,0x258,0x3b9778)
   attrib: active
   rawtype: 12
   length: 1999564800
   offset: 307200
   type: fat32lba
   index: 1
   end: 3905999
   start: 600
Consumers:
1. Name: da0
   Mediasize: 7807401984 (7.3G)
   Sectorsize: 512
   Mode: r1w1e3
"""


def sec(stdout: str = "", stderr: str = "", rc: int | None = 0) -> Section:
    return Section("x", "-", stdout, stderr, rc)


# ---------------------------------------------------------------------------------------------- gpart


def test_gpart_show_reads_the_seed_table_by_index() -> None:
    (table,) = parse_gpart_show(SEED_SHOW)
    assert (table.geom, table.scheme, table.first, table.sectors) == (
        "diskid/DISK-Y39B70RTK7AS",
        "GPT",
        40,
        3907029088,
    )
    assert [(r.index, r.type, r.size_text) for r in table.rows] == [
        (1, "efi", "260M"),
        (2, "freebsd-swap", "2.0G"),
        (3, "freebsd-zfs", "256G"),
        (4, "linux-data", "256G"),
        (5, "freebsd-zfs", "1.3T"),
    ]
    assert all(r.provider is None for r in table.rows)


def test_gpart_show_p_reads_provider_names_and_skips_free_space() -> None:
    (table,) = parse_gpart_show(CAPTURED_SHOW_P)
    assert [(r.provider, r.type, r.start, r.sectors) for r in table.rows] == [
        ("da0p1", "freebsd-boot", 40, 1024),
        ("da0p2", "freebsd-zfs", 2048, 41940952),
    ]


def test_gpart_show_corrupt_attributes_and_unknown_type() -> None:
    text = (
        "=>      40  10239920  vtbd0  GPT  (50G) [CORRUPT]\n"
        "        40      1024  vtbd0p1  freebsd-boot  [bootme]  (512K)\n"
        "      1064   2048000  vtbd0p2  !0fc63daf-0000-4772-8e79-3d69d8477de4  (1000M)\n"
    )
    (table,) = parse_gpart_show(text)
    assert table.corrupt
    assert table.rows[0].attrs == ("bootme",)
    assert table.rows[1].type == "!0fc63daf-0000-4772-8e79-3d69d8477de4"


def test_gpart_show_garbage_and_rows_before_any_header_are_ignored() -> None:
    assert parse_gpart_show("        40  1024  da0p1  efi  (512K)\nnot a table\n\x00\x1b[2J\n") == ()


def test_gpart_list_captured_mbr_geom() -> None:
    (g,) = parse_gpart_list(CAPTURED_LIST)
    assert g.name == "da0" and g.scheme == "MBR" and g.config["last"] == "15248831"
    (p,) = g.providers
    assert (p.name, p.mediasize, p.sectorsize, p.mode, p.type, p.index) == (
        "da0s1",
        1999564800,
        512,
        "r1w1e2",
        "fat32lba",
        1,
    )
    assert p.opened is True and p.get("attrib") == "active"
    (c,) = g.consumers
    assert (c.name, c.mediasize, c.mode) == ("da0", 7807401984, "r1w1e3")


def test_gpart_list_closed_mode_null_label_and_control_characters() -> None:
    text = (
        "Geom name: nda0\nscheme: GPT\nProviders:\n1. Name: nda0p4\n   Mediasize: 1073741824 (1.0G)\n"
        "   Sectorsize: 512\n   Mode: r0w0e0\n   label: (null)\n   type: linux-data\n"
        "2. Name: nda0p5\n   Mode: rXw0e0\n   label: \x1b[2Khidden\n   type: linux\u202edata\n"
    )
    (g,) = parse_gpart_list(text)
    p4, p5 = g.providers
    assert p4.opened is False and p4.get("label") is None
    assert p5.opened is None  # a mode that is not rNwNeN is "unknown", not "closed"
    assert p5.get("label") == "\\x1b[2Khidden" and p5.type == "linux\\u202edata"
    assert p5.mediasize is None


def test_gpart_list_cut_short_keeps_what_was_read() -> None:
    cut = CAPTURED_LIST[: CAPTURED_LIST.index("   type: fat32lba")]
    (g,) = parse_gpart_list(cut)
    (p,) = g.providers
    assert p.name == "da0s1" and p.type is None and p.mediasize == 1999564800
    assert g.consumers == ()


# --------------------------------------------------------------------------------------------- glabel


def test_glabel_status_resolves_diskid_and_partition_suffixes() -> None:
    text = (
        "diskid/DISK-Y39B70RTK7AS     N/A  nda0\n"
        "               gpt/swap0     N/A  diskid/DISK-Y39B70RTK7ASp2\n"
        "   gptid/7a2b4e61-9172-11f0  N/A  diskid/DISK-Y39B70RTK7ASp2\n"
    )
    names = GeomNames.from_entries(parse_glabel_status(text))
    assert names.canonical("/dev/diskid/DISK-Y39B70RTK7ASp4") == "nda0p4"
    assert names.canonical("diskid/DISK-Y39B70RTK7AS") == "nda0"
    assert names.canonical("/dev/gpt/swap0.eli") == "nda0p2"
    assert names.canonical("/dev/gptid/7a2b4e61-9172-11f0") == "nda0p2"
    assert names.canonical("/dev/ada1p3") == "ada1p3"  # unknown names stay as they are
    assert names.aliases("nda0p2") == ("gpt/swap0", "gptid/7a2b4e61-9172-11f0")


def test_glabel_prefers_the_longest_label_and_stops_on_loops() -> None:
    names = GeomNames({"diskid/DISK-ABs1": "ada0", "diskid/DISK-AB": "ada9", "a": "b", "b": "a"})
    assert names.canonical("diskid/DISK-ABs1p2") == "ada0p2"
    assert names.canonical("a") in ("a", "b")  # a label loop ends after a bounded number of steps


def test_glabel_header_short_and_hostile_lines() -> None:
    text = "      Name  Status  Components\nonly-two N/A\ngpt/\x1b]0;x\x07  N/A  nda0p1\n"
    (entry,) = parse_glabel_status(text)
    assert entry.name == "gpt/\\x1b]0;x\\x07" and entry.component == "nda0p1"


def test_strip_layers() -> None:
    assert strip_layers("nda0p2.eli") == ("nda0p2", ".eli")
    assert strip_layers(".eli") == (".eli", "")


# ------------------------------------------------------------------------------------------- diskinfo


def test_diskinfo_reads_size_sector_and_ident() -> None:
    text = (
        "/dev/ada1p1\n\t512         \t# sectorsize\n\t240057364480\t# mediasize in bytes (224G)\n"
        "\t468862040   \t# mediasize in sectors\n\t4096        \t# stripesize\n"
        "\tCVDA615500SP2403GN\t# Disk ident.\n\tNot_Zoned   \t# Zone Mode\n"
    )
    info = parse_diskinfo(text, "/dev/ada1p1")
    assert (info.sectorsize, info.mediasize, info.ident) == (512, 240057364480, "CVDA615500SP2403GN")
    assert info.fields["Zone Mode"] == "Not_Zoned"


def test_diskinfo_truncated_or_garbage() -> None:
    info = parse_diskinfo("/dev/nda0\n\t512         \t# sectorsize\n\t2740", "/dev/nda0")
    assert info.sectorsize == 512 and info.mediasize is None
    bad = parse_diskinfo("\tlots\t# mediasize in bytes (x)\n\t\x1b[31m\t# Disk ident.\n", "/dev/x")
    assert bad.mediasize is None and bad.ident == "\\x1b[31m"


# ---------------------------------------------------------------------------------------- zpool / zdb


def test_zpool_status_captured_leaves_and_groups() -> None:
    (pool,) = parse_zpool_status(CAPTURED_ZPOOL)
    assert (pool.name, pool.state, pool.vdevs) == ("zroot", "ONLINE", ("/dev/da0p2.eli",))
    text = (
        "  pool: tank\n state: DEGRADED\nconfig:\n\n\tNAME STATE READ WRITE CKSUM\n\ttank DEGRADED 0 0 0\n"
        "\t  mirror-0 DEGRADED 0 0 0\n\t    /dev/gpt/a ONLINE 0 0 0\n\t    /dev/gpt/b REMOVED 0 0 0\n"
        "\tlogs\n\t  /dev/nda1p1 ONLINE 0 0 0\n\tcache\n\t  /dev/nda1p2 ONLINE 0 0 0\n\n"
        "errors: No known data errors\n"
    )
    (tank,) = parse_zpool_status(text)
    assert tank.vdevs == ("/dev/gpt/a", "/dev/gpt/b", "/dev/nda1p1", "/dev/nda1p2")


def test_zpool_status_no_pools_and_cut_short() -> None:
    assert parse_zpool_status("no pools available\n") == ()
    (pool,) = parse_zpool_status("  pool: zdata\n state: ONLINE\nconfig:\n\n\tNAME STATE\n\tzdata ONL")
    assert pool.name == "zdata" and pool.vdevs == ()


def test_zdb_label_exported_pool() -> None:
    text = (
        "------------------------------------\nLABEL 0\n------------------------------------\n"
        "    version: 5000\n    name: 'test'\n    state: 1\n    txg: 36\n"
        "    pool_guid: 17681031685777393746\n    hostname: 'h\x1b[2K'\n    vdev_tree:\n"
        "        type: 'disk'\n        name: 'not-the-pool'\n        path: '/dev/nda0p3'\n"
        "    labels = 0 1 2 3 \n"
    )
    z = parse_zdb_label(sec(text), "/dev/nda0p3")
    assert z.found and (z.pool, z.state, z.state_name) == ("test", 1, "exported")
    assert z.pool_guid == "17681031685777393746" and z.hostname == "h\\x1b[2K"
    assert z.paths == ("/dev/nda0p3",) and z.error is None


def test_zdb_label_none_and_cannot_open() -> None:
    none = "".join(f"----\nLABEL {n}\n----\nfailed to unpack label {n}\n" for n in range(4))
    z = parse_zdb_label(sec(none, rc=2), "/dev/nda0p4")
    assert not z.found and z.error is None
    gone = parse_zdb_label(sec("cannot open '/dev/x': No such file or directory\n", rc=1), "/dev/x")
    assert not gone.found and gone.error == "cannot open '/dev/x': No such file or directory"
    cut = parse_zdb_label(sec("----\nLABEL 0\n----\n    vers", rc=None), "/dev/y")
    assert not cut.found and cut.error == "cut short"


# ------------------------------------------------------------------------------- mount, swapctl, fstyp


def test_mount_p_tab_padded_lines() -> None:
    text = (
        "zroot/ROOT/default\t/\t\t\tzfs\trw,noatime,nfsv4acls \t0 0\n"
        "/dev/gpt/efiboot0\t/boot/efi\t\tmsdosfs\trw\t\t2 2\n"
        "#comment\n"
        "/dev/nda0p9\n"
    )
    mounts = parse_mount_p(text)
    assert [(m.device, m.mountpoint, m.fstype) for m in mounts] == [
        ("zroot/ROOT/default", "/", "zfs"),
        ("/dev/gpt/efiboot0", "/boot/efi", "msdosfs"),
    ]


def test_swapctl_list() -> None:
    text = "Device:       512-blocks      Used:\n/dev/gpt/swap0.eli    4194304          0\nTotal: 1 0\n"
    assert parse_swapctl(text) == ("/dev/gpt/swap0.eli",)
    assert parse_swapctl("") == ()


def test_fstyp_found_not_recognized_and_failed() -> None:
    found = parse_fstyp(sec("ext2fs foo bar\n"), "/dev/nda0p4")
    assert (found.type, found.label, found.known) == ("ext2fs", "foo bar", True)
    nothing = parse_fstyp(sec(stderr="fstyp: /dev/nda0p4: filesystem not recognized\n", rc=1), "/dev/nda0p4")
    assert (nothing.type, nothing.error) == (None, None)
    denied = parse_fstyp(sec(stderr="fstyp: /dev/nda0p4: Permission denied\n", rc=1), "/dev/nda0p4")
    assert denied.type is None and denied.error == "fstyp: /dev/nda0p4: Permission denied"
    odd = parse_fstyp(sec("weirdfs \x1b[2Kx\n"), "/dev/nda0p4")
    assert odd.type == "weirdfs" and not odd.known and odd.label == "\\x1b[2Kx"
    cut = parse_fstyp(sec(rc=None), "/dev/nda0p4")
    assert cut.error == "fstyp gave no answer (cut short)"
