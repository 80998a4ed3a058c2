"""Batches and when to stop (pure): Ansible's ``serial:`` and ``max_fail_percentage``, and the worst exit
code of a fleet run.

* ``--batch`` takes what ``serial:`` takes: ``N``, ``N%`` or a comma list ``1,5,20%``. A percent is of all
  the selected guests, floored, at least 1 (Ansible's ``pct_to_int``); the list's last value repeats until
  every guest is in a batch (``_get_serialized_batches``).
* After each batch the run stops (the remaining guests are skipped) when strictly more than
  ``max_fail_percentage`` percent of that batch failed, or, with or without it, when every guest of the
  batch failed (Ansible's ``PlaybookExecutor``: "the entire batch failed").
* The exit code of the run is the worst of the guests' codes, ranked
  130 (interrupted) > 70 (bug) > 3 (failed while changing) > 4 (unreachable) > 2 > 1 > 0.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from agent.errors import ExitCode, UsageError
from agent.hints import opt

RANK: tuple[int, ...] = (
    ExitCode.INTERRUPTED,
    ExitCode.BUG,
    ExitCode.CHANGE_FAILED,
    ExitCode.UNREACHABLE,
    ExitCode.USAGE,
    ExitCode.REFUSED,
    ExitCode.OK,
)
"""Exit codes, worst first."""


@dataclass(frozen=True)
class BatchSize:
    """One value of ``--batch``: ``count`` guests, or ``percent`` of all the selected guests."""

    count: int | None = None
    percent: int | None = None

    def of(self, total: int) -> int:
        """How many guests this value means among ``total`` (a percent floored, at least 1)."""
        if self.count is not None:
            return self.count
        assert self.percent is not None
        return max(1, self.percent * total // 100)

    def __str__(self) -> str:
        return f"{self.percent}%" if self.percent is not None else str(self.count)


def parse_batch(text: str) -> tuple[BatchSize, ...]:
    """``--batch`` text → its values. Raises :class:`UsageError` naming the bad value."""
    values = [v.strip() for v in text.split(",")]
    if not text.strip() or any(not v for v in values):
        raise UsageError(f"{opt('batch')} takes N, N% or a comma list such as 1,5,20%, not {text!r}")
    return tuple(_one(v, text) for v in values)


def _one(value: str, text: str) -> BatchSize:
    digits = value[:-1] if value.endswith("%") else value
    if not digits.isdigit():
        raise UsageError(
            f"{opt('batch')}: {value!r} (in {text!r}) is not a number of guests (N) or a percent (N%)"
        )
    n = int(digits)
    if value.endswith("%"):
        if not 1 <= n <= 100:
            raise UsageError(f"{opt('batch')}: {value!r} is not a percent 1%..100%")
        return BatchSize(percent=n)
    if n < 1:
        raise UsageError(f"{opt('batch')}: {value!r}: a batch has at least 1 guest")
    return BatchSize(count=n)


def batches(names: Sequence[str], sizes: Sequence[BatchSize] = ()) -> list[tuple[str, ...]]:
    """``names`` cut into batches in order; no ``sizes``: one batch of all."""
    if not sizes:
        return [tuple(names)] if names else []
    out: list[tuple[str, ...]] = []
    at, i = 0, 0
    while at < len(names):
        n = sizes[min(i, len(sizes) - 1)].of(len(names))
        out.append(tuple(names[at : at + n]))
        at, i = at + n, i + 1
    return out


def parse_max_fail(text: str) -> float:
    """``--max-fail-percentage`` text → a percent 0..100."""
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 100:
        raise UsageError(f"{opt('max_fail_percentage')} takes a percent 0..100, not {text!r}")
    return value


def stop_reason(failed: int, batch_size: int, max_fail: float | None) -> str | None:
    """Why the run stops after a batch of ``batch_size`` guests of which ``failed`` failed; None: go on."""
    if batch_size and failed == batch_size:
        return f"every guest of the batch failed ({failed} of {batch_size})"
    if max_fail is not None and failed * 100 > max_fail * batch_size:
        return (
            f"{failed} of {batch_size} guests of the batch failed, more than "
            f"{opt('max_fail_percentage')} {max_fail:g}"
        )
    return None


def worst_code(codes: Iterable[int]) -> int:
    """The worst exit code by :data:`RANK` (a code not in it ranks just below 70)."""

    def rank(code: int) -> float:
        if code in RANK:
            return RANK.index(code)
        return RANK.index(ExitCode.BUG) + 0.5

    return min(codes, key=rank, default=int(ExitCode.OK))
