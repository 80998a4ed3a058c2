# shellcheck shell=sh
# guest-disk-agent: gather block-device facts (read-only; writes nothing to any device).
# Prelude: N (nonce), GDA_VERSION (format version), GDA_TOOLS (tools to locate, space-separated),
# GDA_VERSIONS (the tools whose version to ask, space-separated: only those the plan needs),
# GDA_COLS / GDA_MINCOLS (lsblk columns, comma-separated). Parsed by agent/core/disk/probe.py.
# Builtins wherever they do (a fork+exec costs 20-30 ms on a slow guest): /proc and sysfs are read with
# `read`, the tools run once each where they can (one lsblk, one find for every by-id link, two od
# reads straight from each disk).
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

# gda_root: the root filesystem's source and what it sits on; the disks among them in $gda_rootdisks
gda_rootdisks=
gda_root() {
    _src=$(findmnt -n -o SOURCE /) || return 1
    printf 'source=%s\n' "$_src"
    _dev=${_src%%\[*}
    case $_dev in
        /dev/*) _deps=$(lsblk -s -n -r -o KNAME,TYPE -- "$_dev") || return 1
                while read -r _k _t; do
                    [ -n "$_k" ] || continue
                    printf 'dep=%s %s\n' "$_k" "$_t"
                    [ "$_t" = disk ] && gda_rootdisks="$gda_rootdisks $_k"
                done <<DEPS
$_deps
DEPS
                ;;
    esac
}

gda_byid() {
    if [ ! -d /dev/disk/by-id ]; then
        echo "no /dev/disk/by-id directory" >&2
        return 3
    fi
    # one find for every link: "<name><TAB><target as the link says>", relative targets resolved by
    # the parser (udev writes ../../<kname>); without GNU find, readlink each
    find /dev/disk/by-id -mindepth 1 -maxdepth 1 -type l -printf '%f\t%l\n' 2>/dev/null && return 0
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
    gda_serial_hex "$_d"
    printf 'serial_hex=%s\n' "$_hx"
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

# gda_rawsig DISK: the raw sectors, two od reads straight from the device (od seeks on a block device)
gda_rawsig() {
    _dev=/dev/$1
    _lbs=
    read -r _lbs <"/sys/block/$1/queue/logical_block_size" 2>/dev/null
    case $_lbs in ''|*[!0-9]*) _lbs=512 ;; esac
    read -r _sz <"/sys/block/$1/size" || return 1
    _last=$(( _sz * 512 / _lbs - 1 ))
    printf 'lbs=%s\nlast_lba=%s\n' "$_lbs" "$_last"
    gda_head "$_dev" "$_lbs" || return 1
    printf 'mbr_tail=%s\nlba1=%s\n' "$_mbr" "$_lba1"
    gda_hex_at "$_dev" "$(( _last * _lbs ))" 16 || return 1
    printf 'last=%s\n' "${_hx%????????????????}"
    printf 'geom=%s\n' "$_hx"
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
        _o=
        read -r _o <"/sys/block/$_n/loop/offset" 2>/dev/null
        _mm=-
        if [ -b "$_f" ]; then
            _x=$(stat -L -c '%t %T' -- "$_f" 2>/dev/null) && _mm=$(( 0x${_x% *} )):$(( 0x${_x#* } ))
        fi
        printf '%s\t%s\t%s\t%s\n' "$_n" "$_mm" "$_o" "$_f"
    done
}

_uid=
while read -r _k _r _e _rest; do
    if [ "$_k" = Uid: ]; then _uid=$_e; break; fi
done </proc/self/status
gda_header FACTS "$GDA_VERSION" "uid=$_uid"
gda_run os - gda_cat /etc/os-release
gda_run tools - gda_tools
for _t in $GDA_VERSIONS; do
    case $_t in
        util-linux) gda_run version util-linux gda_version lsblk --version ;;
        *) gda_run version "$_t" gda_version "$_t" -V ;;
    esac
done
gda_run lsblk - gda_lsblk
gda_run root - gda_root
gda_run mounts - gda_cat /proc/self/mounts
gda_run swaps - gda_cat /proc/swaps
gda_run byid - gda_byid
gda_run loops - gda_loops
for _b in /sys/block/*; do
    [ -e "$_b/size" ] || continue
    _k=${_b##*/}
    _z=
    read -r _z <"$_b/size" 2>/dev/null
    [ "$_z" = 0 ] && continue
    gda_run sysfs "$_k" gda_sysfs "$_k"
    case " $gda_rootdisks " in
        *" $_k "*)  # refused whatever it carries: its contents are not probed
            gda_begin skipped "$_k"; echo root; gda_end 0
            continue ;;
    esac
    gda_run wipefs "$_k" gda_wipefs "$_k"
    # blkid's lines are kept: ext4 on the whole disk also gets its superblock read, so a rerun can
    # compare the features with the requested profile
    gda_capture blkid "$_k" blkid -p -o export -- "/dev/$_k"
    case "
$gda_out
" in *"
TYPE=ext4
"*) gda_run dumpe2fs "$_k" dumpe2fs -h -- "/dev/$_k" ;;
    esac
    gda_run rawsig "$_k" gda_rawsig "$_k"
    gda_run fdisk "$_k" fdisk -l -- "/dev/$_k"
done
gda_done
