# shellcheck shell=sh
# guest-disk-agent: sysfs readers shared by the disk scripts, so discovery (disk_facts.sh) and the guard
# (disk_guard.sh) read a disk's identity the same way.

# gda_serial_hex SYSDIR: the serial's raw sysfs bytes as hex (SYSDIR/device/serial, for an NVMe namespace
# the controller's, else SYSDIR/serial; empty when neither exists).
gda_serial_hex() {
    for _sf in "$1/device/serial" "$1/serial"; do
        if [ -r "$_sf" ]; then
            od -A n -v -t x1 "$_sf" 2>/dev/null | tr -d ' \n'
            return 0
        fi
    done
}
