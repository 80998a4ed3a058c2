"""The pure fleet decisions, as data cases: ``--batch`` (Ansible's ``serial:``) parsing and batching, the
``--max-fail-percentage`` / all-failed stop, the worst exit code."""

from __future__ import annotations

import pytest

from agent.errors import UsageError
from agent.fleet.batches import batches, parse_batch, parse_max_fail, stop_reason, worst_code
from agent.hints import render_options

NAMES = [f"g{i}" for i in range(1, 11)]  # ten guests

# (--batch text, number of guests, the batch sizes Ansible's _get_serialized_batches gives)
BATCH_CASES = [
    ("1", 3, [1, 1, 1]),
    ("2", 5, [2, 2, 1]),
    ("10", 3, [3]),  # more than there are: one batch of all
    ("50%", 10, [5, 5]),
    ("30%", 10, [3, 3, 3, 1]),
    ("25%", 10, [2, 2, 2, 2, 2]),  # floored: 2.5 -> 2
    ("10%", 4, [1, 1, 1, 1]),  # floored to 0, at least 1
    ("100%", 7, [7]),
    ("1,5,20%", 10, [1, 5, 2, 2]),  # the last value repeats
    ("1, 2", 6, [1, 2, 2, 1]),  # blanks around values are fine
    ("3,1", 2, [2]),  # the first batch takes all
]


@pytest.mark.parametrize(("text", "total", "sizes"), BATCH_CASES, ids=[f"{c[0]}/{c[1]}" for c in BATCH_CASES])
def test_batches_follow_ansible_serial(text: str, total: int, sizes: list[int]) -> None:
    names = NAMES[:total]
    got = batches(names, parse_batch(text))
    assert [len(b) for b in got] == sizes
    assert [n for b in got for n in b] == names, "every guest once, in order"


def test_no_batch_is_one_batch_of_all() -> None:
    assert batches(NAMES[:3]) == [("g1", "g2", "g3")]
    assert batches([]) == []


BAD_BATCH = [
    ("", "takes N, N% or a comma list"),
    ("0", "a batch has at least 1 guest"),
    ("0%", "is not a percent 1%..100%"),
    ("150%", "is not a percent 1%..100%"),
    ("-1", "is not a number of guests"),
    ("two", "'two' (in 'two') is not a number of guests (N) or a percent (N%)"),
    ("1,,2", "takes N, N% or a comma list"),
    ("1.5", "is not a number of guests"),
]


@pytest.mark.parametrize(("text", "message"), BAD_BATCH, ids=[c[0] or "empty" for c in BAD_BATCH])
def test_bad_batch_values_are_refused(text: str, message: str) -> None:
    with pytest.raises(UsageError) as info:
        parse_batch(text)
    assert message in info.value.message
    assert render_options(info.value.message).startswith("--batch")


@pytest.mark.parametrize(("text", "value"), [("0", 0.0), ("25", 25.0), ("33.3", 33.3), ("100", 100.0)])
def test_max_fail_percentage_values(text: str, value: float) -> None:
    assert parse_max_fail(text) == value


@pytest.mark.parametrize("text", ["-1", "101", "half", "", "nan"])
def test_bad_max_fail_percentage_is_refused(text: str) -> None:
    with pytest.raises(UsageError, match=r"takes a percent 0\.\.100"):
        parse_max_fail(text)


# (failed, batch size, --max-fail-percentage, stops?) — Ansible: stop when failed/size > P/100 (strictly),
# and always when the whole batch failed
STOP_CASES = [
    (0, 4, None, False),
    (3, 4, None, False),  # no max-fail: only a wholly failed batch stops the run
    (4, 4, None, True),
    (1, 1, None, True),
    (0, 4, 0, False),
    (1, 4, 0, True),  # 0: any failure stops
    (1, 4, 25, False),  # exactly 25% is not more than 25%
    (2, 4, 25, True),
    (1, 3, 33, True),  # 33.3% > 33%
    (1, 3, 33.4, False),
    (3, 10, 30, False),
    (4, 10, 30, True),
    (9, 10, 100, False),  # 100: nothing but a wholly failed batch stops
    (10, 10, 100, True),
]


@pytest.mark.parametrize(("failed", "size", "max_fail", "stops"), STOP_CASES)
def test_when_the_run_stops(failed: int, size: int, max_fail: float | None, stops: bool) -> None:
    reason = stop_reason(failed, size, max_fail)
    assert (reason is not None) == stops
    if reason is not None:
        assert f"{failed} of {size}" in reason


def test_the_stop_reason_says_why() -> None:
    assert stop_reason(2, 2, None) == "every guest of the batch failed (2 of 2)"
    reason = stop_reason(2, 4, 25)
    assert reason is not None
    assert render_options(reason) == "2 of 4 guests of the batch failed, more than --max-fail-percentage 25"


WORST_CASES = [
    ([], 0),
    ([0, 0], 0),
    ([0, 1, 2], 2),
    ([1, 4, 2], 4),
    ([4, 3], 3),  # failed while changing beats unreachable
    ([3, 70], 70),
    ([70, 130, 0], 130),
    ([0, 5], 5),  # an unknown code still fails the run, below a bug
    ([5, 70], 70),
    ([5, 3], 5),
]


@pytest.mark.parametrize(("codes", "worst"), WORST_CASES)
def test_the_worst_exit_code(codes: list[int], worst: int) -> None:
    assert worst_code(codes) == worst
