"""The fix-netplan task: repair netplan for a renamed NIC, apply it with a way back, reconnect over SSH.

Facts, then a pure decision (:func:`agent.core.net.repair_plan.plan_repair`), then commands, through one
:class:`agent.transport.protocol.CommandProtocol`: SSH when it answers, else the serial console (SSH is
down: the very thing to repair). The apply and its way back are :mod:`agent.ops.netplan_apply`; every
reconnection goes through the task's one :class:`agent.ops.connect.Connector`.
"""

from __future__ import annotations

import posixpath
import shlex
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import IO, Any

from agent.console.commands import ConsoleCommands
from agent.core.net.cloud_init import CLOUD_INIT_DISABLE_PATH, cloud_init_disable_config
from agent.core.net.netfacts import NetFacts, parse_netfacts, render_netfacts_script
from agent.core.net.repair_plan import NothingToFix, RepairPlan, plan_repair
from agent.errors import ChangeFailed, RemoteError, UsageError
from agent.hints import opt
from agent.inventory import Guest
from agent.ops.connect import Connector
from agent.ops.netplan_apply import TIMER_METHOD, Log, NetplanApply, WayBack
from agent.ops.ssh_or_console import ssh_or_console
from agent.transport.protocol import CommandProtocol
from agent.transport.ssh import SshUnreachable

VIA = ("auto", "ssh", "console")


@dataclass(frozen=True)
class FixOptions:
    via: str = "auto"  # auto | ssh | console
    match_mac: bool = False
    pin_cloud_init: bool = False
    deadline: float = 90.0  # seconds from the apply until SSH must be back
    dry_run: bool = False
    transcript: IO[str] | None = None


@dataclass
class FixOutcome:
    action: str  # fixed | nothing-to-fix | pinned (netplan fitted; only the cloud-init pin written) | dry-run
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
    new_config: dict[str, str] = field(default_factory=dict)  # file written from nothing -> its NIC

    def to_json(self) -> dict[str, Any]:
        data = dict(self.__dict__)
        if self.action != "dry-run":
            # the new YAML may carry access-point or 802.1x passwords: shown on request only
            data.pop("files")
        return data


def gather(cmd: CommandProtocol, guest: Guest) -> NetFacts:
    netplan_file = str(guest.network.netplan_file) if guest.network.netplan_file else None
    return _netfacts(cmd, render_netfacts_script(netplan_file), root=True, what="network state")


def _netfacts(cmd: CommandProtocol, script: str, *, root: bool, what: str) -> NetFacts:
    """The facts ``script`` prints through ``cmd``; RemoteError when it printed none of them."""
    r = cmd.run(script, root=root, timeout=60)
    if not r.ok and "@@GDA-NET" not in r.stdout:
        raise RemoteError(f"reading the guest's {what} through {cmd.label} failed: {r.output.strip()[-400:]}")
    return parse_netfacts(r.stdout)


def decide(facts: NetFacts, guest: Guest, opts: FixOptions) -> RepairPlan | NothingToFix:
    netplan_file = str(guest.network.netplan_file) if guest.network.netplan_file else None
    return plan_repair(
        facts.files,
        facts.interfaces,
        pinned_mac=guest.network.mac,
        match_mac=opts.match_mac,
        netplan_file=netplan_file,
    )


def describe_network(cmd: CommandProtocol, plan: RepairPlan) -> tuple[str | None, list[str]]:
    """The repaired or pinned interface (its final name) and its addresses, read back over the new SSH
    connection as its login user (``ip`` and sysfs need no root: no second sudo). A pure match-MAC plan
    has no repairs, only pins: report the pinned interface; a file written from nothing, the NIC of its
    new entry."""
    facts = _netfacts(cmd, render_netfacts_script(files=False), root=False, what="interfaces")
    wanted = (
        {r.final_name for r in plan.repairs}
        | {p.final_name for p in plan.pins}
        | {e.final_name for e in plan.new_entries}
    )
    for iface in facts.interfaces:
        if iface.is_physical and iface.addresses and (not wanted or iface.name in wanted):
            return iface.name, [str(a) for a in iface.addresses]
    return None, []


def _up_interface(facts: NetFacts) -> tuple[str | None, list[str]]:
    for iface in facts.interfaces:
        if iface.is_physical and iface.addresses:
            return iface.name, [str(a) for a in iface.addresses]
    return None, []


def run_fix(connector: Connector, opts: FixOptions, *, log: Log) -> FixOutcome:
    """The whole task: SSH first (unless ``via`` is console), the console when SSH is unreachable."""
    if opts.via not in VIA:
        raise UsageError(f"{opt('via')} takes auto, ssh or console")
    if opts.deadline <= 0:
        raise UsageError(f"{opt('deadline')} must be a positive number of seconds")
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    if opts.via == "ssh":
        with connector.ssh(connect_timeout=10).open() as ssh:
            return _Fix(connector, ssh, "ssh", opts, stamp, log).run()
    if opts.via == "auto":
        with ssh_or_console(connector, transcript=opts.transcript, log=log) as (via, cmd):
            if isinstance(cmd, ConsoleCommands):
                log(f"logged in on the serial console ({cmd.label}) as {cmd.user}")
            return _Fix(connector, cmd, via, opts, stamp, log).run()
    with connector.console(transcript=opts.transcript) as console:
        log(f"logged in on the serial console ({console.label}) as {console.user}")
        return _Fix(connector, console, "console", opts, stamp, log).run()


def fix_in_session(
    connector: Connector, cmd: CommandProtocol, opts: FixOptions, *, stamp: str, log: Log, via: str = "ssh"
) -> FixOutcome:
    """The repair in a session the caller already holds (``gda attach`` pins by MAC in its own)."""
    return _Fix(connector, cmd, via, opts, stamp, log).run()


@dataclass
class _Fix:
    connector: Connector
    cmd: CommandProtocol
    via: str
    opts: FixOptions
    stamp: str
    log: Log

    def run(self) -> FixOutcome:
        """Gather, decide, and (unless a dry run) write and apply."""
        guest = self.connector.guest
        if isinstance(self.cmd, ConsoleCommands):  # the scripts of a repair go over the slow line at once
            self.cmd.preload([render_netfacts_script(), WayBack("gda-preload", {}, 0).script("cancel")])
        facts = gather(self.cmd, guest)
        decision = decide(facts, guest, self.opts)
        outcome = FixOutcome("nothing-to-fix", self.via)
        if isinstance(decision, NothingToFix):
            outcome.notes = [decision.summary(), *decision.notes]
            outcome.interface, outcome.addresses = _up_interface(facts)
            if self.opts.pin_cloud_init:
                self._pin_only(outcome)
            if isinstance(self.cmd, ConsoleCommands):  # we came through the console because SSH failed
                self._ssh_must_answer()
            return outcome
        outcome.changes = list(decision.changes)
        outcome.renames = {old: iface.name for old, iface in decision.renames.items()}
        outcome.new_config = {e.path: e.interface.name for e in decision.new_entries}
        outcome.files = dict(decision.files)
        outcome.warnings = list(decision.warnings)
        for line in decision.changes:
            self.log(f"  {line}")
        if self.opts.dry_run:
            outcome.action = "dry-run"
            return outcome
        apply = NetplanApply(self.cmd, self.connector, self.opts.deadline, self.log)
        way = apply.write(decision, self.stamp, pin_cloud_init=self.opts.pin_cloud_init)
        outcome.backups = [backup for path, backup in way.backups.items() if path in decision.files]

        def report(ssh: CommandProtocol) -> tuple[str | None, list[str], str | None]:
            """The interface and its addresses over the new SSH session, or why not (a warning: the
            fix is done and SSH answers; reading it back is a report)."""
            try:
                return (*describe_network(ssh, decision), None)
            except RemoteError as e:
                return None, [], f"SSH is back, but reading the network over it failed: {e.message}"

        if isinstance(self.cmd, ConsoleCommands) and not decision.has_bonds_or_bridges:
            # the report is read while the console confirms
            ssh, seconds, method, (iface, addresses, why_not) = apply.with_netplan_try(
                self.cmd, way, meanwhile=report
            )
            ssh.close()
        else:
            ssh, seconds = apply.with_timer(way)
            on_console = isinstance(self.cmd, ConsoleCommands)
            why = (
                " (bonds/bridges: netplan try refuses them)"
                if on_console
                else " (netplan try needs a terminal)"
            )
            method = TIMER_METHOD + why
            if isinstance(self.cmd, ConsoleCommands):
                self.cmd.release()  # SSH is back and the way back cancelled: the console logs out meanwhile
            with ssh:
                iface, addresses, why_not = report(ssh)
        outcome.interface, outcome.addresses = iface, addresses
        outcome.warnings += [why_not] if why_not else []
        outcome.action, outcome.apply_method, outcome.seconds_to_ssh = "fixed", method, seconds
        return outcome

    def _pin_only(self, outcome: FixOutcome) -> None:
        """netplan fits, but the request includes the cloud-init pin: a no-op only when the pin file is
        there with its content; else write it (no netplan change, nothing to apply) and read it back."""
        want = cloud_init_disable_config()
        quoted = shlex.quote(CLOUD_INIT_DISABLE_PATH)
        if self.cmd.run(f"cat {quoted} 2>/dev/null", root=True).stdout == want:
            outcome.notes.append(f"{CLOUD_INIT_DISABLE_PATH} in place: cloud-init leaves the network alone")
            return
        outcome.changes = [f"write {CLOUD_INIT_DISABLE_PATH}: cloud-init then leaves the network alone"]
        if self.opts.dry_run:
            outcome.action = "dry-run"
            return
        self.cmd.run(f"mkdir -p {shlex.quote(posixpath.dirname(CLOUD_INIT_DISABLE_PATH))}", root=True)
        self.cmd.write_file(CLOUD_INIT_DISABLE_PATH, want.encode(), mode=0o644)
        if self.cmd.run(f"cat {quoted} && sync", root=True).stdout != want:
            raise ChangeFailed(f"{CLOUD_INIT_DISABLE_PATH} does not hold what was written to it")
        self.log(f"wrote {CLOUD_INIT_DISABLE_PATH}: cloud-init will leave the network config alone")
        outcome.action = "pinned"

    def _ssh_must_answer(self) -> None:
        """netplan already fits: SSH must answer (else netplan is not why it was unreachable)."""
        try:
            self.connector.wait_for_ssh(15).close()
        except SshUnreachable as e:
            raise SshUnreachable(
                f"netplan already fits the present interfaces, but SSH is unreachable: {e.message}",
                hint="check the guest's address, DHCP and sshd through the console "
                "(the lab.console task for the lab)",
            ) from None
