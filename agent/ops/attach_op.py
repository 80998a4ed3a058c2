"""``gda attach``: pass a host partition through to the guest, the seed's manual trial and error done
right once (the steps and their order: agent.core.vmbhyve.attach_plan; the edit: conf_edit).

One SSH session to the FreeBSD host for the whole task (:class:`HostSide`): the first round trip is
check-vm-config's (agent.ops.host_check: the conf and the host facts of its ``/dev`` disks and the
device); any host error stops here (exit 1, nothing changed). The guest goes through its normal
transport, one session (agent.ops.attach_guest): its interfaces (whose MAC is which ``networkN``), then
fix-netplan's op with ``match_mac`` in that same session, then ``sync``. Then, per the plan's keys: the
backup (``cp -p`` after ``cmp`` with the bytes read: the conf has not changed since), the new conf
through the host transport's ``write_file`` (content on stdin, a temporary file renamed over it, the
mode kept), read back: the bytes written and vm-bhyve's reading of them (``verify_attach``); ``vm
stop``, ``vm list`` polled until Stopped and ``/dev/vmm/<vm>`` gone, ``vm start``, polled until
Running (a monotonic deadline, short back-off, no fixed sleep); SSH polled (bounded); the guest's disks
read: the serial must be there. ``format`` is only named as the next step, never run.

A failure after the conf was written and before ``vm start`` puts the original bytes back (exit 3);
after the start the conf stays (it is the one vm-bhyve runs). A rerun with the disk in the conf is a no-op
when everything fits (agent.ops.attach_report.rerun_problems), else refused. Failures carry the outcome
so far (:class:`AttachFailure`): ``--json`` shows the steps done on failure too.
"""

from __future__ import annotations

import shlex
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone

from agent.core.host.host_finding import refusal_text
from agent.core.vmbhyve.attach_plan import (
    AttachPlan,
    plan_attach,
    render_attach_plan,
    state_reached,
    vm_list_state,
)
from agent.core.vmbhyve.conf_edit import (
    AttachRequest,
    ConfEdit,
    nics_without_mac,
    plan_attach_edit,
    serial_for_device,
    verify_attach,
)
from agent.core.vmbhyve.vmconf import DiskConf, decode_conf
from agent.core.vmbhyve.vmfindings import Report
from agent.core.vmbhyve.vmslots import HostContext
from agent.errors import AgentError, ChangeFailed, Refused, RemoteError
from agent.hints import opt
from agent.ops import host_check as hc
from agent.ops.attach_guest import GuestSide
from agent.ops.attach_report import (
    AttachOutcome,
    backup_script,
    find_attached,
    next_steps,
    parse_ls_mode,
    rerun_problems,
    seen_disk,
    with_attach_serial,
)
from agent.ops.connect import Connector
from agent.ops.vm_check import check
from agent.transport.protocol import CommandProtocol

Log = Callable[[str], None]
STOP_WAIT = 120.0  # seconds for `vm stop` to end in Stopped, and for `vm start` to end in Running
SSH_WAIT = 300.0  # seconds for SSH after the start (a trixie guest under TCG boots in 90 s or more)
_BACKUP_EXITS = {10: "changed", 11: "exists"}


@dataclass(frozen=True)
class AttachOptions:
    device: str
    type: str = "nvme"
    serial: str | None = None
    dry_run: bool = False
    stop_wait: float = STOP_WAIT
    ssh_wait: float = SSH_WAIT
    fix_deadline: float = 90.0  # fix-netplan's: seconds after its apply for SSH to be back
    pins: dict[str, object] = field(default_factory=dict)  # the inventory's disk pins (serial, size_bytes)


@dataclass(frozen=True)
class HostSide:
    """The FreeBSD host's one session, the guest's vm-bhyve name there, and how to run vm-bhyve."""

    conn: CommandProtocol
    vm: str
    root: bool = False  # run as root through sudo (the host names sudo_password_env)
    vm_command: str = "vm"


class AttachFailure(Exception):
    """``error`` (the exit code is its own), with what attach had done so far."""

    def __init__(self, error: AgentError, outcome: AttachOutcome) -> None:
        super().__init__(error.message)
        self.error = error
        self.outcome = outcome


def wait_until(
    probe: Callable[[], tuple[bool, str]],
    seconds: float,
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    first: float = 0.25,
    most: float = 2.0,
) -> tuple[bool, str, int]:
    """Call ``probe`` (→ reached, what it saw) until it is reached or ``seconds`` have passed on
    ``clock``, waiting ``first`` seconds after the first miss, doubling up to ``most``, never past the
    deadline. Returns (reached, the last thing seen, the number of probes)."""
    deadline = clock() + seconds
    wait, polls = first, 0
    while True:
        reached, seen = probe()
        polls += 1
        left = deadline - clock()
        if reached or left <= 0:
            return reached, seen, polls
        sleep(min(wait, left))
        wait = min(wait * 2, most)


def _stamp() -> str:
    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")


@dataclass
class _Attach:
    host: HostSide
    guest_name: str
    connect: Callable[[], Connector] | None  # None: no inventory guest (a dry run with --host)
    opts: AttachOptions
    log: Log
    stamp: str
    out: AttachOutcome = field(init=False)
    guest: GuestSide = field(init=False)
    original: bytes = b""
    mode: int = 0o644
    written: bool = False
    started: bool = False

    def __post_init__(self) -> None:
        self.out = AttachOutcome(self.guest_name, self.host.vm, self.opts.device)
        self.guest = GuestSide(self.connect, self.log)

    # ------------------------------------------------------------------------------ the whole task
    def run(self) -> AttachOutcome:
        try:
            return self._run()
        except AgentError as e:
            raise AttachFailure(self._after(e), self.out) from None
        finally:
            self.guest.close()

    def _after(self, e: AgentError) -> AgentError:
        """The error to report: after a write and before the start, the original conf put back first."""
        self.out.action = "refused" if not self.written and e.exit_code == 1 else "failed"
        if not self.written or self.started:
            return e
        conf = self.out.conf_path or "the config"
        try:
            self.host.conn.write_file(conf, self.original, mode=self.mode)
            if self.host.conn.read_file(conf) != self.original:
                raise RemoteError(f"{conf} does not read back as the original")
        except AgentError as again:
            return ChangeFailed(
                f"{e.message}; putting the original {conf} back failed too: {again.message}",
                f"restore it by hand on the host: cp -p {self.out.backup} {conf}",
            )
        self.out.conf_restored = True
        self.out.step("restore", "done", f"{conf} holds its original bytes again ({self.out.backup} kept)")
        return ChangeFailed(f"{e.message}; {conf} was restored (nothing else of it changed)", e.hint)

    def _run(self) -> AttachOutcome:
        h, o = self.host, self.opts
        read = hc.read_host(h.conn, h.vm, [o.device], root=h.root)
        report = check(read.src, None)
        hr = hc.check_devices(read, report, [o.device])
        self.out.conf_path = f"{read.src.vm_dir}/{h.vm}.conf"
        self.out.host, self.out.host_lines = hr.to_json(), hr.lines()
        if not hr.ok:
            self.out.step("host-check", "failed", f"{sum(1 for c in hr.checks if not c.check.ok)} refused")
            raise Refused(*_host_refusal(hr))
        self.out.step("host-check", "done", f"{len(hr.checks)} device(s) may be passed through")
        assert read.facts is not None  # hr.ok: every device was checked
        canon = read.facts.names.canonical(o.device)
        names = {o.device} | {
            d.name
            for d in report.conf.disks
            if d.name and d.name.startswith("/dev/") and read.facts.names.canonical(d.name) == canon
        }
        size = next((c.check.size_bytes for c in hr.checks if c.check.provider == canon), None)
        self.out.size_bytes = size
        existing = find_attached(report.conf, names)
        if existing is not None:
            return self._rerun(existing, report, size, read.src.running)
        hr = with_attach_serial(hr, o.device, o.serial or serial_for_device(o.device), o.type)
        self.out.host, self.out.host_lines = hr.to_json(), hr.lines()
        if read.src.running is not True and not o.dry_run:
            raise Refused(
                f"{h.vm} is not running on {h.conn.label}: attach pins the guest's NIC by MAC over SSH "
                "before it restarts the guest with the disk",
                f"start it (`{h.vm_command} start {h.vm}`), then attach again ({opt('dry_run')} shows the "
                "plan meanwhile)",
            )
        guest_macs: dict[int, str] = {}
        missing = nics_without_mac(report.conf, report.plan)
        if not o.dry_run or missing:
            guest_macs = self._guest_macs(report)
        ctx = HostContext(vm_dir=read.src.vm_dir, vm_name=h.vm, zvol_dataset=read.src.zvol_dataset)
        aliases = tuple(sorted(names - {o.device}))
        edit = plan_attach_edit(
            read.src.text, AttachRequest(o.device, o.type, o.serial, aliases), ctx, stamp=self.stamp,
            nic_macs={i: guest_macs[i] for i in missing if i in guest_macs},
        )  # fmt: skip
        plan = plan_attach(
            edit, guest=self.guest_name, conf_path=self.out.conf_path, size_bytes=size,
            vm_command=h.vm_command, nic_macs=guest_macs,
        )  # fmt: skip
        self._planned(edit, plan, read.src.text)
        if o.dry_run:
            self.out.action = "dry-run"
            return self.out
        for step in plan.steps[1:]:
            self.log(f"{step.key}: {step.title}")
            t0 = time.monotonic()
            try:
                detail = self._do(step.key, edit, ctx)
            except AgentError as e:
                self.out.step(step.key, "failed", e.message, time.monotonic() - t0)
                raise
            self.out.step(step.key, "next" if step.key == "format" else "done", detail, time.monotonic() - t0)
        self.out.action = "attached"
        return self.out

    def _planned(self, edit: ConfEdit, plan: AttachPlan, text: str) -> None:
        o = self.out
        o.plan, o.plan_text, o.diff = plan.to_json(), render_attach_plan(plan), edit.diff
        o.disk_index, o.serial = edit.index, edit.serial
        o.backup = f"{o.conf_path.rsplit('/', 1)[0]}/{edit.backup_name}" if o.conf_path else None
        o.notes += list(edit.notes)
        o.next = next_steps(self.guest_name, edit.serial, o.size_bytes, self.opts.pins)
        self.original = text.encode("utf-8")

    # ------------------------------------------------------------------------------ the guest
    def _guest_macs(self, report: Report) -> dict[int, str]:
        return self.guest.nic_macs(report.plan)

    def _rerun(self, disk: DiskConf, report: Report, size: int | None, running: bool | None) -> AttachOutcome:
        guest_disks = self.guest.disks() if running else None
        rr = rerun_problems(
            disk, report.plan, type=self.opts.type, size_bytes=size, running=running, guest_disks=guest_disks
        )
        problems = list(rr.problems)
        if self.opts.serial and rr.serial not in (None, self.opts.serial):
            problems.append(f"its serial is {rr.serial}, not {self.opts.serial}")
        conf = f"{self.host.vm}.conf"
        where = f"disk{disk.index} of {conf} (disk{disk.index}_name on line {disk.lines.get('name')})"
        self.out.disk_index, self.out.serial = disk.index, rr.serial
        if problems:
            vm, cmd = self.host.vm, self.host.vm_command
            raise Refused(
                f"{self.opts.device} is already {where}, but " + "; ".join(problems),
                f"if the guest only needs a restart: `{cmd} stop {vm}`, wait for `{cmd} list` to say "
                f"Stopped, `{cmd} start {vm}` (not `{cmd} restart`: it keeps the old devices); otherwise "
                f"remove disk{disk.index}'s lines and attach again",
            )
        self.out.guest_device = rr.seen
        self.out.action = "already-attached"
        self.out.step("check-attached", "done", f"already {where}; the guest sees it as {rr.seen}")
        assert rr.serial is not None
        self.out.next = next_steps(self.guest_name, rr.serial, size, self.opts.pins)
        return self.out

    # ------------------------------------------------------------------------------ the steps
    def _do(self, key: str, edit: ConfEdit, ctx: HostContext) -> str:
        h, conf = self.host, self.out.conf_path
        assert conf is not None
        if key == "write-mac":
            self._backup()
            self._write(edit.with_macs)
            return f"{self.out.backup}; wrote {', '.join(x.strip() for x in edit.mac_lines)}"
        if key == "backup":
            self._backup()
            return str(self.out.backup)
        if key == "pin-nic":
            return self._pin()
        if key == "edit-conf":
            self._write(edit.text)
            return f"disk{edit.index} added ({len(edit.disk_lines)} lines)"
        if key == "verify-conf":
            after = verify_attach(
                decode_conf(h.conn.read_file(conf)), edit.before, ctx, index=edit.index, device=edit.device,
                type=edit.type,
            )  # fmt: skip
            d = after.disk(edit.index)
            where = f" at {d.slot}:{d.func}" if d else ""
            return f"vm-bhyve reads disk{edit.index} {edit.type} {edit.device}{where}"
        if key == "show-diff":
            self.log(edit.diff.rstrip("\n"))
            return f"{len(edit.mac_lines) + len(edit.disk_lines)} line(s) added"
        if key in ("stop", "start"):
            if key == "start":
                self.started = True  # from here on the conf stays: vm-bhyve may have read it
            r = h.conn.run(f"{h.vm_command} {key} {shlex.quote(h.vm)}", root=h.root, timeout=120)
            said = " ".join(r.output.split())[:300]
            if not r.ok:
                raise ChangeFailed(
                    f"`{h.vm_command} {key} {h.vm}` failed (exit {r.status}): {said or 'no message'}",
                    f"look at {ctx.vm_dir}/vm-bhyve.log on the host",
                )
            return said
        if key in ("wait-stopped", "wait-running"):
            return self._wait_state("Stopped" if key == "wait-stopped" else "Running")
        if key == "wait-ssh":
            return self._wait_ssh(edit.serial)
        if key == "format":
            return "not run: " + " ".join(self.out.next[:1])
        raise AssertionError(f"no step {key}")

    def _backup(self) -> None:
        conf, bak = self.out.conf_path, self.out.backup
        assert conf is not None and bak is not None
        r = self.host.conn.run(backup_script(conf, bak), root=self.host.root, stdin=self.original, timeout=60)
        why = _BACKUP_EXITS.get(r.status)
        if why == "changed":
            raise Refused(
                f"{conf} changed since attach read it (another edit, or vm-bhyve writing a MAC)",
                "attach again: it reads the config anew",
            )
        if why == "exists":
            raise Refused(f"{bak} exists already", "wait a second and attach again (the name has the time)")
        if not r.ok:
            raise RemoteError(f"backing up {conf} to {bak} failed: {' '.join(r.output.split())[:300]}")
        self.mode = parse_ls_mode(r.stdout) or self.mode

    def _write(self, text: str) -> None:
        conf = self.out.conf_path
        assert conf is not None
        data = text.encode("utf-8")
        self.written = True  # from here on a failure puts the original back
        self.host.conn.write_file(conf, data, mode=self.mode)
        if self.host.conn.read_file(conf) != data:
            raise ChangeFailed(f"{conf} does not read back as written")

    def _pin(self) -> str:
        fix = self.guest.pin(self.stamp, self.opts.fix_deadline)
        self.out.pin = fix.to_json()
        what = "pinned by MAC" if fix.action == "fixed" else "already pinned (nothing to fix)"
        return f"{what}; {fix.interface or '?'} {' '.join(fix.addresses)}; synced"

    def _wait_state(self, until: str) -> str:
        h = self.host
        vmm = shlex.quote(f"/dev/vmm/{h.vm}")
        script = f"{h.vm_command} list; if [ -e {vmm} ]; then echo '@@vmm yes'; else echo '@@vmm no'; fi"

        def probe() -> tuple[bool, str]:
            out = h.conn.run(script, root=h.root, timeout=60).stdout
            state = vm_list_state(out, h.vm)
            vmm_there = "@@vmm yes" in out.split("\n")
            done = state_reached(state, until) and vmm_there == (until == "Running")
            return done, f"{state or 'not listed'}, /dev/vmm/{h.vm} {'there' if vmm_there else 'gone'}"

        reached, seen, polls = wait_until(probe, self.opts.stop_wait)
        if not reached:
            raise ChangeFailed(
                f"{h.vm} is not {until} after {self.opts.stop_wait:g}s ({polls} polls of `{h.vm_command} "
                f"list`): {seen}",
                f"see `{h.vm_command} list` and {h.vm}'s vm-bhyve.log on the host"
                + (f"; `{h.vm_command} poweroff {h.vm}` if it hangs" if until == "Stopped" else ""),
            )
        return f"{seen} after {polls} poll(s)"

    def _wait_ssh(self, serial: str) -> str:
        secs = self.guest.wait_back(
            self.opts.ssh_wait,
            why=f"of the start (the config has the disk: {self.out.conf_path})",
            hint=f"look on the console (lab.console, or `{self.host.vm_command} console {self.host.vm}`); "
            f"fix-netplan {opt('via')} console repairs a renamed NIC",
        )
        disk = seen_disk(self.guest.disks(), serial)
        if disk is None:
            raise ChangeFailed(
                f"the guest runs with the new config but shows no disk with serial {serial}",
                f"see `lsblk -o NAME,SERIAL,SIZE` on the guest and {self.host.vm}'s vm-bhyve.log on the host",
            )
        self.out.guest_device = disk.path
        if self.out.size_bytes is not None and disk.size_bytes != self.out.size_bytes:
            self.out.notes.append(
                f"the guest's {disk.path} has {disk.size_bytes} bytes, the host reported "
                f"{self.out.size_bytes}"
            )
        return f"SSH back {secs:.1f}s after the start; the guest sees serial {serial} as {disk.path}"


def _host_refusal(hr: hc.HostReport) -> tuple[str, str]:
    """The message and hint of the first refused device."""
    for c in hr.checks:
        if c.check.ok:
            continue
        text = refusal_text(c.check)
        if text is not None:
            return text
        err = next(f for f in c.check.findings if f.severity == "error")
        return err.message, err.fix or "see the host checks above"
    return "the host checks refused", "see the host checks above"


def run_attach(
    host: HostSide,
    guest_name: str,
    connect: Callable[[], Connector] | None,
    opts: AttachOptions,
    *,
    log: Log,
    stamp: str | None = None,
) -> AttachOutcome:
    """The whole task (see the module's docstring); AttachFailure carries any error and the outcome so far."""
    return _Attach(host, guest_name, connect, opts, log, stamp or _stamp()).run()
