# shellcheck shell=sh
# guest-disk-agent: read a vm-bhyve guest's config on the FreeBSD host (check-vm-config).
# Where vm-bhyve keeps the guest (rc.conf's vm_dir, which may be "zfs:pool/dataset"), then its conf:
#   @@GDA-VMCONF v1 nonce=N@@, OBS dir=<the guest's folder>, OBS dataset=<the ZFS dataset or empty>,
#   a "conf_hex" section holding <dir>/<VM>.conf as a hex dump (od -An -v -tx1: a CR or a non-UTF-8 byte
#   arrives as it is; rc = od's status), OBS running=yes|no (/dev/vmm/<VM> exists while bhyve runs it),
#   RESULT, DONE.
# Then, when HOST_FACTS is set (check-vm-config's host checks, in the same round trip): that script
#   (agent/scripts/host_facts.sh rendered without GDA_DEVICES; its own header, nonce and framing) runs
#   with GDA_DEVICES = HOST_DEVICES plus every /dev/... value of a diskN_name line of the conf (a
#   superset: the caller keeps the disks vm-bhyve passes through as custom, and checks each was gathered);
#   not at all when there is no such device.
# Prelude: N (nonce), VM (the guest's name), EXIT_OK, EXIT_NO_VM_DIR, EXIT_NO_MOUNTPOINT, EXIT_NO_CONF;
#   optional HOST_FACTS (a script's text) and HOST_DEVICES (device paths, space-separated).
# shellcheck disable=SC2154

gda_header VMCONF 2

vc_fail() {
    gda_obs error "$3"
    gda_result "$1" "$2"
    gda_done
    exit "$1"
}

# vc_conf_devices FILE: the /dev/... value of every diskN_name line (quoted or not), one a line
vc_conf_devices() {
    sed -n "s|^[[:space:]]*disk[0-9][0-9]*_name=[\"']\{0,1\}\(/dev/[A-Za-z0-9._:/+@-]*\).*|\1|p" "$1"
}

T=$(mktemp -d "${TMPDIR:-/tmp}/gda-vmconf.XXXXXX") || vc_fail "$EXIT_NO_CONF" no-temp-dir "cannot create a temporary directory"
trap 'rm -rf "$T"' EXIT

if ! vm_dir=$(sysrc -n vm_dir 2>/dev/null) || [ -z "$vm_dir" ]; then
    vc_fail "$EXIT_NO_VM_DIR" no-vm-dir "vm_dir is not set in rc.conf (is vm-bhyve set up?)"
fi
case $vm_dir in
    zfs:*)
        ds=${vm_dir#zfs:}
        if ! dir=$(zfs get -H -o value mountpoint "$ds" 2>"$T/zfs.err"); then
            vc_fail "$EXIT_NO_MOUNTPOINT" no-mountpoint "zfs get mountpoint $ds failed: $(cat "$T/zfs.err")"
        fi
        ;;
    *)
        ds=""
        dir=$vm_dir
        ;;
esac
gda_obs dir "$dir/$VM"
gda_obs dataset "$ds"
if [ ! -r "$dir/$VM/$VM.conf" ]; then
    vc_fail "$EXIT_NO_CONF" no-conf "cannot read $dir/$VM/$VM.conf (no such guest, or no permission)"
fi
gda_run conf_hex - od -An -v -tx1 "$dir/$VM/$VM.conf"
if [ -e "/dev/vmm/$VM" ]; then gda_obs running yes; else gda_obs running no; fi
gda_result "$EXIT_OK" ok
gda_done
if [ -n "${HOST_FACTS:-}" ]; then
    vc_devices="${HOST_DEVICES:-} $(vc_conf_devices "$dir/$VM/$VM.conf" | tr '\n' ' ')"
    case $vc_devices in
        *[!\ ]*) GDA_DEVICES=$vc_devices sh -c "$HOST_FACTS" ;;
    esac
fi
exit "$EXIT_OK"
