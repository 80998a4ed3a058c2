"""Benchmark (issue 13): the tool against the bare commands it stands for, on one lab guest, alternated in
one run (A B A B), ratio pair by pair, medians reported with the tool's own per-phase table.

    .venv/bin/pytest tests/bench/test_bench_ratios.py --benchmark-enable -s     # boots a guest (~1 min)
    GDA_BENCH_PAIRS=11 .venv/bin/pytest ...                                     # more pairs (default 5)

Pairs (the guest's 64 GiB NVMe disk blank before each format, ``wipefs -a`` untimed in between):

* ``gda format --fs ext4`` (first run, password sudo) against ``ssh guest 'sudo -S mkfs.ext4 -q -F DISK'``;
* ``gda format --dry-run``, the no-op rerun of ``gda format`` and ``gda disks`` against
  ``ssh guest 'sudo -S true'``.

The baselines use OpenSSH's client (``ssh``, BatchMode, the lab's key and known_hosts); the tool runs as the
installed ``gda`` with ``--json``, whose ``timings`` give the per-phase split (start, connect, sudo, facts,
decide, guard, mkfs, verify). The goals of the issue are 1.3x for the format and 1.2x for the others; the
module reports the median of the pairs' ratios and the ratio of the medians beside each goal, and asserts
what each command did (formatted, planned, no-op), not a time.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.bench.bench_support import benchmarks_enabled, openssh_argv
from tests.lab.conftest import Lab
from tests.lab.fleet_lab import GDA

SSH_PORT, CONSOLE_PORT = 2630, 4930
DISK = "/dev/nvme0n1"
PAIRS = max(1, int(os.environ.get("GDA_BENCH_PAIRS") or 5))
GOALS = {
    "format / bare mkfs": 1.3,
    "no-op rerun / sudo true": 1.2,
    "disks / sudo true": 1.2,
    "dry run / sudo true": 1.2,
}


@dataclass
class Bench:
    lab: Lab
    inventory: Path
    times: dict[str, list[float]] = field(default_factory=dict)
    phases: dict[str, list[dict[str, float]]] = field(default_factory=dict)

    def ssh_argv(self, command: str) -> list[str]:
        return openssh_argv(self.lab, command)

    def bare(self, name: str, command: str) -> None:
        """Time ``ssh guest 'sudo -S -p "" COMMAND'``, the password on stdin."""
        pw = self.lab.secrets["admin"] + "\n"
        t0 = time.monotonic()
        r = subprocess.run(
            self.ssh_argv(f"sudo -S -p '' {command}"), input=pw, capture_output=True, text=True, check=False
        )
        self.times.setdefault(name, []).append(time.monotonic() - t0)
        assert r.returncode == 0, r.stderr

    def gda(self, name: str, *args: str) -> dict[str, Any]:
        """Time the installed ``gda ARGS --json``; keep its timings."""
        argv = [GDA, *args, "--json", "--inventory", str(self.inventory)]
        t0 = time.monotonic()
        r = subprocess.run(argv, env=self.lab.env(), capture_output=True, text=True, check=False)
        self.times.setdefault(name, []).append(time.monotonic() - t0)
        assert r.returncode == 0, r.stdout + r.stderr
        data: dict[str, Any] = json.loads(r.stdout)
        if isinstance(data.get("timings"), dict):
            self.phases.setdefault(name, []).append(data["timings"])
        return data

    def wipe(self) -> None:
        pw = self.lab.secrets["admin"] + "\n"
        r = subprocess.run(
            self.ssh_argv(f"sudo -S -p '' wipefs -q -a {DISK}"), input=pw, capture_output=True, text=True
        )
        assert r.returncode == 0, r.stderr


@pytest.fixture(scope="module")
def bench(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bench]:
    if not benchmarks_enabled(request.config):
        pytest.skip("benchmarks run with --benchmark-enable (this one boots the lab guest)")
    if shutil.which("ssh") is None:
        pytest.skip("the baselines need OpenSSH's ssh client")
    from agent.lab import lifecycle as lab_ops

    lab_ops.build()  # a cache hit once the image exists
    lab = Lab(state=tmp_path_factory.mktemp("ratio-lab"), ssh_port=SSH_PORT, console_port=CONSOLE_PORT)
    try:
        lab.boot(disk1=True, disk1_size="64G", nic_slot=5)
        inv = lab.inventory(
            tmp_path_factory.mktemp("ratio-inv"), guest_extra="    disk:\n      serial: Y39B70RTK7AS\n"
        )
        yield Bench(lab, inv)
    finally:
        lab.down()


def ratios(b: Bench, tool: str, base: str) -> list[float]:
    return [t / s for t, s in zip(b.times[tool], b.times[base], strict=True)]


def phase_medians(rows: list[dict[str, float]]) -> dict[str, float]:
    keys = dict.fromkeys(k for r in rows for k in r)
    return {k: round(statistics.median(r.get(k, 0.0) for r in rows), 3) for k in keys}


@pytest.mark.lab
def test_bench_format_and_reads_against_the_bare_commands(benchmark: Any, bench: Bench) -> None:
    fs_args = ("format", "--fs", "ext4")

    def experiment() -> None:
        for _ in range(PAIRS):
            bench.wipe()
            bench.bare("bare mkfs", f"mkfs.ext4 -q -F {DISK}")
            bench.wipe()
            done = bench.gda("format", *fs_args)
            assert done["action"] == "formatted" and done["uuid"], done
            bench.bare("sudo true", "true")
            noop = bench.gda("no-op rerun", *fs_args)
            assert noop["action"] == "nothing-to-do" and noop["uuid"] == done["uuid"], noop
            bench.bare("sudo true 2", "true")
            disks = bench.gda("disks", "disks")
            assert any(d.get("name") == "nvme0n1" for d in disks.get("disks", [])), disks
            bench.wipe()
            bench.bare("sudo true 3", "true")
            dry = bench.gda("dry run", *fs_args, "--dry-run")
            assert dry["action"] == "dry-run", dry

    benchmark.pedantic(experiment, rounds=1, iterations=1)
    named = {
        "format / bare mkfs": ("format", "bare mkfs"),
        "no-op rerun / sudo true": ("no-op rerun", "sudo true"),
        "disks / sudo true": ("disks", "sudo true 2"),
        "dry run / sudo true": ("dry run", "sudo true 3"),
    }
    pairs = {k: ratios(bench, tool, base) for k, (tool, base) in named.items()}
    of_medians = {
        k: statistics.median(bench.times[tool]) / statistics.median(bench.times[base])
        for k, (tool, base) in named.items()
    }
    report: dict[str, Any] = {
        "seconds (median)": {k: round(statistics.median(v), 3) for k, v in bench.times.items()},
        "ratios": {k: [round(x, 2) for x in v] for k, v in pairs.items()},
        "median ratios": {k: round(statistics.median(v), 2) for k, v in pairs.items()},
        "ratios of the medians": {k: round(v, 2) for k, v in of_medians.items()},
        "goals": {
            k: {"goal": GOALS[k], "median ratio met": statistics.median(v) <= GOALS[k]}
            for k, v in pairs.items()
        },
        "pairs": PAIRS,
        "phases (median)": {k: phase_medians(v) for k, v in bench.phases.items()},
    }
    benchmark.extra_info.update(report)
    print("\n" + json.dumps(report, indent=2))
    assert all(x > 0 for v in pairs.values() for x in v)
