# shellcheck shell=sh
# guest-disk-agent: sysfs and raw-sector readers shared by the disk scripts, so discovery
# (disk_facts.sh) and the guard (disk_guard.sh) read a disk's identity and its first sectors the same way.

# gda_hexjoin WORDS: od's hex words joined into one string, in $_hx (builtins only)
gda_hexjoin() {
    _hx=
    for _hb in $1; do _hx=$_hx$_hb; done
}

# gda_serial_file SYSDIR: the file holding the serial, in $_sf: SYSDIR/device/serial (for an NVMe
# namespace, the controller's), else SYSDIR/serial; empty when neither is readable
gda_serial_file() {
    for _sf in "$1/device/serial" "$1/serial"; do
        [ -r "$_sf" ] && return 0
    done
    _sf=
}

# gda_serial_hex SYSDIR: the serial's raw sysfs bytes as hex (empty when there is no serial), in $_hx.
gda_serial_hex() {
    _hx=
    gda_serial_file "$1"
    [ -n "$_sf" ] && gda_hexjoin "$(od -A n -v -t x1 "$_sf" 2>/dev/null)"
    return 0
}

# gda_read FILE: FILE's first line, whitespace kept, in $_rd (empty when unreadable)
gda_read() {
    _rd=
    [ -r "$1" ] && IFS= read -r _rd <"$1"
    return 0
}

# gda_head DEV LBS: bytes 446-511 of DEV (the MBR's partition entries and boot signature) and the first
# 8 bytes of LBA 1 (LBS: the logical block size), as hex from one od read, in $_mbr and $_lba1; fails
# when od fails or reads short
gda_head() {
    _o=$(od -A n -v -t x1 -j 446 -N "$(( $2 - 446 + 8 ))" -- "$1") || return 1
    _mbr=; _lba1=; _i=0; _from=$(( $2 - 446 ))
    for _hb in $_o; do
        if [ "$_i" -lt 66 ]; then
            _mbr=$_mbr$_hb
        elif [ "$_i" -ge "$_from" ]; then
            _lba1=$_lba1$_hb
        fi
        _i=$(( _i + 1 ))
    done
    [ "${#_mbr}" = 132 ] && [ "${#_lba1}" = 16 ]
}

# gda_hex_at DEV OFFSET COUNT: COUNT bytes of DEV from OFFSET as one hex string in $_hx (od seeks on a
# block device); fails when od fails (its message on stderr) or reads short
gda_hex_at() {
    _o=$(od -A n -v -t x1 -j "$2" -N "$3" -- "$1") || return 1
    gda_hexjoin "$_o"
    [ "${#_hx}" = "$(( $3 * 2 ))" ]
}
