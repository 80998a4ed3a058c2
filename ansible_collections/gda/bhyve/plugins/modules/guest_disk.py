#!/usr/bin/python
# Copyright: guest-disk-agent contributors
# BSD-2-Clause (see the repository's pyproject.toml)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: guest_disk
short_description: Put ext4 or XFS on the whole disk passed through to a bhyve guest, safely
description:
  - Runs on the guest (a Linux VM under FreeBSD bhyve/vm-bhyve) and does what C(gda format) does there, with
    the same discovery, refusals and guard, from the same code (the project's core, shipped as module_utils).
  - One round of commands gathers every disk fact (C(lsblk), C(blkid -p), sysfs, mounts, swaps, holders
    such as RAID, LVM or loop devices). The disk is the one the O(device), O(serial) and O(size) pins
    match, or else the one disk that is not the boot disk. A disk with a partition table, a mounted or
    swap disk, one that backs RAID, LVM or a loop device, the boot disk, or two candidates is refused
    with the reason and what to do.
  - A guard script re-checks the chosen disk under an exclusive lock right before C(mkfs) (same serial,
    size and signatures), then verifies the new filesystem with C(blkid -p).
  - A disk that already has the requested filesystem (same label and host compatibility) is left alone
    (RV(changed=false)). Another filesystem or signature is refused unless O(force=true); a partition table
    is never overwritten.
  - With O(host_compat=freebsd), ext4 is made with only the features FreeBSD's ext2fs mounts read-write, and
    the result is checked with C(dumpe2fs -h).
version_added: 0.1.0
author:
  - guest-disk-agent maintainers (!UNKNOWN)
requirements:
  - Python 3.10 or later on the guest (standard library only), util-linux (C(lsblk), C(blkid), C(flock)),
    e2fsprogs for ext4 or xfsprogs for XFS.
  - Root on the guest (C(become=true)).
options:
  fs:
    description:
      - The filesystem to make.
    type: str
    required: true
    choices: [ext4, xfs]
  label:
    description:
      - The filesystem label (ext4 at most 16 bytes, XFS 12). A rerun with another label is a difference
        (refused without O(force)).
    type: str
  device:
    description:
      - Pin the disk by name (C(/dev/nvme1n1), C(nvme1n1) or a C(/dev/disk/by-id/...) link).
    type: str
  serial:
    description:
      - Pin the disk by its serial (vm-bhyve's C(nvme,ser=...)).
    type: str
  size:
    description:
      - Pin the disk by its size, in bytes or with a unit (C(500G), C(1.5T), C(476.9GiB)).
    type: str
  host_compat:
    description:
      - V(freebsd) makes ext4 with only the features the FreeBSD host mounts read-write (XFS gives a
        warning, FreeBSD cannot mount it); V(linux) uses mkfs's defaults.
    type: str
    choices: [freebsd, linux]
  force:
    description:
      - Overwrite an existing filesystem or other signature on the chosen disk (never a partition table,
        never a mounted, swap or member disk). Setting it is the confirmation C(gda format --force --yes)
        asks for.
    type: bool
    default: false
  no_discard:
    description:
      - Do not discard (TRIM) the device before C(mkfs).
    type: bool
    default: false
attributes:
  check_mode:
    description: Can run in check mode and return the changed status prediction without changing the guest.
    support: full
    details: Check mode is C(gda format --dry-run) - the disk is chosen and the plan made, nothing is written.
  diff_mode:
    description: Returns the plan as a diff - what the disk has before, what it gets after.
    support: full
notes:
  - Refusals fail the task with the message and hint C(gda format) prints; option names in them are this
    module's (O(force), O(device)).
"""

EXAMPLES = r"""
- name: Format the passed-through NVMe disk (chosen by its serial) for the FreeBSD host
  gda.bhyve.guest_disk:
    fs: ext4
    serial: Y39B70RTK7AS
    label: data
    host_compat: freebsd
  become: true
  register: disk

- name: Show the plan only
  gda.bhyve.guest_disk:
    fs: xfs
    device: /dev/nvme1n1
  become: true
  check_mode: true
  diff: true

- name: Mount it by UUID
  ansible.posix.mount:
    path: /srv/data
    src: UUID={{ disk.uuid }}
    fstype: ext4
    state: mounted
  become: true
"""

RETURN = r"""
changed:
  description: Whether a filesystem was made (in check mode, whether one would be).
  returned: always
  type: bool
action:
  description: V(formatted), V(nothing-to-do) (the disk already has it) or V(dry-run) (check mode).
  returned: success
  type: str
  sample: formatted
device:
  description: The kernel path of the chosen disk.
  returned: success
  type: str
  sample: /dev/nvme1n1
device_path:
  description: The stable path the guard used (C(/dev/disk/by-id/...) when the guest has one).
  returned: success
  type: str
  sample: /dev/disk/by-id/nvme-bhyve-NVMe_Y39B70RTK7AS
uuid:
  description: The filesystem's UUID (null in check mode before formatting).
  returned: success
  type: str
  sample: 0b9e3f5c-3d0e-4a3a-9d5e-6c1f4f0f3c2a
fs:
  description: The filesystem type.
  returned: success
  type: str
  sample: ext4
label:
  description: The filesystem label.
  returned: success
  type: str
serial:
  description: The disk's serial.
  returned: success
  type: str
  sample: Y39B70RTK7AS
size_bytes:
  description: The disk's size.
  returned: success
  type: int
mkfs_command:
  description: The exact C(mkfs) command (run, or to run in check mode).
  returned: when a filesystem is (to be) made
  type: list
  elements: str
overwrites:
  description: The signatures O(force) overwrites.
  returned: when a filesystem is (to be) made
  type: list
  elements: str
features_disabled:
  description: The ext4 features turned off for O(host_compat=freebsd).
  returned: success
  type: list
  elements: str
host_hint:
  description: How to mount the filesystem on the host after stopping the guest.
  returned: success
  type: list
  elements: str
log:
  description: The progress lines C(gda format) prints.
  returned: always
  type: list
  elements: str
"""

import platform  # noqa: E402
import traceback  # noqa: E402

from ansible.module_utils.basic import AnsibleModule  # noqa: E402

from ansible_collections.gda.bhyve.plugins.module_utils.gda import __version__  # noqa: E402
from ansible_collections.gda.bhyve.plugins.module_utils.gda.core.disk.candidates import make_pins  # noqa: E402
from ansible_collections.gda.bhyve.plugins.module_utils.gda.errors import AgentError  # noqa: E402
from ansible_collections.gda.bhyve.plugins.module_utils.gda.hints import render_options  # noqa: E402
from ansible_collections.gda.bhyve.plugins.module_utils.gda.ops.format_flow import (  # noqa: E402
    DiskTarget,
    FormatOptions,
    format_target,
)
from ansible_collections.gda.bhyve.plugins.module_utils.local_protocol import LocalProtocol  # noqa: E402

ARGUMENT_SPEC = dict(
    fs=dict(type="str", required=True, choices=["ext4", "xfs"]),
    label=dict(type="str"),
    device=dict(type="str"),
    serial=dict(type="str"),
    size=dict(type="str"),
    host_compat=dict(type="str", choices=["freebsd", "linux"]),
    force=dict(type="bool", default=False),
    no_discard=dict(type="bool", default=False),
)

# gda's option names ({opt:name} in messages) as this module spells them
OPTION_NAMES = {"yes": "force", "dry_run": "check mode"}


def option_name(name):
    if name in ARGUMENT_SPEC:
        return name
    return OPTION_NAMES.get(name, "gda's --" + name.replace("_", "-"))


def refusal(error):
    """gda's message and hint, as ``gda format`` prints them."""
    text = render_options(error.message, option_name)
    if error.hint:
        text += "\nhint: " + render_options(error.hint, option_name)
    return text


def plan_diff(outcome):
    """Before: what the chosen disk has; after: what it gets (the same text when nothing is to do)."""
    where = f"{outcome.device} ({outcome.device_path})"
    if outcome.action == "nothing-to-do":
        same = f"{where}: {outcome.fs}, UUID {outcome.uuid}, label {outcome.label or '(none)'}\n"
        return dict(before=same, after=same)
    had = "; ".join(outcome.overwrites) if outcome.overwrites else "no filesystem or other signature"
    size = f", {outcome.size_bytes} bytes" if outcome.size_bytes else ""
    serial = f", serial {outcome.serial}" if outcome.serial else ""
    after = (
        f"{where}: {outcome.fs}, label {outcome.label or '(none)'}\nmkfs: {' '.join(outcome.mkfs_command)}\n"
    )
    if outcome.features_disabled:
        after += f"ext4 features off for FreeBSD: {', '.join(outcome.features_disabled)}\n"
    return dict(
        before_header=outcome.device,
        after_header=outcome.device,
        before=f"{where}{serial}{size}: {had}\n",
        after=after,
    )


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    p = module.params
    log = []  # gda's progress lines (a message may hold several)
    opts = FormatOptions(
        fs=p["fs"],
        label=p["label"],
        no_discard=p["no_discard"],
        force=p["force"],
        yes=p["force"],  # the task's force is the confirmation gda asks for
        dry_run=module.check_mode,
        device=p["device"],
        serial=p["serial"],
        host_compat=p["host_compat"],
    )
    try:
        target = DiskTarget(
            pins=make_pins(device=p["device"], serial=p["serial"], size=p["size"]), host_os=p["host_compat"]
        )
        outcome = format_target(
            LocalProtocol(module),
            platform.node() or "guest",
            target,
            opts,
            log=lambda m: log.extend(m.splitlines()),
            ask=None,
        )
    except AgentError as e:
        module.fail_json(msg=refusal(e), changed=False, log=log)
    except Exception as e:  # a bug: one line, the traceback only with -vvv
        module.fail_json(
            msg=f"gda.bhyve.guest_disk {__version__} failed unexpectedly (a bug): {type(e).__name__}: {e}",
            exception=traceback.format_exc(),
            changed=False,
            log=log,
        )
    result = outcome.to_json()
    result.pop("guest", None)
    result.pop("warnings", None)  # Ansible's own key: module.warn reports them
    for text in outcome.warnings:
        module.warn(text)
    changed = outcome.action != "nothing-to-do"
    extra = dict(diff=plan_diff(outcome)) if module._diff else {}
    module.exit_json(changed=changed, log=log, **result, **extra)


if __name__ == "__main__":
    main()
