"""``invoke fix-netplan``: repair netplan for a renamed NIC, apply it with a way back, reconnect over SSH.

The decision is pure (:func:`agent.core.netplan_repair.plan_repair`); this module only moves facts
and files and runs the apply:

* through the console (SSH is down): back up, write, validate with ``netplan generate`` in a scratch
  root (``/run`` keeps the old generated config: that is what ``netplan try`` backs up and reverts to),
  then ``netplan try`` in the foreground on the console. The controller polls SSH; once it is back, Enter
  on the console confirms.
  If SSH does not come back before the deadline, Ctrl-C makes ``netplan try`` revert at once.
* ``netplan try`` refuses bonds and bridges (exit 78), and over SSH its stdin would be at end-of-file
  (it reverts at once), so in those cases a transient systemd timer on the guest is the way back: it
  restores the backup and re-applies unless the controller cancels it after reconnecting.
"""

from __future__ import annotations

import contextlib
import dataclasses
import shlex
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import IO, Any

from tenacity import retry, retry_if_exception_type, stop_after_delay, wait_exponential

from agent.console.session import RunningCommand
from agent.core.netfacts import NetFacts, parse_netfacts, render_netfacts_script
from agent.core.netplan_repair import (
    CLOUD_INIT_DISABLE_PATH,
    NothingToFix,
    RepairPlan,
    cloud_init_disable_config,
    plan_repair,
)
from agent.errors import AgentError, RemoteError, UsageError
from agent.inventory import Guest
from agent.ops.guest import console_password, ssh_session, sudo_password
from agent.ops.shells import ConsoleShell, RootShell, SshShell, console_shell
from agent.remote.ssh import SshSession, SshTimeout, SshUnreachable

Log = Callable[[str], None]
NETPLAN_TRY_NOT_SUPPORTED = 78  # EX_CONFIG: netplan try refuses bonds and bridges


@dataclass(frozen=True)
class FixOptions:
    via: str = "auto"  # auto | ssh | console
    match_mac: bool = False
    pin_cloud_init: bool = False
    deadline: float = 90.0  # seconds from the apply until SSH must be back
    dry_run: bool = False
    accept_new_host_key: bool = False
    transcript: IO[str] | None = None
    sudo_password: str | None = field(default=None, repr=False)  # resolved once by run_fix


@dataclass
class FixOutcome:
    action: str  # fixed | nothing-to-fix | dry-run
    via: str
    changes: list[str] = field(default_factory=list)
    renames: dict[str, str] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)  # path -> new text
    backups: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    interface: str | None = None
    addresses: list[str] = field(default_factory=list)
    apply_method: str | None = None
    seconds_to_ssh: float | None = None
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        data = dict(self.__dict__)
        if self.action != "dry-run":
            data.pop(
                "files"
            )  # the new YAML may carry access-point or 802.1x passwords: shown on request only
        return data


def gather(shell: RootShell, guest: Guest) -> NetFacts:
    netplan_file = str(guest.network.netplan_file) if guest.network.netplan_file else None
    rc, out = shell.sh(render_netfacts_script(netplan_file), timeout=60)
    if rc != 0 and "@@GDA-NET" not in out:
        raise RemoteError(
            f"reading the guest's network state through {shell.label} failed: {out.strip()[-400:]}"
        )
    return parse_netfacts(out)


def decide(facts: NetFacts, guest: Guest, opts: FixOptions) -> RepairPlan | NothingToFix:
    return plan_repair(facts.files, facts.interfaces, pinned_mac=guest.network.mac, match_mac=opts.match_mac)


def wait_for_ssh(guest: Guest, opts: FixOptions, deadline: float, log: Log) -> SshSession:
    """Poll SSH until it answers: short exponential backoff, capped; unreachable is retried, a host key
    or authentication failure is not."""

    @retry(
        retry=retry_if_exception_type(SshUnreachable),
        wait=wait_exponential(multiplier=0.25, min=0.25, max=3),
        stop=stop_after_delay(deadline),
        reraise=True,
    )
    def attempt() -> SshSession:
        return _session(guest, opts, connect_timeout=4).open()

    return attempt()


def _session(guest: Guest, opts: FixOptions, *, connect_timeout: float) -> SshSession:
    """An SSH session with the sudo password resolved once by run_fix (never prompted for while polling)."""
    return ssh_session(
        guest,
        accept_new_host_key=opts.accept_new_host_key,
        connect_timeout=connect_timeout,
        password=opts.sudo_password,
    )


def _q(s: str) -> str:
    return shlex.quote(s)


@dataclass(frozen=True)
class WayBack:
    """The backups of the files being changed and a transient systemd timer on the guest that restores them
    and re-applies the old configuration, armed *before* anything is written: if the controller dies at
    any point (laptop asleep, console gone), the guest goes back by itself. Cancelled once confirmed."""

    unit: str
    backups: dict[str, str]  # path -> backup path
    fires_in: int

    def restore_script(self) -> str:
        return " && ".join(f"cp -p {_q(b)} {_q(p)}" for p, b in self.backups.items())

    @property
    def cancel(self) -> str:
        return (
            f"systemctl stop {self.unit}.timer; systemctl reset-failed {self.unit}.service 2>/dev/null; true"
        )

    def restore_now(self, shell: RootShell) -> None:
        """Put the old files back and regenerate (the running state is the caller's: netplan try's revert,
        or ``fire_now``); cancel the timer."""
        rc, out = shell.sh(f"{self.restore_script()} && netplan generate; rc=$?; {self.cancel}; exit $rc")
        if rc != 0:
            raise RemoteError(f"restoring the backup failed: {out.strip()}; backups: "
                              f"{', '.join(self.backups.values())}; the guest's {self.unit}.timer still "
                              "restores them")  # fmt: skip

    def fire_now(self, shell: RootShell) -> None:
        """Restore and re-apply the old configuration right away (the timer's own job, run now)."""
        shell.sh(f"systemctl start {self.unit}.service")


def write_config(shell: RootShell, plan: RepairPlan, opts: FixOptions, stamp: str, log: Log) -> WayBack:
    """Back up, arm the way back, write (mode 0600), validate with ``netplan generate`` in a scratch root;
    on any failure put the old files back."""
    backups: dict[str, str] = {}
    for path in plan.files:
        backup = f"{path}.bak.{stamp}"
        rc, out = shell.sh(f"cp -p {_q(path)} {_q(backup)}")
        if rc != 0:
            raise RemoteError(f"could not back up {path}: {out.strip()}")
        backups[path] = backup
    log(f"backed up: {', '.join(backups.values())}")
    way = WayBack(f"gda-netplan-revert-{stamp.lower()}", backups, int(opts.deadline + 60))
    rc, out = shell.sh(
        f"systemd-run --quiet --service-type=oneshot --unit={way.unit} --on-active={way.fires_in}s "
        f"/bin/sh -c {_q(way.restore_script() + ' && netplan apply')}"
    )
    if rc != 0:
        raise RemoteError(f"could not arm the revert timer (systemd-run): {out.strip()}; nothing was changed")
    log(f"way back armed: {way.unit}.timer restores the old config in {way.fires_in}s unless confirmed")
    try:
        for path, text in plan.files.items():
            shell.write_file(path, text.encode(), 0o600)
        rc, out = shell.sh(VALIDATE_IN_SCRATCH_ROOT)
        if rc != 0:
            raise RemoteError(
                f"netplan generate rejected the new configuration; the original is restored:\n{out.strip()}"
            )
        if opts.pin_cloud_init:
            shell.sh(f"mkdir -p {_q(CLOUD_INIT_DISABLE_PATH.rsplit('/', 1)[0])}")
            shell.write_file(CLOUD_INIT_DISABLE_PATH, cloud_init_disable_config().encode(), 0o644)
            log(f"wrote {CLOUD_INIT_DISABLE_PATH}: cloud-init will leave the network config alone")
    except BaseException:
        with contextlib.suppress(Exception):
            way.restore_now(shell)
        raise
    return way


#: ``netplan generate`` of /etc/netplan (and /run/netplan, /lib/netplan) in a scratch root dir: it validates
#: the new files without touching /run/systemd/network. ``netplan try`` backs up /run's generated config and
#: reverts to it; generating in place first would make that backup the *new* config and the revert a no-op.
VALIDATE_IN_SCRATCH_ROOT = (
    't=$(mktemp -d) || exit 1; mkdir -p "$t/etc" "$t/run" "$t/lib" && cp -a /etc/netplan "$t/etc/" '
    '&& { [ ! -d /run/netplan ] || cp -a /run/netplan "$t/run/"; } '
    '&& { [ ! -d /lib/netplan ] || cp -a /lib/netplan "$t/lib/"; } '
    '&& netplan generate --root-dir "$t"; rc=$?; rm -rf "$t"; exit $rc'
)


def apply_with_timer(
    shell: RootShell, way: WayBack, guest: Guest, opts: FixOptions, log: Log
) -> tuple[SshSession, float]:
    """``netplan apply``, with the way back (the guest's timer) cancelled only over the new SSH connection."""
    t0 = time.monotonic()
    try:
        rc, out = shell.sh("netplan apply", timeout=max(10.0, opts.deadline / 2))
    except (SshUnreachable, SshTimeout):
        rc, out = 0, ""  # the apply may cut or stall the very connection that runs it
    if rc != 0:
        way.fire_now(shell)
        raise RemoteError(f"netplan apply failed; the old configuration was restored:\n{out.strip()}")
    try:
        ssh = wait_for_ssh(guest, opts, opts.deadline, log)
    except SshUnreachable:
        if isinstance(shell, ConsoleShell):
            way.fire_now(shell)
            raise RemoteError(
                f"SSH did not come back within {opts.deadline:g}s of the apply: the old "
                "configuration was restored through the console"
            ) from None
        raise RemoteError(
            f"SSH did not come back within {opts.deadline:g}s of the apply: the guest restores the "
            f"old configuration by itself within {way.fires_in}s ({way.unit}.timer)"
        ) from None
    seconds = time.monotonic() - t0
    ssh.run_as_root(way.cancel)
    return ssh, seconds


TRY_PROMPT = r"Press ENTER before the timeout to accept|Changes will revert in"


def apply_with_netplan_try(
    shell: ConsoleShell, way: WayBack, guest: Guest, opts: FixOptions, log: Log
) -> tuple[SshSession, float, str]:
    """``netplan try`` on the console, confirmed only once the controller is back over SSH. Whatever goes
    wrong meanwhile (an error, Ctrl-C here) interrupts it, which reverts, and puts the old files back."""
    running = shell.session.start(f"netplan try --timeout {int(opts.deadline + 30)}")
    try:
        return _confirm_try(shell, running, way, guest, opts, log)
    except BaseException:
        if running.exit_status is None:
            with contextlib.suppress(Exception):
                running.send("\x03", shown="<Ctrl-C>")  # netplan try reverts at once
                running.wait(120)
        if "Configuration accepted" not in running.output:
            with contextlib.suppress(Exception):
                way.restore_now(shell)
        raise


def _confirm_try(
    shell: ConsoleShell, running: RunningCommand, way: WayBack, guest: Guest, opts: FixOptions, log: Log
) -> tuple[SshSession, float, str]:
    idx = running.expect([TRY_PROMPT], timeout=120)
    if idx is None:
        if running.exit_status == NETPLAN_TRY_NOT_SUPPORTED:
            log("netplan try refuses this configuration (bonds/bridges, exit 78): applying with the way back")
            ssh, secs = apply_with_timer(shell, way, guest, opts, log)
            return ssh, secs, "netplan apply + revert timer"
        raise RemoteError(
            f"netplan try failed (exit {running.exit_status}); the original is restored:\n"
            f"{running.output.strip()}"
        )
    t0 = time.monotonic()
    log(f"netplan try applied the new configuration; waiting up to {opts.deadline:g}s for SSH ...")
    try:
        ssh = wait_for_ssh(guest, opts, opts.deadline, log)
    except (SshUnreachable, AgentError) as e:
        why = e.message if isinstance(e, AgentError) else str(e)
        raise RemoteError(
            f"SSH did not come back within {opts.deadline:g}s of the apply ({why.splitlines()[0]}): "
            "netplan try rolled the change back and the original file is restored",
            hint="check the mapping (inventory network.mac) and the guest's DHCP; the console transcript "
            "(--transcript FILE) shows what happened",
        ) from None
    seconds = time.monotonic() - t0
    try:
        # Confirm through the path that just came back: SIGUSR1 over the new SSH connection is netplan
        # try's "accept" (the [n] keeps pkill from matching the shell that runs it), and the way back is
        # cancelled in the same command. Enter on the console is the fallback.
        how = "SIGUSR1 over SSH"
        if ssh.run_as_root(
            f"pkill -USR1 -f '^[^ ]*python[^ ]* [^ ]*[n]etplan try' && {way.cancel}"
        ).exit_code:
            running.send("\r", shown="<Enter>")
            how = "Enter on the console"
        result = running.wait(60)
        if result.exit_status != 0 or "Configuration accepted" not in result.output:
            raise RemoteError(
                f"netplan try did not accept the configuration (exit {result.exit_status}):\n"
                f"{result.output.strip()[-600:]}"
            )
        ssh.run_as_root(way.cancel)
    except BaseException:
        ssh.close()
        raise
    return ssh, seconds, f"netplan try, confirmed with {how} once SSH was back"


def describe_network(ssh: SshSession, guest: Guest, plan: RepairPlan) -> tuple[str | None, list[str]]:
    """The repaired or pinned interface (its final name) and its addresses, read back over the new SSH
    connection. A pure ``--match-mac`` plan has no repairs, only pins: report the pinned interface."""
    facts = gather(SshShell(ssh), guest)
    wanted = {r.final_name for r in plan.repairs} | {p.final_name for p in plan.pins}
    for iface in facts.interfaces:
        if iface.is_physical and iface.addresses and (not wanted or iface.name in wanted):
            return iface.name, [str(a) for a in iface.addresses]
    return None, []


def _fill_plan(outcome: FixOutcome, plan: RepairPlan) -> None:
    outcome.changes = list(plan.changes)
    outcome.renames = {old: iface.name for old, iface in plan.renames.items()}
    outcome.files = dict(plan.files)
    outcome.warnings = list(plan.warnings)


def run_fix(guest_name: str, guest: Guest, opts: FixOptions, *, log: Log) -> FixOutcome:
    if opts.via not in ("auto", "ssh", "console"):
        raise UsageError("--via takes auto, ssh or console")
    if opts.deadline <= 0:
        raise UsageError("--deadline must be a positive number of seconds")
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    opts = dataclasses.replace(opts, sudo_password=sudo_password(guest))
    if opts.via in ("auto", "ssh"):
        try:
            ssh = _session(guest, opts, connect_timeout=4 if opts.via == "auto" else 10).open()
        except SshUnreachable as e:
            if opts.via == "ssh":
                raise
            log(f"SSH is unreachable ({e.message}); using the serial console")
        else:
            with ssh:
                return _fix(SshShell(ssh), "ssh", guest, opts, stamp, log)
    password = console_password(guest)
    with console_shell(
        guest.console, password, transcript=opts.transcript, accept_new_host_key=opts.accept_new_host_key
    ) as shell:
        user = guest.console.user if guest.console else "?"
        log(f"logged in on the serial console ({shell.label}) as {user}")
        return _fix(shell, "console", guest, opts, stamp, log)


def _up_interface(facts: NetFacts) -> tuple[str | None, list[str]]:
    for iface in facts.interfaces:
        if iface.is_physical and iface.addresses:
            return iface.name, [str(a) for a in iface.addresses]
    return None, []


def _fix(shell: RootShell, via: str, guest: Guest, opts: FixOptions, stamp: str, log: Log) -> FixOutcome:
    """Gather, decide, and (unless a dry run) write and apply, through ``shell`` (SSH or the console)."""
    on_console = isinstance(shell, ConsoleShell)
    facts = gather(shell, guest)
    decision = decide(facts, guest, opts)
    outcome = FixOutcome("nothing-to-fix", via)
    if isinstance(decision, NothingToFix):
        outcome.notes = [decision.summary(), *decision.notes]
        outcome.interface, outcome.addresses = _up_interface(facts)
        if on_console:  # we came through the console because SSH failed: netplan is not the reason
            try:
                wait_for_ssh(guest, opts, 15, log).close()
            except SshUnreachable as e:
                raise RemoteError(
                    f"netplan already fits the present interfaces, but SSH is unreachable: {e.message}",
                    hint="check the guest's address, DHCP and sshd through the console "
                    "(invoke lab.console for the lab)",
                ) from None
        return outcome
    _fill_plan(outcome, decision)
    for line in decision.changes:
        log(f"  {line}")
    if opts.dry_run:
        outcome.action = "dry-run"
        return outcome
    way = write_config(shell, decision, opts, stamp, log)
    outcome.backups = list(way.backups.values())
    if isinstance(shell, ConsoleShell) and not decision.has_bonds_or_bridges:
        ssh, seconds, method = apply_with_netplan_try(shell, way, guest, opts, log)
    else:
        ssh, seconds = apply_with_timer(shell, way, guest, opts, log)
        why = (
            " (bonds/bridges: netplan try refuses them)" if on_console else " (netplan try needs a terminal)"
        )
        method = "netplan apply + revert timer" + why
    with ssh:
        outcome.interface, outcome.addresses = describe_network(ssh, guest, decision)
    outcome.action, outcome.apply_method, outcome.seconds_to_ssh = "fixed", method, seconds
    return outcome
