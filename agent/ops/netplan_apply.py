"""fix-netplan's apply, with a way back at every step (``agent/scripts/netplan_*.sh``).

* :meth:`NetplanApply.write`: stage the new files (hidden, next to theirs), then in ONE run on the guest
  validate the configuration as it will be with netplan's generator in a scratch root (in the
  background) while it backs up the files being changed and arms a transient systemd timer that
  restores them and re-applies the old configuration (armed *before* anything is changed: if the
  controller dies at any point, laptop asleep or console gone, the guest goes back by itself); only then
  put the staged files in place (mode 0600; synced by the confirmation's cancel: until then a reboot
  restores the old files anyway). A rejected configuration changes nothing; files
  that cannot be put in place are undone at once.
* :meth:`NetplanApply.with_netplan_try` (on the console): ``netplan try`` in the foreground, confirmed only
  once the controller is back over SSH (Enter on the console, SIGUSR1 over the new connection as the
  fallback), the way back then removed through the console. If SSH does not come back before the
  deadline, Ctrl-C makes ``netplan try`` revert at once.
* :meth:`NetplanApply.with_timer`: ``netplan try`` refuses bonds and bridges (exit 78), and over SSH its
  stdin would be at end-of-file (it reverts at once), so there ``netplan apply`` runs under the timer,
  cancelled once SSH is back.

A change rolled back raises :class:`agent.errors.ChangeFailed` (exit 3).
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import posixpath
import shlex
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from agent.console.commands import ConsoleCommands
from agent.console.console_io import ConsoleTimeout
from agent.console.session import RunningCommand
from agent.core.net.cloud_init import CLOUD_INIT_DISABLE_PATH, cloud_init_disable_config
from agent.core.net.repair_plan import RepairPlan
from agent.core.script_render import Value, render
from agent.errors import AgentError, ChangeFailed, RemoteError
from agent.hints import opt
from agent.ops.connect import Connector
from agent.transport.protocol import CommandProtocol
from agent.transport.ssh import SshSession, SshTimeout, SshUnreachable

Log = Callable[[str], None]
T = TypeVar("T")
NETPLAN_TRY_NOT_SUPPORTED = 78  # EX_CONFIG: netplan try refuses bonds and bridges
TRY_PROMPT = r"Press ENTER before the timeout to accept|Changes will revert in"
#: seconds netplan try has to accept after Enter before SIGUSR1 over SSH is tried
ACCEPT_WAIT = 15.0
TIMER_METHOD = "netplan apply + revert timer"
#: the way back's ``arm-install`` exit statuses: the backup failed (nothing armed, nothing changed), the
#: way back could not be armed (nothing changed), the generator rejected the new files (nothing changed,
#: the way back removed), they could not be put in place (the old files are back and the way back
#: removed), or that and putting the old files back failed too (the armed way back still restores them)
BACKUP_FAILED, ARM_FAILED, INVALID, INSTALL_FAILED, UNDO_FAILED = 3, 4, 5, 6, 7
ARM_INSTALL_EXITS = {"EXIT_BACKUP": BACKUP_FAILED, "EXIT_ARM": ARM_FAILED, "EXIT_INVALID": INVALID,
                     "EXIT_INSTALL": INSTALL_FAILED, "EXIT_UNDO": UNDO_FAILED}  # fmt: skip
#: characters systemd treats specially in a unit's command line (expansion, separators, escapes, quotes)
_UNIT_SPECIAL = frozenset("$;%\\\"'\n")
UNIT_DIR = "/etc/systemd/system"
#: where the way back's job script lives: it must survive a reboot (not /run)
STATE_DIR = "/var/lib/guest-disk-agent"


@dataclass(frozen=True)
class WayBack:
    """The backups of the files being changed, the guest's transient revert timer ``unit`` and the unit
    ``<unit>-boot.service`` that does the same at boot when the guest reboots before the confirmation."""

    unit: str
    backups: Mapping[str, str]  # path -> backup path (a path that did not exist: removed on the way back)
    fires_in: int
    unit_dir: str = UNIT_DIR
    state_dir: str = STATE_DIR
    netplan_root: str = ""  # where /etc/netplan and the others are validated from ("": the guest's)

    @property
    def boot_unit(self) -> str:
        return posixpath.join(self.unit_dir, f"{self.unit}-boot.service")

    def script(self, action: str) -> str:
        pairs = [word for path, backup in self.backups.items() for word in (path, backup)]
        words = [*pairs, self.unit_dir, self.state_dir]
        if any(ch in word for word in words for ch in _UNIT_SPECIAL):  # in the units' command lines
            raise RemoteError(
                f"no revert timer for a path with $ ; % \\ a quote or a newline in it: {' '.join(pairs)}"
            )
        values: dict[str, Value] = {"ACTION": action, "UNIT": self.unit, "FIRES_IN": self.fires_in,
                  "UNIT_DIR": self.unit_dir, "STATE_DIR": self.state_dir,
                  "ROOT": self.netplan_root}  # fmt: skip
        return render("netplan_wayback", values, argv=pairs, exit_codes=ARM_INSTALL_EXITS)

    def staged(self, path: str) -> str:
        """Where ``arm-install`` takes the new content of ``path`` from: hidden, next to it (the same
        filesystem: a rename), and not ``*.yaml`` (netplan never reads it). Pure."""
        directory, name = posixpath.split(path)
        return posixpath.join(directory, f".{name}.{self.unit}.new")

    def restore_now(self, cmd: CommandProtocol) -> None:
        """Put the old files back and regenerate (the running state is the caller's: netplan try's
        revert, or :meth:`fire_now`); remove the way back only when that worked."""
        r = cmd.run(self.script("restore"), root=True)
        if not r.ok:
            raise RemoteError(f"restoring the backup failed: {r.output.strip()}; backups: "
                              f"{', '.join(self.backups.values())}; the guest's {self.unit}.timer (and "
                              f"{self.boot_unit} at the next boot) still restores them")  # fmt: skip

    def fire_now(self, cmd: CommandProtocol) -> None:
        """Restore and re-apply the old configuration right away (the timer's own job, run now)."""
        cmd.run(self.script("fire"), root=True)

    def cancel(self, cmd: CommandProtocol) -> None:
        """Remove the way back (the change is confirmed); RemoteError when its boot unit stays behind."""
        r = cmd.run(self.script("cancel"), root=True)
        if not r.ok:
            raise RemoteError(
                f"the change is confirmed, but its way back could not be removed: {r.output.strip()}",
                hint=f"remove {self.boot_unit} on the guest, or the next boot restores the old configuration",
            )


@dataclass
class NetplanApply:
    """Write and apply a repair through ``cmd`` (SSH or the console); reconnect with ``connector``."""

    cmd: CommandProtocol
    connector: Connector
    deadline: float  # seconds from the apply until SSH must be back
    log: Log

    def write(self, plan: RepairPlan, stamp: str, *, pin_cloud_init: bool) -> WayBack:
        """Stage the new files, then back up, arm, validate and install in one run."""
        contents = {path: (text.encode(), 0o600) for path, text in plan.files.items()}
        if pin_cloud_init:
            contents[CLOUD_INIT_DISABLE_PATH] = (cloud_init_disable_config().encode(), 0o644)
        backups = {path: f"{path}.bak.{stamp}" for path in contents}
        way = WayBack(f"gda-netplan-revert-{stamp.lower()}", backups, int(self.deadline + 60))
        staged: list[str] = []
        started = False
        try:
            if pin_cloud_init:
                self.cmd.run(f"mkdir -p {shlex.quote(posixpath.dirname(CLOUD_INIT_DISABLE_PATH))}", root=True)
            files = [(way.staged(path), data, mode) for path, (data, mode) in contents.items()]
            staged = [path for path, _data, _mode in files]
            if isinstance(self.cmd, ConsoleCommands):
                # the files and the run as one typed line (on a root console): the run may have begun
                started = True
                r = self.cmd.write_files_then_run(files, way.script("arm-install"))
            else:
                for path, data, mode in files:
                    self.cmd.write_file(path, data, mode=mode)
                started = True
                r = self.cmd.run(way.script("arm-install"), root=True)  # one run
        except BaseException:
            self._undo(way, staged, started)
            raise
        output = r.output.strip()
        if r.status == UNDO_FAILED:
            raise ChangeFailed(
                f"the new configuration could not be put in place, and putting the old files back failed "
                f"too: {output}; the guest's {way.unit}.timer still restores them"
            )
        if r.status == BACKUP_FAILED:
            raise RemoteError(f"could not back up {', '.join(plan.files)}: {output}; nothing was changed")
        if r.status == INVALID:
            raise ChangeFailed(
                f"netplan generate rejected the new configuration; nothing was changed:\n{output}"
            )
        if r.status == INSTALL_FAILED:
            raise ChangeFailed(f"could not put the new files in place; the original is restored: {output}")
        if r.status == ARM_FAILED:
            raise RemoteError(f"could not arm the revert timer (systemd-run): {output}; nothing was changed")
        if not r.ok:  # not one of the script's own statuses: whatever it got to is undone
            self._undo(way, staged, started=True)
            raise ChangeFailed(f"writing the new configuration failed (exit {r.status}): {output}")
        self.log(f"backed up: {', '.join(backups.values())}")
        self.log(
            f"way back armed: {way.unit}.timer restores the old config in {way.fires_in}s unless confirmed "
            f"({way.boot_unit} at boot if the guest reboots first)"
        )
        if pin_cloud_init:
            self.log(f"wrote {CLOUD_INIT_DISABLE_PATH}: cloud-init will leave the network config alone")
        return way

    def _undo(self, way: WayBack, staged: list[str], started: bool) -> None:
        """After a failure of write(): the staged files go, and once the run started, whatever it got to
        (best effort; the armed way back still restores the old files if this fails)."""
        if staged:
            with contextlib.suppress(Exception):
                self.cmd.run("rm -f " + " ".join(shlex.quote(p) for p in staged), root=True)
        if started:
            with contextlib.suppress(Exception):
                way.restore_now(self.cmd)

    # ------------------------------------------------------------------------------------ netplan apply

    def with_timer(self, way: WayBack) -> tuple[SshSession, float]:
        """``netplan apply``, with the way back (the guest's timer) cancelled only over the new SSH
        connection."""
        t0 = time.monotonic()
        try:
            # netplan apply runs the generator and restarts networkd: seconds on hardware, up to a minute or
            # more under emulation on a busy host; the deadline is for SSH to come back afterwards
            r = self.cmd.run("netplan apply", root=True, timeout=max(120.0, self.deadline))
            status, output = r.status, r.output
        except (SshUnreachable, SshTimeout):
            status, output = 0, ""  # the apply may cut or stall the very connection that runs it
        if status != 0:
            way.fire_now(self.cmd)
            raise ChangeFailed(f"netplan apply failed; the old configuration was restored:\n{output.strip()}")
        try:
            ssh = self.connector.wait_for_ssh(self.deadline)
        except SshUnreachable:
            if isinstance(self.cmd, ConsoleCommands):
                way.fire_now(self.cmd)
                raise ChangeFailed(
                    f"SSH did not come back within {self.deadline:g}s of the apply: the old "
                    "configuration was restored through the console"
                ) from None
            raise ChangeFailed(
                f"SSH did not come back within {self.deadline:g}s of the apply: the guest restores the "
                f"old configuration by itself within {way.fires_in}s ({way.unit}.timer)"
            ) from None
        seconds = time.monotonic() - t0
        try:
            way.cancel(ssh)
        except BaseException:
            ssh.close()
            raise
        return ssh, seconds

    # ------------------------------------------------------------------------------------ netplan try

    def with_netplan_try(
        self, console: ConsoleCommands, way: WayBack, *, meanwhile: Callable[[SshSession], T]
    ) -> tuple[SshSession, float, str, T]:
        """``netplan try`` on the console, confirmed only once the controller is back over SSH; while the
        console confirms, ``meanwhile`` runs over the new SSH session (the report: the guest has two
        things to do at once instead of one after the other). Whatever goes wrong (an error, Ctrl-C
        here) interrupts netplan try, which reverts, and puts the old files back."""
        # exec: Ctrl-C reaches netplan try itself, and the console waits for its revert to finish
        running = console.start(f"exec netplan try --timeout {int(self.deadline + 30)}", root=True)
        try:
            return self._confirm_try(console, running, way, meanwhile)
        except BaseException:
            if running.status is None:
                with contextlib.suppress(Exception):
                    running.send("\x03", shown="<Ctrl-C>")  # netplan try reverts at once
                    running.wait(120)
            if "Configuration accepted" not in running.output:
                with contextlib.suppress(Exception):
                    way.restore_now(console)
            raise

    def _confirm_try(
        self,
        console: ConsoleCommands,
        running: RunningCommand,
        way: WayBack,
        meanwhile: Callable[[SshSession], T],
    ) -> tuple[SshSession, float, str, T]:
        idx = running.expect([TRY_PROMPT], timeout=120)
        if idx is None:
            if running.status == NETPLAN_TRY_NOT_SUPPORTED:
                self.log(
                    "netplan try refuses this configuration (bonds/bridges, exit 78): "
                    "applying with the way back"
                )
                ssh, secs = self.with_timer(way)
                try:
                    return ssh, secs, TIMER_METHOD, meanwhile(ssh)
                except BaseException:
                    ssh.close()
                    raise
            raise ChangeFailed(
                f"netplan try failed (exit {running.status}); the original is restored:\n"
                f"{running.output.strip()}"
            )
        t0 = time.monotonic()
        self.log(f"netplan try applied the new configuration; waiting up to {self.deadline:g}s for SSH ...")
        try:
            ssh = self.connector.wait_for_ssh(self.deadline)
        except AgentError as e:
            raise ChangeFailed(
                f"SSH did not come back within {self.deadline:g}s of the apply "
                f"({e.message.splitlines()[0]}): "
                "netplan try rolled the change back and the original file is restored",
                hint="check the mapping (inventory network.mac) and the guest's DHCP; the console transcript "
                f"({opt('transcript')} FILE) shows what happened",
            ) from None
        seconds = time.monotonic() - t0
        pool = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="gda-meanwhile")
        report = pool.submit(meanwhile, ssh)
        pool.shutdown(wait=False)
        try:
            # SSH is back (a session authenticated): accept where netplan try runs, with Enter on the
            # console, and remove the way back there too (the console is root already; SSH's sudo is not
            # needed for the confirmation). SIGUSR1 over SSH, netplan try's other "accept", is the fallback.
            how, by_enter = "Enter on the console", True
            running.send("\r", shown="<Enter>")
            try:
                result = running.wait(ACCEPT_WAIT)
            except ConsoleTimeout:
                how, by_enter = "SIGUSR1 over SSH", False  # confirm-try removes the way back itself
                concurrent.futures.wait([report])  # the session is the confirmation's alone now
                if not ssh.run(way.script("confirm-try"), root=True).ok:
                    raise ChangeFailed("netplan try took neither Enter on the console nor SIGUSR1") from None
                result = running.wait(60)
            if result.status != 0 or "Configuration accepted" not in result.output:
                raise ChangeFailed(
                    f"netplan try did not accept the configuration (exit {result.status}):\n"
                    f"{result.output.strip()[-600:]}"
                )
            if by_enter:
                way.cancel(console)
            console.release()  # accepted and the way back removed: the console logs out meanwhile
            return ssh, seconds, f"netplan try, confirmed with {how} once SSH was back", report.result()
        except BaseException:
            ssh.close()  # a report still running ends with it
            raise
