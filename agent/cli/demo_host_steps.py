"""The host-first demo's steps (agent/cli/demo_story.py sets the stage): each one calls the op its task
calls (agent.ops.host_check, attach_op, format_disk, host_verify_op), prints what the task prints and
checks that the story went as it must (a step that does not is an error naming what it found)."""

from __future__ import annotations

import shlex
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.cli.demo_story import BOOT_WAIT, P3, P4, VM, say, step
from agent.cli.emit import out
from agent.cli.host_tasks import _host_lines
from agent.cli.render import format_summary
from agent.errors import AgentError
from agent.inventory import load_inventory
from agent.lab import control
from agent.lab.paths import StatePaths
from agent.lab.standin.host import StandinHost
from agent.lab.standin.stubs import vm_lab
from agent.ops import attach_op, host_check
from agent.ops import format_disk as fmt
from agent.ops import host_verify_op as hv
from agent.ops import host_verify_report as hvr
from agent.ops.connect import Connector
from agent.ops.vm_check import check
from agent.transport.ssh import SshSession, SshTarget

NICS = (
    "PCI='[0-9a-f]\\{4\\}:[0-9a-f]\\{2\\}:[0-9a-f]\\{2\\}\\.[0-7]'; "
    "ip -br link | awk '{print $1, $2}' | tr '\\n' ' '; echo; for d in /sys/class/net/*/device; do "
    'n=${d%/device}; echo "${n##*/} at $(readlink -f "$d" | grep -o "$PCI" | tail -n 1)"; done'
)  # the links, then each NIC's PCI address (a virtio NIC's device is virtioN under its PCI function)


def _nics(g: SshSession) -> tuple[str, str]:
    """(``ip -br link``'s names and states, each NIC's name and PCI address)."""
    links, *at = g.run(NICS).stdout.strip().split("\n")
    return links.strip(), ", ".join(a.strip() for a in at)


def _tail(path: Path, n: int = 6) -> str:
    try:
        return " | ".join(path.read_text(errors="replace").splitlines()[-n:])
    except OSError:
        return f"({path} is missing)"


@dataclass
class Story:
    host: StandinHost
    inventory: Path
    fs: str
    sp: StatePaths
    ssh_port: int

    def host_session(self) -> SshSession:
        h = self.host
        return SshSession(SshTarget(h.host, h.port, "root", identity_file=h.identity_file,
                                    known_hosts=h.known_hosts))  # fmt: skip

    def connector(self) -> Connector:
        _, guest = load_inventory(self.inventory).choose(VM)
        return Connector(guest)

    def tell(self) -> None:
        where = f"{self.host.host}:{self.host.port}"
        say(f"the host: a stand-in FreeBSD host, sshd on {where}, FreeBSD's commands answering from the "
            "seed's scenario (p3 freebsd-zfs in pool zdata, p4 linux-data)")  # fmt: skip
        say(f"the inventory of this story (rerun any step by hand with -i): {self.inventory}")
        with self.host_session() as hs:
            self.start(hs)
            self.refuse_p3(hs)
            self.check_p4(hs)
            outcome = self.attach(hs)
            uuid, label = self.format(outcome.serial)
            self.verify(hs, uuid, label)

    # ------------------------------------------------------------------------------ 0. the guest
    def start(self, hs: SshSession) -> None:
        step(0, f"the guest as it was: {VM}.conf without the disk; vm start {VM} on the host")
        r = hs.run(f"vm start {shlex.quote(VM)}", timeout=120)
        for line in r.stdout.splitlines():
            say(line)
        if not r.ok:
            raise AgentError(f"vm start {VM} failed (exit {r.status}): {' '.join(r.output.split())[:300]}")

        def up() -> tuple[bool, str]:
            lab = control.running_state(self.sp)
            log = self.host.workdir / "vm-lab.log"
            if lab is None and not vm_lab.booting(self.host.workdir):
                raise AgentError(f"the lab guest did not boot: {_tail(log)}",
                                 f"the boot's log: {log}; the console's: {self.sp.console_log}")  # fmt: skip
            banner = lab is not None and control.ssh_banner(self.ssh_port) is not None
            return banner, "SSH answers" if banner else "booting"

        t0 = time.monotonic()
        reached, seen, _ = attach_op.wait_until(up, BOOT_WAIT, most=3.0)
        if not reached:
            raise AgentError(f"the guest's SSH did not answer within {BOOT_WAIT:.0f}s ({seen})",
                             f"see the console log {self.sp.console_log}")  # fmt: skip
        with self.connector().wait_for_ssh(60) as g:
            links, at = _nics(g)
        say(f"booted in {time.monotonic() - t0:.0f}s; over SSH: {links} ({at})")

    # ------------------------------------------------------------------------------ 1, 2. the checks
    def host_checks(self, hs: SshSession, device: str) -> host_check.HostReport:
        read = host_check.read_host(hs, VM, [device])
        report = host_check.check_devices(read, check(read.src, None), [device])
        _host_lines(report.lines())
        return report

    def refuse_p3(self, hs: SshSession) -> None:
        step(1, f"the wrong partition: gda check-vm-config --guest {VM} --device {P3}")
        report = self.host_checks(hs, P3)
        (c,) = [c for c in report.checks if c.device.path == P3]
        if c.check.ok or c.check.suggestion != P4:
            raise AgentError(f"the host checks did not refuse {P3} suggesting {P4}: {report.lines()}")
        say(f"refused: {P3} is pool zdata's; the check names {c.check.suggestion} instead")

    def check_p4(self, hs: SshSession) -> None:
        step(2, f"the right one: gda check-vm-config --guest {VM} --device {P4}; gda attach --dry-run")
        report = self.host_checks(hs, P4)
        if not report.ok:
            raise AgentError(f"the host checks refused {P4}: {report.lines()}")
        opts = attach_op.AttachOptions(P4, dry_run=True)
        dry = attach_op.run_attach(attach_op.HostSide(hs, VM), VM, self.connector, opts, log=lambda _m: None)
        pin = next(s for s in (dry.plan or {}).get("steps", []) if s["key"] == "pin-nic")
        for r in pin["data"]["renames"]:
            say(f"predicted: network{r['nic']} {r['from']} → {r['to']} once {P4} is attached "
                "(the NVMe disk takes its slot): attach pins the NIC by MAC first")  # fmt: skip

    # ------------------------------------------------------------------------------ 3. attach
    def attach(self, hs: SshSession) -> Any:
        step(3, f"gda attach --guest {VM} --device {P4}")
        try:
            outcome = attach_op.run_attach(attach_op.HostSide(hs, VM), VM, self.connector,
                                           attach_op.AttachOptions(P4), log=say)  # fmt: skip
        except attach_op.AttachFailure as f:
            for line in f.outcome.lines():
                say(line)
            raise f.error from None
        for line in outcome.lines():
            say(line)
        if outcome.action != "attached" or not outcome.serial:
            raise AgentError(f"attach ended {outcome.action}, not attached")
        with self.connector().ssh() as g:
            links, at = _nics(g)
        say(f"SSH on the first try after the restart: {links} ({at}: netplan matches the NIC by MAC and "
            "gives it its old name)")  # fmt: skip
        return outcome

    # ------------------------------------------------------------------------------ 4. format
    def format(self, serial: str) -> tuple[str | None, str | None]:
        step(4, f"gda format --guest {VM} --fs {self.fs} --host-compat freebsd --serial {serial}")
        opts = fmt.FormatOptions(fs=self.fs, label="linux-data", host_compat="freebsd", serial=serial)
        connector = self.connector()
        with connector.ssh() as g:
            done = fmt.run_format(g, VM, connector.guest, opts, log=say)
        format_summary(done)
        return done.uuid, done.label

    # ------------------------------------------------------------------------------ 5. host-verify
    def verify(self, hs: SshSession, uuid: str | None, label: str | None) -> None:
        step(5, f"gda host-verify --guest {VM} --stop: what the host finds on {P4}")
        read = hv.read_verify(hs, VM, [], mount_test=True, stop=True)
        dev, origin = hv.choose_device(read, None)
        report = hvr.decide(read, dev, origin, hvr.expected_from(self.fs, label, uuid))
        _host_lines(hvr.lines(report))
        if not report.verified and self.fs == "ext4":
            raise AgentError(f"host-verify did not verify {dev}: {hvr.lines(report)}")
        out.print(f"  host image: {self.host.state()['images'].get(P4)}", markup=False)
