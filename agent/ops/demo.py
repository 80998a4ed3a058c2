"""``invoke demo``: the seed story end to end on the lab guest.

1. the host side: check the vm-bhyve config, which predicts the NIC rename;
2. the guest without the disk: SSH works on enp0s5;
3. attach the disk (NVMe at slot 5, the NIC moves to slot 6): SSH is gone;
4. ``fix-netplan`` through the serial console, back over SSH;
5. ``format --fs ext4`` for a FreeBSD host;
6. the host's view of its "partition" (the disk image): ext4 directly on it, no partition table.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

from agent.cli import out
from agent.core import hostcompat
from agent.errors import AgentError
from agent.lab import control
from agent.ops import fixnetplan
from agent.ops import format as fmt
from agent.ops import lab as lab_ops
from agent.ops.guest import load_guest, ssh_session
from agent.ops.vmcheck import check, from_file
from agent.remote.ssh import SshSession, SshUnreachable

REPO = Path(__file__).resolve().parents[2]
SEED_CONF = REPO / "tests" / "fixtures" / "vmbhyve" / "xdev.conf"


def step(n: int, text: str) -> None:
    out.print(f"\n[bold cyan]── {n}. {text}[/bold cyan]")


def run_demo(
    inventory: str | None,
    fs: str = "ext4",
    *,
    state: str | None = None,
    ssh_port: int = control.DEFAULT_SSH_PORT,
    console_port: int = control.DEFAULT_CONSOLE_PORT,
) -> None:
    t0 = time.monotonic()
    step(1, "host side: what will vm-bhyve do with xdev.conf? (invoke check-vm-config)")
    report = check(
        from_file(str(SEED_CONF), vm_dir="/zdata/vms/xdev", vm_name="xdev", zvol_dataset="zdata/vms"), None
    )
    out.print(f"  bhyve devices: {report.plan.devices_line()}", markup=False)
    for r in report.renames:
        out.print(f"  [yellow]predicted:[/yellow] {r.message}")

    step(2, "the guest as it was: no passed-through disk, NIC at slot 5 (invoke lab.up)")
    sp = lab_ops.state_paths(state)
    control.down(sp, log=lambda _m: None)
    sp.disk(1).unlink(missing_ok=True)  # the host partition starts out blank
    lab_ops.up(state=state, ssh_port=ssh_port, console_port=console_port, disk1=False, fresh=True)
    secrets = control.lab_secrets()
    os.environ.setdefault("XDEV_SUDO_PASSWORD", secrets["admin"])
    os.environ.setdefault("XDEV_CONSOLE_PASSWORD", secrets["root"])
    name, guest = load_guest(inventory, None)
    with ssh_session(guest, accept_new_host_key=False) as s:
        out.print(f"  over SSH: {_links(s)}", markup=False)

    step(3, "attach the disk (vm-bhyve: disk1 nvme, custom) and restart: invoke lab.up --disk1")
    control.down(sp, log=lambda _m: None)
    lab_ops.up(state=state, ssh_port=ssh_port, console_port=console_port, disk1=True)
    try:
        ssh_session(guest, accept_new_host_key=False, connect_timeout=3).open().close()
        raise AgentError("SSH still answers: the NIC rename did not happen?")
    except SshUnreachable as e:
        out.print(f"  SSH is gone: {e.message}", markup=False)

    step(4, "repair netplan through the serial console: invoke fix-netplan")
    fixed = fixnetplan.run_fix(
        name, guest, fixnetplan.FixOptions(), log=lambda m: out.print(f"  {m}", markup=False)
    )
    out.print(
        f"  [green]{', '.join(f'{a} → {b}' for a, b in fixed.renames.items())}[/green]; SSH back "
        f"{fixed.seconds_to_ssh:.1f}s after the apply; {fixed.interface} {' '.join(fixed.addresses)}"
    )

    step(
        5,
        f"format the passed-through disk for the FreeBSD host: invoke format --fs {fs} --host-compat freebsd",
    )
    opts = fmt.FormatOptions(fs=fs, label="linux-data", host_compat="freebsd")
    with ssh_session(guest, accept_new_host_key=False) as s:
        done = fmt.run_format(s, name, guest, opts, log=lambda m: out.print(m, markup=False))
    from agent.report import format_summary

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
        problems = hostcompat.check_freebsd_compat(d.stdout)
        feats = hostcompat.header_features(hostcompat.parse_dumpe2fs_header(d.stdout))
        out.print(f"  dumpe2fs -h features: {' '.join(feats)}", markup=False)
        out.print(
            "  FreeBSD read-write: "
            + ("[green]yes[/green]" if not problems else "; ".join(p.message for p in problems))
        )
    out.print(
        f"\n[bold green]done in {time.monotonic() - t0:.0f}s.[/bold green] The lab keeps running: "
        "invoke lab.status, invoke lab.console, invoke lab.down"
    )


def _links(s: SshSession) -> str:
    r = s.run("ip -br link | awk '{print $1, $2}' | tr '\\n' ' '")
    return r.stdout.strip()
