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

# Builtins wherever they do: under TCG every fork+exec of a tool costs 20-30 ms, so the re-checks read
# /proc and sysfs with `read`, parse with `case` and compare word sets in the shell; what is left are the
# tools only they can ask (readlink, flock, stat, losetup, wipefs, od, mkfs, udevadm, blkid; lsblk only
# where udev's database does not answer).
nl='
'
# now: seconds since boot (/proc/uptime, 10 ms steps) in $up: the phase clock without a fork
now() { up=; read -r up _ </proc/uptime 2>/dev/null; }
now
t_start=$up

# finish CODE REASON: the verdict (RESULT line), then exit with the same code
finish() {
    now
    gda_obs t_end "$up"
    gda_result "$1" "$2"
    exit "$1"
}
# uniq_words WORDS: WORDS once each, in first-seen order, in $uw
uniq_words() {
    uw=
    for _w in $1; do
        case " $uw " in *" $_w "*) ;; *) uw="${uw:+$uw }$_w" ;; esac
    done
}
# same_set A B: the same words (as sets: order and repeats do not count)
same_set() {
    for _w in $1; do case " $2 " in *" $_w "*) ;; *) return 1 ;; esac; done
    for _w in $2; do case " $1 " in *" $_w "*) ;; *) return 1 ;; esac; done
    return 0
}
# same_dev PATH: PATH is $dev (compared as text; resolved only when PATH is a symlink)
same_dev() {
    [ "$1" = "$dev" ] && return 0
    [ -L "$1" ] && [ "$(readlink -f -- "$1" 2>/dev/null)" = "$dev" ]
}
# identity: what the device node, the locked descriptor and sysfs say the device is (one stat for node
# and descriptor; serial and wwid as sysfs text), in $id; compared after locking, right before and right
# after mkfs
identity() {
    _nd=; _fd=
    _st=$(stat -L -c '%t %T' -- "$dev" "/proc/$$/fd/9" 2>/dev/null)
    # shellcheck disable=SC2086
    set -- $_st
    if [ $# = 4 ]; then _nd=$(( 0x$1 )):$(( 0x$2 )); _fd=$(( 0x$3 )):$(( 0x$4 )); fi
    gda_read "$S/dev"
    _sd=$_rd
    gda_serial_file "$S"
    gda_read "$_sf"
    _se=$_rd
    gda_read "$S/wwid"
    id="node=$_nd fd=$_fd sysfs=$_sd serial=$_se wwid=$_rd"
}
# blkid_ok EXPORT: blkid -p -o export's lines show the new filesystem: TYPE=$FS, a UUID, no PTTYPE
blkid_ok() {
    case "$nl$1$nl" in *"${nl}TYPE=$FS$nl"*) ;; *) return 1 ;; esac
    case "$nl$1" in *"${nl}UUID="[![:space:]]*) ;; *) return 1 ;; esac
    case "$nl$1" in *"${nl}PTTYPE="*) return 1 ;; esac
    return 0
}
# identity_ok ID: node, descriptor and sysfs agree on one major:minor
identity_ok() {
    _n=${1#node=}
    _n=${_n%% *}
    case $1 in "node=$_n fd=$_n sysfs=$_n "*) [ -n "$_n" ] ;; *) return 1 ;; esac
}
# udev_wwn MAJ:MIN: the WWN lsblk reports, read where lsblk reads it (udev's database entry for the
# device: ID_WWN_WITH_EXTENSION, else ID_WWN; util-linux lsblk-properties.c), in $uwwn; fails when the
# entry is missing or has neither (then lsblk itself is asked)
udev_wwn() {
    uwwn=; _wx=; _wp=
    [ -r "/run/udev/data/b$1" ] || return 1
    while IFS= read -r _l; do
        case $_l in
            E:ID_WWN_WITH_EXTENSION=*) _wx=${_l#E:ID_WWN_WITH_EXTENSION=} ;;
            E:ID_WWN=*) _wp=${_l#E:ID_WWN=} ;;
        esac
    done <"/run/udev/data/b$1"
    trim "${_wx:-$_wp}"
    uwwn=$tv
    [ -n "$uwwn" ]
}
# trim VALUE: VALUE without leading and trailing white space, in $tv
trim() {
    tv=${1#"${1%%[![:space:]]*}"}
    tv=${tv%"${tv##*[![:space:]]}"}
}
# gda_serial_file, gda_serial_hex, gda_hexjoin, gda_read, gda_head and gda_hex_at come from lib/sysfs.sh,
# shared with the facts script.
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
euid=
while read -r _k _r _e _rest; do
    if [ "$_k" = Uid: ]; then euid=$_e; break; fi
done </proc/self/status
[ "$euid" = 0 ] || finish "$EXIT_NOT_ROOT" not-root
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
identity
id0=$id
gda_obs identity "$id0"
identity_ok "$id0" || finish "$EXIT_IDENTITY" identity-changed

# --- still the chosen disk?
gda_serial_hex "$S"
serial_hex=$_hx
serial=
if [ "$CHECK_SERIAL_HEX" = 1 ]; then  # the bytes decide; the text is for the message
    gda_serial_file "$S"
    gda_read "$_sf"
    trim "$_rd"
    serial=$tv
else
    trim "$(lsblk -d -n -o SERIAL -- "$dev" 2>/dev/null)"
    serial=$tv
    if [ -z "$serial" ]; then gda_read "$S/device/serial"; trim "$_rd"; serial=$tv; fi
fi
gda_obs serial "$serial"
gda_obs serial_hex "$serial_hex"
serial_ok "$serial_hex" "$serial" || finish "$EXIT_SERIAL" serial-mismatch
# the namespace's own identity (the serial is the controller's): same source order as discovery (lsblk
# first, asked only when the WWN is checked; else sysfs, for the report)
gda_read "$S/dev"
majmin=$_rd
wwn=
if [ "$CHECK_WWN" = 1 ]; then
    if udev_wwn "$majmin"; then wwn=$uwwn; else trim "$(lsblk -d -n -o WWN -- "$dev" 2>/dev/null)"; wwn=$tv; fi
fi
if [ -z "$wwn" ]; then gda_read "$S/wwid"; trim "$_rd"; wwn=$tv; fi
if [ -z "$wwn" ]; then gda_read "$S/device/wwid"; trim "$_rd"; wwn=$tv; fi
gda_obs wwn "$wwn"
if [ "$CHECK_WWN" = 1 ] && [ "$wwn" != "$EXP_WWN" ]; then finish "$EXIT_WWN" wwn-mismatch; fi
gda_read "$S/size"
sectors=$_rd
case $sectors in ''|*[!0-9]*) finish "$EXIT_NO_DEVICE" no-device ;; esac
size=$(( sectors * 512 ))
gda_obs size_bytes "$size"
[ "$size" = "$EXP_SIZE" ] || finish "$EXIT_SIZE" size-mismatch
gda_read "$S/ro"
ro=$_rd
gda_obs read_only "$ro"
[ "$ro" = 0 ] || finish "$EXIT_READ_ONLY" read-only

# --- in use?
mounted=
while read -r _id _pid mm _root mp _rest; do
    [ "$mm" = "$majmin" ] && mounted="$mounted $mp"
done </proc/self/mountinfo
while read -r src tgt _rest; do
    case $src in /dev/*) same_dev "$src" && mounted="$mounted $tgt" ;; esac
done </proc/self/mounts
uniq_words "$mounted"
mounted=$uw
gda_obs mounted "$mounted"
[ -z "$mounted" ] || finish "$EXIT_MOUNTED" mounted
swap=
while read -r f _rest; do
    case $f in /dev/*) same_dev "$f" && swap=$f ;; esac
done </proc/swaps
gda_obs swap "$swap"
[ -z "$swap" ] || finish "$EXIT_SWAP" swap
holders=
for h in "$S"/holders/*; do { [ -e "$h" ] || [ -L "$h" ]; } && holders="$holders ${h##*/}"; done
uniq_words "$holders"
holders=$uw
gda_obs holders "$holders"
[ -z "$holders" ] || finish "$EXIT_HOLDERS" holders
# loop devices backed by the disk or one of its partitions (the kernel lists no holder for them)
mms=" $majmin "
for p in "$S"/*/partition; do
    [ -r "${p%/partition}/dev" ] || continue
    gda_read "${p%/partition}/dev"
    mms="$mms$_rd "
done
loops=
for l in /sys/block/loop*/loop/backing_file; do
    [ -r "$l" ] || continue
    f=
    read -r f <"$l" 2>/dev/null
    ln=${l#/sys/block/}
    ln=${ln%%/*}
    r=
    if [ -b "$f" ]; then
        _x=$(stat -L -c '%t %T' -- "$f" 2>/dev/null) && r=$(( 0x${_x% *} )):$(( 0x${_x#* } ))
    fi
    case $mms in *" ${r:-none} "*) loops="$loops $ln"; continue ;; esac
    same_dev "$f" && loops="$loops $ln"
done
if command -v losetup >/dev/null 2>&1; then
    for l in $(losetup -n -O NAME -j "$dev" 2>/dev/null); do loops="$loops ${l##*/}"; done
fi
uniq_words "$loops"
loops=$uw
gda_obs loop_devices "$loops"
[ -z "$loops" ] || finish "$EXIT_LOOP" loop
parts=
for p in "$S"/*/partition; do
    [ -e "$p" ] || continue
    pd=${p%/partition}
    parts="$parts ${pd##*/}"
done
uniq_words "$parts"
parts=$uw
gda_obs partitions "$parts"
[ -z "$parts" ] || finish "$EXIT_PARTITIONS" partitions

# --- partition tables and signatures
pt=; sigs=; keys=
out=$(wipefs --no-act --noheadings --output USAGE,TYPE,OFFSET,UUID -- "$dev" 2>&1)
wrc=$?
gda_text wipefs "$wrc" "$out"
if [ "$wrc" = 0 ]; then
    while read -r usage type offset uuid _rest; do
        [ -n "$type" ] || continue
        if [ "$usage" = partition-table ]; then
            pt="$pt $type"
        else
            sigs="$sigs $type"
            keys="$keys $type,$offset,$uuid"
        fi
    done <<WIPEFS
$out
WIPEFS
else
    out=$(blkid -p -o export -- "$dev" 2>&1)
    brc=$?
    gda_text blkid-before "$brc" "$out"
    if [ "$brc" = 0 ]; then
        uuid=
        while IFS= read -r l; do
            case $l in
                PTTYPE=*) pt=${l#PTTYPE=} ;;
                TYPE=*) sigs=${l#TYPE=} ;;
                UUID=*) uuid=${l#UUID=} ;;
            esac
        done <<BLKID
$out
BLKID
        [ -n "$sigs" ] && keys="$sigs,,$uuid"
    elif [ "$brc" = 2 ] && [ -z "$out" ]; then
        :
    elif [ "$brc" = 8 ]; then
        sigs=ambivalent; keys=ambivalent,,
    else
        finish "$EXIT_PROBE_FAILED" probe-failed
    fi
fi
gda_read "$S/queue/logical_block_size"
lbs=$_rd
case $lbs in ''|*[!0-9]*) lbs=512 ;; esac
last=$(( size / lbs - 1 ))
gda_head "$dev" "$lbs" 2>/dev/null || finish "$EXIT_PROBE_FAILED" probe-failed
mbr=$_mbr
lba1=$_lba1
gda_hex_at "$dev" "$(( last * lbs ))" 16 2>/dev/null || finish "$EXIT_PROBE_FAILED" probe-failed
geom=$_hx
lastsig=${geom%????????????????}
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
        cls=$(dd if="$dev" bs=1 skip="$(( last * lbs + 6 ))" count=10 2>/dev/null | tr '\000' '\n' |
            head -n 1 | tr -c 'A-Za-z0-9_.\n-' '?')
        [ -n "$cls" ] || cls='?'
        gda_obs geom_class "$cls"
        sigs="$sigs GEOM::$cls"
        keys="$keys GEOM::$cls,$(printf '0x%x' "$(( last * lbs ))"),"
        ;;
esac
uniq_words "$pt"
pt=$uw
gda_obs partition_table "$pt"
[ -z "$pt" ] || finish "$EXIT_PARTITION_TABLE" partition-table
uniq_words "$sigs"
sigs=$uw
gda_obs signatures "$sigs"
gda_obs expected_signatures "$EXP_SIGS"
same_set "$sigs" "$EXP_SIGS" || finish "$EXIT_SIGNATURE" signature
# the very signatures that were confirmed (a different filesystem of the same type is not them)
uniq_words "$keys"
keys=$uw
gda_obs signature_keys "$keys"
gda_obs expected_signature_keys "$EXP_SIG_KEYS"
same_set "$keys" "$EXP_SIG_KEYS" || finish "$EXIT_SIGNATURE_ID" signature-id
identity
id1=$id
gda_obs identity_before "$id1"
{ [ "$id1" = "$id0" ] && identity_ok "$id1"; } || finish "$EXIT_IDENTITY" identity-changed

# --- mkfs (no tty, stdin closed, lock fd not inherited)
gda_obs mkfs_argv "$*"
now
t_mkfs=$up
out=$("$@" "$dev" 2>&1 </dev/null 9<&-)
mrc=$?
now
gda_obs t_start "$t_start"
gda_obs t_mkfs "$t_mkfs"
gda_obs t_mkfs_end "$up"
gda_text mkfs "$mrc" "$out"
identity
id2=$id
gda_obs identity_after "$id2"
[ "$id2" = "$id1" ] || finish "$EXIT_IDENTITY_AFTER" identity-changed-after
[ "$mrc" = 0 ] || finish "$EXIT_MKFS_FAILED" mkfs-failed
# confirmed GEOM metadata that mkfs left in the last sector (beyond the filesystem's last block): clear
# it, or the FreeBSD host would still taste the old geli/gmirror/... provider
case " $EXP_SIGS" in
    *" GEOM::"*)
        gda_hex_at "$dev" "$(( last * lbs ))" 6 2>/dev/null || finish "$EXIT_VERIFY_FAILED" verify-failed
        case $_hx in
            47454f4d3a3a)
                dd if=/dev/zero of="$dev" bs="$lbs" seek="$last" count=1 conv=notrunc,fsync 2>/dev/null
                gda_obs geom_cleared "$?"
                ;;
        esac
        ;;
esac
exec 9<&-

# --- let udev catch up (lock released): the device's own events only, bounded; then verify on disk
if command -v udevadm >/dev/null 2>&1; then
    if command -v timeout >/dev/null 2>&1 &&
        timeout "$SETTLE_WAIT" udevadm trigger --settle --action=change -- "$dev" >/dev/null 2>&1; then
        gda_obs udev_settle 0
    else  # udevadm before systemd 238 has no trigger --settle: the global queue, bounded
        udevadm trigger --action=change -- "$dev" >/dev/null 2>&1
        udevadm settle --timeout="$SETTLE_WAIT" >/dev/null 2>&1
        gda_obs udev_settle "$?"
    fi
else
    gda_obs udev_settle missing
fi
now
gda_obs t_settled "$up"
out=$(blkid -p -o export -- "$dev" 2>&1)
brc=$?
gda_text blkid "$brc" "$out"
[ "$brc" = 0 ] || finish "$EXIT_VERIFY_FAILED" verify-failed
blkid_ok "$out" || finish "$EXIT_VERIFY_FAILED" verify-failed
gda_hex_at "$dev" "$(( last * lbs ))" 16 2>/dev/null || finish "$EXIT_VERIFY_FAILED" verify-failed
gda_obs raw_last_after "$_hx"
case $_hx in 47454f4d3a3a*) finish "$EXIT_VERIFY_FAILED" verify-failed ;; esac
if [ "$VERIFY_DUMPE2FS" = 1 ]; then
    out=$(dumpe2fs -h -- "$dev" 2>&1)
    gda_text dumpe2fs "$?" "$out"
fi
finish "$EXIT_OK" ok
