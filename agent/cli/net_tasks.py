"""``fix-netplan``: the NIC rename, repaired through the serial console.

The body imports its op module inside the task (the one lazy import), so ``gda --help`` stays fast.
"""

from __future__ import annotations

import contextlib

from invoke.context import Context

from agent.cli import render
from agent.cli.config import or_setting
from agent.cli.emit import Result, info
from agent.cli.options import Opt, choice, seconds
from agent.cli.tasking import Target, guest_task
from agent.errors import UsageError

FIX_OPTS = {
    "via": Opt(
        "auto (SSH if it answers, else the serial console), ssh, or console",
        "v",
        choice("auto", "ssh", "console"),
    ),
    "match_mac": Opt("write match: {macaddress} + set-name, so the next slot change cannot break it", "m"),
    "pin_cloud_init": Opt(
        "write /etc/cloud/cloud.cfg.d/99-disable-network-config.cfg so cloud-init leaves the file alone", "p"
    ),
    "deadline": Opt(
        "seconds after the apply for SSH to come back before the change is rolled back (default 90)",
        "t",
        seconds,
    ),
    "dry_run": Opt("show the repair; change nothing", "r"),
    "transcript": Opt("keep a transcript of the console session (secrets redacted) in this file", "T"),
}


@guest_task(FIX_OPTS)
def fix_netplan(
    c: Context,
    target: Target,
    via: str = "auto",
    match_mac: bool = False,
    pin_cloud_init: bool = False,
    deadline: float | None = None,
    dry_run: bool = False,
    transcript: str | None = None,
) -> Result:
    """Repair the NIC rename through the serial console, then reconnect over SSH."""
    from agent.ops import fix_netplan as ops

    with contextlib.ExitStack() as stack:
        try:
            tfile = stack.enter_context(open(transcript, "w")) if transcript else None
        except OSError as e:
            raise UsageError(f"cannot write the transcript {transcript}: {e.strerror}") from None
        opts = ops.FixOptions(
            via=via,
            match_mac=match_mac,
            pin_cloud_init=pin_cloud_init,
            deadline=float(or_setting(deadline, c.config, "fix_netplan.deadline")),
            dry_run=dry_run,
            transcript=tfile,
        )
        outcome = ops.run_fix(target.connector, opts, log=info)
    return Result(outcome.to_json(), lambda: render.fix_summary(outcome))
