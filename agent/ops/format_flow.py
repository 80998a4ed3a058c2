"""The format flow: gather facts in one round trip, decide (pure), act once. Guest-free and stdlib-only.

Remote commands: 1 for the facts (under sudo, so signatures are probed) and 1 for the guard+mkfs script
(re-checks under an exclusive lock right before mkfs, verifies with ``blkid -p`` and, for the FreeBSD
profile, prints ``dumpe2fs -h`` of the new filesystem, checked here) — 2 in all. The guest is reached
only through :class:`agent.transport.protocol.CommandProtocol` (SSH, the console, or, in the Ansible
collection's ``guest_disk`` module, the module's own ``run_command``).

What the flow knows of the guest is a :class:`DiskTarget` (pins, host OS, host path): the CLI builds it
from the inventory's guest (:mod:`agent.ops.format_disk`), the Ansible module from its options. This
module imports no inventory and no transport beyond the protocol, so the collection ships it as is
(``ansible_collections/gda/bhyve/module_utils_roots.txt``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from agent.core import marker
from agent.core.disk import ext4_freebsd
from agent.core.disk.candidates import (
    AlreadyFormatted,
    FormatPlan,
    Pins,
    select_disk,
)
from agent.core.disk.devices import Facts
from agent.core.disk.guard import (
    GUARD_KIND,
    INSPECT_HINT,
    GuardResult,
    GuardSpec,
    interpret_guard,
    parse_guard_output,
    render_guard_script,
)
from agent.core.disk.mkfs import build_mkfs_argv, parse_fs, require_mkfs, with_device
from agent.core.disk.probe import (
    FACTS_KIND,
    disks_to_probe,
    parse_facts,
    parse_facts_parts,
    render_facts_script,
)
from agent.core.disk.rerun import RequestedFs, rerun_differences, rerun_refusal
from agent.core.guest_text import clean
from agent.core.marker import has_header
from agent.errors import AgentError, ChangeFailed, Refused, RemoteError, Unreachable
from agent.hints import opt
from agent.transport.protocol import BeginsRoot, CommandProtocol
from agent.transport.sudo import SudoError

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
    fdisk: str | None = None  # ``fdisk -l`` of the chosen disk, as the guest sees it
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


def _facts_run(session: CommandProtocol, script: str, *, root: bool) -> str:
    r = session.run(script, root=root, timeout=120)
    if r.status != 0 and not has_header(r.stdout, FACTS_KIND):
        raise RemoteError(f"gathering disk facts failed ({r.status}): {r.output.strip()[-500:]}")
    return r.stdout


def gather_facts(
    session: CommandProtocol,
    *,
    privileged: bool = True,
    versions: tuple[str, ...] = (),
    without_root: Callable[[SudoError], None] | None = None,
) -> Facts:
    """Every disk fact (as root, so signatures are really probed); ``versions``: the tools whose version
    the plan needs (each is one more fork on the guest); ``without_root``: when sudo refuses, it is told
    why and the facts are those read without root (signatures unknown), instead of the refusal raised.

    A transport that starts its root shell in the background (:class:`BeginsRoot`: SSH) gets two
    scripts: the part that needs no root runs as the login user while sudo authenticates, then the root
    part probes the contents of the disks it found (not the root disk). Any other gets one."""
    if privileged and isinstance(session, BeginsRoot):
        session.begin_root()
        user = _facts_run(session, render_facts_script(versions=versions, part="user"), root=False)
        disks = disks_to_probe(marker.parse(user, FACTS_KIND, what="the disk-facts script"))
        try:
            root = _facts_run(session, render_facts_script(versions=(), part="root", disks=disks), root=True)
        except SudoError as e:
            if without_root is None:
                raise
            without_root(e)
            return parse_facts(user)
        return parse_facts_parts(user, root)
    script = render_facts_script(versions=versions)
    try:
        return parse_facts(_facts_run(session, script, root=privileged))
    except SudoError as e:
        if without_root is None or not privileged:
            raise
        without_root(e)
        return parse_facts(_facts_run(session, script, root=False))


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


def freebsd_problems(result: GuardResult) -> list[str]:
    """Problems a FreeBSD host would have with the new filesystem, from the guard's ``dumpe2fs -h``."""
    if result.dumpe2fs is None:
        raise RemoteError(f"the guard printed no dumpe2fs -h output for {result.device}")
    return [f"{p.severity}: {p.message}" for p in ext4_freebsd.check_freebsd_compat(result.dumpe2fs)]


def lost_after_result(error: RemoteError, spec: GuardSpec) -> AgentError | None:
    """The error to report when the connection was lost after the guard printed its RESULT line (the
    transport keeps the stdout it had received in ``partial_stdout``): on success, that mkfs finished and
    was verified and that a rerun is a no-op; on a refusal, the refusal (nothing was changed). None when
    the output stops before the RESULT line."""
    partial = getattr(error, "partial_stdout", "")
    if not isinstance(partial, str) or not has_header(partial, GUARD_KIND):
        return None
    framed = parse_guard_output(partial)
    if framed.result is None:
        return None
    try:
        result = interpret_guard(partial, framed.result[0], spec)
    except AgentError as verdict:
        return verdict
    problems = freebsd_problems(result) if spec.verify_dumpe2fs else []
    if problems:
        return ChangeFailed(
            f"{error.message} after the guard's result line; the new filesystem on {result.device} has "
            "features FreeBSD cannot mount read-write:\n  " + "\n  ".join(problems)
        )
    lost = type(error) if isinstance(error, Unreachable) else RemoteError
    return lost(
        f"{error.message}, but only after the guard's result line: mkfs finished on {result.device} and "
        f"was verified ({result.fs}, UUID {result.uuid or '?'}); a rerun with the same options is a no-op "
        "(it reports nothing to do)",
        hint=f"reconnect and rerun the same command to confirm; `sudo blkid -p {result.device}` on the guest "
        "shows the new filesystem",
    )


def run_guard(session: CommandProtocol, spec: GuardSpec) -> GuardResult:
    """Run the guard+mkfs script once; a lost connection or timeout says how far the guard got."""
    try:
        r = session.run(render_guard_script(spec), root=True, timeout=3600)
    except SudoError:
        raise  # sudo refused: the script did not run
    except RemoteError as e:
        known = lost_after_result(e, spec)
        if known is not None:
            raise known from e
        path = spec.device_path
        raise RemoteError(
            f"{e.message}; the guard may already have started mkfs on {path}",
            hint=INSPECT_HINT.format(path=path) + (f"; {e.hint}" if e.hint else ""),
        ) from e
    return interpret_guard(r.stdout, r.status, spec)


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
    sudo0, t0 = sudo_seconds(session), time.monotonic()
    facts = gather_facts(session, versions=("mke2fs",) if freebsd_ext4_profile_applies(fs, compat) else ())
    t_facts, sudo = time.monotonic(), sudo_seconds(session) - sudo0
    pins = target.pins
    host_path = target.host_path
    selection = select_disk(facts, fs, pins=pins, force=opts.force, host_path=host_path)
    hint = host_hint(host_path, fs, compat, guest_name)
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
        decided = time.monotonic() - t_facts
        return FormatOutcome(
            "nothing-to-do",
            guest_name,
            d.path,
            d.stable_path(),
            fs,
            uuid=selection.uuid,
            label=selection.label,
            host_hint=hint,
            serial=d.serial,
            size_bytes=d.size_bytes,
            remote_commands=session.commands_run,
            timings=phase_timings(
                facts_run=t_facts - t0, sudo=sudo, decide=decided, guard_run=None, guest={}
            ),
        )
    plan = selection
    spec, disabled, warnings = plan_mkfs(plan, facts, opts, compat, log)
    decided = time.monotonic() - t_facts
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
        host_hint=hint,
        warnings=warnings,
        serial=plan.expected_serial,
        size_bytes=plan.expected_size_bytes,
        overwrites=[s.describe() for s in plan.overwrites],
        fdisk=plan.disk.fdisk,
    )
    outcome.timings = phase_timings(
        facts_run=t_facts - t0, sudo=sudo, decide=decided, guard_run=None, guest={}
    )
    if opts.dry_run:
        outcome.remote_commands = session.commands_run
        return outcome
    if plan.overwrites:
        confirm_overwrite(plan, opts.yes, ask)
    log(f"formatting {plan.disk.path} ({plan.device_path}) as {fs}:")
    if plan.disk.fdisk:
        log("  " + plan.disk.fdisk.strip().replace("\n", "\n  "))
    t_guard = time.monotonic()
    result = run_guard(session, spec)
    guard_run = time.monotonic() - t_guard
    outcome.timings = phase_timings(
        facts_run=t_facts - t0,
        sudo=sudo,
        decide=decided,
        guard_run=guard_run,
        guest=dict(result.phases),
    )
    outcome.uuid, outcome.label, outcome.mkfs_seconds = result.uuid, result.label, result.mkfs_seconds
    if spec.verify_dumpe2fs:
        problems = freebsd_problems(result)
        if problems:
            raise ChangeFailed(
                "the new filesystem has features FreeBSD cannot mount read-write:\n  " + "\n  ".join(problems)
            )
    outcome.remote_commands = session.commands_run
    return outcome
