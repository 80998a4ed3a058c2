"""The project's task collection, shared by ``gda`` (agent.cli.program) and ``invoke`` (tasks.py)."""

from __future__ import annotations

from invoke.collection import Collection

from agent.cli import attach_task, disk_tasks, host_tasks, inventory_task, lab_tasks, net_tasks
from agent.cli.config import DEFAULTS

lab = Collection("lab", lab_tasks.build, lab_tasks.up, lab_tasks.down, lab_tasks.status, lab_tasks.console,
                 lab_tasks.env)  # fmt: skip

ns = Collection(
    disk_tasks.format,
    disk_tasks.disks,
    net_tasks.fix_netplan,
    host_tasks.check_vm_config,
    host_tasks.host_verify,
    attach_task.attach,
    inventory_task.inventory,
    lab_tasks.demo,
    lab,
)
ns.configure(DEFAULTS)
