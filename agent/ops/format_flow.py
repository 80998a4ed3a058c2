"""The format flow: gather facts, decide (pure), act once. Guest-free and stdlib-only.

Remote commands: the facts (under sudo, so signatures are probed: one script, or over SSH two parts,
:mod:`agent.ops.facts_gather`) and the guard+mkfs script (re-checks under an exclusive lock right before
mkfs, verifies with ``blkid -p`` and, for the FreeBSD profile, prints ``dumpe2fs -h`` of the new
filesystem, checked here). Over SSH a format that needs no confirmation goes straight from the part of
the facts that needs no root to the guard when that part shows a plan on a disk whose contents it could
not probe and udev's database knows nothing on: the guard probes them under the lock anyway, and a
disk it finds a signature or a partition table on is then probed and decided on as always (the rerun's
no-op, the refusal that names what is there) — nothing is written before. The guest is reached only
through :class:`agent.transport.protocol.CommandProtocol` (SSH, the console, or, in the Ansible
collection's ``guest_disk`` module, the module's own ``run_command``).

What the flow knows of the guest is a :class:`DiskTarget` (pins, host OS, host path): the CLI builds it
from the inventory's guest (:mod:`agent.ops.format_disk`), the Ansible module from its options. This
module imports no inventory and no transport beyond the protocol, so the collection ships it as is
(``ansible_collections/gda/bhyve/module_utils_roots.txt``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from agent.core.disk import ext4_freebsd
from agent.core.disk.candidates import (
    AlreadyFormatted,
    FormatPlan,
    Pins,
    select_disk,
)
from agent.core.disk.devices import Disk, Facts, ProbeState, format_size
from agent.core.disk.guard import (
    GuardSpec,
)
from agent.core.disk.mkfs import FsType, build_mkfs_argv, parse_fs, require_mkfs, with_device
from agent.core.disk.rerun import RequestedFs, rerun_differences, rerun_refusal
from agent.core.guest_text import clean
from agent.errors import ChangeFailed, Refused
from agent.hints import opt
from agent.ops.facts_gather import FactsReader
from agent.ops.format_guard import ContentsFound, freebsd_problems, run_guard
from agent.transport.protocol import CommandProtocol

Log = Callable[[str], None]


@dataclass(frozen=True)
class FormatOptions:
    fs: str
    label: str | None = None
    no_discard: bool = False
    force: bool = False
    yes: bool = False
    dry_run: bool = False
    device: str | None = None
    serial: str | None = None
    host_compat: str | None = None  # "freebsd" | "linux" | None (inventory disk.host_os)


@dataclass
class FormatOutcome:
    """What happened; ``to_json`` is the machine-readable result."""

    action: str  # formatted | nothing-to-do | dry-run
    guest: str
    device: str
    device_path: str
    fs: str
    uuid: str | None = None
    label: str | None = None
    mkfs_seconds: float | None = None
    mkfs_command: list[str] = field(default_factory=list)
    host_compat: str | None = None
    features_disabled: list[str] = field(default_factory=list)
    host_hint: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    serial: str | None = None
    size_bytes: int | None = None
    overwrites: list[str] = field(default_factory=list)
    #: ``fdisk -l`` of the chosen disk, as the guest sees it; None for a disk formatted without the content
    #: probes (a blank one over SSH: the report shows lsblk's model, size and serial instead)
    fdisk: str | None = None
    remote_commands: int = 0
    #: sudo sessions the task started on the guest (the transport's count; 1 with the root shell)
    sudo_sessions: int | None = None
    #: seconds per phase (:func:`phase_timings`): ``gda format --timings`` prints them
    timings: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def sudo_seconds(session: CommandProtocol) -> float:
    """Seconds the session spent starting root shells so far (sudo's PAM; 0 where the transport does not
    count them, e.g. the console or the Ansible module)."""
    value = getattr(session, "sudo_seconds", 0.0)
    return float(value) if isinstance(value, (int, float)) else 0.0


def phase_timings(
    *,
    facts_run: float,
    sudo: float,
    decide: float,
    guard_run: float | None = None,
    guest: dict[str, float] | None = None,
) -> dict[str, float]:
    """The per-phase table (pure): ``sudo`` (starting the root shell), ``facts`` (the facts round trips
    without it), ``decide`` (the controller's pure decision), and for a real format the guard's round
    trip split by the guard's own clock (``guest``: checks, mkfs, settle, verify): ``guard`` is the
    re-checks plus the round trip, ``mkfs``, and ``verify`` (udev settling + ``blkid -p``)."""
    out = {"sudo": sudo, "facts": max(0.0, facts_run - sudo), "decide": decide}
    if guard_run is not None:
        guest = guest or {}
        mkfs = guest.get("mkfs", 0.0)
        verify = guest.get("settle", 0.0) + guest.get("verify", 0.0)
        out.update(guard=max(0.0, guard_run - mkfs - verify), mkfs=mkfs, verify=verify)
    return {k: round(v, 3) for k, v in out.items()}


@dataclass(frozen=True)
class DiskTarget:
    """What the format flow knows about the disk besides the guest's own facts: the pins that pick it
    (serial, model, size, device), the OS of the host that reads it (``freebsd`` | ``linux`` | None) and
    the host-side path it is passed through from (for hints only)."""

    pins: Pins
    host_os: str | None = None
    host_path: str | None = None


def host_hint(host_path: str | None, fs: str, host_os: str | None, guest_name: str) -> list[str]:
    path = host_path or "<host partition>"
    if host_os == "freebsd":
        return ext4_freebsd.freebsd_mount_hint(path, fs=fs, vm_name=guest_name)
    return [f"on the host, after stopping the guest: mount {path} /mnt  (blkid -p {path} shows TYPE={fs})"]


def freebsd_ext4_profile_applies(fs: str, compat: str | None) -> bool:
    """ext4 for a FreeBSD host: plan_mkfs picks its features from the guest's mke2fs version, the one
    tool version the facts script is asked for (pure)."""
    return compat == "freebsd" and fs == "ext4"


def plan_mkfs(
    plan: FormatPlan, facts: Facts, opts: FormatOptions, compat: str | None, log: Log
) -> tuple[GuardSpec, list[str], list[str]]:
    """The guard spec (with the exact mkfs argv), the features turned off, and warnings."""
    fs = plan.fs
    require_mkfs(facts.versions.paths, fs)
    extra: list[str] = []
    disabled: list[str] = []
    warnings: list[str] = []
    freebsd_ext4 = freebsd_ext4_profile_applies(fs, compat)
    if freebsd_ext4:
        if not facts.versions.e2fsprogs:
            raise Refused(
                "the guest's mke2fs version is unknown, so the FreeBSD-safe feature set cannot be chosen; "
                "nothing was changed",
                hint="check `mke2fs -V` on the guest",
            )
        profile = ext4_freebsd.freebsd_ext4_profile(facts.versions.e2fsprogs)
        extra += profile.args
        disabled = [c.feature for c in profile.disabled]
        for line in profile.explain()[: len(profile.disabled) + len(profile.not_needed)]:
            log(f"  FreeBSD profile: {line}")
    elif compat == "freebsd" and fs == "xfs":
        warnings.append(ext4_freebsd.XFS_ON_FREEBSD_WARNING)
    # The guard has checked the device right before mkfs runs; mkfs's force flag is only added when a
    # signature is to be overwritten on purpose (the force option), so mkfs's own check stays on otherwise.
    argv = build_mkfs_argv(
        fs, label=opts.label, no_discard=opts.no_discard, force=bool(plan.overwrites), extra_args=extra
    )
    spec = GuardSpec(
        device_path=plan.device_path,
        fs=fs,
        mkfs_argv=argv,
        expected_size_bytes=plan.expected_size_bytes,
        expected_serial=plan.expected_serial,
        expected_signatures=plan.expected_signatures,
        expected_signature_keys=plan.expected_signature_keys,  # the very ones confirmed (UUID, offset)
        expected_wwn=plan.disk.wwn,  # the namespace's own identity: the serial is the controller's
        verify_dumpe2fs=freebsd_ext4,
        expected_serial_hex=plan.disk.serial_hex,  # the sysfs bytes: the same whatever lsblk's encoding
    )
    return spec, disabled, warnings


def confirm_overwrite(plan: FormatPlan, yes: bool, ask: Callable[[str], str] | None) -> None:
    """The force option needs the yes option, or the device's name typed at an interactive prompt.

    The prompt goes to the terminal as is (``input``): guest text in it is cleaned here again (a label
    with ESC[2K could otherwise erase the line that says what is destroyed)."""
    what = clean(", ".join(s.describe() for s in plan.overwrites))
    if yes:
        return
    if ask is None:
        raise Refused(
            f"{opt('force')} would destroy {what} on {plan.disk.path}",
            hint=f"add {opt('yes')} to confirm, or run in a terminal to type the device name",
        )
    answer = ask(
        clean(f"This destroys {what} on {plan.disk.path}. Type {plan.disk.name} to confirm: ")
    ).strip()
    if answer not in (plan.disk.name, plan.disk.path):
        raise Refused("not confirmed; nothing was changed")


@dataclass
class _Clock:
    """When the phases of one format ended (``time.monotonic``), for :func:`phase_timings`: the root
    shell starts at ``t0`` (``sudo``: the seconds until it was ready, overlapping the facts that need
    no root)."""

    t0: float
    sudo0: float
    facts: float = 0.0
    decided: float = 0.0

    def timings(
        self,
        session: CommandProtocol,
        guard: tuple[float, float] | None = None,
        guest: dict[str, float] | None = None,
    ) -> dict[str, float]:
        sudo = sudo_seconds(session) - self.sudo0
        ready = self.t0 + sudo
        run = (
            None if guard is None else guard[1] - max(guard[0], ready)
        )  # the wait for sudo is not the guard's
        return phase_timings(
            facts_run=self.facts - self.t0,
            sudo=sudo,
            decide=self.decided - self.facts,
            guard_run=run,
            guest=guest,
        )


def _udev_unsure(disk: Disk) -> Disk:
    """``disk`` with what only udev's database said of its contents (lsblk's FSTYPE, PTTYPE) made
    unknown: the database can be stale. What a probe found stays."""
    sigs = disk.signatures.signatures
    if any(s.source != "lsblk" for s in sigs) or not (sigs or disk.pttype):
        return disk
    unknown = replace(disk.signatures, state=ProbeState.UNKNOWN, signatures=())
    return replace(disk, pttype=None, signatures=unknown)


def _unprobed_plan(facts: Facts, fs: FsType, target: DiskTarget) -> FormatPlan | None:
    """The plan the facts without the content probes show, when it can go to the guard as it is: a disk
    chosen whose contents are unknown (udev's database knows none either), nothing to overwrite, and the
    same choice if what udev's database says of the other disks were wrong too (a disk it shows a
    filesystem on may be a second candidate: refusing to guess is the probes' to decide); else None."""
    pins, host_path = target.pins, target.host_path
    try:
        plan = select_disk(facts, fs, pins=pins, force=False, host_path=host_path)
        if isinstance(plan, AlreadyFormatted) or plan.overwrites:
            return None
        if plan.disk.signatures.state is not ProbeState.UNKNOWN:
            return None
        doubt = replace(facts, disks=tuple(_udev_unsure(d) for d in facts.disks))
        again = select_disk(doubt, fs, pins=pins, force=False, host_path=host_path)
    except Refused:
        return None
    return plan if isinstance(again, FormatPlan) and again.disk.path == plan.disk.path else None


def format_target(
    session: CommandProtocol,
    guest_name: str,
    target: DiskTarget,
    opts: FormatOptions,
    *,
    log: Log,
    ask: Callable[[str], str] | None = None,
) -> FormatOutcome:
    """Format the disk ``target`` pins on the guest ``session`` reaches (or, with ``opts.dry_run``,
    only plan it). ``opts.device``/``opts.serial``/``opts.host_compat`` are not read here: they are
    already in ``target`` (see :func:`agent.ops.format_disk.disk_target`)."""
    fs = parse_fs(opts.fs)
    compat = target.host_os
    clock = _Clock(time.monotonic(), sudo_seconds(session))
    reader = FactsReader(session, versions=("mke2fs",) if freebsd_ext4_profile_applies(fs, compat) else ())
    if reader.split and not (opts.dry_run or opts.force):
        early = reader.user_facts()
        clock.facts = time.monotonic()
        plan = _unprobed_plan(early, fs, target)
        if plan is not None:
            try:
                return _act(
                    session, guest_name, target, opts, plan, early, clock, log=log, ask=ask, unprobed=True
                )
            except ContentsFound:
                log(f"  {plan.disk.path} is not empty (nothing was written): reading what it carries")
    facts = reader.facts()
    clock.facts = time.monotonic()
    pins = target.pins
    host_path = target.host_path
    selection = select_disk(facts, fs, pins=pins, force=opts.force, host_path=host_path)
    if isinstance(selection, AlreadyFormatted):
        differences = rerun_differences(selection, RequestedFs(fs, opts.label, compat))
        if differences and not opts.force:
            raise rerun_refusal(selection, differences)
        if differences:  # recreate it: the existing filesystem is a signature the force option overwrites
            for line in differences:
                log(f"  differs from the request: {line}")
            selection = select_disk(facts, fs, pins=pins, force=True, host_path=host_path, reuse=False)
    if isinstance(selection, AlreadyFormatted):
        d = selection.disk
        clock.decided = time.monotonic()
        return FormatOutcome(
            "nothing-to-do",
            guest_name,
            d.path,
            d.stable_path(),
            fs,
            uuid=selection.uuid,
            label=selection.label,
            host_hint=host_hint(host_path, fs, compat, guest_name),
            serial=d.serial,
            size_bytes=d.size_bytes,
            remote_commands=session.commands_run,
            timings=clock.timings(session),
        )
    return _act(session, guest_name, target, opts, selection, facts, clock, log=log, ask=ask)


def _act(
    session: CommandProtocol,
    guest_name: str,
    target: DiskTarget,
    opts: FormatOptions,
    plan: FormatPlan,
    facts: Facts,
    clock: _Clock,
    *,
    log: Log,
    ask: Callable[[str], str] | None,
    unprobed: bool = False,
) -> FormatOutcome:
    """The plan's dry run, or the format through the guard (``unprobed``: :func:`run_guard`'s)."""
    fs, compat = plan.fs, target.host_os
    spec, disabled, warnings = plan_mkfs(plan, facts, opts, compat, log)
    clock.decided = time.monotonic()
    outcome = FormatOutcome(
        "dry-run" if opts.dry_run else "formatted",
        guest_name,
        plan.disk.path,
        plan.device_path,
        fs,
        label=opts.label,
        mkfs_command=list(with_device(spec.mkfs_argv, plan.device_path)),
        host_compat=compat,
        features_disabled=disabled,
        host_hint=host_hint(target.host_path, fs, compat, guest_name),
        warnings=warnings,
        serial=plan.expected_serial,
        size_bytes=plan.expected_size_bytes,
        overwrites=[s.describe() for s in plan.overwrites],
        fdisk=plan.disk.fdisk,
    )
    outcome.timings = clock.timings(session)
    if opts.dry_run:
        outcome.remote_commands = session.commands_run
        return outcome
    if plan.overwrites:
        confirm_overwrite(plan, opts.yes, ask)
    first = " (what it carries is probed under the lock first)" if unprobed else ""
    log(f"formatting {plan.disk.path} ({plan.device_path}) as {fs}{first}:")
    d = plan.disk
    if d.fdisk:
        log("  " + d.fdisk.strip().replace("\n", "\n  "))
    else:  # planned without the content probes (fdisk -l is one): what lsblk and sysfs say
        size = f"{format_size(d.size_bytes)} ({d.size_bytes} bytes)"
        log(f"  {d.model or 'disk'}, {size}, serial {d.serial or '?'}")
    t_guard = time.monotonic()
    result = run_guard(session, spec, unprobed=unprobed)
    outcome.timings = clock.timings(session, (t_guard, time.monotonic()), dict(result.phases))
    outcome.uuid, outcome.label, outcome.mkfs_seconds = result.uuid, result.label, result.mkfs_seconds
    if spec.verify_dumpe2fs:
        problems = freebsd_problems(result)
        if problems:
            raise ChangeFailed(
                "the new filesystem has features FreeBSD cannot mount read-write:\n  " + "\n  ".join(problems)
            )
    outcome.remote_commands = session.commands_run
    return outcome
