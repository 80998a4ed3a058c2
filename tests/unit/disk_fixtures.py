"""Helpers shared by the disk tests: loading the captured/hand-made facts fixtures."""

from __future__ import annotations

from pathlib import Path

from agent.core.disk.devices import Disk, Facts
from agent.core.disk.probe import parse_facts

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "disks"


def fixture_text(name: str) -> str:
    """The raw text of ``tests/fixtures/disks/<name>.txt``."""
    return (FIXTURES / f"{name}.txt").read_text()


def load_facts(name: str) -> Facts:
    """Parse a facts fixture."""
    return parse_facts(fixture_text(name))


def disk(facts: Facts, name: str) -> Disk:
    """The disk called ``name`` (its name, kernel name or path; fails the test if absent)."""
    found = [d for d in facts.disks if name in (d.name, d.kname, d.path)]
    assert found, f"{name} not in {[x.name for x in facts.disks]}"
    return found[0]
