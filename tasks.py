"""guest-disk-agent tasks. `invoke --list` shows them; each body lives in agent/ops/."""

from __future__ import annotations

from invoke import Collection, Context, task
from invoke.exceptions import Exit

from agent.cli import guarded, info, out
from agent.ops import lab as lab_ops

# ---------------------------------------------------------------------------------------------
# lab.*


@task(
    help={"force": "rebuild even when the cached image for this recipe exists"},
)
@guarded
def build(c: Context, force: bool = False) -> None:
    """Build the lab guest image (Debian bookworm via debootstrap; cached by recipe; needs root)."""
    lab_ops.build(force=force)


@task(
    help={
        "disk1": "attach the passed-through disk: NVMe at slot 5, the NIC moves to slot 6 (enp0s6)",
        "disk1-size": "size of disk1's sparse image (default 4G)",
        "disk1-serial": "NVMe serial of disk1 (default Y39B70RTK7AS)",
        "disk1-slot": "PCI slot of disk1 (default 5; with --nic-slot 5 the NIC keeps its name)",
        "disk2": "attach a second NVMe disk (next free slot)",
        "disk2-size": "size of disk2's image",
        "disk2-serial": "NVMe serial of disk2",
        "nic-slot": "PCI slot of the NIC (default: 5, or after the disks)",
        "ssh-port": "loopback port forwarded to the guest's sshd (default 2222)",
        "console-port": "loopback TCP port of the serial console (default 4555)",
        "state": "lab state folder (default ~/.cache/guest-disk-agent/lab, or $GDA_LAB_STATE)",
        "fresh": "start from a clean root overlay and empty disk images",
    }
)
@guarded
def up(
    c: Context,
    disk1: bool = False,
    disk1_size: str = "4G",
    disk1_serial: str = "Y39B70RTK7AS",
    disk1_slot: int | None = None,
    disk2: bool = False,
    disk2_size: str = "4G",
    disk2_serial: str = "GDA2NDDISK000",
    nic_slot: int | None = None,
    ssh_port: int = 2222,
    console_port: int = 4555,
    state: str | None = None,
    fresh: bool = False,
) -> None:
    """Boot the lab guest under QEMU (TCG) with vm-bhyve's slot layout; waits for console and SSH."""
    lab_ops.up(
        state=state,
        disk1=disk1,
        disk1_size=disk1_size,
        disk1_serial=disk1_serial,
        disk1_slot=disk1_slot,
        disk2=disk2,
        disk2_size=disk2_size,
        disk2_serial=disk2_serial,
        nic_slot=nic_slot,
        ssh_port=ssh_port,
        console_port=console_port,
        fresh=fresh,
    )
    for line in lab_ops.control.status_lines(lab_ops.state_paths(state)):
        info(line)


@task(help={"state": "lab state folder"})
@guarded
def down(c: Context, state: str | None = None) -> None:
    """Stop the lab guest (by the pid QEMU wrote)."""
    lab_ops.control.down(lab_ops.state_paths(state), log=info)


@task(help={"state": "lab state folder"})
@guarded
def status(c: Context, state: str | None = None) -> None:
    """Show whether the lab guest runs, its ports, and how to reach SSH and the console."""
    for line in lab_ops.control.status_lines(lab_ops.state_paths(state)):
        out.print(line, markup=False)


@task(help={"state": "lab state folder"})
@guarded
def console(c: Context, state: str | None = None) -> None:
    """Attach this terminal to the lab guest's serial console (leave with Ctrl-])."""
    from agent.lab.terminal import attach

    st = lab_ops.control.running_state(lab_ops.state_paths(state))
    if st is None:
        raise Exit("the lab guest is not running (invoke lab.up)", code=1)
    attach("127.0.0.1", st.console_port)


@task(help={"state": "lab state folder"})
@guarded
def env(c: Context, state: str | None = None) -> None:
    """Print `export` lines for the lab's sudo and console passwords: eval "$(invoke lab.env)"."""
    for line in lab_ops.env_lines(state):
        print(line)


lab = Collection("lab", build, up, down, status, console, env)

# ---------------------------------------------------------------------------------------------
# main tasks


_GUEST_HELP = {
    "guest": "guest name in the inventory (default: the only one)",
    "inventory": "inventory file (default ./inventory.yaml)",
    "accept-new-host-key": "accept and record an unknown SSH host key (a changed key is always refused)",
}


@task(
    help={
        **_GUEST_HELP,
        "fs": "ext4 or xfs",
        "label": "filesystem label (ext4: 16 bytes, xfs: 12)",
        "no-discard": "do not discard (TRIM) the device before mkfs",
        "device": "pin the disk: /dev/nvme0n1, nvme0n1 or /dev/disk/by-id/...",
        "serial": "pin the disk by its serial (e.g. Y39B70RTK7AS)",
        "force": "overwrite an existing filesystem or other signature (never a partition table); "
        "needs --yes or the device name typed at the prompt",
        "yes": "confirm --force without a prompt",
        "dry-run": "print the plan and the exact commands; change nothing",
        "json": "print a machine-readable result",
        "host-compat": "freebsd: only ext4 features FreeBSD mounts read-write (default from "
        "inventory disk.host_os)",
    }
)
@guarded
def format(
    c: Context,
    fs: str = "",
    label: str | None = None,
    no_discard: bool = False,
    device: str | None = None,
    serial: str | None = None,
    force: bool = False,
    yes: bool = False,
    dry_run: bool = False,
    json: bool = False,
    host_compat: str | None = None,
    guest: str | None = None,
    inventory: str | None = None,
    accept_new_host_key: bool = False,
) -> None:
    """Put ext4 or XFS on the whole passed-through disk (never a partition table), safely."""
    import sys

    from agent.cli import print_json
    from agent.errors import UsageError
    from agent.ops import format as fmt
    from agent.ops.guest import load_guest, ssh_session

    if fs not in ("ext4", "xfs"):
        raise UsageError("--fs ext4 or --fs xfs is required")
    if host_compat not in (None, "freebsd", "linux"):
        raise UsageError("--host-compat takes freebsd or linux")
    name, g = load_guest(inventory, guest)
    opts = fmt.FormatOptions(
        fs=fs,
        label=label,
        no_discard=no_discard,
        force=force,
        yes=yes,
        dry_run=dry_run,
        device=device,
        serial=serial,
        host_compat=host_compat,
    )
    ask = input if sys.stdin.isatty() and not json else None
    with ssh_session(g, accept_new_host_key=accept_new_host_key) as s:
        outcome = fmt.run_format(s, name, g, opts, log=info, ask=ask)
    if json:
        print_json(outcome.to_json())
    else:
        from agent.report import format_summary

        format_summary(outcome)


@task(
    help={
        **_GUEST_HELP,
        "via": "auto (SSH if it answers, else the serial console), ssh, or console",
        "match-mac": "write match: {macaddress} + set-name, so the next slot change cannot break it",
        "pin-cloud-init": "write /etc/cloud/cloud.cfg.d/99-disable-network-config.cfg so cloud-init "
        "leaves the file alone",
        "deadline": "seconds after the apply for SSH to come back before the change is rolled back (90)",
        "dry-run": "show the repair; change nothing",
        "transcript": "keep a transcript of the console session (secrets redacted) in this file",
        "json": "print a machine-readable result",
    }
)
@guarded
def fix_netplan(
    c: Context,
    via: str = "auto",
    match_mac: bool = False,
    pin_cloud_init: bool = False,
    deadline: float = 90.0,
    dry_run: bool = False,
    transcript: str | None = None,
    json: bool = False,
    guest: str | None = None,
    inventory: str | None = None,
    accept_new_host_key: bool = False,
) -> None:
    """Repair the NIC rename through the serial console, then reconnect over SSH."""
    import contextlib

    from agent.cli import print_json
    from agent.errors import UsageError
    from agent.ops import fixnetplan
    from agent.ops.guest import load_guest
    from agent.report import fix_summary

    name, g = load_guest(inventory, guest)
    with contextlib.ExitStack() as stack:
        try:
            tfile = stack.enter_context(open(transcript, "w")) if transcript else None
        except OSError as e:
            raise UsageError(f"cannot write the transcript {transcript}: {e.strerror}") from None
        opts = fixnetplan.FixOptions(
            via=via,
            match_mac=match_mac,
            pin_cloud_init=pin_cloud_init,
            deadline=float(deadline),
            dry_run=dry_run,
            accept_new_host_key=accept_new_host_key,
            transcript=tfile,
        )
        outcome = fixnetplan.run_fix(name, g, opts, log=info)
    if json:
        print_json(outcome.to_json())
    else:
        fix_summary(outcome)


@task(help={**_GUEST_HELP, "fs": "judge the disks for this filesystem (ext4 or xfs)", "json": "JSON output"})
@guarded
def disks(
    c: Context,
    fs: str | None = None,
    json: bool = False,
    guest: str | None = None,
    inventory: str | None = None,
    accept_new_host_key: bool = False,
) -> None:
    """List the guest's disks and, for each, why it is or is not the disk to format."""
    from agent.cli import print_json
    from agent.ops import format as fmt
    from agent.ops.guest import load_guest, ssh_session
    from agent.report import disks_table

    name, g = load_guest(inventory, guest)
    with ssh_session(g, accept_new_host_key=accept_new_host_key) as s:
        facts, verdicts, pins = fmt.list_disks(s, g, fs, info)
    if json:
        print_json(
            [
                {
                    "name": v.disk.name,
                    "path": v.disk.path,
                    "size_bytes": v.disk.size_bytes,
                    "model": v.disk.model,
                    "serial": v.disk.serial,
                    "state": v.state.value,
                    "reasons": [r.text for r in v.reasons],
                    "notes": list(v.notes),
                }
                for v in verdicts
            ]
        )
    else:
        disks_table(name, facts, verdicts, pins)


@task(
    help={
        "conf": "path of the vm-bhyve guest config (e.g. /zdata/vms/xdev/xdev.conf)",
        "host": "read the config over SSH from this FreeBSD host instead (with --vm)",
        "vm": "guest name on --host (vm-bhyve's vm_dir/<vm>/<vm>.conf)",
        "port": "SSH port of --host",
        "user": "SSH user on --host",
        "before": "the config as it was before the change (default: this config minus its last disk)",
        "vm-dir": "the guest's folder on the host (default: the folder of --conf)",
        "vm-name": "guest name (default: the conf's file name)",
        "zvol-dataset": "vm-bhyve's ZFS dataset, for zvol disks (default: the parent of --vm-dir)",
        "json": "print the report as JSON",
        "accept-new-host-key": "accept and record an unknown host key of --host (like accept-new)",
    }
)
@guarded
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
    json: bool = False,
    accept_new_host_key: bool = False,
) -> None:
    """Check a vm-bhyve guest config before boot: disk settings, PCI slots, the NIC rename it causes."""
    from agent.cli import print_json, render_findings
    from agent.core.vmfindings import report_to_json
    from agent.errors import UsageError
    from agent.ops import vmcheck
    from agent.remote.ssh import SshSession

    if bool(conf) == bool(host):
        raise UsageError("give either --conf PATH or --host HOST --vm NAME")
    if host:
        if not vm:
            raise UsageError("--host needs --vm NAME")
        with SshSession(
            vmcheck.host_target(host, int(port) if port is not None else None, user),
            accept_new_host_key=accept_new_host_key,
        ) as s:
            src = vmcheck.from_host(s, vm)
    else:
        assert conf is not None
        src = vmcheck.from_file(conf, vm_dir=vm_dir, vm_name=vm_name, zvol_dataset=zvol_dataset)
    report = vmcheck.check(src, before)
    if json:
        print_json(report_to_json(report))
    else:
        render_findings(report, origin=src.origin)
    if report.exit_code:
        raise Exit(code=report.exit_code)


@task(
    help={
        "inventory": "inventory file (default ./inventory.yaml: the lab guest)",
        "fs": "ext4 or xfs",
        "state": "lab state folder (default ~/.cache/guest-disk-agent/lab)",
        "ssh-port": "lab SSH port (must match the inventory; default 2222)",
        "console-port": "lab console port (must match the inventory; default 4555)",
    }
)
@guarded
def demo(
    c: Context,
    inventory: str | None = None,
    fs: str = "ext4",
    state: str | None = None,
    ssh_port: int = 2222,
    console_port: int = 4555,
) -> None:
    """The whole story on the lab: disk attached, SSH lost, fix-netplan via console, format, host check."""
    from agent.ops.demo import run_demo

    run_demo(inventory, fs, state=state, ssh_port=ssh_port, console_port=console_port)


ns = Collection(format, fix_netplan, disks, check_vm_config, demo, lab)
