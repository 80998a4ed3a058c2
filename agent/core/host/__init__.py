"""The FreeBSD host side (pure): parsers for what ``host_facts.sh`` gathers (glabel, gpart, diskinfo,
zpool/zdb, mount, swapctl, fstyp), the facts model, and the check of a device to pass through."""
