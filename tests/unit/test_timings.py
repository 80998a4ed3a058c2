"""The per-phase table of ``gda format --timings`` (pure)."""

from __future__ import annotations

from agent.cli.timing_view import ordered, process_age, timings_lines, with_session_phases
from agent.ops.format_flow import phase_timings


def test_a_format_splits_the_guard_round_trip_by_the_guards_own_clock() -> None:
    t = phase_timings(
        facts_run=1.0,
        sudo=0.7,
        decide=0.001,
        guard_run=0.9,
        guest={"checks": 0.2, "mkfs": 0.3, "settle": 0.1, "verify": 0.05},
    )
    assert t == {"sudo": 0.7, "facts": 0.3, "decide": 0.001, "guard": 0.45, "mkfs": 0.3, "verify": 0.15}


def test_a_dry_run_has_no_guard_phases_and_nothing_goes_negative() -> None:
    t = phase_timings(facts_run=0.5, sudo=0.6, decide=0.0)
    assert t == {"sudo": 0.6, "facts": 0.0, "decide": 0.0}
    assert "guard" not in t


def test_the_table_lists_phases_in_order_with_shares_of_the_total() -> None:
    t = with_session_phases({"facts": 0.25, "sudo": 0.5, "x": 0.1}, start=0.25, connect=0.4)
    assert [k for k, _ in ordered(t)] == ["start", "connect", "sudo", "facts", "x"]
    lines = timings_lines(t, total=2.0)
    assert lines[0].split() == ["phase", "seconds", "share"]
    assert lines[1].split() == ["start", "0.250", "12.5%"]
    assert lines[-1].split() == ["total", "2.000"]


def test_the_process_age_is_read_from_proc() -> None:
    age = process_age()
    assert age is not None and 0 <= age < 24 * 3600
