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

import shlex
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import IO, Any

from tenacity import retry, retry_if_exception_type, stop_after_delay, wait_exponential

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
from agent.ops.guest import console_password, ssh_session
from agent.ops.shells import ConsoleShell, RootShell, SshShell, console_shell
from agent.remote.ssh import SshSession, SshUnreachable

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
        return dict(self.__dict__)


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
        return ssh_session(guest, accept_new_host_key=opts.accept_new_host_key, connect_timeout=4).open()

    return attempt()


def _q(s: str) -> str:
    return shlex.quote(s)


def write_config(
    shell: RootShell, plan: RepairPlan, opts: FixOptions, stamp: str, log: Log
) -> dict[str, str]:
    """Back up, write (mode 0600), validate with ``netplan generate``; restore on failure. {path: backup}."""
    backups: dict[str, str] = {}
    for path in plan.files:
        backup = f"{path}.bak.{stamp}"
        rc, out = shell.sh(f"cp -p {_q(path)} {_q(backup)}")
        if rc != 0:
            raise RemoteError(f"could not back up {path}: {out.strip()}")
        backups[path] = backup
    log(f"backed up: {', '.join(backups.values())}")
    for path, text in plan.files.items():
        shell.write_file(path, text.encode(), 0o600)
    rc, out = shell.sh(VALIDATE_IN_SCRATCH_ROOT)
    if rc != 0:
        restore(shell, backups)
        raise RemoteError(
            f"netplan generate rejected the new configuration; the original is restored:\n{out.strip()}"
        )
    if opts.pin_cloud_init:
        shell.sh(f"mkdir -p {_q(CLOUD_INIT_DISABLE_PATH.rsplit('/', 1)[0])}")
        shell.write_file(CLOUD_INIT_DISABLE_PATH, cloud_init_disable_config().encode(), 0o644)
        log(f"wrote {CLOUD_INIT_DISABLE_PATH}: cloud-init will leave the network config alone")
    return backups


#: ``netplan generate`` of /etc/netplan (and /run/netplan, /lib/netplan) in a scratch root dir: it validates
#: the new files without touching /run/systemd/network. ``netplan try`` backs up /run's generated config and
#: reverts to it; generating in place first would make that backup the *new* config and the revert a no-op.
VALIDATE_IN_SCRATCH_ROOT = (
    't=$(mktemp -d) || exit 1; mkdir -p "$t/etc" "$t/run" "$t/lib" && cp -a /etc/netplan "$t/etc/" '
    '&& { [ ! -d /run/netplan ] || cp -a /run/netplan "$t/run/"; } '
    '&& { [ ! -d /lib/netplan ] || cp -a /lib/netplan "$t/lib/"; } '
    '&& netplan generate --root-dir "$t"; rc=$?; rm -rf "$t"; exit $rc'
)


def restore(shell: RootShell, backups: dict[str, str]) -> None:
    script = " && ".join(f"cp -p {_q(b)} {_q(p)}" for p, b in backups.items())
    rc, out = shell.sh(script)
    if rc != 0:
        raise RemoteError(
            f"restoring the backup failed: {out.strip()}; backups: {', '.join(backups.values())}"
        )


def _revert_script(backups: dict[str, str]) -> str:
    return " && ".join(f"cp -p {_q(b)} {_q(p)}" for p, b in backups.items()) + " && netplan apply"


def apply_with_timer(
    shell: RootShell, backups: dict[str, str], guest: Guest, opts: FixOptions, stamp: str, log: Log
) -> tuple[SshSession, float]:
    """``netplan apply`` guarded by a transient timer that restores the backup unless cancelled."""
    unit = f"gda-netplan-revert-{stamp.lower()}"
    fire = int(opts.deadline + 15)
    rc, out = shell.sh(
        f"systemd-run --quiet --unit={unit} --on-active={fire}s /bin/sh -c {_q(_revert_script(backups))}"
    )
    if rc != 0:
        restore(shell, backups)
        raise RemoteError(f"could not arm the revert timer (systemd-run): {out.strip()}; original restored")
    log(f"revert timer armed on the guest: {unit}.timer restores the old config in {fire}s unless cancelled")
    t0 = time.monotonic()
    try:
        rc, out = shell.sh("netplan apply", timeout=120)
    except SshUnreachable:
        rc, out = 0, ""  # the apply may cut the very connection that runs it
    if rc != 0:
        shell.sh(f"systemctl start {unit}.service")
        raise RemoteError(f"netplan apply failed; the old configuration was restored:\n{out.strip()}")
    try:
        ssh = wait_for_ssh(guest, opts, opts.deadline, log)
    except SshUnreachable:
        if isinstance(shell, ConsoleShell):
            shell.sh(f"systemctl start {unit}.service")
            raise RemoteError(
                f"SSH did not come back within {opts.deadline:g}s of the apply: the old "
                "configuration was restored through the console"
            ) from None
        raise RemoteError(
            f"SSH did not come back within {opts.deadline:g}s of the apply: the guest restores the "
            f"old configuration by itself within {fire}s ({unit}.timer)"
        ) from None
    seconds = time.monotonic() - t0
    ssh.run_as_root(f"systemctl stop {unit}.timer; systemctl reset-failed {unit}.service 2>/dev/null; true")
    return ssh, seconds


def apply_with_netplan_try(
    shell: ConsoleShell, backups: dict[str, str], guest: Guest, opts: FixOptions, stamp: str, log: Log
) -> tuple[SshSession, float, str]:
    """``netplan try`` on the console, confirmed with Enter only once the controller is back over SSH."""
    try_timeout = int(opts.deadline + 30)
    running = shell.session.start(f"netplan try --timeout {try_timeout}")
    idx = running.expect([r"Press ENTER before the timeout to accept"], timeout=120)
    if idx is None:
        status = running.exit_status
        if status == NETPLAN_TRY_NOT_SUPPORTED:
            log(
                "netplan try refuses this configuration (bonds/bridges, exit 78): "
                "using a revert timer instead"
            )
            ssh, secs = apply_with_timer(shell, backups, guest, opts, stamp, log)
            return ssh, secs, "netplan apply + revert timer"
        restore(shell, backups)
        raise RemoteError(
            f"netplan try failed (exit {status}); the original is restored:\n{running.output.strip()}"
        )
    t0 = time.monotonic()
    log(f"netplan try applied the new configuration; waiting up to {opts.deadline:g}s for SSH ...")
    try:
        ssh = wait_for_ssh(guest, opts, opts.deadline, log)
    except (SshUnreachable, AgentError) as e:
        running.send("\x03", shown="<Ctrl-C>")  # netplan try reverts at once
        result = running.wait(120)
        restore(shell, backups)
        shell.sh("netplan generate")
        why = e.message if isinstance(e, AgentError) else str(e)
        raise RemoteError(
            f"SSH did not come back within {opts.deadline:g}s of the apply ({why.splitlines()[0]}): "
            f"netplan try rolled the change back (exit {result.exit_status}) and the original file is "
            "restored",
            hint="check the mapping (inventory network.mac) and the guest's DHCP; the console transcript "
            "(--transcript FILE) shows what happened",
        ) from None
    seconds = time.monotonic() - t0
    # Confirm through the path that just came back: SIGUSR1 over the new SSH connection is netplan
    # try's "accept" (the [n] keeps pkill from matching the shell that runs it). Enter on the
    # console is the fallback.
    how = "SIGUSR1 over SSH"
    if ssh.run_as_root("pkill -USR1 -f '^[^ ]*python[^ ]* [^ ]*[n]etplan try'").exit_code != 0:
        running.send("\r", shown="<Enter>")
        how = "Enter on the console"
    result = running.wait(60)
    if result.exit_status != 0 or "Configuration accepted" not in result.output:
        ssh.close()
        raise RemoteError(
            f"netplan try did not accept the configuration (exit {result.exit_status}):\n"
            f"{result.output.strip()[-600:]}"
        )
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
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    if opts.via in ("auto", "ssh"):
        try:
            ssh = ssh_session(
                guest,
                accept_new_host_key=opts.accept_new_host_key,
                connect_timeout=4 if opts.via == "auto" else 10,
            ).open()
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
    backups = write_config(shell, decision, opts, stamp, log)
    outcome.backups = list(backups.values())
    if isinstance(shell, ConsoleShell) and not decision.has_bonds_or_bridges:
        ssh, seconds, method = apply_with_netplan_try(shell, backups, guest, opts, stamp, log)
    else:
        ssh, seconds = apply_with_timer(shell, backups, guest, opts, stamp, log)
        why = (
            " (bonds/bridges: netplan try refuses them)" if on_console else " (netplan try needs a terminal)"
        )
        method = "netplan apply + revert timer" + why
    with ssh:
        outcome.interface, outcome.addresses = describe_network(ssh, guest, decision)
    outcome.action, outcome.apply_method, outcome.seconds_to_ssh = "fixed", method, seconds
    return outcome
