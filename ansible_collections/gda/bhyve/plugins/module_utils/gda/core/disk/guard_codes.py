# GENERATED from agent/core/disk/guard_codes.py by `python -m agent.collection_build`: do not edit.
"""The guard script's exit codes: the one table (pure).

The shell never spells a code: :func:`agent.core.disk.guard.render_guard_script` puts ``EXIT_<NAME>=<n>``
for every :class:`GuardExit` into the script's prelude and ``disk_guard.sh`` calls
``finish "$EXIT_<NAME>" <reason>``. Codes 1, 2, 126, 127 and 255 are left to sudo, the shell and ssh.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass

from ansible_collections.gda.bhyve.plugins.module_utils.gda.hints import opt


class GuardExit(enum.IntEnum):
    OK = 0
    NOT_ROOT = 10
    NO_DEVICE = 11
    NOT_WHOLE_DISK = 12
    LOCKED = 13
    SERIAL = 14
    SIZE = 15
    READ_ONLY = 16
    MOUNTED = 17
    SWAP = 18
    HOLDERS = 19
    PARTITIONS = 20
    PARTITION_TABLE = 21
    SIGNATURE = 22
    PROBE_FAILED = 23
    MKFS_MISSING = 24
    TOOL_MISSING = 25
    MKFS_FAILED = 26
    VERIFY_FAILED = 27
    WWN = 28
    LOOP = 29
    SIGNATURE_ID = 30
    IDENTITY = 31
    IDENTITY_AFTER = 32


@dataclass(frozen=True)
class GuardCode:
    """One exit code of the guard script."""

    code: GuardExit
    reason: str  # short name printed in the RESULT line
    summary: str
    hint: str
    device_changed: bool = False  # True only when mkfs ran (data on the device may have changed)


_RECHECK = "re-run discovery (invoke disks) and check the guest; nothing was written"

#: The code table.
GUARD_CODES: Mapping[int, GuardCode] = {
    c.code: c
    for c in (
        GuardCode(GuardExit.OK, "ok", "filesystem created and verified", ""),
        GuardCode(GuardExit.NOT_ROOT, "not-root", "the guard did not run as root", "run it under sudo"),
        GuardCode(
            GuardExit.NO_DEVICE, "no-device", "the device path does not lead to a block device", _RECHECK
        ),
        GuardCode(
            GuardExit.NOT_WHOLE_DISK,
            "not-whole-disk",
            "the device is a partition, not a whole disk",
            _RECHECK,
        ),
        GuardCode(
            GuardExit.LOCKED,
            "locked",
            "another process holds the device lock",
            "retry when nothing else uses the disk",
        ),
        GuardCode(
            GuardExit.SERIAL, "serial-mismatch", "the device's serial changed since discovery", _RECHECK
        ),
        GuardCode(
            GuardExit.WWN,
            "wwn-mismatch",
            "the device's WWN (the NVMe namespace's identity) changed since discovery",
            _RECHECK,
        ),
        GuardCode(GuardExit.SIZE, "size-mismatch", "the device's size changed since discovery", _RECHECK),
        GuardCode(
            GuardExit.READ_ONLY, "read-only", "the device is read-only", "check the vm-bhyve disk options"
        ),
        GuardCode(
            GuardExit.MOUNTED, "mounted", "the device is mounted", "unmount it first if it is really unused"
        ),
        GuardCode(
            GuardExit.SWAP, "swap", "the device is in use as swap", "swapoff it first if it is really unused"
        ),
        GuardCode(
            GuardExit.HOLDERS, "holders", "the device has holders (LVM/RAID/dm)", "deactivate them first"
        ),
        GuardCode(GuardExit.PARTITIONS, "partitions", "the device has partitions", _RECHECK),
        GuardCode(
            GuardExit.LOOP,
            "loop",
            "the device backs a loop device (in use; the kernel shows no holder for it)",
            f"detach it (losetup -d) first if it is really unused; {opt('force')} never overrides this",
        ),
        GuardCode(
            GuardExit.SIGNATURE_ID,
            "signature-id",
            "the device's signatures are of the confirmed types but not the ones confirmed "
            "(another UUID or offset)",
            f"{opt('force')} overwrites only what was shown and confirmed; " + _RECHECK,
        ),
        GuardCode(
            GuardExit.IDENTITY,
            "identity-changed",
            "the device node no longer leads to the locked device (major:minor, serial or wwid changed)",
            _RECHECK,
        ),
        GuardCode(
            GuardExit.IDENTITY_AFTER,
            "identity-changed-after",
            "the device node led to another device after mkfs than before (major:minor, serial or wwid "
            "changed while mkfs ran): mkfs may have written to a different device",
            "check every disk of the guest with blkid -p and wipefs",
            device_changed=True,
        ),
        GuardCode(
            GuardExit.PARTITION_TABLE,
            "partition-table",
            "the device carries a partition table (a table inside the host partition would hide the "
            "filesystem from the host)",
            "clear it deliberately with wipefs -a if it is really unused; " + _RECHECK,
        ),
        GuardCode(
            GuardExit.SIGNATURE,
            "signature",
            "the device's signatures are not what discovery saw",
            f"{opt('force')} overwrites an existing filesystem; " + _RECHECK,
        ),
        GuardCode(
            GuardExit.PROBE_FAILED,
            "probe-failed",
            "the device's signatures could not be probed",
            "check wipefs/blkid",
        ),
        GuardCode(
            GuardExit.MKFS_MISSING, "mkfs-missing", "the mkfs program is not installed", "install the package"
        ),
        GuardCode(
            GuardExit.TOOL_MISSING, "tool-missing", "a tool the guard needs is missing", "install util-linux"
        ),
        GuardCode(
            GuardExit.MKFS_FAILED,
            "mkfs-failed",
            "mkfs failed",
            "read mkfs's output; the device may be partly written",
            device_changed=True,
        ),
        GuardCode(
            GuardExit.VERIFY_FAILED,
            "verify-failed",
            "mkfs ran but blkid -p does not show the expected filesystem with a UUID and no partition table "
            "(or GEOM metadata is left in the last sector)",
            "inspect the device with blkid -p and wipefs",
            device_changed=True,
        ),
    )
}


def exit_code_variables() -> dict[str, int]:
    """``{"EXIT_OK": 0, "EXIT_NOT_ROOT": 10, ...}``: the prelude's share of the table."""
    return {f"EXIT_{e.name}": int(e) for e in GuardExit}
