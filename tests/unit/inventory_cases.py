"""The inventory's data-file cases (tests/facts/inventory.*), registered in facts_registry.py.

``inventory.groups``: ``output`` is an inventory.yaml's text; the result is, per guest, its groups and
every setting with a value as ``[value, from]`` (what ``gda inventory --list --json`` shows), or the
located problems as ``"line:column key.path: message"``.

``inventory.limit``: ``output`` is an inventory.yaml's text, ``limit`` a ``--limit`` pattern (optional),
``guests`` the ``--guest`` names (optional); the result is the selected guests in order, or the error
(rendered message and exit code).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from agent.cli.inventory_task import resolved_json
from agent.errors import UsageError
from agent.hints import render_options
from agent.inventory import Inventory, InventoryError
from agent.inventory.limit import select_guests
from agent.inventory.loader import Origins, load_inventory_with_origins

Case = dict[str, Any]


def _load(text: str) -> tuple[Inventory, Origins]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "inventory.yaml"
        path.write_text(text, encoding="utf-8")
        return load_inventory_with_origins(path)


def groups_case(case: Case) -> Any:
    try:
        inventory, origins = _load(case["output"])
    except InventoryError as exc:
        return {"problems": [f"{p.line}:{p.column} {p.key_path}: {p.message}" for p in exc.problems]}
    selected = select_guests(inventory)
    data = resolved_json(inventory, origins, selected)
    return {
        g["name"]: {
            "groups": g["groups"],
            "settings": {
                k: [s["value"], s["from"]] for k, s in g["settings"].items() if s["from"] != "default"
            },
        }
        for g in data["guests"]
    }


def limit_case(case: Case) -> Any:
    inventory, _ = _load(case["output"])
    try:
        chosen = select_guests(inventory, limit=case.get("limit"), guests=case.get("guests", ()))
    except UsageError as exc:
        return {"error": render_options(exc.message), "exit_code": int(exc.exit_code)}
    return {"selected": [s.name for s in chosen]}
