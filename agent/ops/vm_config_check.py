"""check-vm-config's config and host checks in one call, as data for a front end other than the CLI.

The Ansible module ``gda.bhyve.vm_config`` runs this on the FreeBSD host itself (shipped as module_utils:
stdlib-only, like everything it imports): :func:`check_vm` reads the guest's vm-bhyve conf and the host
facts in one :meth:`~agent.transport.protocol.CommandProtocol.run` (agent.ops.host_check.read_host), checks
the conf as ``gda check-vm-config`` does (agent.ops.vm_conf_source.check) and every host device it passes
through plus the ``devices`` asked for (agent.ops.host_check.check_devices). :class:`VmConfigCheck` then
says what refuses (:attr:`~VmConfigCheck.refusals`: the conf's errors, each device that must not be passed
through, with the same message and fix as the CLI's) and carries everything as JSON-ready data, options
spelled by the caller's ``style`` (agent.hints).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from agent.core.host.host_finding import refusal_text
from agent.core.vmbhyve.vmfindings import Report
from agent.core.vmbhyve.vmreport import report_to_json
from agent.hints import cli_flag, render_options
from agent.ops.host_check import HostReport, check_devices, read_host
from agent.ops.vm_conf_source import check
from agent.transport.protocol import CommandProtocol

Style = Callable[[str], str]


def rendered(value: Any, style: Style) -> Any:
    """``value`` (JSON-ready data) with every ``{opt:name}`` in its strings spelled by ``style``."""
    if isinstance(value, str):
        return render_options(value, style)
    if isinstance(value, dict):
        return {k: rendered(v, style) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [rendered(v, style) for v in value]
    return value


@dataclass(frozen=True)
class Refusal:
    """One reason not to go on: what was found, what to do, and where (``conf`` or a device path)."""

    where: str
    message: str
    fix: str | None

    def text(self, style: Style = cli_flag) -> str:
        fix = f" (fix: {render_options(self.fix, style)})" if self.fix else ""
        return render_options(self.message, style) + fix


@dataclass(frozen=True)
class VmConfigCheck:
    """The conf's report and the host's, read in one round trip from ``origin``."""

    origin: str
    report: Report
    host: HostReport

    @property
    def refusals(self) -> tuple[Refusal, ...]:
        """The conf's errors, then every host device with an error (its refusal text: the pool or mount
        found, the partition to use instead). Warnings (a predicted NIC rename) are not refusals."""
        out = [Refusal("conf", f.message, f.fix) for f in self.report.findings if f.severity == "error"]
        for c in self.host.checks:
            text = refusal_text(c.check)
            if text is not None:
                out.append(Refusal(c.device.path, text[0], text[1]))
        if self.host.facts_error and not self.host.checks:
            out.append(Refusal("host", f"the host facts could not be read: {self.host.facts_error}", None))
        return tuple(out)

    @property
    def warnings(self) -> tuple[Refusal, ...]:
        """The conf's and the devices' warnings (the NIC rename the change causes is one)."""
        out = [Refusal("conf", f.message, f.fix) for f in self.report.findings if f.severity == "warning"]
        for c in self.host.checks:
            out += [Refusal(c.device.path, f.message, f.fix) for f in c.check.by_severity("warning")]
        return tuple(out)

    def to_json(self, style: Style = cli_flag) -> dict[str, Any]:
        """The CLI's ``--json`` shape (the conf's report, ``host``) plus ``origin``, ``renames`` as
        ``{old, new}`` guest names, ``refusals`` and ``warnings`` as texts."""
        conf = report_to_json(self.report, style)
        renames = [{"nic": r.index, "old": r.before_name, "new": r.after_name} for r in self.report.renames]
        return {
            "origin": self.origin,
            "ok": not self.refusals,
            "conf": conf,
            "host": rendered(self.host.to_json(), style),
            "renames": renames,
            "refusals": [r.text(style) for r in self.refusals],
            "warnings": [r.text(style) for r in self.warnings],
        }


def check_vm(
    conn: CommandProtocol,
    vm: str,
    devices: Sequence[str] = (),
    *,
    before: str | None = None,
    root: bool = False,
    conf_nonce: str | None = None,
    facts_nonce: str | None = None,
) -> VmConfigCheck:
    """``vm``'s conf and host devices (its own ``/dev`` disks and ``devices``) checked on the host
    ``conn`` runs on (``before``: a file there holding the conf before the change). UsageError for a bad
    name or device path, or a conf that cannot be read. The nonces are for replayed outputs (tests)."""
    read = read_host(conn, vm, devices, root=root, conf_nonce=conf_nonce, facts_nonce=facts_nonce)
    report = check(read.src, before)
    return VmConfigCheck(read.src.origin, report, check_devices(read, report, devices))
