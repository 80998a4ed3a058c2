"""The format and disks tasks, from the inventory's guest: build the flow's :class:`DiskTarget` from
the :class:`agent.inventory.Guest` and run :mod:`agent.ops.format_flow` (the Guest-free flow, which the
Ansible collection ships as module_utils). The flow's names are re-exported here, so callers keep
``format_disk.FormatOptions``, ``format_disk.plan_mkfs`` and so on.
"""

from __future__ import annotations

from collections.abc import Callable

from agent.core.disk.candidates import Pins, Verdict, assess_all, make_pins
from agent.core.disk.devices import Facts
from agent.core.disk.mkfs import parse_fs
from agent.inventory import Guest
from agent.ops.facts_gather import gather_facts
from agent.ops.format_flow import (
    DiskTarget,
    FormatOptions,
    FormatOutcome,
    Log,
    confirm_overwrite,
    format_target,
    host_hint,
    plan_mkfs,
)
from agent.ops.format_guard import freebsd_problems, lost_after_result, run_guard
from agent.transport.protocol import CommandProtocol
from agent.transport.sudo import SudoError

__all__ = [
    "DiskTarget",
    "FormatOptions",
    "FormatOutcome",
    "Log",
    "confirm_overwrite",
    "disk_target",
    "format_target",
    "freebsd_problems",
    "gather_facts",
    "host_compat_of",
    "host_hint",
    "list_disks",
    "lost_after_result",
    "pins_for",
    "plan_mkfs",
    "run_format",
    "run_guard",
]


def pins_for(guest: Guest, device: str | None = None, serial: str | None = None) -> Pins:
    """The inventory's disk pins; command-line ``device``/``serial`` win over the inventory's for the same
    field, the others narrow further."""
    return make_pins(
        device=device,
        serial=serial or guest.disk.serial,
        model=guest.disk.model,
        size=guest.disk.size.bytes if guest.disk.size else None,
    )


def host_compat_of(guest: Guest, opts: FormatOptions) -> str | None:
    return opts.host_compat or guest.disk.host_os


def disk_target(guest: Guest, opts: FormatOptions) -> DiskTarget:
    """The flow's view of the inventory's disk, with the command line's pins and host compatibility."""
    return DiskTarget(
        pins=pins_for(guest, opts.device, opts.serial),
        host_os=host_compat_of(guest, opts),
        host_path=str(guest.disk.host_path) if guest.disk.host_path else None,
    )


def run_format(
    session: CommandProtocol,
    guest_name: str,
    guest: Guest,
    opts: FormatOptions,
    *,
    log: Log,
    ask: Callable[[str], str] | None = None,
) -> FormatOutcome:
    """``gda format`` on one inventory guest (:func:`agent.ops.format_flow.format_target`)."""
    return format_target(session, guest_name, disk_target(guest, opts), opts, log=log, ask=ask)


def list_disks(
    session: CommandProtocol, guest: Guest, fs: str | None, log: Log
) -> tuple[Facts, list[Verdict], Pins]:
    """Facts and a verdict per disk. Falls back to unprivileged facts (signatures unknown) without sudo."""

    def note(e: SudoError) -> None:
        log(f"note: {e.message}; listing without root, so signatures are not probed")

    facts = gather_facts(session, report=False, without_root=note)  # the table shows no fdisk -l
    pins = pins_for(guest)
    return facts, assess_all(facts, parse_fs(fs) if fs else None, pins=pins), pins
