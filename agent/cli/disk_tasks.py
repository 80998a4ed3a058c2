"""``format`` and ``disks``: the passed-through disk.

Each body imports its op module (``agent.ops.format_disk``) inside the task, the one lazy import per task,
so ``gda --help`` stays fast; the op calls live in the body, in one place each.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from invoke.context import Context

from agent.cli import render
from agent.cli.emit import Result
from agent.cli.options import Opt, choice
from agent.cli.tasking import Target, guest_task
from agent.errors import UsageError
from agent.hints import opt

FS = choice("ext4", "xfs")

FORMAT_OPTS = {
    "fs": Opt("ext4 or xfs (required)", "f", FS),
    "label": Opt("filesystem label (ext4: 16 bytes, xfs: 12)", "l"),
    "no_discard": Opt("do not discard (TRIM) the device before mkfs", "n"),
    "device": Opt("pin the disk: /dev/nvme0n1, nvme0n1 or /dev/disk/by-id/...", "d"),
    "serial": Opt("pin the disk by its serial (e.g. Y39B70RTK7AS)", "s"),
    "force": Opt(
        "overwrite an existing filesystem or other signature (never a partition table); "
        "needs --yes or the device name typed at the prompt"
    ),
    "yes": Opt("confirm --force without a prompt", "y"),
    "dry_run": Opt("print the plan and the exact commands; change nothing", "r"),
    "timings": Opt("print the seconds per phase (connect, sudo, facts, decide, guard, mkfs, verify)"),
    "host_compat": Opt(
        "freebsd: only ext4 features FreeBSD mounts read-write; linux: all (default from inventory "
        "disk.host_os)",
        "c",
        choice("freebsd", "linux"),
    ),
}


def refuse_in_fleet(options: Mapping[str, Any]) -> None:
    """A fleet run cannot prompt: ``--force`` needs ``--yes`` there."""
    if options.get("force") and not options.get("yes"):
        raise UsageError(
            f"{opt('force')} without {opt('yes')} on several guests: the confirmation prompt (the device "
            "name typed) cannot be answered while several guests run",
            hint=f"add {opt('yes')} to confirm {opt('force')} for every selected guest, or run one guest "
            f"({opt('guest')} NAME) to be asked",
        )


@guest_task(FORMAT_OPTS, fleet_check=refuse_in_fleet)
def format(
    c: Context,
    target: Target,
    fs: str | None = None,
    label: str | None = None,
    no_discard: bool = False,
    device: str | None = None,
    serial: str | None = None,
    force: bool = False,
    yes: bool = False,
    dry_run: bool = False,
    host_compat: str | None = None,
    timings: bool = False,
) -> Result:
    """Put ext4 or XFS on the whole passed-through disk (never a partition table), safely."""
    from agent.cli import timing_view
    from agent.ops import format_disk as ops

    start = timing_view.process_age()

    if fs is None:
        raise UsageError(f"{opt('fs')} ext4 or {opt('fs')} xfs is required")
    opts = ops.FormatOptions(
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
    ask = input if target.can_prompt else None
    with target.ssh() as s:
        outcome = ops.run_format(s, target.name, target.guest, opts, log=target.log, ask=ask)
        outcome.sudo_sessions = s.sudo_sessions
    outcome.timings = timing_view.with_session_phases(outcome.timings, start=start, connect=s.connect_seconds)
    age = timing_view.process_age()

    def human() -> None:
        render.format_summary(outcome)
        if timings:
            render.timings_table(outcome.timings, total=age)

    return Result(outcome.to_json(), human)


@guest_task({"fs": Opt("judge the disks for this filesystem (ext4 or xfs)", "f", FS)})
def disks(c: Context, target: Target, fs: str | None = None) -> Result:
    """List the guest's disks and, for each, why it is or is not the disk to format."""
    from agent.cli import timing_view
    from agent.ops import format_disk as ops

    start = timing_view.process_age()
    with target.ssh() as s:
        t0 = time.monotonic()
        facts, verdicts, pins = ops.list_disks(s, target.guest, fs, target.log)
        facts_run = time.monotonic() - t0
    data = render.disks_json(target.name, verdicts)
    data["sudo_sessions"] = s.sudo_sessions
    data["timings"] = timing_view.with_session_phases(
        {"sudo": round(s.sudo_seconds, 3), "facts": round(max(0.0, facts_run - s.sudo_seconds), 3)},
        start=start,
        connect=s.connect_seconds,
    )
    return Result(data, lambda: render.disks_table(target.name, facts, verdicts, pins))
