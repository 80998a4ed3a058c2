"""The one remote script that gathers every disk fact in a single round trip (pure: text only).

The script is POSIX ``sh`` (it runs under dash on Debian/Ubuntu and under bash), needs no root and never
calls ``sudo``: run as a normal user, the probes that need to open a device (``wipefs``, ``blkid -p``,
``dd`` of the first/last sectors, ``fdisk -l``) fail with "Permission denied" and the parser records
their result as *unknown*, not *none*. Run under ``sudo`` the same script sees everything. It never
writes to any device.

Output format (parsed by :mod:`agent.core.blockdevs`). Every marker carries a random per-run nonce so
that nothing a device or a user controls (a label, a mount source) can forge a marker::

    @@GDA-FACTS v1 nonce=<N> uid=<uid>@@
    @@GDA-<N> BEGIN <section> <arg>@@      arg is the disk's kernel name, or "-" for global sections
    ...the command's stdout...
    @@GDA-<N> STDERR@@
    ...the command's stderr...
    @@GDA-<N> END rc=<exit status>@@
    ...more sections...
    @@GDA-<N> DONE@@                        absent if the output was truncated

Sections (``SECTION_*`` constants): ``os`` (/etc/os-release), ``tools`` (``name=path`` of each tool, empty
when missing), ``version`` per tool (arg = tool; ``-V``/``--version`` output, stderr folded in),
``lsblk`` (JSON, with a MOUNTPOINTS → MOUNTPOINT → minimal-columns fallback), ``root`` (``source=`` and
``dep=<kname> <type>`` lines from ``lsblk -s``), ``mounts`` (/proc/self/mounts), ``swaps`` (/proc/swaps),
``byid`` (``<link name><TAB><resolved target>``), and for every non-empty /sys/block entry: ``sysfs``
(``key=value``: size in 512-byte units, ro, removable, dev, logical/physical block size, device
serial/model/wwid, holders, partitions and their holders), ``wipefs`` (JSON), ``blkid`` (``blkid -p -o
export``), ``rawsig`` (hex of the MBR partition entries + boot signature, the first 8 bytes of LBA 1 and of
the last LBA, where a primary/backup GPT header starts with ``EFI PART``; libblkid ignores a backup GPT
whose primary header and protective MBR are gone) and ``fdisk`` (``fdisk -l``, for the human summary).
"""

from __future__ import annotations

import re
import secrets
import shlex

FACTS_FORMAT_VERSION = "1"

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

#: Tool versions asked for: (section arg, command argv). mke2fs prints its version on stderr.
VERSION_COMMANDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("util-linux", ("lsblk", "--version")),
    ("mke2fs", ("mke2fs", "-V")),
    ("mkfs.xfs", ("mkfs.xfs", "-V")),
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

_NONCE_RE = re.compile(r"^[A-Za-z0-9]{8,64}$")


def new_nonce() -> str:
    """Return a fresh random marker nonce (hex, 16 chars)."""
    return secrets.token_hex(8)


def validate_nonce(nonce: str) -> str:
    """Return ``nonce`` if it is 8-64 ASCII letters/digits (it is embedded in markers and regexes)."""
    if not _NONCE_RE.match(nonce):
        raise ValueError(f"invalid marker nonce {nonce!r}: need 8-64 letters or digits")
    return nonce


def _q(*words: str) -> str:
    """Shell-quote and join words."""
    return " ".join(shlex.quote(w) for w in words)


_PRELUDE = r"""
PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"
LC_ALL=C
export PATH LC_ALL
unset LOCK_BLOCK_DEVICE
umask 077
T=$(mktemp -d 2>/dev/null) || T=
if [ -z "$T" ] || [ ! -d "$T" ]; then
    echo "guest-disk-agent: cannot create a temporary directory" >&2
    exit 3
fi
trap 'rm -rf -- "$T"' EXIT
trap 'exit 130' HUP INT TERM

# gda_run SECTION ARG COMMAND...: run COMMAND and print its stdout, stderr and status between markers.
gda_run() {
    _s=$1; _a=$2; shift 2
    "$@" >"$T/out" 2>"$T/err" </dev/null
    _rc=$?
    printf '@@GDA-%s BEGIN %s %s@@\n' "$N" "$_s" "$_a"
    [ -s "$T/out" ] && awk 1 "$T/out"
    printf '@@GDA-%s STDERR@@\n' "$N"
    [ -s "$T/err" ] && awk 1 "$T/err"
    printf '@@GDA-%s END rc=%s@@\n' "$N" "$_rc"
}

gda_version() { "$@" 2>&1; }

gda_tools() {
    for _t in $GDA_TOOLS; do
        printf '%s=' "$_t"
        command -v "$_t" 2>/dev/null || echo
    done
}

gda_lsblk() {
    lsblk -J -b -o "$GDA_COLS,MOUNTPOINTS" && return 0
    lsblk -J -b -o "$GDA_COLS,MOUNTPOINT" && return 0
    lsblk -J -b -o "$GDA_MINCOLS"
}

gda_root() {
    _src=$(findmnt -n -o SOURCE /) || return 1
    printf 'source=%s\n' "$_src"
    _dev=${_src%%\[*}
    case $_dev in
        /dev/*) lsblk -s -n -r -o KNAME,TYPE -- "$_dev" | while read -r _k _t; do
                    printf 'dep=%s %s\n' "$_k" "$_t"
                done ;;
    esac
}

gda_byid() {
    if [ ! -d /dev/disk/by-id ]; then
        echo "no /dev/disk/by-id directory" >&2
        return 3
    fi
    for _l in /dev/disk/by-id/*; do
        [ -L "$_l" ] || continue
        printf '%s\t%s\n' "${_l##*/}" "$(readlink -f -- "$_l")"
    done
}

gda_sysfs() {
    _d=/sys/block/$1
    for _f in size ro removable dev queue/logical_block_size queue/physical_block_size \
              device/serial device/model device/wwid wwid; do
        [ -r "$_d/$_f" ] || continue
        _v=
        read -r _v <"$_d/$_f" 2>/dev/null
        printf '%s=%s\n' "$_f" "$_v"
    done
    printf 'holders=%s\n' "$(ls -A "$_d/holders" 2>/dev/null | tr '\n' ' ')"
    for _p in "$_d"/*/partition; do
        [ -e "$_p" ] || continue
        _pd=${_p%/partition}
        printf 'partition=%s\n' "${_pd##*/}"
        printf 'partition_holders=%s:%s\n' "${_pd##*/}" "$(ls -A "$_pd/holders" 2>/dev/null | tr '\n' ' ')"
    done
}

gda_wipefs() {
    wipefs --no-act --json --output UUID,LABEL,LENGTH,TYPE,OFFSET,USAGE,DEVICE -- "/dev/$1" && return 0
    wipefs --no-act --json -- "/dev/$1"
}

# gda_hex FILE SKIP COUNT: COUNT bytes of FILE from SKIP as one hex string ("od -v": no "*" folding).
gda_hex() { od -A n -v -t x1 -j "$2" -N "$3" "$1" | tr -d ' \n'; }

gda_rawsig() {
    _dev=/dev/$1
    _lbs=$(cat "/sys/block/$1/queue/logical_block_size" 2>/dev/null)
    case $_lbs in ''|*[!0-9]*) _lbs=512 ;; esac
    _sz=$(cat "/sys/block/$1/size") || return 1
    _last=$(( _sz * 512 / _lbs - 1 ))
    printf 'lbs=%s\nlast_lba=%s\n' "$_lbs" "$_last"
    dd if="$_dev" of="$T/raw" bs=512 count=1 2>"$T/dd" || { cat "$T/dd" >&2; return 1; }
    printf 'mbr_tail=%s\n' "$(gda_hex "$T/raw" 446 66)"
    dd if="$_dev" of="$T/raw" bs="$_lbs" skip=1 count=1 2>"$T/dd" || { cat "$T/dd" >&2; return 1; }
    printf 'lba1=%s\n' "$(gda_hex "$T/raw" 0 8)"
    dd if="$_dev" of="$T/raw" bs="$_lbs" skip="$_last" count=1 2>"$T/dd" || { cat "$T/dd" >&2; return 1; }
    printf 'last=%s\n' "$(gda_hex "$T/raw" 0 8)"
}
"""

_BODY = r"""
printf '@@GDA-FACTS v%s nonce=%s uid=%s@@\n' "$GDA_VERSION" "$N" "$(id -u)"
gda_run os - cat /etc/os-release
gda_run tools - gda_tools
__VERSIONS__
gda_run lsblk - gda_lsblk
gda_run root - gda_root
gda_run mounts - cat /proc/self/mounts
gda_run swaps - cat /proc/swaps
gda_run byid - gda_byid
for _b in /sys/block/*; do
    [ -e "$_b/size" ] || continue
    _k=${_b##*/}
    [ "$(cat "$_b/size" 2>/dev/null)" = 0 ] && continue
    gda_run sysfs "$_k" gda_sysfs "$_k"
    gda_run wipefs "$_k" gda_wipefs "$_k"
    gda_run blkid "$_k" blkid -p -o export -- "/dev/$_k"
    gda_run rawsig "$_k" gda_rawsig "$_k"
    gda_run fdisk "$_k" fdisk -l -- "/dev/$_k"
done
printf '@@GDA-%s DONE@@\n' "$N"
"""


def render_facts_script(nonce: str | None = None) -> str:
    """Return the facts-gathering script (POSIX sh; run it with ``sh -s`` or ``sudo -S sh -s``).

    ``nonce`` fixes the marker nonce (tests); by default a fresh random one is used. The parser reads it
    back from the header line, so the caller need not remember it.
    """
    n = validate_nonce(nonce if nonce is not None else new_nonce())
    versions = "\n".join(
        f"gda_run {SECTION_VERSION} {shlex.quote(arg)} gda_version {_q(*argv)}"
        for arg, argv in VERSION_COMMANDS
    )
    header = "\n".join(
        (
            "#!/bin/sh",
            "# guest-disk-agent: gather block-device facts (read-only; writes nothing to any device)",
            f"N={shlex.quote(n)}",
            f"GDA_VERSION={shlex.quote(FACTS_FORMAT_VERSION)}",
            f"GDA_TOOLS={shlex.quote(' '.join(TOOLS))}",
            f"GDA_COLS={shlex.quote(','.join(LSBLK_COLUMNS))}",
            f"GDA_MINCOLS={shlex.quote(','.join(LSBLK_MINIMAL_COLUMNS))}",
        )
    )
    return header + _PRELUDE + _BODY.replace("__VERSIONS__", versions)
