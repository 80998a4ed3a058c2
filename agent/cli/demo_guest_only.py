"""``demo --guest-only``: the seed story from the guest's side, on the lab guest alone (no FreeBSD host;
``gda demo`` without the option runs the host-first story, agent/cli/demo_story.py).

1. the host side: check the vm-bhyve config, which predicts the NIC rename;
2. the guest without the disk: SSH works on enp0s5;
3. attach the disk (NVMe at slot 5, the NIC moves to slot 6): SSH is gone;
4. ``fix-netplan`` through the serial console, back over SSH;
5. ``format --fs ext4`` for a FreeBSD host;
6. the host's view of its "partition" (the disk image): ext4 directly on it, no partition table.

Unlike the host-first story, the guest's NIC is not pinned by MAC before the disk comes: this one shows
the console repair of the renamed NIC. The seed's vm-bhyve config ships as package data
(``agent/data/xdev.conf``), so an installed ``gda demo --guest-only`` runs from any folder.
"""

from __future__ import annotations

import os
import subprocess
import time
from importlib import resources

from agent.cli.demo_story import SEED_CONF, step
from agent.cli.emit import info, out
from agent.cli.render import format_summary
from agent.cli.tasking import Target, load_target
from agent.core.disk import ext4_freebsd
from agent.errors import AgentError
from agent.hints import render_options
from agent.lab import control, lifecycle
from agent.lab.defaults import DEFAULT_CONSOLE_PORT, DEFAULT_SSH_PORT
from agent.lab.recipe import recipe_for
from agent.ops import fix_netplan
from agent.ops import format_disk as fmt
from agent.ops.vm_check import check, from_file
from agent.transport.ssh import SshSession, SshUnreachable


def run_guest_only(
    inventory: str | None,
    fs: str = "ext4",
    *,
    state: str | None = None,
    ssh_port: int = DEFAULT_SSH_PORT,
    console_port: int = DEFAULT_CONSOLE_PORT,
    flavour: str | None = None,
) -> None:
    t0 = time.monotonic()
    cloud_init = recipe_for(flavour).cloud_init
    step(1, "host side: what will vm-bhyve do with xdev.conf? (gda check-vm-config)")
    with resources.as_file(SEED_CONF) as conf:
        src = from_file(str(conf), vm_dir="/zdata/vms/xdev", vm_name="xdev", zvol_dataset="zdata/vms")
    report = check(src, None)
    out.print(f"  bhyve devices: {report.plan.devices_line()}", markup=False)
    for r in report.renames:
        out.print(f"  [yellow]predicted:[/yellow] {render_options(r.message)}")

    step(2, "the guest as it was: no passed-through disk, NIC at slot 5 (gda lab.up)")
    # (trixie: cloud-init writes 50-cloud-init.yaml at this first boot, naming the NIC enp0s5)
    sp = lifecycle.state_paths(state)
    control.down(sp, log=lambda _m: None)
    sp.disk(1).unlink(missing_ok=True)  # the host partition starts out blank
    lifecycle.up(
        state=state,
        ssh_port=ssh_port,
        console_port=console_port,
        disk1=False,
        fresh=True,
        flavour=flavour,
        log=info,
    )
    secrets = control.lab_secrets(flavour=flavour)
    os.environ.setdefault("XDEV_SUDO_PASSWORD", secrets["admin"])
    os.environ.setdefault("XDEV_CONSOLE_PASSWORD", secrets["root"])
    target: Target = load_target(None, inventory, None, accept=False, json=False)  # the default config
    name, guest = target.name, target.guest
    with target.ssh() as s:
        out.print(f"  over SSH: {_links(s)}", markup=False)
        # The lab stops a guest by cutting its power: flush what it wrote first (on trixie cloud-init has
        # just written 50-cloud-init.yaml; without the sync it came back empty after the cut).
        s.run("sync")

    step(3, "attach the disk (vm-bhyve: disk1 nvme, custom) and restart: gda lab.up --disk1")
    control.down(sp, log=lambda _m: None)
    lifecycle.up(
        state=state, ssh_port=ssh_port, console_port=console_port, disk1=True, flavour=flavour, log=info
    )
    try:
        target.ssh(connect_timeout=3).open().close()
        raise AgentError("SSH still answers: the NIC rename did not happen?")
    except SshUnreachable as e:
        out.print(f"  SSH is gone: {e.message}", markup=False)

    step(
        4,
        "repair netplan through the serial console: gda fix-netplan"
        + (" --pin-cloud-init (cloud-init wrote the file)" if cloud_init else ""),
    )
    fixed = fix_netplan.run_fix(
        target.connector,
        fix_netplan.FixOptions(pin_cloud_init=cloud_init),
        log=lambda m: out.print(f"  {render_options(m)}", markup=False),
    )
    out.print(
        f"  [green]{', '.join(f'{a} → {b}' for a, b in fixed.renames.items())}[/green]; SSH back "
        f"{fixed.seconds_to_ssh:.1f}s after the apply; {fixed.interface} {' '.join(fixed.addresses)}"
    )

    step(
        5,
        f"format the passed-through disk for the FreeBSD host: gda format --fs {fs} --host-compat freebsd",
    )
    opts = fmt.FormatOptions(fs=fs, label="linux-data", host_compat="freebsd")
    with target.ssh() as s:
        done = fmt.run_format(s, name, guest, opts, log=lambda m: out.print(render_options(m), markup=False))
    format_summary(done)

    step(6, "host side: what does the host find on its partition (the disk image)?")
    image = sp.disk(1)
    blkid = subprocess.run(
        ["blkid", "-p", "-o", "export", str(image)], capture_output=True, text=True, check=False
    )
    out.print(f"  blkid -p {image}:\n    " + blkid.stdout.strip().replace("\n", "\n    "), markup=False)
    if "PTTYPE=" in blkid.stdout or f"TYPE={fs}" not in blkid.stdout:
        raise AgentError(f"the host does not find {fs} directly on its partition:\n{blkid.stdout}")
    if fs == "ext4":
        d = subprocess.run(["dumpe2fs", "-h", str(image)], capture_output=True, text=True, check=False)
        problems = ext4_freebsd.check_freebsd_compat(d.stdout)
        feats = ext4_freebsd.header_features(ext4_freebsd.parse_dumpe2fs_header(d.stdout))
        out.print(f"  dumpe2fs -h features: {' '.join(feats)}", markup=False)
        out.print(
            "  FreeBSD read-write: "
            + ("[green]yes[/green]" if not problems else "; ".join(p.message for p in problems))
        )
    out.print(
        f"\n[bold green]done in {time.monotonic() - t0:.0f}s.[/bold green] The lab keeps running: "
        "gda lab.status, gda lab.console, gda lab.down"
    )


def _links(s: SshSession) -> str:
    r = s.run("ip -br link | awk '{print $1, $2}' | tr '\\n' ' '")
    return r.stdout.strip()
