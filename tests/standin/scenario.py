"""The tests' scenarios of the stand-in FreeBSD host (scenarios/*.json here); the code that reads them
moved into the package, agent/lab/standin/scenario.py (re-exported here, so the old imports work).

``seed.json`` here extends the package's seed (``"extends": "package:seed"``) with the tests' original
of the guest's conf, tests/fixtures/vmbhyve/xdev.conf."""

from __future__ import annotations

from pathlib import Path

from agent.lab.standin import scenario as package
from agent.lab.standin.scenario import device_paths, file_bytes, load_state, read_scenario

__all__ = ["HERE", "REPO", "SCENARIOS", "TOOLS", "device_paths", "file_bytes", "load_state", "read_scenario",
           "scenario_path"]  # fmt: skip

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
SCENARIOS = HERE / "scenarios"
TOOLS = REPO / "tests" / "tools"


def scenario_path(name: str) -> Path:
    """The tests' scenario ``name``, else the package's."""
    mine = SCENARIOS / f"{name}.json"
    return mine if mine.is_file() else package.scenario_path(name)
