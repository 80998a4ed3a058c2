"""The network core's data-file cases (tests/facts/net.*), registered in facts_registry.py.

``net.repair``: ``output`` is the netplan files ({path: text, or a list of lines that keep their line
endings}), ``interfaces`` the present interfaces (dicts of :class:`Interface` fields), ``options`` the
keywords of :func:`plan_repair` (``match_mac``, ``pinned_mac``, ``netplan_file``). The result is the plan
(changed files as lines; ``new_entries`` when a file is written from nothing), the nothing-to-fix answer, or
the error (``to_json()``: rendered message, hint, exit code).

``net.facts``: ``output`` is what ``agent/scripts/net_facts.sh`` printed; the result is the parsed
files and interfaces, or the error.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from agent.core.net.interfaces import Address, Interface
from agent.core.net.netfacts import parse_netfacts
from agent.core.net.repair_plan import NothingToFix, plan_repair
from agent.errors import AgentError
from agent.hints import render_options

Case = dict[str, Any]


def _text(value: str | list[str]) -> str:
    return value if isinstance(value, str) else "".join(value)


def _lines(text: str) -> list[str]:
    return text.splitlines(keepends=True)


def interface_from_json(data: dict[str, Any]) -> Interface:
    fields = dict(data)
    fields["addresses"] = tuple(Address(**a) for a in fields.get("addresses", ()))
    fields["altnames"] = tuple(fields.get("altnames", ()))
    return Interface(**fields)


def interface_to_json(iface: Interface) -> dict[str, Any]:
    return dataclasses.asdict(iface)


def repair_case(case: Case) -> Any:
    files = {path: _text(text) for path, text in case["output"].items()}
    interfaces = [interface_from_json(i) for i in case["interfaces"]]
    try:
        result = plan_repair(files, interfaces, **case.get("options", {}))
    except AgentError as err:
        return {"error": err.to_json()}
    if isinstance(result, NothingToFix):
        return {
            "action": "nothing-to-fix",
            "fits": [{"entry_id": f.entry_id, "interfaces": list(f.interfaces)} for f in result.fits],
            "notes": [render_options(n) for n in result.notes],
            "has_bonds_or_bridges": result.has_bonds_or_bridges,
        }
    data: dict[str, Any] = {
        "action": "repair",
        "files": {path: _lines(text) for path, text in result.files.items()},
        "renames": {old: iface.name for old, iface in result.renames.items()},
        "repairs": [
            {
                "entry_id": r.entry_id,
                "new_id": r.new_id,
                "old_name": r.old_name,
                "interface": r.interface.name,
                "final_name": r.final_name,
                "reason": r.reason,
                "paths": list(r.paths),
            }
            for r in result.repairs
        ],
        "pins": [
            {
                "entry_id": p.entry_id,
                "old_name": p.old_name,
                "interface": p.interface.name,
                "mac": p.mac,
                "final_name": p.final_name,
                "paths": list(p.paths),
            }
            for p in result.pins
        ],
        "changes": [render_options(c) for c in result.changes],
        "warnings": [render_options(w) for w in result.warnings],
        "has_bonds_or_bridges": result.has_bonds_or_bridges,
    }
    if result.new_entries:  # a file written from nothing (no ethernets entry existed at all)
        data["new_entries"] = [
            {
                "path": e.path,
                "entry_id": e.entry_id,
                "interface": e.interface.name,
                "final_name": e.final_name,
                "mac": e.mac,
                "reason": e.reason,
            }
            for e in result.new_entries
        ]
    return data


def facts_case(case: Case) -> Any:
    try:
        facts = parse_netfacts(_text(case["output"]))
    except AgentError as err:
        return {"error": err.to_json()}
    return {
        "files": {path: _lines(text) for path, text in facts.files.items()},
        "interfaces": [interface_to_json(i) for i in facts.interfaces],
    }
