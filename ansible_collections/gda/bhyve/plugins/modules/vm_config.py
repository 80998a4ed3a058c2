#!/usr/bin/python
# Copyright: guest-disk-agent contributors
# BSD-2-Clause (see the repository's pyproject.toml)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: vm_config
short_description: Check a vm-bhyve guest's config and the host partitions it passes through
description:
  - Runs on the FreeBSD bhyve host and never changes anything. It does what C(gda check-vm-config --guest NAME
    --device PATH) does on the host, in one round of commands
    (C(glabel), C(gpart), C(diskinfo), C(zpool)/C(zdb), C(mount), C(swapctl), C(fstyp)).
  - "The guest's vm-bhyve config (C(vm_dir/NAME/NAME.conf), found through rc.conf's C(vm_dir)) is read as
    vm-bhyve reads it: C(diskN_dev) holding a path, C(custom) with a relative name, a missing or unknown
    C(diskN_type), duplicate keys, gaps in the numbering, an NVMe without C(ser=); the PCI slot plan as
    vm-bhyve's C(lib/vm-run) computes it, and the NIC rename a new disk causes
    (C(network0 moves from slot 5 to slot 6: enp0s5 → enp0s6))."
  - Every host device the config passes through (C(diskN_dev=custom) with a C(/dev/...) name) and
    O(partition) are checked. A C(freebsd-zfs), C(freebsd-ufs), C(freebsd-swap), C(efi) or C(freebsd-boot)
    partition, one in a ZFS pool (imported, or only in its labels), mounted, swap, or a whole disk with a
    partition table is refused, naming the pool or mount and the one C(linux-data) partition of the same disk
    to use instead.
  - The task fails (with the same messages as C(gda check-vm-config)) when the config has an error or a
    device must not be passed through. Warnings, such as the predicted NIC rename, are reported as Ansible
    warnings and in C(conf.findings); with O(fail_on_warnings=true) they fail the task too.
  - The findings are returned as data. RV(changed) is always V(false).
version_added: 0.1.0
author:
  - guest-disk-agent maintainers (!UNKNOWN)
requirements:
  - The bhyve host's Python 3 (standard library only) and vm-bhyve.
options:
  vm:
    description:
      - The vm-bhyve guest name (letters, digits, C(.), C(_) and C(-)).
    type: str
    required: true
  partition:
    description:
      - Also check this host device (a C(/dev/...) path) for pass-through, for example the partition about to
        be attached (C(/dev/diskid/DISK-Y39B70RTK7ASp4)).
    type: str
  before:
    description:
      - A file on the host holding the config as it was before the change (default the config minus its last
        disk), for the NIC rename prediction.
    type: path
  fail_on_warnings:
    description:
      - Fail the task on warnings too (C(gda check-vm-config) exits 1 on them).
    type: bool
    default: false
attributes:
  check_mode:
    description: Can run in check mode and return the changed status prediction without changing the host.
    support: full
    details: The module only reads; it behaves the same in check mode.
  diff_mode:
    description: Would return the changes made as a diff.
    support: none
  platform:
    description: The hosts it runs on.
    support: full
    platforms: freebsd
notes:
  - The partition checks need root (C(become=true)) on the host for C(zdb -l) and the GEOM details.
"""

EXAMPLES = r"""
- name: Check xdev's config and the partition to pass through
  become: true
  gda.bhyve.vm_config:
    vm: xdev
    partition: /dev/diskid/DISK-Y39B70RTK7ASp4
  register: xdev_config

- name: Show the NIC renames it predicts
  ansible.builtin.debug:
    var: xdev_config.renames
"""

RETURN = r"""
changed:
  description: Always V(false), nothing is changed.
  returned: always
  type: bool
  sample: false
origin:
  description: Where the config was read.
  returned: success
  type: str
  sample: /zdata/vms/xdev/xdev.conf
ok:
  description: No refusal (warnings may be present).
  returned: success
  type: bool
conf:
  description: The config's report, as C(gda check-vm-config --json) prints it (C(findings), C(slots),
    C(disks), C(nics), C(renames), C(devices), C(counts), ...).
  returned: success
  type: dict
host:
  description: The host checks, as C(host) in C(gda check-vm-config --json) (C(devices), each with its
    C(findings), C(provider), C(partition_type), C(size_bytes), C(serial), C(suggestion), C(refusal)).
  returned: success
  type: dict
renames:
  description: The NIC renames the config causes.
  returned: success
  type: list
  elements: dict
  sample: [{nic: 0, old: enp0s5, new: enp0s6}]
refusals:
  description: Why the config or a device must not be used (each with its fix); empty when RV(ok).
  returned: success
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule  # noqa: E402  (after the documentation, as Ansible's modules)

from ansible_collections.gda.bhyve.plugins.module_utils.gda.errors import AgentError  # noqa: E402
from ansible_collections.gda.bhyve.plugins.module_utils.gda.hints import render_options  # noqa: E402
from ansible_collections.gda.bhyve.plugins.module_utils.gda.ops.vm_config_check import check_vm  # noqa: E402
from ansible_collections.gda.bhyve.plugins.module_utils.local_protocol import LocalProtocol  # noqa: E402

# the options gda's messages name ({opt:name}), as this module's options; others stay gda's flags
OPTION_NAMES = {"device": "partition", "vm": "vm", "before": "before"}


def option_name(name):
    return OPTION_NAMES.get(name, "--" + name.replace("_", "-"))


def main():
    module = AnsibleModule(
        argument_spec=dict(
            vm=dict(type="str", required=True),
            partition=dict(type="str"),
            before=dict(type="path"),
            fail_on_warnings=dict(type="bool", default=False),
        ),
        supports_check_mode=True,
    )
    p = module.params
    try:
        found = check_vm(
            LocalProtocol(module), p["vm"], [p["partition"]] if p["partition"] else [], before=p["before"]
        )
    except AgentError as e:
        hint = f" (hint: {render_options(e.hint, option_name)})" if e.hint else ""
        module.fail_json(msg=render_options(e.message, option_name) + hint, changed=False)
    data = found.to_json(option_name)
    warnings = data.pop("warnings")
    for text in warnings:
        module.warn(text)
    if data["refusals"]:
        module.fail_json(msg="refused: " + "; ".join(data["refusals"]), changed=False, **data)
    if warnings and p["fail_on_warnings"]:
        module.fail_json(msg="warnings (fail_on_warnings): " + "; ".join(warnings), changed=False, **data)
    module.exit_json(changed=False, **data)


if __name__ == "__main__":
    main()
