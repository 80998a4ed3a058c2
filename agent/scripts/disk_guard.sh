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

# Builtins wherever they do: under TCG every fork+exec of a tool costs tens of ms (a fork of the shell
# alone a few), so the re-checks read /proc and sysfs with `read`, parse with `case`, compare files with
# `test -ef` and word sets in the shell; what is left are the tools only they can ask (flock, wipefs, od,
# mkfs, udevadm, blkid; readlink, stat, losetup and lsblk only where the builtin answer is missing), and
# the independent ones run at once (wipefs beside the od reads, the verification beside udev's settle).
nl='
'
spid=; settling=
# now: seconds since boot (/proc/uptime, 10 ms steps) in $up: the phase clock without a fork
now() { up=; read -r up _ </proc/uptime 2>/dev/null; }
now
t_start=$up

# finish CODE REASON: the verdict (RESULT line), then exit with the same code (once udev has settled, when
# that was started)
finish() {
    [ -z "$settling" ] || settled
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
# identity: what the device node, the locked descriptor and sysfs say the device is (serial and wwid as
# sysfs text), in $id; compared after locking, right before and right after mkfs. When the node is the
# locked descriptor's very file and udev's /dev/block/<sysfs MAJ:MIN> link leads to it (test -ef, no
# fork), all three are that major:minor; else one stat reads node and descriptor. The descriptor is
# /proc/self/fd/9 (the shell's own for test, stat's inherited one for stat): $$ is not this process in a
# subshell, and the root shell runs each script in one.
identity() {
    _nd=; _fd=
    gda_read "$S/dev"
    _sd=$_rd
    # shellcheck disable=SC3013  # -ef: dash, bash and busybox have it; a shell without it takes the stat
    if [ -n "$_sd" ] && [ "$dev" -ef /proc/self/fd/9 ] && [ "/dev/block/$_sd" -ef "$dev" ]; then
        _nd=$_sd; _fd=$_sd
    else
        _st=$(stat -L -c '%t %T' -- "$dev" /proc/self/fd/9 2>/dev/null)
        # shellcheck disable=SC2086
        set -- $_st
        if [ $# = 4 ]; then _nd=$(( 0x$1 )):$(( 0x$2 )); _fd=$(( 0x$3 )):$(( 0x$4 )); fi
    fi
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
# beside CMD...: CMD (stdin closed, stderr folded in) while the job started before it runs, as
# $(BG & beside CMD...): BG's one line, then, once both are done, "rc=STATUS" and CMD's output (read back
# by split_beside)
beside() {
    _c=$("$@" 2>&1 </dev/null)
    _cr=$?
    wait
    printf 'rc=%s\n%s' "$_cr" "$_c"
}
# split_beside OUT TAG: beside's OUT into $bl (BG's line, which must begin with TAG), $crc and $cout;
# fails when a part is missing
split_beside() {
    bl=${1%%"$nl"*}
    _p=${1#*"$nl"}
    crc=${_p%%"$nl"*}
    cout=
    case $_p in *"$nl"*) cout=${_p#*"$nl"} ;; esac
    case $bl in "$2 "*) ;; *) return 1 ;; esac
    case $crc in rc=[0-9]*) crc=${crc#rc=} ;; *) return 1 ;; esac
}
# raw_before: the od reads before mkfs, as one line: "raw HEAD_RC MBR_TAIL LBA1 LAST_RC LAST16"
# (gda_head, gda_hex_at of the last sector; "-" for an empty value)
raw_before() {
    gda_head "$dev" "$lbs" 2>/dev/null
    _r=$?
    gda_hex_at "$dev" "$(( last * lbs ))" 16 2>/dev/null
    _x=$?
    printf 'raw %s %s %s %s %s\n' "$_r" "${_mbr:--}" "${_lba1:--}" "$_x" "${_hx:--}"
}
# serial_line: the serial's sysfs bytes as hex (gda_serial_hex), as one line: "sx HEX" ("-" for none)
serial_line() {
    gda_serial_hex "$S"
    printf 'sx %s\n' "${_hx:--}"
}
# raw_after: the last sector after mkfs, as one line: "raw LAST_RC LAST16"
raw_after() {
    gda_hex_at "$dev" "$(( last * lbs ))" 16 2>/dev/null
    _x=$?
    printf 'raw %s %s\n' "$_x" "${_hx:--}"
}
# raw_fields WORD...: raw_before's or raw_after's words (after the tag) into $hrc $mbr $lba1 $xrc
# $lastraw, "-" back to empty; fails on a wrong count
raw_fields() {
    case $# in
        5) hrc=$1; mbr=${2#-}; lba1=${3#-}; xrc=$4; lastraw=${5#-} ;;
        2) xrc=$1; lastraw=${2#-} ;;
        *) return 1 ;;
    esac
}
# settled: wait for the background udev settle, print its status (or that udevadm is missing)
settled() {
    settling=
    _s=missing
    if [ -n "$spid" ]; then wait "$spid"; _s=$?; fi
    gda_obs udev_settle "$_s"
    now
    gda_obs t_settled "$up"
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

# --- resolve once; from here on only $dev is used. What readlink -f would print, without it where a
# builtin knows: a /dev/NAME that is no link is its own path; a link (by-id) that leads to the very file
# of a /dev/<kname> node (test -ef) resolves to that node; anything else asks readlink
gda_obs device_arg "$DEVICE_ARG"
dev=
if [ ! -L /dev ]; then
    case $DEVICE_ARG in
        /dev/*/* | /dev/. | /dev/..) ;;
        /dev/?*) [ -L "$DEVICE_ARG" ] || dev=$DEVICE_ARG ;;
    esac
    if [ -z "$dev" ] && [ -L "$DEVICE_ARG" ]; then
        for b in /sys/class/block/*; do
            b=/dev/${b##*/}
            # shellcheck disable=SC3013  # as in identity: without -ef, readlink
            if [ ! -L "$b" ] && [ "$DEVICE_ARG" -ef "$b" ]; then dev=$b; break; fi
        done
    fi
fi
if [ -z "$dev" ]; then dev=$(readlink -f -- "$DEVICE_ARG" 2>/dev/null) || dev=; fi
gda_obs device "$dev"
if [ -z "$dev" ] || [ ! -b "$dev" ]; then finish "$EXIT_NO_DEVICE" no-device; fi
k=${dev##*/}
S=/sys/class/block/$k
gda_obs kname "$k"
[ -d "$S" ] || finish "$EXIT_NO_DEVICE" no-device
[ -e "$S/partition" ] && finish "$EXIT_NOT_WHOLE_DISK" not-whole-disk
[ -r "$dev" ] || finish "$EXIT_NO_DEVICE" no-device

# --- exclusive BSD lock on the node (udev skips locked devices); the serial's sysfs bytes (sysfs, not
# the disk), when they are compared, read beside the lock's wait. flock locks the open file the shell
# shares with it, so the lock outlives its process (and the command substitution's subshell).
exec 9<"$dev"
if [ "$CHECK_SERIAL_HEX" = 1 ]; then
    lk=$(serial_line & flock -x -w "$LOCK_WAIT" 9 </dev/null; printf 'rc=%s\n' "$?"; wait)
else
    lk=$(flock -x -w "$LOCK_WAIT" 9 </dev/null; printf 'rc=%s\n' "$?")
fi
case "$nl$lk$nl" in *"${nl}rc=0${nl}"*) ;; *) finish "$EXIT_LOCKED" locked ;; esac
gda_obs locked 1
serial_hex=
case "$nl$lk" in
    *"${nl}sx "*)
        serial_hex=${lk#*sx }
        serial_hex=${serial_hex%%"$nl"*}
        serial_hex=${serial_hex#-}
        ;;
esac
identity
id0=$id
gda_obs identity "$id0"
identity_ok "$id0" || finish "$EXIT_IDENTITY" identity-changed

# --- read the disk at once: wipefs in front, the od reads (serial bytes, first sectors, last sector)
# beside it; every decision below waits for both
gda_read "$S/dev"
majmin=$_rd
gda_read "$S/size"
sectors=$_rd
case $sectors in ''|*[!0-9]*) size= ;; *) size=$(( sectors * 512 )) ;; esac
gda_read "$S/queue/logical_block_size"
lbs=$_rd
case $lbs in ''|0|*[!0-9]*) lbs=512 ;; esac
last=$(( ${size:-0} / lbs - 1 ))
probe=$(raw_before & beside wipefs --no-act --noheadings --output USAGE,TYPE,OFFSET,UUID -- "$dev")
# shellcheck disable=SC2086
{ split_beside "$probe" raw && raw_fields ${bl#raw }; } || finish "$EXIT_PROBE_FAILED" probe-failed
wrc=$crc
wout=$cout

# --- still the chosen disk?
serial=
# the bytes decide (or nothing is checked): the sysfs text is for the message; else lsblk's text decides
if [ "$CHECK_SERIAL_HEX" = 1 ] || [ "$CHECK_SERIAL" != 1 ]; then
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
wwn=
if [ "$CHECK_WWN" = 1 ]; then
    if udev_wwn "$majmin"; then wwn=$uwwn; else trim "$(lsblk -d -n -o WWN -- "$dev" 2>/dev/null)"; wwn=$tv; fi
fi
if [ -z "$wwn" ]; then gda_read "$S/wwid"; trim "$_rd"; wwn=$tv; fi
if [ -z "$wwn" ]; then gda_read "$S/device/wwid"; trim "$_rd"; wwn=$tv; fi
gda_obs wwn "$wwn"
if [ "$CHECK_WWN" = 1 ] && [ "$wwn" != "$EXP_WWN" ]; then finish "$EXIT_WWN" wwn-mismatch; fi
[ -n "$size" ] || finish "$EXIT_NO_DEVICE" no-device
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
loops=; bound=
for l in /sys/block/loop*/loop/backing_file; do
    [ -e "$l" ] && bound=1
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
# losetup -j too (it compares the backing file's inode), when a loop device is bound at all (each bound
# one has its backing_file)
if [ -n "$bound" ] && command -v losetup >/dev/null 2>&1; then
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

# --- partition tables and signatures (wipefs and the raw sectors read above)
pt=; sigs=; keys=
gda_text wipefs "$wrc" "$wout"
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
$wout
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
[ "$hrc" = 0 ] || finish "$EXIT_PROBE_FAILED" probe-failed
[ "$xrc" = 0 ] || finish "$EXIT_PROBE_FAILED" probe-failed
geom=$lastraw
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
# it, or the FreeBSD host would still taste the old geli/gmirror/... provider (and verify it below)
case " $EXP_SIGS" in *" GEOM::"*) geom_was=1 ;; *) geom_was= ;; esac
if [ -n "$geom_was" ]; then
    gda_hex_at "$dev" "$(( last * lbs ))" 6 2>/dev/null || finish "$EXIT_VERIFY_FAILED" verify-failed
    case $_hx in
        47454f4d3a3a)
            dd if=/dev/zero of="$dev" bs="$lbs" seek="$last" count=1 conv=notrunc,fsync 2>/dev/null
            gda_obs geom_cleared "$?"
            ;;
    esac
fi
exec 9<&-

# --- let udev catch up (lock released): the device's own events only, bounded, in the background while
# the verification reads the disk itself (blkid -p and od ask no udev); finish waits for it
settling=1
if command -v udevadm >/dev/null 2>&1; then
    (
        # bounded by a watchdog beside it (its sleep off the way, where timeout(1) would be one more
        # exec in front of udevadm); the watchdog's sleep ends with it
        udevadm trigger --settle --action=change -- "$dev" &
        tp=$!
        (
            sp=
            trap '[ -z "$sp" ] || kill "$sp"; exit 0' TERM
            sleep "$SETTLE_WAIT" &
            sp=$!
            wait "$sp" && kill "$tp"
        ) &
        wp=$!
        wait "$tp"
        trc=$?
        kill "$wp"
        [ "$trc" = 0 ] && exit 0
        # udevadm before systemd 238 has no trigger --settle: the global queue, bounded
        udevadm trigger --action=change -- "$dev"
        udevadm settle --timeout="$SETTLE_WAIT"
    ) >/dev/null 2>&1 &
    spid=$!
fi
# the new filesystem as the disk shows it (blkid -p); beside it the last sector again where confirmed
# GEOM metadata was cleared: elsewhere the re-check under the lock found none there and mkfs writes none
if [ -n "$geom_was" ]; then
    ver=$(raw_after & beside blkid -p -o export -- "$dev")
    # shellcheck disable=SC2086
    { split_beside "$ver" raw && raw_fields ${bl#raw }; } || finish "$EXIT_VERIFY_FAILED" verify-failed
    brc=$crc
    out=$cout
else
    out=$(blkid -p -o export -- "$dev" 2>&1 </dev/null)
    brc=$?
fi
gda_text blkid "$brc" "$out"
[ "$brc" = 0 ] || finish "$EXIT_VERIFY_FAILED" verify-failed
blkid_ok "$out" || finish "$EXIT_VERIFY_FAILED" verify-failed
if [ -n "$geom_was" ]; then
    [ "$xrc" = 0 ] || finish "$EXIT_VERIFY_FAILED" verify-failed
    gda_obs raw_last_after "$lastraw"
    case $lastraw in 47454f4d3a3a*) finish "$EXIT_VERIFY_FAILED" verify-failed ;; esac
fi
if [ "$VERIFY_DUMPE2FS" = 1 ]; then
    out=$(dumpe2fs -h -- "$dev" 2>&1)
    gda_text dumpe2fs "$?" "$out"
fi
now
gda_obs t_verified "$up"
finish "$EXIT_OK" ok
