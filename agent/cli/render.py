"""Human renderings of task results (tables and summaries) with rich, on stdout.

Texts from the core may name options as ``{opt:name}``: they are rendered to flags here. Every guest
string printed with markup on is escaped (:func:`rich.markup.escape`); control characters are shown
as escapes by the console itself (:class:`agent.cli.safe_console.SafeConsole`). rich loads on the first
rendering (a ``--json`` run never loads it)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from agent.cli import emit
from agent.cli.emit import escape
from agent.hints import render_options

if TYPE_CHECKING:
    from agent.core.disk.candidates import Pins, Verdict
    from agent.core.disk.devices import Facts
    from agent.core.vmbhyve.vmfindings import Report
    from agent.ops.fix_netplan import FixOutcome
    from agent.ops.format_disk import FormatOutcome

_STATE_STYLE = {"candidate": "green", "already formatted": "cyan", "excluded": "dim"}
_SEVERITY_STYLE = {"ERROR": "bold red", "WARNING": "yellow", "INFO": "cyan"}


def _r(text: str) -> str:
    """``text`` with options rendered, escaped for rich markup."""
    return escape(render_options(text))


def disks_table(guest: str, facts: Facts, verdicts: Sequence[Verdict], pins: Pins) -> None:
    pinned = pins.describe() if (pins.device, pins.serial, pins.model, pins.size_bytes) != (None,) * 4 else ""
    from rich.table import Table

    t = Table(title=escape(f"disks on {guest}" + (f"  (pins: {pinned})" if pinned else "")))
    for col in ("name", "size", "model", "serial", "state", "why"):
        t.add_column(col, overflow="fold")
    for v in verdicts:
        d = v.disk
        style = _STATE_STYLE.get(v.state.value, "")
        t.add_row(  # guest strings: escaped for markup (a serial "[/]" is text), controls by the console
            escape(d.name),
            d.human_size(),
            escape(d.model or ""),
            escape(d.serial or ""),
            f"[{style}]{v.state.value}[/{style}]" if style else v.state.value,
            _r(v.why()),
        )
    emit.out.print(t)
    if not facts.privileged:
        emit.out.print(
            "[yellow]signatures were not probed (no root): `format` re-checks them under sudo[/yellow]"
        )


def disks_json(guest: str, verdicts: Sequence[Verdict]) -> dict[str, object]:
    return {
        "guest": guest,
        "disks": [
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
        ],
    }


def format_summary(o: FormatOutcome) -> None:
    if o.action == "nothing-to-do":
        emit.out.print(
            f"[green]nothing to do:[/green] {escape(f'{o.device} ({o.device_path})')} already carries "
            f"{o.fs}, UUID {escape(str(o.uuid))}" + (f", label {escape(o.label)}" if o.label else "")
        )
    elif o.action == "dry-run":
        emit.out.print(
            f"[bold]plan (dry run, nothing changed):[/bold] {o.fs} on "
            f"{escape(f'{o.device} ({o.device_path})')}, "
            f"serial {escape(o.serial or '?')}, {o.size_bytes} bytes"
        )
        if o.fdisk:
            emit.out.print("  " + o.fdisk.strip().replace("\n", "\n  "), markup=False)
        if o.overwrites:
            emit.out.print(f"  [red]would destroy:[/red] {escape(', '.join(o.overwrites))}")
        emit.out.print(
            "  1. as root, under an exclusive lock on the device, re-check: serial, WWN, size, "
            "no partitions, no partition table, "
            + ("only the signatures above" if o.overwrites else "no signature")
            + ", not mounted, not swap, no holders"
        )
        emit.out.print(f"  2. {' '.join(o.mkfs_command)}", markup=False)
        emit.out.print(
            f"  3. udevadm settle; blkid -p {o.device_path}  (expect TYPE={o.fs}, no PTTYPE)", markup=False
        )
    else:
        secs = f"{o.mkfs_seconds:.1f}s" if o.mkfs_seconds is not None else "?"
        emit.out.print(
            f"[green]formatted:[/green] {escape(f'{o.device} ({o.device_path})')} as {o.fs}, "
            f"UUID {escape(str(o.uuid))}"
            + (f", label {escape(o.label)}" if o.label else "")
            + f"; mkfs took {secs}"
        )
        emit.out.print(f"  command: {' '.join(o.mkfs_command)}", markup=False)
    if o.features_disabled:
        emit.out.print(f"  features turned off for a {o.host_compat} host: {', '.join(o.features_disabled)}")
    for w in o.warnings:
        emit.out.print(f"[yellow]warning:[/yellow] {_r(w)}")
    if o.host_hint:
        emit.out.print("[bold]on the host:[/bold]")
        for line in o.host_hint:
            emit.out.print(f"  {render_options(line)}", markup=False)
    emit.out.print(f"[dim]{o.remote_commands} remote commands[/dim]")


def fix_summary(o: FixOutcome) -> None:
    if o.action == "pinned":
        emit.out.print(
            f"[green]pinned:[/green] {_r(o.changes[0])}; netplan already fits (via {escape(o.via)})"
        )
        for n in o.notes:
            emit.out.print(f"  {render_options(n)}", markup=False)
        return
    if o.action == "nothing-to-fix":
        where = f"{o.interface} {' '.join(o.addresses)}" if o.interface else "the network"
        emit.out.print(
            f"[green]nothing to fix:[/green] netplan fits the interfaces ({escape(where)}); "
            f"checked via {escape(o.via)}"
        )
        for n in o.notes:
            emit.out.print(f"  {render_options(n)}", markup=False)
        return
    head = (
        "[bold]repair (dry run, nothing changed):[/bold]"
        if o.action == "dry-run"
        else "[green]fixed:[/green]"
    )
    renames = ", ".join(f"{a} → {b}" for a, b in o.renames.items())
    if o.new_config:
        renames = ", ".join(filter(None, [renames, "new config for " + ", ".join(o.new_config.values())]))
    renames = renames or "MAC pin"
    emit.out.print(f"{head} {escape(f'{renames} (via {o.via})')}")
    for line in o.changes:
        emit.out.print(f"  {render_options(line)}", markup=False)
    if o.action == "dry-run":
        for path, text in o.files.items():
            emit.out.print(f"--- new {path} ---", markup=False)
            emit.out.print(text, markup=False, end="")
    for w in o.warnings:
        emit.out.print(f"[yellow]warning:[/yellow] {_r(w)}")
    if o.backups:
        emit.out.print(f"  backup: {', '.join(o.backups)}", markup=False)
    if o.action == "fixed":
        secs = f"{o.seconds_to_ssh:.1f}s" if o.seconds_to_ssh is not None else "?"
        emit.out.print(f"  applied with {o.apply_method}; SSH back {secs} after the apply")
        emit.out.print(f"  {o.interface}: {' '.join(o.addresses) or 'no address'}", markup=False)


def findings_json(report: Report) -> dict[str, object]:
    from agent.core.vmbhyve.vmreport import report_to_json  # only check-vm-config needs the report renderer

    return report_to_json(report)


def findings(report: Report, *, origin: str) -> None:
    """A vm-bhyve config report, severities in colour."""
    from agent.core.vmbhyve.vmreport import render_report  # only check-vm-config needs the report renderer

    emit.out.print(f"[bold]{escape(origin)}[/bold]")
    for line in render_report(report):
        word = line.split(" ", 1)[0]
        style = _SEVERITY_STYLE.get(word)
        if style:
            emit.out.print(f"[{style}]{word}[/{style}]{escape(line[len(word) :])}")
        else:
            emit.out.print(line, markup=False)


def timings_table(timings: dict[str, float], *, total: float | None) -> None:
    """``--timings``: seconds per phase (:mod:`agent.cli.timing_view`)."""
    from agent.cli.timing_view import timings_lines

    emit.out.print("timings:", markup=False)
    for line in timings_lines(timings, total=total):
        emit.out.print("  " + line, markup=False)
