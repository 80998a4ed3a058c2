# shellcheck shell=sh
# guest-disk-agent: the network facts fix-netplan needs, in one run (parsed by agent/core/net/netfacts.py).
# Prelude: N (the nonce), NETPLAN_FILE (the one netplan file to read, or empty for all of them);
# "$@" (argv): the netplan directories, in netplan's order.
# Sections: FILE <path> (the file in base64, so any byte survives a serial line), SHA256 <path> (its
# checksum: console noise in the base64 must not reach the YAML that is rewritten), LINK (ip -j -d link),
# ADDR (ip -j addr), SYSFS (name<TAB>device path<TAB>address<TAB>driver per /sys/class/net entry).
# shellcheck disable=SC2154
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export PATH
exec </dev/null
T=$(mktemp -d) || exit 1
trap 'rm -rf "$T"' EXIT

# Builtins only (a fork costs tens of ms on a slow guest): cd -P resolves a link as readlink -f does.
sysfs_listing() {
    for d in /sys/class/net/*; do
        [ -e "$d" ] || continue
        n=${d##*/}
        dev=
        drv=
        mac=
        if [ -e "$d/device" ] && cd -P "$d/device" 2>/dev/null; then dev=$PWD; fi
        if [ -e "$d/device/driver" ] && cd -P "$d/device/driver" 2>/dev/null; then drv=${PWD##*/}; fi
        [ -r "$d/address" ] && read -r mac <"$d/address"
        printf '%s\t%s\t%s\t%s\n' "$n" "$dev" "$mac" "$drv"
    done
    cd /
}

gda_header NET 1
if [ -n "$NETPLAN_FILE" ]; then
    set -- "$NETPLAN_FILE"
else
    # Replace each directory of the argument list by its *.yaml files (the loop's list is read once).
    for d in "$@"; do
        shift
        set -- "$@" "$d"/*.yaml
    done
fi
for f in "$@"; do
    [ -f "$f" ] || continue
    gda_run FILE "$f" base64 "$f"
    gda_run SHA256 "$f" sha256sum "$f"
done
gda_run LINK - ip -j -d link show
gda_run ADDR - ip -j addr show
gda_run SYSFS - sysfs_listing
gda_done
