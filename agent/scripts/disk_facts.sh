# shellcheck shell=sh
# guest-disk-agent: gather block-device facts (read-only; writes nothing to any device).
# Prelude: N (nonce), GDA_VERSION (format version), GDA_TOOLS (tools to locate, space-separated),
# GDA_COLS / GDA_MINCOLS (lsblk columns, comma-separated). Parsed by agent/core/disk/probe.py.
# shellcheck disable=SC2154

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

# gda_words DIR: the entries of DIR on one line, space-separated (empty when DIR is missing)
gda_words() {
    for _e in "$1"/* "$1"/.[!.]*; do
        [ -e "$_e" ] || [ -L "$_e" ] || continue
        printf '%s ' "${_e##*/}"
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
    printf 'serial_hex=%s\n' "$(gda_serial_hex "$_d")"
    printf 'holders=%s\n' "$(gda_words "$_d/holders")"
    for _p in "$_d"/*/partition; do
        [ -e "$_p" ] || continue
        _pd=${_p%/partition}
        printf 'partition=%s\n' "${_pd##*/}"
        printf 'partition_holders=%s:%s\n' "${_pd##*/}" "$(gda_words "$_pd/holders")"
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
    printf 'geom=%s\n' "$(gda_hex "$T/raw" 0 16)"
}

# gda_loops: every loop device's backing file, with the major:minor it resolves to when that is a
# block device ("-" otherwise) and its offset: "<loop><TAB><maj:min|-><TAB><offset><TAB><file>".
gda_loops() {
    for _l in /sys/block/loop*/loop/backing_file; do
        [ -r "$_l" ] || continue
        _n=${_l#/sys/block/}
        _n=${_n%%/*}
        _f=
        read -r _f <"$_l" 2>/dev/null
        _o=$(cat "/sys/block/$_n/loop/offset" 2>/dev/null)
        _mm=-
        if [ -b "$_f" ]; then
            _x=$(stat -L -c '%t %T' -- "$_f" 2>/dev/null) && _mm=$(( 0x${_x% *} )):$(( 0x${_x#* } ))
        fi
        printf '%s\t%s\t%s\t%s\n' "$_n" "$_mm" "$_o" "$_f"
    done
}

gda_header FACTS "$GDA_VERSION" "uid=$(id -u)"
gda_run os - cat /etc/os-release
gda_run tools - gda_tools
gda_run version util-linux gda_version lsblk --version
gda_run version mke2fs gda_version mke2fs -V
gda_run version mkfs.xfs gda_version mkfs.xfs -V
gda_run lsblk - gda_lsblk
gda_run root - gda_root
gda_run mounts - cat /proc/self/mounts
gda_run swaps - cat /proc/swaps
gda_run byid - gda_byid
gda_run loops - gda_loops
for _b in /sys/block/*; do
    [ -e "$_b/size" ] || continue
    _k=${_b##*/}
    [ "$(cat "$_b/size" 2>/dev/null)" = 0 ] && continue
    gda_run sysfs "$_k" gda_sysfs "$_k"
    gda_run wipefs "$_k" gda_wipefs "$_k"
    gda_run blkid "$_k" blkid -p -o export -- "/dev/$_k"
    # ext4 on the whole disk: its superblock, so a rerun can compare features with the requested profile
    # (gda_run leaves blkid's stdout in $T/out)
    if grep -qx 'TYPE=ext4' "$T/out" 2>/dev/null; then
        gda_run dumpe2fs "$_k" dumpe2fs -h -- "/dev/$_k"
    fi
    gda_run rawsig "$_k" gda_rawsig "$_k"
    gda_run fdisk "$_k" fdisk -l -- "/dev/$_k"
done
gda_done
