# GENERATED from agent/core/vmbhyve/vmreport.py by `python -m agent.collection_build`: do not edit.
"""A check-vm-config Report as JSON data and as plain text lines (no colours: the caller adds them). Pure.

Options named in findings (``{opt:name}``) are spelled by ``style`` (default: the command line's
``--name``, agent.hints.cli_flag).
"""

from __future__ import annotations

from collections.abc import Callable

from ansible_collections.gda.bhyve.plugins.module_utils.gda.core.vmbhyve.finding import Finding, Report
from ansible_collections.gda.bhyve.plugins.module_utils.gda.core.vmbhyve.vmslots import GENERATED_MAC
from ansible_collections.gda.bhyve.plugins.module_utils.gda.hints import cli_flag, render_options

Style = Callable[[str], str]


def _finding_json(f: Finding, style: Style) -> dict[str, object]:
    return {
        "code": f.code,
        "severity": f.severity,
        "message": render_options(f.message, style),
        "fix": render_options(f.fix, style) if f.fix is not None else None,
        "line": f.line,
        "disk": f.disk,
        "nic": f.nic,
    }


def report_to_json(report: Report, style: Style = cli_flag) -> dict[str, object]:
    """A JSON-ready dict: ok, exit_code, vm {name, dir, zvol_dataset}, counts {error, warning, info},
    loader, uefi, excerpt, devices (the vm-bhyve.log devices string; None when vm-bhyve stops before
    bhyve), refusal (why vm-bhyve stops) and bhyve_error (why bhyve would refuse the devices), slots
    [...], disks [...] (every diskN the file mentions, attached or not), nics [...] (guest_name None when
    the guest will not start), skipped_nics [...], before {source, devices} | None, renames [...],
    findings [{code, severity, message, fix, line, disk, nic}], explanations [str]."""
    plan = report.plan
    disks: list[dict[str, object]] = []
    for d in report.conf.disks:
        p = plan.disk(d.index)
        disks.append(
            {
                "index": d.index,
                "name": d.name,
                "dev": d.dev,
                "type": d.type,
                "opts": d.opts,
                "lines": dict(d.lines),
                "attached": p is not None,
                "path": p.path if p else None,
                "slot": p.slot if p else None,
                "function": p.func if p else None,
                "ahci_port": p.ahci_port if p else None,
                "ignored_reason": next((i.reason for i in plan.ignored_disks if i.index == d.index), None),
            }
        )
    return {
        "ok": report.ok,
        "exit_code": report.exit_code,
        "vm": {"name": report.vm_name, "dir": report.vm_dir, "zvol_dataset": report.zvol_dataset},
        "counts": {s: report.count(s) for s in ("error", "warning", "info")},
        "loader": report.conf.loader,
        "uefi": plan.uefi,
        "excerpt": report.conf.is_excerpt,
        "devices": plan.devices_line() if plan.refusal is None else None,
        "refusal": plan.refusal,
        "bhyve_error": plan.bhyve_error,
        "slots": [
            {
                "slot": dev.slot,
                "function": dev.func,
                "emulation": dev.emulation,
                "args": dev.args,
                "kind": dev.kind,
                "disks": list(dev.disks),
                "nic": dev.nic,
                "device": dev.render(),
            }
            for dev in plan.devices
        ],
        "disks": disks,
        "nics": [
            {
                "index": n.index,
                "type": n.type,
                "tap": n.tap,
                "mac": None if n.mac == GENERATED_MAC else n.mac,
                "slot": n.slot,
                "function": n.func,
                "guest_name": n.guest_name if plan.starts else None,
            }
            for n in plan.nics
        ],
        "skipped_nics": [
            {"index": s.index, "reason": s.reason, "warning": s.warning} for s in plan.skipped_nics
        ],
        "before": (
            {"source": report.before_source, "devices": report.before_plan.devices_line()}
            if report.before_plan is not None
            else None
        ),
        "renames": [
            {
                "nic": r.index,
                "from": {"slot": r.before_slot, "function": r.before_func, "name": r.before_name},
                "to": {"slot": r.after_slot, "function": r.after_func, "name": r.after_name},
                "message": render_options(r.message, style),
            }
            for r in report.renames
        ],
        "findings": [_finding_json(f, style) for f in report.findings],
        "explanations": list(report.explanations),
    }


def _kind_note(dev: str) -> str:
    return {
        "file": "file in the VM's folder",
        "zvol": "zvol",
        "sparse-zvol": "sparse zvol",
        "custom": "custom: the name as written",
        "iscsi": "iscsi LUN",
    }.get(dev, f"unknown kind {dev!r}, read as file")


def render_report(report: Report, style: Style = cli_flag) -> list[str]:
    """Plain text lines for a terminal (the caller adds colours)."""
    plan = report.plan
    lines: list[str] = []
    counts = ", ".join(
        f"{report.count(s)} {s}{'s' if report.count(s) != 1 else ''}" for s in ("error", "warning")
    )
    lines.append(f"vm-bhyve config for {report.vm_name}: {counts}, {report.count('info')} info")
    lines.append(f"mode: {'UEFI' if plan.uefi else 'BIOS/loader'} (loader={report.conf.loader or '-'})")
    if plan.refusal is not None:
        lines.append(f"bhyve devices: none — {plan.refusal}")
    else:
        lines.append(f"bhyve devices: {plan.devices_line()}")
    if plan.bhyve_error is not None:
        lines.append(f"bhyve will not start: {plan.bhyve_error}")
    for p in plan.disks:
        where = f"{p.slot}:{p.func}" + (f" port {p.ahci_port}" if p.ahci_port is not None else "")
        lines.append(f"  disk{p.index}: {p.type} at {where} → {p.path} ({_kind_note(p.dev)})")
    for ig in plan.ignored_disks:
        lines.append(f"  disk{ig.index}: NOT ATTACHED — {ig.reason}")
    for n in plan.nics:
        guest = n.guest_name if plan.starts else "no name (the guest will not start)"
        lines.append(f"  network{n.index}: {n.type} at {n.slot}:{n.func} on {n.tap} → guest {guest}")
    for sk in plan.skipped_nics:
        lines.append(f"  network{sk.index}: NOT ATTACHED — {sk.reason} (vm-bhyve: {sk.warning})")
    if report.before_plan is not None:
        src = (
            "given"
            if report.before_source == "explicit"
            else "vm-bhyve.log"
            if report.before_source == "log"
            else f"this config without {(report.before_source or '').removeprefix('minus-')}"
        )
        lines.append(f"before ({src}): {report.before_plan.devices_line()}")
    for f in report.findings:
        where = " ".join(
            x
            for x in (
                f"line {f.line}" if f.line is not None else "",
                f"disk{f.disk}" if f.disk is not None else "",
                f"network{f.nic}" if f.nic is not None else "",
            )
            if x
        )
        message = render_options(f.message, style)
        lines.append(f"{f.severity.upper():7} {where + ': ' if where else ''}{message}")
        if f.fix:
            lines.append(f"        fix: {render_options(f.fix, style)}")
    lines.append("how vm-bhyve reads the disk settings:")
    lines += [f"  - {e}" for e in report.explanations]
    return lines
