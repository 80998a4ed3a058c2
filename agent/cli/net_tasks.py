"""``fix-netplan``: the NIC rename, repaired through the serial console.

The body imports its op module inside the task (the one lazy import), so ``gda --help`` stays fast.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping
from typing import IO, Any

from invoke.context import Context

from agent.cli import render
from agent.cli.config import or_setting
from agent.cli.emit import Result
from agent.cli.options import Opt, choice, seconds
from agent.cli.tasking import Target, guest_task
from agent.errors import UsageError
from agent.hints import opt

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
    "transcript": Opt(
        "keep a transcript of the console session in this new file (mode 0600; secrets redacted, file "
        "contents shown as length and sha256); {guest} in it is the guest's name",
        "T",
    ),
}

GUEST_FIELD = "{guest}"


def transcript_path(path: str, guest: str) -> str:
    """The transcript file of one guest: ``{guest}`` in ``path`` replaced by its name."""
    return path.replace(GUEST_FIELD, guest)


def refuse_in_fleet(options: Mapping[str, Any]) -> None:
    """Several guests cannot share one transcript file: its name must hold ``{guest}``."""
    path = options.get("transcript")
    if path and GUEST_FIELD not in path:
        raise UsageError(
            f"{opt('transcript')} {path} on several guests: each guest needs its own transcript file",
            hint=f"put {GUEST_FIELD} in the name, e.g. {opt('transcript')} 'console-{GUEST_FIELD}.log'",
        )


def open_transcript(path: str) -> IO[str]:
    """A new transcript file, mode 0600 (it shows the console session): never an existing file."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    except FileExistsError:
        raise UsageError(
            f"the transcript {path} exists already: it is never overwritten; name a new file for "
            f"{opt('transcript')}"
        ) from None
    except OSError as e:
        raise UsageError(f"cannot write the transcript {path}: {e.strerror}") from None
    return os.fdopen(fd, "w", encoding="utf-8", errors="replace")


@guest_task(FIX_OPTS, fleet_check=refuse_in_fleet, uses_console=True)
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
        tfile = (
            stack.enter_context(open_transcript(transcript_path(transcript, target.name)))
            if transcript
            else None
        )
        opts = ops.FixOptions(
            via=via,
            match_mac=match_mac,
            pin_cloud_init=pin_cloud_init,
            deadline=float(or_setting(deadline, c.config, "fix_netplan.deadline")),
            dry_run=dry_run,
            transcript=tfile,
        )
        outcome = ops.run_fix(target.connector, opts, log=target.log)
    return Result(outcome.to_json(), lambda: render.fix_summary(outcome))
