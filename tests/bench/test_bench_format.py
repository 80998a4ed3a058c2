"""Benchmarks for discovery: the facts round trip against the lab guest, and the pure parse+select.

    .venv/bin/pytest tests/bench --benchmark-enable          # both (boots the lab: ~15 s)
    .venv/bin/pytest tests/bench                               # the pure one runs once, as a test

The lab benchmark boots its own lab instance (private state folder, the test ports of
tests/lab/conftest.py: set GDA_TEST_SSH_PORT/GDA_TEST_CONSOLE_PORT when another lab uses them) and stops
it when the module is done, before tests/lab boots its own.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from agent.core.disk.candidates import FormatPlan, select_disk
from agent.core.disk.probe import parse_facts
from agent.ops import format_disk as fmt
from agent.transport.ssh import SshSession
from tests.bench.bench_support import benchmarks_enabled
from tests.lab.conftest import Lab
from tests.unit.disk_fixtures import fixture_text


@pytest.fixture(scope="module")
def bench_session(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SshSession]:
    """One open SSH session to a freshly booted lab guest with disk1 (the NIC kept at slot 5)."""
    if not benchmarks_enabled(request.config):
        pytest.skip("benchmarks run with --benchmark-enable (this one boots the lab guest)")
    from agent.lab import lifecycle as lab_ops

    lab_ops.build()  # a cache hit once the image exists
    the_lab = Lab(state=tmp_path_factory.mktemp("bench-lab-state"))
    try:
        the_lab.boot(disk1=True, nic_slot=5)
        with the_lab.ssh() as s:
            yield s
    finally:
        the_lab.down()


@pytest.mark.lab
def test_bench_gather_facts_round_trip(benchmark: Any, bench_session: SshSession) -> None:
    """The one sudo round trip of discovery (facts script under TCG) over an already open session."""
    facts = benchmark.pedantic(
        fmt.gather_facts, args=(bench_session,), rounds=5, iterations=1, warmup_rounds=1
    )
    assert facts.privileged
    plan = select_disk(facts, "ext4")
    assert isinstance(plan, FormatPlan) and plan.disk.serial == "Y39B70RTK7AS"


def test_bench_parse_and_select_lab_capture(benchmark: Any) -> None:
    """Pure parse_facts + select_disk on the real lab capture (fast; runs as a plain test when disabled)."""
    text = fixture_text("lab_blank_nvme")

    def parse_and_select() -> str:
        plan = select_disk(parse_facts(text), "ext4")
        assert isinstance(plan, FormatPlan)
        return plan.disk.name

    assert benchmark(parse_and_select) == "nvme0n1"
