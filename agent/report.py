"""Human renderings of task results (tables and summaries) with rich."""

from __future__ import annotations

from collections.abc import Sequence

from rich.markup import escape
from rich.table import Table

from agent.cli import out
from agent.core.blockdevs import Facts
from agent.core.candidates import DiskState, Pins, Verdict
from agent.ops.fixnetplan import FixOutcome
from agent.ops.format import FormatOutcome

_STATE_STYLE = {DiskState.CANDIDATE: "green", DiskState.ALREADY_FORMATTED: "cyan", DiskState.EXCLUDED: "dim"}


def disks_table(guest: str, facts: Facts, verdicts: Sequence[Verdict], pins: Pins) -> None:
    t = Table(title=f"disks on {guest}" + (f"  (pins: {pins.describe()})" if pins != Pins() else ""))
    for col in ("name", "size", "model", "serial", "state", "why"):
        t.add_column(col, overflow="fold")
    for v in verdicts:
        d = v.disk
        style = _STATE_STYLE[v.state]
        t.add_row(
            d.name,
            d.human_size(),
            d.model or "",
            d.serial or "",
            f"[{style}]{v.state.value}[/{style}]",
            escape(v.why()),
        )
    out.print(t)
    if not facts.privileged:
        out.print("[yellow]signatures were not probed (no root): `format` re-checks them under sudo[/yellow]")


def format_summary(o: FormatOutcome) -> None:
    if o.action == "nothing-to-do":
        out.print(
            f"[green]nothing to do:[/green] {o.device} ({o.device_path}) already carries {o.fs}, "
            f"UUID {o.uuid}" + (f", label {escape(o.label)}" if o.label else "")
        )
    elif o.action == "dry-run":
        out.print(
            f"[bold]plan (dry run, nothing changed):[/bold] {o.fs} on {o.device} ({o.device_path}), "
            f"serial {escape(o.serial or '?')}, {o.size_bytes} bytes"
        )
        if o.fdisk:
            out.print("  " + o.fdisk.strip().replace("\n", "\n  "), markup=False)
        if o.overwrites:
            out.print(f"  [red]would destroy:[/red] {escape(', '.join(o.overwrites))}")
        out.print(
            "  1. as root, under an exclusive lock on the device, re-check: serial, WWN, size, "
            "no partitions, no partition table, "
            + ("only the signatures above" if o.overwrites else "no signature")
            + ", not mounted, not swap, no holders"
        )
        out.print(f"  2. {' '.join(o.mkfs_command)}", markup=False)
        out.print(
            f"  3. udevadm settle; blkid -p {o.device_path}  (expect TYPE={o.fs}, no PTTYPE)", markup=False
        )
    else:
        secs = f"{o.mkfs_seconds:.1f}s" if o.mkfs_seconds is not None else "?"
        out.print(
            f"[green]formatted:[/green] {o.device} ({o.device_path}) as {o.fs}, UUID {o.uuid}"
            + (f", label {escape(o.label)}" if o.label else "")
            + f"; mkfs took {secs}"
        )
        out.print(f"  command: {' '.join(o.mkfs_command)}", markup=False)
    if o.features_disabled:
        out.print(f"  features turned off for a {o.host_compat} host: {', '.join(o.features_disabled)}")
    for w in o.warnings:
        out.print(f"[yellow]warning:[/yellow] {escape(w)}")
    if o.host_hint:
        out.print("[bold]on the host:[/bold]")
        for line in o.host_hint:
            out.print(f"  {line}", markup=False)
    out.print(f"[dim]{o.remote_commands} remote commands[/dim]")


def fix_summary(o: FixOutcome) -> None:
    if o.action == "nothing-to-fix":
        where = f"{o.interface} {' '.join(o.addresses)}" if o.interface else "the network"
        out.print(
            f"[green]nothing to fix:[/green] netplan fits the interfaces ({where}); checked via {o.via}"
        )
        for n in o.notes:
            out.print(f"  {n}", markup=False)
        return
    head = (
        "[bold]repair (dry run, nothing changed):[/bold]"
        if o.action == "dry-run"
        else "[green]fixed:[/green]"
    )
    renames = ", ".join(f"{a} → {b}" for a, b in o.renames.items()) or "MAC pin"
    out.print(f"{head} {renames} (via {o.via})")
    for line in o.changes:
        out.print(f"  {line}", markup=False)
    if o.action == "dry-run":
        for path, text in o.files.items():
            out.print(f"--- new {path} ---", markup=False)
            out.print(text, markup=False, end="")
    for w in o.warnings:
        out.print(f"[yellow]warning:[/yellow] {escape(w)}")
    if o.backups:
        out.print(f"  backup: {', '.join(o.backups)}", markup=False)
    if o.action == "fixed":
        out.print(f"  applied with {o.apply_method}; SSH back {o.seconds_to_ssh:.1f}s after the apply")
        out.print(f"  {o.interface}: {' '.join(o.addresses) or 'no address'}", markup=False)
