# shellcheck shell=sh
# guest-disk-agent: read a vm-bhyve guest's config on the FreeBSD host (check-vm-config).
# Where vm-bhyve keeps the guest (rc.conf's vm_dir, which may be "zfs:pool/dataset"), then its conf:
#   @@GDA-VMCONF v1 nonce=N@@, OBS dir=<the guest's folder>, OBS dataset=<the ZFS dataset or empty>,
#   a "conf_hex" section holding <dir>/<VM>.conf as a hex dump (od -An -v -tx1: a CR or a non-UTF-8 byte
#   arrives as it is; rc = od's status), RESULT, DONE.
# Prelude: N (nonce), VM (the guest's name), EXIT_OK, EXIT_NO_VM_DIR, EXIT_NO_MOUNTPOINT, EXIT_NO_CONF.
# shellcheck disable=SC2154

gda_header VMCONF 2

vc_fail() {
    gda_obs error "$3"
    gda_result "$1" "$2"
    gda_done
    exit "$1"
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
gda_result "$EXIT_OK" ok
gda_done
exit "$EXIT_OK"
