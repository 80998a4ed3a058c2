"""The disk entries of the data-file tests (``tests/facts/disk.facts``, ``tests/facts/disk.guard``).

``disk.facts``: ``output`` is the facts script's stdout as captured from a guest (``tests/fixtures/disks``
holds the same captures); optional ``fs`` (default ``ext4``), ``force``, ``pins`` (``device``,
``serial``, ``model``, ``size``) and ``host_path``. Result: per disk its name, size, serial, probe
state, verdict and reason codes/texts (as the disks task lists them), and what the selection decides
(a plan, "already formatted", or the error's kind and rendered message).

``disk.guard``: ``output`` is the guard script's stdout, ``exit_code`` its status, ``spec`` the
:class:`GuardSpec` fields (defaults below). Result: the interpreted success, or the error's class, kind,
exit code, message and hint (options rendered as the command line shows them).
"""

from __future__ import annotations

from typing import Any

from agent.core.disk.candidates import AlreadyFormatted, assess_all, make_pins, select_disk
from agent.core.disk.guard import GuardSpec, interpret_guard
from agent.core.disk.mkfs import parse_fs
from agent.core.disk.probe import parse_facts
from agent.errors import AgentError
from agent.hints import render_options

Case = dict[str, Any]


def _error(e: AgentError) -> dict[str, Any]:
    return {
        "class": type(e).__name__,
        "kind": e.kind,
        "exit_code": int(e.exit_code),
        "message": render_options(e.message),
        "hint": render_options(e.hint) if e.hint else None,
    }


def facts_case(case: Case) -> Any:
    facts = parse_facts(case["output"])
    fs = parse_fs(case.get("fs", "ext4"))
    force = bool(case.get("force", False))
    pins = make_pins(**case.get("pins", {}))
    disks = [
        {
            "name": v.disk.name,
            "path": v.disk.path,
            "size_bytes": v.disk.size_bytes,
            "serial": v.disk.serial,
            "stable_path": v.disk.stable_path(),
            "probe": v.disk.signatures.state.value,
            "state": v.state.value,
            "reasons": [{"code": r.code, "text": render_options(r.text)} for r in v.reasons],
            "notes": [render_options(n) for n in v.notes],
        }
        for v in assess_all(facts, fs, force=force, pins=pins)
    ]
    try:
        sel = select_disk(facts, fs, pins=pins, force=force, host_path=case.get("host_path"))
    except AgentError as e:
        selection: dict[str, Any] = {"error": _error(e)}
    else:
        if isinstance(sel, AlreadyFormatted):
            selection = {"already_formatted": sel.disk.name, "uuid": sel.uuid, "label": sel.label}
        else:
            selection = {
                "format": sel.disk.name,
                "device_path": sel.device_path,
                "expected_serial": sel.expected_serial,
                "expected_size_bytes": sel.expected_size_bytes,
                "expected_signatures": list(sel.expected_signatures),
            }
    return {
        "uid": facts.uid,
        "complete": facts.complete,
        "root_disks": list(facts.root_disks),
        "warnings": list(facts.warnings),
        "disks": disks,
        "selection": selection,
    }


_SPEC_DEFAULTS: dict[str, Any] = {
    "device_path": "/dev/disk/by-id/nvme-bhyve-NVMe_Y39B70RTK7AS_1",
    "fs": "ext4",
    "mkfs_argv": ["mkfs.ext4", "-L", "hostdata"],
    "expected_size_bytes": 274877906944,
    "expected_serial": "Y39B70RTK7AS",
}


def guard_case(case: Case) -> Any:
    fields = {**_SPEC_DEFAULTS, **case.get("spec", {})}
    fields["mkfs_argv"] = tuple(fields["mkfs_argv"])
    fields["expected_signatures"] = tuple(fields.get("expected_signatures", ()))
    spec = GuardSpec(**fields)
    try:
        res = interpret_guard(case["output"], int(case["exit_code"]), spec)
    except AgentError as e:
        return {"error": _error(e)}
    return {
        "result": {
            "device": res.device,
            "fs": res.fs,
            "uuid": res.uuid,
            "label": res.label,
            "mkfs_seconds": res.mkfs_seconds,
            "dumpe2fs": res.dumpe2fs is not None,
        }
    }
