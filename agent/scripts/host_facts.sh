# shellcheck shell=sh
# guest-disk-agent: gather a FreeBSD host's facts about the devices to pass through (read-only).
# Prelude: N (nonce), GDA_VERSION (format version), GDA_DEVICES (device paths, space-separated, each
# /dev/...). Parsed by agent/core/host/host_facts.py. A missing command or a non-zero exit is recorded
# in its section (rc=127 for "not found"), never fatal.
# shellcheck disable=SC2154

PATH="$PATH:/usr/local/sbin:/usr/local/bin:/usr/sbin:/sbin"
LC_ALL=C
export PATH LC_ALL
umask 077
T=$(mktemp -d 2>/dev/null) || T=
if [ -z "$T" ] || [ ! -d "$T" ]; then
    echo "guest-disk-agent: cannot create a temporary directory" >&2
    exit 3
fi
trap 'rm -rf -- "$T"' EXIT
trap 'exit 130' HUP INT TERM

gda_tools() {
    for _t in glabel gpart diskinfo zpool zdb mount swapctl fstyp; do
        printf '%s=' "$_t"
        command -v "$_t" 2>/dev/null || echo
    done
}

# gda_parent DEV: DEV without a trailing partition suffix (pN, or sN[a-h] for MBR slices).
gda_parent() {
    _d=$1
    case ${_d##*p} in
        ''|*[!0-9]*) ;;
        *) [ "${_d%p*}" != "$_d" ] && [ -n "${_d%p*}" ] && { printf '%s\n' "${_d%p*}"; return; } ;;
    esac
    case $_d in
        *s[0-9]|*s[0-9][0-9]) printf '%s\n' "${_d%s*}"; return ;;
        *s[0-9][a-h]|*s[0-9][0-9][a-h]) printf '%s\n' "${_d%s*}"; return ;;
    esac
    printf '%s\n' "$_d"
}

# gda_seen WORD: true if WORD was already handled (remembered in $T/seen)
gda_seen() {
    grep -qxF -- "$1" "$T/seen" 2>/dev/null && return 0
    printf '%s\n' "$1" >>"$T/seen"
    return 1
}

gda_header HOSTFACTS "$GDA_VERSION" "uid=$(id -u)"
gda_run uname - uname -sr
gda_run tools - gda_tools
gda_run glabel - glabel status -s
gda_run gpart_show - gpart show -p
gda_run gpart_list - gpart list
gda_run zpool_status - zpool status -P
gda_run mount - mount -p
gda_run swap - swapctl -l
: >"$T/seen"
for _dev in $GDA_DEVICES; do
    case $_dev in /dev/*) ;; *) continue ;; esac
    _disk=$(gda_parent "$_dev")
    for _x in "$_dev" "$_disk"; do
        gda_seen "diskinfo $_x" || gda_run diskinfo "$_x" diskinfo -v "$_x"
    done
    gda_seen "fstyp $_dev" || gda_run fstyp "$_dev" fstyp -l -u "$_dev"
    # zdb -l on the device and on every partition of its disk: an exported pool shows only there
    gda_seen "zdb $_dev" || gda_run zdb "$_dev" zdb -l "$_dev"
    for _p in "$_disk"p[0-9]*; do
        [ -e "$_p" ] || continue
        case ${_p##*p} in ''|*[!0-9]*) continue ;; esac
        gda_seen "zdb $_p" || gda_run zdb "$_p" zdb -l "$_p"
    done
done
gda_done
