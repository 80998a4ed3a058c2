"""The guarded mkfs: one remote script run under sudo, and the parser of its result (pure).

The script (POSIX sh; run it as ``sudo -S sh -s`` or ``sudo sh -c``, no pty) does, in order:

1. checks it is root and that the needed tools and the mkfs program exist;
2. resolves the stable path (``/dev/disk/by-id/...``) to the kernel node once, and from then on uses only
   that node, so the checked device and the formatted device are the same;
3. takes an exclusive BSD lock (``flock``) on the node — the convention udev honours, so udev does not
   probe the device while mkfs writes it;
4. re-checks, immediately before mkfs: serial, WWN (the NVMe namespace's own identity: lsblk's WWN,
   else sysfs ``wwid`` — the same source order as discovery) and size in bytes (still the chosen disk),
   writable, not mounted, not swap, no holders, no partitions, no partition table (wipefs/blkid plus a
   raw look for a protective MBR and primary/backup ``EFI PART`` headers), and signatures — none, or,
   with ``--force``, exactly the set discovery saw (``expected_signatures``);
5. runs mkfs with stdin from /dev/null and output captured, timed with ``date +%s%N``;
6. releases the lock, asks udev to re-read the device (``udevadm trigger --action=change`` + ``settle``),
   and verifies with ``blkid -p``: TYPE is the requested fs, a non-empty UUID, and no PTTYPE;
7. with ``verify_dumpe2fs`` (the FreeBSD ext4 profile), prints ``dumpe2fs -h`` of the new filesystem, so
   the caller can check its features without another round trip.

It never runs a partitioner and never writes anything but the mkfs.

Output: ``@@GDA-GUARD v1 nonce=<N>@@``, then ``@@GDA-<N> OBS key=value`` lines (what was observed), blocks
``@@GDA-<N> BEGIN <name> -@@`` … ``@@GDA-<N> END rc=<rc>@@`` (``wipefs``, ``mkfs``, ``blkid``,
``dumpe2fs``; stderr is folded into stdout there) and finally ``@@GDA-<N> RESULT code=<n>
reason=<name>@@``; the script exits with the same code. Exit codes: see :data:`GUARD_CODES`. The
``mkfs_argv`` observation is printed immediately before mkfs starts: output without a RESULT line tells
from it whether mkfs may have run.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from agent.core.facts_script import new_nonce, validate_nonce
from agent.core.mkfs import MKFS_TOOLS, FsType
from agent.errors import Refused, RemoteError

# ---------------------------------------------------------------------------------------- exit codes


@dataclass(frozen=True)
class GuardCode:
    """One exit code of the guard script."""

    code: int
    reason: str  # short name printed in the RESULT line
    summary: str
    hint: str
    device_changed: bool = False  # True only when mkfs ran (data on the device may have changed)


EXIT_OK = 0
EXIT_NOT_ROOT = 10
EXIT_NO_DEVICE = 11
EXIT_NOT_WHOLE_DISK = 12
EXIT_LOCKED = 13
EXIT_SERIAL = 14
EXIT_SIZE = 15
EXIT_READ_ONLY = 16
EXIT_MOUNTED = 17
EXIT_SWAP = 18
EXIT_HOLDERS = 19
EXIT_PARTITIONS = 20
EXIT_PARTITION_TABLE = 21
EXIT_SIGNATURE = 22
EXIT_PROBE_FAILED = 23
EXIT_MKFS_MISSING = 24
EXIT_TOOL_MISSING = 25
EXIT_MKFS_FAILED = 26
EXIT_VERIFY_FAILED = 27
EXIT_WWN = 28

_RECHECK = "re-run discovery (invoke disks) and check the guest; nothing was written"

#: The code table (codes 1, 2, 126, 127 and 255 are left to sudo, the shell and ssh).
GUARD_CODES: Mapping[int, GuardCode] = {
    c.code: c
    for c in (
        GuardCode(EXIT_OK, "ok", "filesystem created and verified", ""),
        GuardCode(EXIT_NOT_ROOT, "not-root", "the guard did not run as root", "run it under sudo"),
        GuardCode(EXIT_NO_DEVICE, "no-device", "the device path does not lead to a block device", _RECHECK),
        GuardCode(
            EXIT_NOT_WHOLE_DISK, "not-whole-disk", "the device is a partition, not a whole disk", _RECHECK
        ),
        GuardCode(
            EXIT_LOCKED,
            "locked",
            "another process holds the device lock",
            "retry when nothing else uses the disk",
        ),
        GuardCode(EXIT_SERIAL, "serial-mismatch", "the device's serial changed since discovery", _RECHECK),
        GuardCode(
            EXIT_WWN,
            "wwn-mismatch",
            "the device's WWN (the NVMe namespace's identity) changed since discovery",
            _RECHECK,
        ),
        GuardCode(EXIT_SIZE, "size-mismatch", "the device's size changed since discovery", _RECHECK),
        GuardCode(EXIT_READ_ONLY, "read-only", "the device is read-only", "check the vm-bhyve disk options"),
        GuardCode(
            EXIT_MOUNTED, "mounted", "the device is mounted", "unmount it first if it is really unused"
        ),
        GuardCode(
            EXIT_SWAP, "swap", "the device is in use as swap", "swapoff it first if it is really unused"
        ),
        GuardCode(EXIT_HOLDERS, "holders", "the device has holders (LVM/RAID/dm)", "deactivate them first"),
        GuardCode(EXIT_PARTITIONS, "partitions", "the device has partitions", _RECHECK),
        GuardCode(
            EXIT_PARTITION_TABLE,
            "partition-table",
            "the device carries a partition table (a table inside the host partition would hide the "
            "filesystem from the host)",
            "clear it deliberately with wipefs -a if it is really unused; " + _RECHECK,
        ),
        GuardCode(
            EXIT_SIGNATURE,
            "signature",
            "the device's signatures are not what discovery saw",
            "--force overwrites an existing filesystem; " + _RECHECK,
        ),
        GuardCode(
            EXIT_PROBE_FAILED,
            "probe-failed",
            "the device's signatures could not be probed",
            "check wipefs/blkid",
        ),
        GuardCode(
            EXIT_MKFS_MISSING, "mkfs-missing", "the mkfs program is not installed", "install the package"
        ),
        GuardCode(
            EXIT_TOOL_MISSING, "tool-missing", "a tool the guard needs is missing", "install util-linux"
        ),
        GuardCode(
            EXIT_MKFS_FAILED,
            "mkfs-failed",
            "mkfs failed",
            "read mkfs's output; the device may be partly written",
            device_changed=True,
        ),
        GuardCode(
            EXIT_VERIFY_FAILED,
            "verify-failed",
            "mkfs ran but blkid -p does not show the expected filesystem with a UUID and no partition table",
            "inspect the device with blkid -p and wipefs",
            device_changed=True,
        ),
    )
}

#: Tools the guard script needs besides mkfs.
GUARD_TOOLS: tuple[str, ...] = ("flock", "lsblk", "wipefs", "blkid", "dd", "od", "awk", "readlink", "date")


# --------------------------------------------------------------------------------------------- render


@dataclass(frozen=True)
class GuardSpec:
    """What the guard must find before it runs mkfs."""

    device_path: str  # /dev/disk/by-id/... (or /dev/<kname> when the guest has no by-id links)
    fs: FsType
    mkfs_argv: tuple[str, ...]  # from build_mkfs_argv (no device; normally force=True)
    expected_size_bytes: int
    expected_serial: str | None  # None: skip the serial check (devices without serial, e.g. loop)
    expected_signatures: tuple[str, ...] = ()  # non-partition-table signature types force may overwrite
    # lsblk WWN, else sysfs wwid (Disk.wwn); None: skip the check (devices without one, e.g. loop)
    expected_wwn: str | None = None
    verify_dumpe2fs: bool = False  # print ``dumpe2fs -h`` of the new filesystem (ext4 only)
    lock_timeout_s: int = 10
    settle_timeout_s: int = 30

    def __post_init__(self) -> None:
        if not self.device_path.startswith("/dev/") or any(c in self.device_path for c in "\0\n"):
            raise ValueError(f"device path must be an absolute /dev path: {self.device_path!r}")
        if not self.mkfs_argv or self.mkfs_argv[0] != MKFS_TOOLS[self.fs].program:
            raise ValueError(f"mkfs argv must start with {MKFS_TOOLS[self.fs].program}: {self.mkfs_argv!r}")
        if self.expected_size_bytes <= 0:
            raise ValueError("expected size must be positive")
        if self.verify_dumpe2fs and self.fs != "ext4":
            raise ValueError("dumpe2fs verification is for ext4 only")
        for v in (
            *self.mkfs_argv,
            *self.expected_signatures,
            self.expected_serial or "",
            self.expected_wwn or "",
        ):
            if "\0" in v or "\n" in v:
                raise ValueError(f"invalid value {v!r}")
        if any(not s or any(c.isspace() for c in s) for s in self.expected_signatures):
            raise ValueError(f"invalid signature types {self.expected_signatures!r}")


_SCRIPT = r"""
PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"
LC_ALL=C
export PATH LC_ALL
unset LOCK_BLOCK_DEVICE
umask 077

obs() { printf '@@GDA-%s OBS %s=%s\n' "$N" "$1" "$(printf '%s' "$2" | tr '\n' ' ')"; }
finish() {
    printf '@@GDA-%s RESULT code=%s reason=%s@@\n' "$N" "$1" "$2"
    [ -n "${T:-}" ] && rm -rf -- "$T"
    exit "$1"
}
block() {  # block NAME FILE RC
    printf '@@GDA-%s BEGIN %s -@@\n' "$N" "$1"
    awk 1 "$2"
    printf '@@GDA-%s END rc=%s@@\n' "$N" "$3"
}
trim() { sed -e 's/^[[:space:]]*//' -e 's/[[:space:]]*$//'; }
sorted_words() { tr ' ' '\n' | sed '/^$/d' | sort -u | tr '\n' ' ' | sed 's/ $//'; }
hex() { od -A n -v -t x1 -j "$2" -N "$3" "$1" | tr -d ' \n'; }

printf '@@GDA-GUARD v1 nonce=%s@@\n' "$N"
[ "$(id -u)" = 0 ] || finish 10 not-root
for t in $GUARD_TOOLS; do
    command -v "$t" >/dev/null 2>&1 || { obs missing_tool "$t"; finish 25 tool-missing; }
done
command -v "$MKFS_PROG" >/dev/null 2>&1 || { obs mkfs_program "$MKFS_PROG"; finish 24 mkfs-missing; }
T=$(mktemp -d 2>/dev/null) || T=
[ -n "$T" ] && [ -d "$T" ] || { obs error "mktemp failed"; finish 25 tool-missing; }

# --- resolve once; from here on only $dev is used
obs device_arg "$DEVICE_ARG"
dev=$(readlink -f -- "$DEVICE_ARG" 2>/dev/null) || dev=
obs device "$dev"
[ -n "$dev" ] && [ -b "$dev" ] || finish 11 no-device
k=${dev##*/}
S=/sys/class/block/$k
obs kname "$k"
[ -d "$S" ] || finish 11 no-device
[ -e "$S/partition" ] && finish 12 not-whole-disk
[ -r "$dev" ] || finish 11 no-device

# --- exclusive BSD lock on the node (udev skips locked devices)
exec 9<"$dev"
flock -x -w "$LOCK_WAIT" 9 || finish 13 locked
obs locked 1

# --- still the chosen disk?
serial=$(lsblk -d -n -o SERIAL -- "$dev" 2>/dev/null | trim)
[ -n "$serial" ] || serial=$(trim 2>/dev/null <"$S/device/serial")
obs serial "$serial"
if [ "$CHECK_SERIAL" = 1 ] && [ "$serial" != "$EXP_SERIAL" ]; then finish 14 serial-mismatch; fi
# the namespace's own identity (the serial is the controller's): same source order as discovery
wwn=$(lsblk -d -n -o WWN -- "$dev" 2>/dev/null | trim)
[ -n "$wwn" ] || wwn=$(trim 2>/dev/null <"$S/wwid")
[ -n "$wwn" ] || wwn=$(trim 2>/dev/null <"$S/device/wwid")
obs wwn "$wwn"
if [ "$CHECK_WWN" = 1 ] && [ "$wwn" != "$EXP_WWN" ]; then finish 28 wwn-mismatch; fi
sectors=$(cat "$S/size" 2>/dev/null)
case $sectors in ''|*[!0-9]*) finish 11 no-device ;; esac
size=$(( sectors * 512 ))
obs size_bytes "$size"
[ "$size" = "$EXP_SIZE" ] || finish 15 size-mismatch
ro=$(cat "$S/ro" 2>/dev/null)
obs read_only "$ro"
[ "$ro" = 0 ] || finish 16 read-only

# --- in use?
majmin=$(cat "$S/dev")
mounted=$(awk -v mm="$majmin" '$3 == mm { print $5 }' /proc/self/mountinfo | tr '\n' ' ')
while read -r src tgt rest; do
    case $src in
        /dev/*) [ "$(readlink -f -- "$src" 2>/dev/null)" = "$dev" ] && mounted="$mounted $tgt" ;;
    esac
done </proc/self/mounts
mounted=$(printf '%s' "$mounted" | sorted_words)
obs mounted "$mounted"
[ -z "$mounted" ] || finish 17 mounted
swap=
while read -r f rest; do
    case $f in
        /dev/*) [ "$(readlink -f -- "$f" 2>/dev/null)" = "$dev" ] && swap=$f ;;
    esac
done </proc/swaps
obs swap "$swap"
[ -z "$swap" ] || finish 18 swap
holders=$(ls -A "$S/holders" 2>/dev/null | tr '\n' ' ' | sed 's/ $//')
obs holders "$holders"
[ -z "$holders" ] || finish 19 holders
parts=
for p in "$S"/*/partition; do
    [ -e "$p" ] || continue
    pd=${p%/partition}
    parts="$parts ${pd##*/}"
done
parts=$(printf '%s' "$parts" | sorted_words)
obs partitions "$parts"
[ -z "$parts" ] || finish 20 partitions

# --- partition tables and signatures
wipefs --no-act --noheadings --output USAGE,TYPE -- "$dev" >"$T/wipefs" 2>&1
wrc=$?
block wipefs "$T/wipefs" "$wrc"
if [ "$wrc" = 0 ]; then
    pt=$(awk '$1 == "partition-table" { print $2 }' "$T/wipefs" | sorted_words)
    sigs=$(awk '$1 != "partition-table" && NF >= 2 { print $2 }' "$T/wipefs" | sorted_words)
else
    blkid -p -o export -- "$dev" >"$T/blkid0" 2>"$T/blkid0.err"
    brc=$?
    cat "$T/blkid0.err" >>"$T/blkid0"
    block blkid-before "$T/blkid0" "$brc"
    if [ "$brc" = 0 ]; then
        pt=$(sed -n 's/^PTTYPE=//p' "$T/blkid0")
        sigs=$(sed -n 's/^TYPE=//p' "$T/blkid0")
    elif [ "$brc" = 2 ] && [ ! -s "$T/blkid0.err" ]; then
        pt=; sigs=
    elif [ "$brc" = 8 ]; then
        pt=; sigs=ambivalent
    else
        finish 23 probe-failed
    fi
fi
lbs=$(cat "$S/queue/logical_block_size" 2>/dev/null)
case $lbs in ''|*[!0-9]*) lbs=512 ;; esac
last=$(( size / lbs - 1 ))
dd if="$dev" of="$T/s" bs=512 count=1 2>/dev/null || finish 23 probe-failed
mbr=$(hex "$T/s" 446 66)
dd if="$dev" of="$T/s" bs="$lbs" skip=1 count=1 2>/dev/null || finish 23 probe-failed
lba1=$(hex "$T/s" 0 8)
dd if="$dev" of="$T/s" bs="$lbs" skip="$last" count=1 2>/dev/null || finish 23 probe-failed
lastsig=$(hex "$T/s" 0 8)
obs raw_mbr_tail "$mbr"
obs raw_lba1 "$lba1"
obs raw_last "$lastsig"
case $mbr in
    *55aa) case ${mbr%55aa} in *[1-9a-f]*) pt="$pt mbr" ;; esac ;;
esac
[ "$lba1" = 4546492050415254 ] && pt="$pt gpt-primary"
[ "$lastsig" = 4546492050415254 ] && pt="$pt gpt-backup"
pt=$(printf '%s' "$pt" | sorted_words)
obs partition_table "$pt"
[ -z "$pt" ] || finish 21 partition-table
sigs=$(printf '%s' "$sigs" | sorted_words)
obs signatures "$sigs"
obs expected_signatures "$EXP_SIGS"
[ "$sigs" = "$EXP_SIGS" ] || finish 22 signature

# --- mkfs (no tty, stdin closed, lock fd not inherited)
obs mkfs_argv "$*"
start=$(date +%s%N)
"$@" "$dev" >"$T/mkfs" 2>&1 </dev/null 9<&-
mrc=$?
end=$(date +%s%N)
obs mkfs_start_ns "$start"
obs mkfs_end_ns "$end"
block mkfs "$T/mkfs" "$mrc"
exec 9<&-
[ "$mrc" = 0 ] || finish 26 mkfs-failed

# --- let udev catch up (lock released), then verify on disk
if command -v udevadm >/dev/null 2>&1; then
    udevadm trigger --action=change -- "$dev" >/dev/null 2>&1
    udevadm settle --timeout="$SETTLE_WAIT" >/dev/null 2>&1
    obs udev_settle "$?"
else
    obs udev_settle missing
fi
blkid -p -o export -- "$dev" >"$T/blkid" 2>&1
brc=$?
block blkid "$T/blkid" "$brc"
[ "$brc" = 0 ] || finish 27 verify-failed
grep -q "^TYPE=$FS\$" "$T/blkid" || finish 27 verify-failed
grep -q '^UUID=[^[:space:]]' "$T/blkid" || finish 27 verify-failed
grep -q '^PTTYPE=' "$T/blkid" && finish 27 verify-failed
if [ "$VERIFY_DUMPE2FS" = 1 ]; then
    dumpe2fs -h -- "$dev" >"$T/dumpe2fs" 2>&1
    block dumpe2fs "$T/dumpe2fs" "$?"
fi
finish 0 ok
"""


def render_guard_script(spec: GuardSpec, nonce: str | None = None) -> str:
    """Return the guard+mkfs script for ``spec``; every interpolated value is shell-quoted."""
    n = validate_nonce(nonce if nonce is not None else new_nonce())
    q = shlex.quote
    sigs = " ".join(sorted(set(spec.expected_signatures)))
    lines = [
        "#!/bin/sh",
        "# guest-disk-agent: guarded mkfs on a whole disk (never partitions; refuses on any surprise)",
        f"N={q(n)}",
        f"DEVICE_ARG={q(spec.device_path)}",
        f"FS={q(spec.fs)}",
        f"MKFS_PROG={q(spec.mkfs_argv[0])}",
        f"EXP_SIZE={int(spec.expected_size_bytes)}",
        f"CHECK_SERIAL={0 if spec.expected_serial is None else 1}",
        f"EXP_SERIAL={q(spec.expected_serial or '')}",
        f"CHECK_WWN={0 if spec.expected_wwn is None else 1}",
        f"EXP_WWN={q(spec.expected_wwn or '')}",
        f"EXP_SIGS={q(sigs)}",
        f"VERIFY_DUMPE2FS={1 if spec.verify_dumpe2fs else 0}",
        f"LOCK_WAIT={int(spec.lock_timeout_s)}",
        f"SETTLE_WAIT={int(spec.settle_timeout_s)}",
        f"GUARD_TOOLS={q(' '.join(GUARD_TOOLS + (('dumpe2fs',) if spec.verify_dumpe2fs else ())))}",
        "set -- " + " ".join(q(a) for a in spec.mkfs_argv),
    ]
    return "\n".join(lines) + _SCRIPT


# ---------------------------------------------------------------------------------------------- parse


@dataclass(frozen=True)
class GuardOutput:
    """The guard script's output, split up."""

    code: int | None  # from the RESULT line (None if missing)
    reason: str | None
    observed: Mapping[str, str] = field(default_factory=dict)
    blocks: Mapping[str, tuple[int | None, str]] = field(default_factory=dict)  # name -> (rc, text)


@dataclass(frozen=True)
class GuardResult:
    """A successful guarded mkfs."""

    device: str  # kernel node that was formatted (e.g. /dev/nvme0n1)
    device_arg: str  # the stable path given
    fs: str
    uuid: str | None
    label: str | None
    mkfs_seconds: float | None
    mkfs_output: str
    blkid: Mapping[str, str]
    observed: Mapping[str, str]
    udev_settled: bool
    dumpe2fs: str | None = None  # ``dumpe2fs -h`` of the new filesystem (only with verify_dumpe2fs)


def split_guard_output(stdout: str) -> GuardOutput:
    """Split the guard's stdout into observations, blocks and the RESULT line; RemoteError if no header."""
    lines = stdout.splitlines()
    header = re.compile(r"^@@GDA-GUARD v1 nonce=([A-Za-z0-9]+)@@$")
    start = next((i for i, line in enumerate(lines) if header.match(line.strip())), None)
    if start is None:
        raise RemoteError(
            "the guard script produced no recognizable output", hint="first lines: " + " | ".join(lines[:3])
        )
    m = header.match(lines[start].strip())
    assert m is not None
    pfx = f"@@GDA-{m[1]} "
    obs: dict[str, str] = {}
    blocks: dict[str, tuple[int | None, str]] = {}
    code: int | None = None
    reason: str | None = None
    cur: str | None = None
    buf: list[str] = []
    begin_re = re.compile(rf"^{re.escape(pfx)}BEGIN (\S+) -@@$")
    end_re = re.compile(rf"^{re.escape(pfx)}END rc=(-?\d+)@@$")
    result_re = re.compile(rf"^{re.escape(pfx)}RESULT code=(\d+) reason=(\S+)@@$")
    for line in lines[start + 1 :]:
        if cur is not None:
            em = end_re.match(line)
            if em:
                blocks[cur] = (int(em[1]), "".join(x + "\n" for x in buf))
                cur = None
            else:
                buf.append(line)
            continue
        if line.startswith(f"{pfx}OBS "):
            key, _, value = line[len(pfx) + 4 :].partition("=")
            obs[key] = value
        elif bm := begin_re.match(line):
            cur, buf = bm[1], []
        elif rm := result_re.match(line):
            code, reason = int(rm[1]), rm[2]
    if cur is not None:
        blocks[cur] = (None, "".join(x + "\n" for x in buf))
    return GuardOutput(code, reason, obs, blocks)


def _kv(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in text.splitlines():
        k, sep, v = line.partition("=")
        if sep:
            out[k.strip()] = v.strip()
    return out


def _duration(obs: Mapping[str, str]) -> float | None:
    start, end = obs.get("mkfs_start_ns", ""), obs.get("mkfs_end_ns", "")
    if start.isdigit() and end.isdigit() and len(start) > 10:
        return (int(end) - int(start)) / 1e9
    if start[:10].isdigit() and end[:10].isdigit():  # date without %N support: whole seconds
        return float(int(end[:10]) - int(start[:10]))
    return None


def _found_text(code: int, spec: GuardSpec, obs: Mapping[str, str]) -> str:
    """What the guard found, for the refusal message."""
    found: Mapping[int, str] = {
        EXIT_NO_DEVICE: f"{spec.device_path} resolves to {obs.get('device') or 'nothing'}",
        EXIT_NOT_WHOLE_DISK: f"{obs.get('device')} is a partition",
        EXIT_SERIAL: f"serial is {obs.get('serial')!r}, expected {spec.expected_serial!r}",
        EXIT_WWN: f"WWN is {obs.get('wwn')!r}, expected {spec.expected_wwn!r}",
        EXIT_SIZE: f"size is {obs.get('size_bytes')} bytes, expected {spec.expected_size_bytes}",
        EXIT_READ_ONLY: "the kernel reports it read-only",
        EXIT_MOUNTED: f"mounted at {obs.get('mounted')}",
        EXIT_SWAP: f"swap on {obs.get('swap')}",
        EXIT_HOLDERS: f"held by {obs.get('holders')}",
        EXIT_PARTITIONS: f"partitions {obs.get('partitions')}",
        EXIT_PARTITION_TABLE: f"partition table traces: {obs.get('partition_table')}",
        EXIT_SIGNATURE: (
            f"signatures [{obs.get('signatures', '')}], expected [{obs.get('expected_signatures', '')}]"
        ),
        EXIT_MKFS_MISSING: f"{obs.get('mkfs_program', spec.mkfs_argv[0])} not found",
        EXIT_TOOL_MISSING: f"missing: {obs.get('missing_tool') or obs.get('error', '?')}",
    }
    return found.get(code, "")


_INSPECT_HINT = "inspect {path} with `sudo blkid -p {path}` and `sudo wipefs {path}` before rerunning"


def _mkfs_progress(out: GuardOutput) -> str:
    """Whether mkfs had started, from the markers the output got to (for results without a RESULT line)."""
    argv = out.observed.get("mkfs_argv")
    if argv is None:
        return "the output ends before mkfs was started (no mkfs marker), so mkfs most likely did not run"
    if "mkfs" in out.blocks:  # the block is printed once mkfs has exited
        rc = out.blocks["mkfs"][0]
        how = f"exited {rc}" if rc is not None else "finished (its output is cut off)"
        return f"mkfs ({argv}) had run and {how}; the device has changed"
    return f"mkfs ({argv}) had started; the device may be partly written"


def interpret_guard(stdout: str, exit_code: int, spec: GuardSpec) -> GuardResult:
    """Turn the guard's stdout and exit status into a GuardResult, or raise.

    Refused (nothing was written) for every refusal code; RemoteError when mkfs failed or verification
    failed (the device may have changed) or when the output is not the guard's (sudo failure etc.).
    """
    out = split_guard_output(stdout)
    dev = out.observed.get("device") or spec.device_path
    if out.code is None:
        raise RemoteError(
            f"the guard script on {dev} exited {exit_code} without a result line; " + _mkfs_progress(out),
            hint=_INSPECT_HINT.format(path=dev) if "mkfs_argv" in out.observed else None,
        )
    code = out.code
    if code != exit_code:
        raise RemoteError(f"guard reported code {out.code} but exited {exit_code}; output is inconsistent")
    info = GUARD_CODES.get(code)
    if info is None:
        raise RemoteError(
            f"the guard script on {dev} reported an unknown code {code}; " + _mkfs_progress(out)
        )
    if code == EXIT_OK:
        blk = _kv(out.blocks.get("blkid", (None, ""))[1])
        mkfs_out = out.blocks.get("mkfs", (None, ""))[1]
        dumpe2fs: str | None = None
        if spec.verify_dumpe2fs:
            drc, dumpe2fs = out.blocks.get("dumpe2fs", (None, ""))
            if drc != 0:
                raise RemoteError(
                    f"{dev}: {blk.get('TYPE', spec.fs)} was created (UUID {blk.get('UUID')}) but "
                    f"dumpe2fs -h {'failed (rc ' + str(drc) + ')' if drc is not None else 'printed nothing'}"
                    + (f":\n{dumpe2fs.strip()}" if dumpe2fs.strip() else ""),
                    hint=f"check it by hand: sudo dumpe2fs -h {dev}",
                )
        return GuardResult(
            device=dev,
            device_arg=spec.device_path,
            fs=blk.get("TYPE", spec.fs),
            uuid=blk.get("UUID"),
            label=blk.get("LABEL"),
            mkfs_seconds=_duration(out.observed),
            mkfs_output=mkfs_out,
            blkid=blk,
            observed=dict(out.observed),
            udev_settled=out.observed.get("udev_settle") == "0",
            dumpe2fs=dumpe2fs,
        )
    found = _found_text(code, spec, out.observed)
    message = f"{dev}: {info.summary}" + (f" ({found})" if found else "")
    if info.device_changed:
        detail = out.blocks.get("mkfs" if code == EXIT_MKFS_FAILED else "blkid", (None, ""))[1].strip()
        raise RemoteError(message + (f"\n{detail}" if detail else ""), hint=info.hint)
    if code == EXIT_MKFS_MISSING:
        tool = MKFS_TOOLS[spec.fs]
        raise Refused(
            f"{tool.program} is not installed on the guest (package {tool.package}); nothing was changed",
            hint=f"sudo apt-get install {tool.package}",
        )
    raise Refused(message + "; nothing was changed", hint=info.hint)


def observed_summary(
    observed: Mapping[str, str], keys: Sequence[str] = ("device", "serial", "size_bytes")
) -> str:
    """``device=/dev/nvme0n1 serial=... size_bytes=...`` for logs."""
    return " ".join(f"{k}={observed[k]}" for k in keys if k in observed)
