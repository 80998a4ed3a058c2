"""Data-file tests in the style of pyinfra's ``tests/facts/*/*.json`` (``make_fact_tests``).

Each folder ``tests/facts/<name>/`` holds cases for one pure function over captured guest output; each
``*.json`` case has at least ``"output"`` (what the guest printed, or the function's input) and
``"expected"`` (the JSON form of the result). ``tests/unit/facts_registry.py`` maps the folder name to
the function that turns a case into that JSON form. A new case is a new file; no test code changes.

Regenerate the expected value of one case after a deliberate change:
``GDA_UPDATE_FACTS=1 pytest tests/unit/test_facts_data.py -k NAME`` (then review the diff).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.unit.facts_registry import REGISTRY

FACTS = Path(__file__).resolve().parent.parent / "facts"


def _cases() -> list[tuple[str, Path]]:
    found = []
    for folder in sorted(p for p in FACTS.iterdir() if p.is_dir()):
        found += [(folder.name, case) for case in sorted(folder.glob("*.json"))]
    return found


CASES = _cases()


def test_every_folder_is_registered() -> None:
    folders = {p.name for p in FACTS.iterdir() if p.is_dir()}
    assert folders <= set(REGISTRY), f"unregistered fact folders: {sorted(folders - set(REGISTRY))}"
    assert CASES, "no fact cases found"


@pytest.mark.parametrize(("group", "case"), CASES, ids=[f"{g}/{c.stem}" for g, c in CASES])
def test_fact_case(group: str, case: Path) -> None:
    data = json.loads(case.read_text(encoding="utf-8"))
    assert "expected" in data, f"{case}: no 'expected'"
    got = json.loads(json.dumps(REGISTRY[group](data), sort_keys=True, default=str))
    if os.environ.get("GDA_UPDATE_FACTS") and got != data["expected"]:
        data["expected"] = got
        case.write_text(
            json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8"
        )
    assert got == data["expected"]
