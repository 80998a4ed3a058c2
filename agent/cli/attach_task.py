"""``attach``: pass a host partition through to the guest (agent.ops.attach_op does it).

The host comes from the inventory guest's ``on:`` (``--guest``), as for check-vm-config and host-verify
(their helpers in agent.cli.host_tasks); ``--host H --vm NAME`` only with ``--dry-run``: the pin by MAC
and the wait for SSH need the guest. The body imports its op modules inside the task (and SSH only
when it connects), so ``gda --help`` stays fast. A failure is a result too: ``--json`` prints the error
with the steps done (``{"ok": false, "error": {...}, "steps_done": [...], ...}``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from invoke.context import Context

from agent.cli.emit import Result, info, say
from agent.cli.host_tasks import HOST_SSH_OPTS
from agent.cli.options import Opt, choice, seconds
from agent.cli.tasking import JSON_OPT, gda_task
from agent.errors import UsageError
from agent.hints import opt

if TYPE_CHECKING:
    from collections.abc import Callable

    from agent.ops.attach_report import AttachOutcome
    from agent.ops.connect import Connector

TYPES = choice("nvme", "virtio-blk", "ahci-hd")  # agent.core.vmbhyve.conf_edit.ATTACH_TYPES

ATTACH_OPTS = {
    "guest": Opt("the inventory guest to attach the disk to (its host is the guest's on:)", "g"),
    "inventory": Opt("inventory file (default ./inventory.yaml)", "i"),
    "device": Opt("the host device to pass through, e.g. /dev/diskid/DISK-Y39B70RTK7ASp4 (required)", "D"),
    "type": Opt("the emulated controller: nvme (default), virtio-blk or ahci-hd", "t", TYPES),
    "serial": Opt("the serial the guest sees (ser=, 20 characters at most; default: from the device)", "s"),
    "dry_run": Opt("run the host checks, show the plan (the config diff, the steps); change nothing", "r"),
    "host": Opt("with --dry-run: this FreeBSD host (with --vm) instead of --guest", "H"),
    "vm": Opt("the guest's vm-bhyve name on the host (default: the inventory guest's name)", "v"),
    **HOST_SSH_OPTS,
    "stop_wait": Opt("seconds to wait for vm list to say Stopped, then Running (default 120)", "w", seconds),
    "ssh_wait": Opt("seconds to wait for SSH to the guest after the start (default 300)", "W", seconds),
    "accept_new_host_key": Opt("accept and record unknown host keys of the host and guest (accept-new)", "a"),
    **JSON_OPT,
}


@gda_task(ATTACH_OPTS)
def attach(
    c: Context,
    guest: str | None = None,
    inventory: str | None = None,
    device: str | None = None,
    type: str = "nvme",
    serial: str | None = None,
    dry_run: bool = False,
    host: str | None = None,
    vm: str | None = None,
    port: int | None = None,
    user: str | None = None,
    host_identity_file: Path | None = None,
    host_known_hosts: Path | None = None,
    stop_wait: float | None = None,
    ssh_wait: float | None = None,
    accept_new_host_key: bool = False,
    json: bool = False,
) -> Result:
    """Attach a host partition to the guest as its next disk: host checks (stop on any error), the guest
    NIC pinned by MAC while SSH works, the config backed up, edited and read back, the guest stopped and
    started (waiting on vm list), SSH waited for; then prints the format command pinned by the serial.

    Exit 0 done or already attached, 1 refused (nothing changed), 2 bad usage, 3 failed while changing
    (the config restored when the guest had not been started yet), 4 host or guest unreachable."""
    from agent.cli.config import or_setting
    from agent.cli.host_tasks import HostSsh, _guest_vm_command, _sudo_password
    from agent.ops import attach_op as ops
    from agent.ops.host_check import check_device_option
    from agent.ops.vm_check import check_vm_name
    from agent.transport.ssh import SshSession  # only the host needs SSH here

    if not device:
        raise UsageError(
            f"{opt('device')} is required: the host device to pass through",
            hint="e.g. /dev/diskid/DISK-Y39B70RTK7ASp4 (`glabel status -s` on the host lists the names)",
        )
    if sum(1 for given in (host, guest) if given) != 1:
        raise UsageError(f"give either {opt('guest')} NAME or {opt('host')} HOST {opt('vm')} NAME")
    check_device_option(device)
    sudo_env: str | None = None
    vm_command = "vm"
    connect = None
    pins: dict[str, object] = {}
    ssh = HostSsh(port, user, host_identity_file, host_known_hosts)
    if guest:
        target, vm, sudo_env = ssh.guest_host(c, inventory, guest, vm)
        vm_command = _guest_vm_command(c, inventory, guest)
        path = str(or_setting(inventory, c.config, "inventory"))
        name, connect, pins = _guest(path, guest, accept_new_host_key)
    else:
        assert host is not None
        if not vm:
            raise UsageError(f"{opt('host')} needs {opt('vm')} NAME")
        if not dry_run:
            raise UsageError(
                f"{opt('host')} works with {opt('dry_run')} only: attach pins the guest's NIC over SSH and "
                "waits for the guest after the restart",
                hint=f"give {opt('guest')} NAME (an inventory guest with on: <host>)",
            )
        target, name = ssh.target(host), vm
    check_vm_name(vm)
    opts = ops.AttachOptions(
        device=device,
        type=type,
        serial=serial,
        dry_run=dry_run,
        stop_wait=stop_wait or ops.STOP_WAIT,
        ssh_wait=ssh_wait or ops.SSH_WAIT,
        fix_deadline=float(or_setting(None, c.config, "fix_netplan.deadline")),
        pins=pins,
    )
    session = SshSession(
        target,
        accept_new_host_key=accept_new_host_key,
        sudo_password=_sudo_password(sudo_env),
        sudo_password_env=sudo_env,
    )
    with session as s:
        side = ops.HostSide(s, vm, root=sudo_env is not None, vm_command=vm_command)
        try:
            outcome = ops.run_attach(side, name, connect, opts, log=info)
        except ops.AttachFailure as f:
            return _failure(f.error, f.outcome)
    return Result(outcome.to_json(), lambda: _lines(outcome))


def _guest(path: str, guest: str, accept: bool) -> tuple[str, Callable[[], Connector], dict[str, object]]:
    """The guest's name, a factory of its Connector (the sudo password resolved only when the guest is
    needed) and its inventory disk pins."""
    from agent.inventory import load_inventory
    from agent.ops.connect import Connector

    name, g = load_inventory(Path(path)).choose(guest)
    pins: dict[str, object] = {
        "serial": g.disk.serial,
        "size_bytes": g.disk.size.bytes if g.disk.size else None,
    }
    return name, lambda: Connector(g, accept_new_host_key=accept), pins


def _lines(outcome: AttachOutcome) -> None:
    for line in outcome.lines():
        say(line)


def _failure(error: Exception, outcome: AttachOutcome) -> Result:
    from agent.cli.emit import report_failure
    from agent.errors import AgentError

    assert isinstance(error, AgentError)

    def human() -> None:
        _lines(outcome)
        report_failure(error, json=False)

    return Result({"ok": False, "error": error.to_json(), **outcome.to_json()}, human, error.exit_code)
