# shellcheck shell=sh
# guest-disk-agent: guarded mkfs on a whole disk (never partitions; refuses on any surprise).
# Prelude: N (nonce), GDA_VERSION, DEVICE_ARG (stable /dev path), FS (ext4|xfs), MKFS_PROG, EXP_SIZE
# (bytes), CHECK_SERIAL/EXP_SERIAL, CHECK_SERIAL_HEX/EXP_SERIAL_HEX, CHECK_WWN/EXP_WWN, EXP_SIGS (sorted signature types, space-separated),
# VERIFY_DUMPE2FS (0|1), LOCK_WAIT/SETTLE_WAIT (seconds), GUARD_TOOLS, EXIT_* (the exit codes, from
# agent/core/disk/guard_codes.py), and "$@" = the mkfs argv without the device.
# EXP_SIG_KEYS: sorted "type,offset,uuid" of the same signatures (what the user confirmed), space-separated.
# Parsed by agent/core/disk/guard.py.
# shellcheck disable=SC2154
PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"
LC_ALL=C
export PATH LC_ALL
unset LOCK_BLOCK_DEVICE
umask 077

# finish CODE REASON: the verdict (RESULT line), then exit with the same code
finish() {
    gda_result "$1" "$2"
    [ -n "${T:-}" ] && rm -rf -- "$T"
    exit "$1"
}
trim() { sed -e 's/^[[:space:]]*//' -e 's/[[:space:]]*$//'; }
sorted_words() { tr ' ' '\n' | sed '/^$/d' | sort -u | tr '\n' ' ' | sed 's/ $//'; }
hex() { od -A n -v -t x1 -j "$2" -N "$3" "$1" | tr -d ' \n'; }
# rdev PATH: the major:minor (decimal) of the block device PATH leads to, or nothing
rdev() {
    _x=$(stat -L -c '%t %T' -- "$1" 2>/dev/null) || return 0
    printf '%s:%s' "$(( 0x${_x% *} ))" "$(( 0x${_x#* } ))"
}
# identity: what the device node, the locked descriptor and sysfs say the device is (serial and wwid
# as raw bytes in hex); compared after locking, right before and right after mkfs
identity() {
    printf 'node=%s fd=%s sysfs=%s serial=%s wwid=%s' "$(rdev "$dev")" "$(rdev "/proc/$$/fd/9")" \
        "$(cat "$S/dev" 2>/dev/null)" "$(gda_serial_hex "$S")" "$(hex "$S/wwid" 0 256 2>/dev/null)"
}
# identity_ok ID: node, descriptor and sysfs agree on one major:minor
identity_ok() {
    _n=${1#node=}
    _n=${_n%% *}
    case $1 in "node=$_n fd=$_n sysfs=$_n "*) [ -n "$_n" ] ;; *) return 1 ;; esac
}
# gda_serial_hex comes from lib/sysfs.sh, shared with the facts script.
# serial_ok HEX TEXT: still the chosen disk's serial? The sysfs bytes (as hex) when discovery had them,
# else lsblk's text (a non-ASCII serial reads differently in lsblk's JSON and its plain output).
serial_ok() {
    if [ "$CHECK_SERIAL_HEX" = 1 ]; then
        [ "$1" = "$EXP_SERIAL_HEX" ]
        return
    fi
    [ "$CHECK_SERIAL" != 1 ] || [ "$2" = "$EXP_SERIAL" ]
}

gda_header GUARD "$GDA_VERSION"
[ "$(id -u)" = 0 ] || finish "$EXIT_NOT_ROOT" not-root
for t in $GUARD_TOOLS; do
    if ! command -v "$t" >/dev/null 2>&1; then
        gda_obs missing_tool "$t"
        finish "$EXIT_TOOL_MISSING" tool-missing
    fi
done
if ! command -v "$MKFS_PROG" >/dev/null 2>&1; then
    gda_obs mkfs_program "$MKFS_PROG"
    finish "$EXIT_MKFS_MISSING" mkfs-missing
fi
T=$(mktemp -d 2>/dev/null) || T=
if [ -z "$T" ] || [ ! -d "$T" ]; then
    gda_obs error "mktemp failed"
    finish "$EXIT_TOOL_MISSING" tool-missing
fi

# --- resolve once; from here on only $dev is used
gda_obs device_arg "$DEVICE_ARG"
dev=$(readlink -f -- "$DEVICE_ARG" 2>/dev/null) || dev=
gda_obs device "$dev"
if [ -z "$dev" ] || [ ! -b "$dev" ]; then finish "$EXIT_NO_DEVICE" no-device; fi
k=${dev##*/}
S=/sys/class/block/$k
gda_obs kname "$k"
[ -d "$S" ] || finish "$EXIT_NO_DEVICE" no-device
[ -e "$S/partition" ] && finish "$EXIT_NOT_WHOLE_DISK" not-whole-disk
[ -r "$dev" ] || finish "$EXIT_NO_DEVICE" no-device

# --- exclusive BSD lock on the node (udev skips locked devices)
exec 9<"$dev"
flock -x -w "$LOCK_WAIT" 9 || finish "$EXIT_LOCKED" locked
gda_obs locked 1
id0=$(identity)
gda_obs identity "$id0"
identity_ok "$id0" || finish "$EXIT_IDENTITY" identity-changed

# --- still the chosen disk?
serial=$(lsblk -d -n -o SERIAL -- "$dev" 2>/dev/null | trim)
[ -n "$serial" ] || serial=$(trim 2>/dev/null <"$S/device/serial")
serial_hex=$(gda_serial_hex "$S")
gda_obs serial "$serial"
gda_obs serial_hex "$serial_hex"
serial_ok "$serial_hex" "$serial" || finish "$EXIT_SERIAL" serial-mismatch
# the namespace's own identity (the serial is the controller's): same source order as discovery
wwn=$(lsblk -d -n -o WWN -- "$dev" 2>/dev/null | trim)
[ -n "$wwn" ] || wwn=$(trim 2>/dev/null <"$S/wwid")
[ -n "$wwn" ] || wwn=$(trim 2>/dev/null <"$S/device/wwid")
gda_obs wwn "$wwn"
if [ "$CHECK_WWN" = 1 ] && [ "$wwn" != "$EXP_WWN" ]; then finish "$EXIT_WWN" wwn-mismatch; fi
sectors=$(cat "$S/size" 2>/dev/null)
case $sectors in ''|*[!0-9]*) finish "$EXIT_NO_DEVICE" no-device ;; esac
size=$(( sectors * 512 ))
gda_obs size_bytes "$size"
[ "$size" = "$EXP_SIZE" ] || finish "$EXIT_SIZE" size-mismatch
ro=$(cat "$S/ro" 2>/dev/null)
gda_obs read_only "$ro"
[ "$ro" = 0 ] || finish "$EXIT_READ_ONLY" read-only

# --- in use?
majmin=$(cat "$S/dev")
mounted=$(awk -v mm="$majmin" '$3 == mm { print $5 }' /proc/self/mountinfo | tr '\n' ' ')
while read -r src tgt rest; do
    case $src in
        /dev/*) [ "$(readlink -f -- "$src" 2>/dev/null)" = "$dev" ] && mounted="$mounted $tgt" ;;
    esac
done </proc/self/mounts
mounted=$(printf '%s' "$mounted" | sorted_words)
gda_obs mounted "$mounted"
[ -z "$mounted" ] || finish "$EXIT_MOUNTED" mounted
swap=
while read -r f rest; do
    case $f in
        /dev/*) [ "$(readlink -f -- "$f" 2>/dev/null)" = "$dev" ] && swap=$f ;;
    esac
done </proc/swaps
gda_obs swap "$swap"
[ -z "$swap" ] || finish "$EXIT_SWAP" swap
holders=$(for h in "$S"/holders/*; do { [ -e "$h" ] || [ -L "$h" ]; } && printf '%s ' "${h##*/}"; done | sorted_words)
gda_obs holders "$holders"
[ -z "$holders" ] || finish "$EXIT_HOLDERS" holders
# loop devices backed by the disk or one of its partitions (the kernel lists no holder for them)
mms=" $majmin "
for p in "$S"/*/partition; do [ -r "${p%/partition}/dev" ] && mms="$mms$(cat "${p%/partition}/dev") "; done
loops=
for l in /sys/block/loop*/loop/backing_file; do
    [ -r "$l" ] || continue
    f=
    read -r f <"$l" 2>/dev/null
    ln=${l#/sys/block/}
    ln=${ln%%/*}
    r=$(rdev "$f")
    case $mms in *" ${r:-none} "*) loops="$loops $ln"; continue ;; esac
    [ "$(readlink -f -- "$f" 2>/dev/null)" = "$dev" ] && loops="$loops $ln"
done
if command -v losetup >/dev/null 2>&1; then
    for l in $(losetup -n -O NAME -j "$dev" 2>/dev/null); do loops="$loops ${l##*/}"; done
fi
loops=$(printf '%s' "$loops" | sorted_words)
gda_obs loop_devices "$loops"
[ -z "$loops" ] || finish "$EXIT_LOOP" loop
parts=
for p in "$S"/*/partition; do
    [ -e "$p" ] || continue
    pd=${p%/partition}
    parts="$parts ${pd##*/}"
done
parts=$(printf '%s' "$parts" | sorted_words)
gda_obs partitions "$parts"
[ -z "$parts" ] || finish "$EXIT_PARTITIONS" partitions

# --- partition tables and signatures
wipefs --no-act --noheadings --output USAGE,TYPE,OFFSET,UUID -- "$dev" >"$T/wipefs" 2>&1
wrc=$?
gda_block wipefs "$T/wipefs" "$wrc"
if [ "$wrc" = 0 ]; then
    pt=$(awk '$1 == "partition-table" { print $2 }' "$T/wipefs" | sorted_words)
    sigs=$(awk '$1 != "partition-table" && NF >= 2 { print $2 }' "$T/wipefs" | sorted_words)
    keys=$(awk '$1 != "partition-table" && NF >= 2 { print $2 "," $3 "," $4 }' "$T/wipefs" | sorted_words)
else
    blkid -p -o export -- "$dev" >"$T/blkid0" 2>"$T/blkid0.err"
    brc=$?
    cat "$T/blkid0.err" >>"$T/blkid0"
    gda_block blkid-before "$T/blkid0" "$brc"
    if [ "$brc" = 0 ]; then
        pt=$(sed -n 's/^PTTYPE=//p' "$T/blkid0")
        sigs=$(sed -n 's/^TYPE=//p' "$T/blkid0")
        keys=
        [ -n "$sigs" ] && keys="$sigs,,$(sed -n 's/^UUID=//p' "$T/blkid0")"
    elif [ "$brc" = 2 ] && [ ! -s "$T/blkid0.err" ]; then
        pt=; sigs=; keys=
    elif [ "$brc" = 8 ]; then
        pt=; sigs=ambivalent; keys=ambivalent,,
    else
        finish "$EXIT_PROBE_FAILED" probe-failed
    fi
fi
lbs=$(cat "$S/queue/logical_block_size" 2>/dev/null)
case $lbs in ''|*[!0-9]*) lbs=512 ;; esac
last=$(( size / lbs - 1 ))
dd if="$dev" of="$T/s" bs=512 count=1 2>/dev/null || finish "$EXIT_PROBE_FAILED" probe-failed
mbr=$(hex "$T/s" 446 66)
dd if="$dev" of="$T/s" bs="$lbs" skip=1 count=1 2>/dev/null || finish "$EXIT_PROBE_FAILED" probe-failed
lba1=$(hex "$T/s" 0 8)
dd if="$dev" of="$T/s" bs="$lbs" skip="$last" count=1 2>/dev/null || finish "$EXIT_PROBE_FAILED" probe-failed
lastsig=$(hex "$T/s" 0 8)
geom=$(hex "$T/s" 0 16)
gda_obs raw_mbr_tail "$mbr"
gda_obs raw_lba1 "$lba1"
gda_obs raw_last "$lastsig"
case $mbr in
    *55aa) case ${mbr%55aa} in *[1-9a-f]*) pt="$pt mbr" ;; esac ;;
esac
[ "$lba1" = 4546492050415254 ] && pt="$pt gpt-primary"
case $lba1 in 57455682*) pt="$pt bsd-disklabel" ;; esac
[ "$lastsig" = 4546492050415254 ] && pt="$pt gpt-backup"
# FreeBSD GEOM metadata (geli, gmirror, glabel...: md_magic "GEOM::<class>" in the last sector)
case $geom in
    47454f4d3a3a*)
        cls=$(dd if="$T/s" bs=1 skip=6 count=10 2>/dev/null | tr '\000' '\n' | head -n 1 | tr -c 'A-Za-z0-9_.\n-' '?')
        [ -n "$cls" ] || cls='?'
        gda_obs geom_class "$cls"
        sigs="$sigs GEOM::$cls"
        keys="$keys GEOM::$cls,$(printf '0x%x' "$(( last * lbs ))"),"
        ;;
esac
pt=$(printf '%s' "$pt" | sorted_words)
gda_obs partition_table "$pt"
[ -z "$pt" ] || finish "$EXIT_PARTITION_TABLE" partition-table
sigs=$(printf '%s' "$sigs" | sorted_words)
gda_obs signatures "$sigs"
gda_obs expected_signatures "$EXP_SIGS"
[ "$sigs" = "$EXP_SIGS" ] || finish "$EXIT_SIGNATURE" signature
# the very signatures that were confirmed (a different filesystem of the same type is not them)
keys=$(printf '%s' "$keys" | sorted_words)
gda_obs signature_keys "$keys"
gda_obs expected_signature_keys "$EXP_SIG_KEYS"
[ "$keys" = "$EXP_SIG_KEYS" ] || finish "$EXIT_SIGNATURE_ID" signature-id
id1=$(identity)
gda_obs identity_before "$id1"
{ [ "$id1" = "$id0" ] && identity_ok "$id1"; } || finish "$EXIT_IDENTITY" identity-changed

# --- mkfs (no tty, stdin closed, lock fd not inherited)
gda_obs mkfs_argv "$*"
start=$(date +%s%N)
"$@" "$dev" >"$T/mkfs" 2>&1 </dev/null 9<&-
mrc=$?
end=$(date +%s%N)
gda_obs mkfs_start_ns "$start"
gda_obs mkfs_end_ns "$end"
gda_block mkfs "$T/mkfs" "$mrc"
id2=$(identity)
gda_obs identity_after "$id2"
[ "$id2" = "$id1" ] || finish "$EXIT_IDENTITY_AFTER" identity-changed-after
[ "$mrc" = 0 ] || finish "$EXIT_MKFS_FAILED" mkfs-failed
# confirmed GEOM metadata that mkfs left in the last sector (beyond the filesystem's last block): clear
# it, or the FreeBSD host would still taste the old geli/gmirror/... provider
case " $EXP_SIGS" in
    *" GEOM::"*)
        dd if="$dev" of="$T/s" bs="$lbs" skip="$last" count=1 2>/dev/null || finish "$EXIT_VERIFY_FAILED" verify-failed
        case $(hex "$T/s" 0 6) in
            47454f4d3a3a)
                dd if=/dev/zero of="$dev" bs="$lbs" seek="$last" count=1 conv=notrunc,fsync 2>/dev/null
                gda_obs geom_cleared "$?"
                ;;
        esac
        ;;
esac
exec 9<&-

# --- let udev catch up (lock released), then verify on disk
if command -v udevadm >/dev/null 2>&1; then
    udevadm trigger --action=change -- "$dev" >/dev/null 2>&1
    udevadm settle --timeout="$SETTLE_WAIT" >/dev/null 2>&1
    gda_obs udev_settle "$?"
else
    gda_obs udev_settle missing
fi
blkid -p -o export -- "$dev" >"$T/blkid" 2>&1
brc=$?
gda_block blkid "$T/blkid" "$brc"
[ "$brc" = 0 ] || finish "$EXIT_VERIFY_FAILED" verify-failed
grep -q "^TYPE=$FS\$" "$T/blkid" || finish "$EXIT_VERIFY_FAILED" verify-failed
grep -q '^UUID=[^[:space:]]' "$T/blkid" || finish "$EXIT_VERIFY_FAILED" verify-failed
grep -q '^PTTYPE=' "$T/blkid" && finish "$EXIT_VERIFY_FAILED" verify-failed
dd if="$dev" of="$T/s" bs="$lbs" skip="$last" count=1 2>/dev/null || finish "$EXIT_VERIFY_FAILED" verify-failed
gda_obs raw_last_after "$(hex "$T/s" 0 16)"
[ "$(hex "$T/s" 0 6)" = 47454f4d3a3a ] && finish "$EXIT_VERIFY_FAILED" verify-failed
if [ "$VERIFY_DUMPE2FS" = 1 ]; then
    dumpe2fs -h -- "$dev" >"$T/dumpe2fs" 2>&1
    gda_block dumpe2fs "$T/dumpe2fs" "$?"
fi
finish "$EXIT_OK" ok
