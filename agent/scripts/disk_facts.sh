# shellcheck shell=sh
# guest-disk-agent: gather block-device facts (read-only; writes nothing to any device).
# Prelude: N (nonce), GDA_VERSION (format version), GDA_TOOLS (tools to locate, space-separated),
# GDA_VERSIONS (the tools whose version to ask, space-separated: only those the plan needs),
# GDA_COLS / GDA_MINCOLS (lsblk columns, comma-separated), GDA_PART (all | user | root), for the root
# part GDA_DISKS (the disks to probe, kernel names, space-separated), and GDA_REPORT (1: also the probes
# only a format reads, fdisk -l for its report and dumpe2fs -h for a rerun; 0: not, for the listing).
# Parsed by agent/core/disk/probe.py.
# The parts: "user" is what needs no root (run as the login user while the root shell starts), "root" the
# content probes of the disks the user part found (wipefs, dumpe2fs, the raw sectors, fdisk), "all"
# both in one run (a transport with one shell: the console, the Ansible module).
# Builtins wherever they do (a fork+exec costs 50-90 ms on a slow guest, a fork of the shell alone a few):
# /proc and sysfs are read with `read`, the tools run once each where they can (one lsblk, one find for
# every by-id link, one wipefs and two od reads straight from each disk, the od reads beside the rest),
# and no temporary file is made (stderr is held in a variable: lib/marker.sh's gda_cmd).
# shellcheck disable=SC2154

PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"
LC_ALL=C
export PATH LC_ALL
unset LOCK_BLOCK_DEVICE
umask 077
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

# gda_root: the root filesystem's source and what it sits on (its disks: the "dep=<kname> disk" lines)
gda_root() {
    _src=$(findmnt -n -o SOURCE /) || return 1
    printf 'source=%s\n' "$_src"
    _dev=${_src%%\[*}
    case $_dev in
        /dev/*) _deps=$(lsblk -s -n -r -o KNAME,TYPE -- "$_dev") || return 1
                while read -r _k _t; do
                    [ -n "$_k" ] && printf 'dep=%s %s\n' "$_k" "$_t"
                done <<DEPS
$_deps
DEPS
                ;;
    esac
}

# gda_rootdisks_of TEXT: the disks among gda_root's lines, space-separated, in $gda_rootdisks
gda_rootdisks_of() {
    gda_rootdisks=
    while read -r _l _t; do
        case $_l in dep=?*) [ "$_t" = disk ] && gda_rootdisks="$gda_rootdisks ${_l#dep=}" ;; esac
    done <<ROOT
$1
ROOT
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
    case $_lbs in ''|0|*[!0-9]*) _lbs=512 ;; esac
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

# gda_probe_sig DISK: the signatures on DISK: wipefs (blkid -p only when wipefs cannot say); with
# GDA_REPORT, dumpe2fs -h of ext4 on the whole disk (a rerun compares its features with the requested
# profile)
gda_probe_sig() {
    gda_capture wipefs "$1" gda_wipefs "$1"
    _ext4=0
    if [ "$_rc" = 0 ]; then
        case $gda_out in *'"type": "ext4"'* | *'"type":"ext4"'*) _ext4=1 ;; esac
    else
        gda_capture blkid "$1" blkid -p -o export -- "/dev/$1"
        case "
$gda_out
" in *"
TYPE=ext4
"*) _ext4=1 ;;
        esac
    fi
    [ "$GDA_REPORT" = 1 ] && [ "$_ext4" = 1 ] && gda_cmd dumpe2fs "$1" dumpe2fs -h -- "/dev/$1"
    return 0
}

# gda_probe_raw DISK: the raw sectors; with GDA_REPORT, fdisk -l (for the summary)
gda_probe_raw() {
    gda_cmd rawsig "$1" gda_rawsig "$1"
    [ "$GDA_REPORT" = 1 ] || return 0
    gda_cmd fdisk "$1" fdisk -l -- "/dev/$1"
}

# gda_probe DISK...: the probes of every DISK in two lanes at once (a guest's CPUs run them side by
# side), about even: the raw sectors and fdisk on the way out (fd 3) while the signatures are held, then
# printed
gda_probe() {
    for _k in "$@"; do
        [ -e "/sys/block/$_k/size" ] || continue
        _sig=$(gda_probe_raw "$_k" >&3 & gda_probe_sig "$_k"; wait)
        printf '%s\n' "$_sig"
    done 3>&1
}

_uid=
while read -r _k _r _e _rest; do
    if [ "$_k" = Uid: ]; then _uid=$_e; break; fi
done </proc/self/status
gda_header FACTS "$GDA_VERSION" "uid=$_uid" "part=$GDA_PART"
if [ "$GDA_PART" = root ]; then
    # shellcheck disable=SC2086  # kernel names, one word each
    gda_probe $GDA_DISKS
    gda_done
    exit 0
fi
gda_cmd os - gda_cat /etc/os-release
gda_cmd tools - gda_tools
for _t in $GDA_VERSIONS; do
    case $_t in
        util-linux) gda_cmd version util-linux gda_version lsblk --version ;;
        *) gda_cmd version "$_t" gda_version "$_t" -V ;;
    esac
done
gda_cmd lsblk - gda_lsblk
gda_capture root - gda_root
gda_rootdisks_of "$gda_out"
gda_cmd mounts - gda_cat /proc/self/mounts
gda_cmd swaps - gda_cat /proc/swaps
gda_cmd byid - gda_byid
gda_cmd loops - gda_loops
_probe=
for _b in /sys/block/*; do
    [ -e "$_b/size" ] || continue
    _k=${_b##*/}
    _z=
    read -r _z <"$_b/size" 2>/dev/null
    [ "$_z" = 0 ] && continue
    gda_cmd sysfs "$_k" gda_sysfs "$_k"
    case " $gda_rootdisks " in
        *" $_k "*)  # refused whatever it carries: its contents are not probed
            gda_begin skipped "$_k"; echo root; gda_end 0
            continue ;;
    esac
    _probe="$_probe $_k"
done
# shellcheck disable=SC2086  # kernel names, one word each
[ "$GDA_PART" = all ] && gda_probe $_probe
gda_done
