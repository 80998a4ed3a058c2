# shellcheck shell=sh
# guest-disk-agent: the FreeBSD host's readings of a device for host-verify (agent/ops/host_verify_op.py).
# Read-only: fstyp, dd of the first 4096 bytes, and only when asked a read-only test mount. Never a
# read-write mount, never a write to the device.
#   @@GDA-HOSTVERIFY v1 nonce=N@@, OBS running_before=yes|no (/dev/vmm/<VM> exists while bhyve runs it,
#   as vm_conf.sh checks);
#   with STOP=1 and the guest running: section "stop" (<VM_COMMAND> stop <VM>), then `<VM_COMMAND> list`
#     polled once a second, at most STOP_WAIT times, until vm-bhyve's STATE column of <VM> is "Stopped"
#     (lib/vm-core core::list, v1.6.2: "Running (<pid>)", "Bootloader (<pid>)", "Locked (<host>)" else)
#     and /dev/vmm/<VM> is gone (vm-bhyve destroys it when bhyve exits); OBS stop_state=<the last STATE>,
#     OBS stop_polls=<n>;
#   OBS running=yes|no (after the stop), then for every device of GDA_DEVICES (space-separated /dev/... paths):
#     section "fstyp" <dev>: fstyp -l -u <dev>
#     section "sb" <dev>: dd if=<dev> bs=4096 count=1 | od -An -v -tx1 (rc: dd's status, else od's)
#     only with MOUNT_TEST=1, the guest not running and fstyp saying ext2fs:
#       OBS mountdir=<mktemp -d>; sections "mount" <dev> (mount -t ext2fs -o ro <dev> <dir>),
#       "umount" <dev> (only after a mount that worked), "rmdir" <dev>
#     else OBS mount_skipped=<dev> <why>
#   RESULT, DONE.
# Prelude: N (nonce), VM (the guest's name), MOUNT_TEST (1: do the test mount), STOP (1: stop a running
#   guest first), VM_COMMAND (how vm-bhyve's vm runs, e.g. "vm" or "sudo vm": split into words), STOP_WAIT
#   (polls of vm list at most), EXIT_OK, EXIT_NO_TEMP.
# GDA_DEVICES comes from the prelude or from the environment (vm_conf.sh runs this script as its
# HOST_FACTS with GDA_DEVICES set to the conf's /dev disks and HOST_DEVICES).
# shellcheck disable=SC2154

gda_header HOSTVERIFY 1

T=$(mktemp -d "${TMPDIR:-/tmp}/gda-verify.XXXXXX") || {
    gda_result "$EXIT_NO_TEMP" no-temp-dir
    gda_done
    exit "$EXIT_NO_TEMP"
}
trap 'rm -rf "$T"' EXIT

# hv_sb DEV: the device's first 4096 bytes as od's hex dump (called through gda_run)
# shellcheck disable=SC2317
hv_sb() {
    dd if="$1" of="$T/sb.bin" bs=4096 count=1 2>/dev/null || return $?
    od -An -v -tx1 "$T/sb.bin"
}

# hv_state: the STATE column of VM in `vm list` (the line whose NAME is VM; STATE is the last column)
hv_state() {
    # shellcheck disable=SC2086
    $VM_COMMAND list 2>/dev/null | awk -v n="$VM" '$1 == n {
        if (match($0, /(Running|Bootloader|Locked) \([^)]*\)$/)) print substr($0, RSTART)
        else if ($NF == "Stopped") print "Stopped"
        else print "unknown"
    }'
}

if [ -e "/dev/vmm/$VM" ]; then hv_running=yes; else hv_running=no; fi
gda_obs running_before "$hv_running"
if [ "$hv_running" = yes ] && [ "${STOP:-0}" = 1 ]; then
    # shellcheck disable=SC2086
    gda_run stop "$VM" $VM_COMMAND stop "$VM"
    hv_polls=0
    hv_last=$(hv_state)
    while [ "$hv_polls" -lt "${STOP_WAIT:-120}" ]; do
        if [ "$hv_last" = Stopped ] && [ ! -e "/dev/vmm/$VM" ]; then break; fi
        sleep 1
        hv_polls=$((hv_polls + 1))
        hv_last=$(hv_state)
    done
    gda_obs stop_state "$hv_last"
    gda_obs stop_polls "$hv_polls"
    if [ -e "/dev/vmm/$VM" ]; then hv_running=yes; else hv_running=no; fi
fi
gda_obs running "$hv_running"

for hv_dev in ${GDA_DEVICES:-}; do
    gda_capture fstyp "$hv_dev" fstyp -l -u "$hv_dev"
    hv_type=${gda_out%%[ 
]*}  # the first word of the first line
    gda_run sb "$hv_dev" hv_sb "$hv_dev"
    if [ "${MOUNT_TEST:-0}" != 1 ]; then
        gda_obs mount_skipped "$hv_dev not asked"
    elif [ "$hv_running" = yes ]; then
        gda_obs mount_skipped "$hv_dev guest running"
    elif [ "$hv_type" != ext2fs ]; then
        gda_obs mount_skipped "$hv_dev not ext2fs"
    elif ! hv_dir=$(mktemp -d "${TMPDIR:-/tmp}/gda-verify-mnt.XXXXXX"); then
        gda_obs mount_skipped "$hv_dev no temporary directory"
    else
        gda_obs mountdir "$hv_dir"
        gda_run mount "$hv_dev" mount -t ext2fs -o ro "$hv_dev" "$hv_dir"
        if [ "$_rc" = 0 ]; then  # gda_run's status of the mount
            gda_run umount "$hv_dev" umount "$hv_dir"
        fi
        gda_run rmdir "$hv_dev" rmdir "$hv_dir"
    fi
done
gda_result "$EXIT_OK" ok
gda_done
exit "$EXIT_OK"
