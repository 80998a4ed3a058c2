"""``check-vm-config``: the FreeBSD host's side, before the guest boots.

The body imports its op module inside the task (and SSH only for ``--host``), so ``gda --help`` stays
fast.
"""

from __future__ import annotations

from invoke.context import Context

from agent.cli import render
from agent.cli.emit import Result
from agent.cli.options import Opt, port
from agent.cli.tasking import JSON_OPT, gda_task
from agent.errors import UsageError
from agent.hints import opt

CHECK_OPTS = {
    "conf": Opt("path of the vm-bhyve guest config (e.g. /zdata/vms/xdev/xdev.conf)", "c"),
    "host": Opt("read the config over SSH from this FreeBSD host instead (with --vm)", "H"),
    "vm": Opt("guest name on --host (vm-bhyve's vm_dir/<vm>/<vm>.conf)", "v"),
    "port": Opt("SSH port of --host", "p", port),
    "user": Opt("SSH user on --host", "u"),
    "before": Opt("the config as it was before the change (default: this config minus its last disk)", "b"),
    "vm_dir": Opt("the guest's folder on the host (default: the folder of --conf)", "d"),
    "vm_name": Opt("guest name (default: the conf's file name)", "n"),
    "zvol_dataset": Opt("vm-bhyve's ZFS dataset, for zvol disks (default: the parent of --vm-dir)", "z"),
    "accept_new_host_key": Opt("accept and record an unknown host key of --host (like accept-new)", "a"),
    **JSON_OPT,
}


@gda_task(CHECK_OPTS)
def check_vm_config(
    c: Context,
    conf: str | None = None,
    host: str | None = None,
    vm: str | None = None,
    port: int | None = None,
    user: str | None = None,
    before: str | None = None,
    vm_dir: str | None = None,
    vm_name: str | None = None,
    zvol_dataset: str | None = None,
    accept_new_host_key: bool = False,
    json: bool = False,
) -> Result:
    """Check a vm-bhyve guest config before boot: disk settings, PCI slots, the NIC rename it causes.

    Exit 1 when the config has errors or warnings (a predicted NIC rename is one)."""
    from agent.ops import vm_check as ops

    if bool(conf) == bool(host):
        raise UsageError(f"give either {opt('conf')} PATH or {opt('host')} HOST {opt('vm')} NAME")
    if host:
        if not vm:
            raise UsageError(f"{opt('host')} needs {opt('vm')} NAME")
        from agent.transport.ssh import SshSession  # only --host needs SSH

        with SshSession(ops.host_target(host, port, user), accept_new_host_key=accept_new_host_key) as s:
            src = ops.from_host(s, vm)
    else:
        assert conf is not None
        src = ops.from_file(conf, vm_dir=vm_dir, vm_name=vm_name, zvol_dataset=zvol_dataset)
    report = ops.check(src, before)
    return Result(
        render.findings_json(report),
        lambda: render.findings(report, origin=src.origin),
        exit_code=report.exit_code,
    )
