"""``--timings``: the seconds per phase of one task, as a table (connect, sudo, facts, decide, guard,
mkfs, verify) and the process's own start-up before it.

``start`` is the time from the process's creation to the moment the task began connecting (Python's
start-up and the imports), read from ``/proc/self/stat`` (Linux; omitted elsewhere).
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping

#: the order phases are shown in (others follow, sorted)
PHASES = ("start", "connect", "sudo", "facts", "decide", "guard", "mkfs", "verify")


def process_age() -> float | None:
    """Seconds since this process was created (None where /proc does not say)."""
    try:
        with open("/proc/self/stat", encoding="ascii") as f:
            stat = f.read()
        with open("/proc/uptime", encoding="ascii") as f:
            uptime = float(f.read().split()[0])
        start_ticks = int(stat.rsplit(")", 1)[1].split()[19])  # field 22: starttime, after "(comm)"
        return max(0.0, uptime - start_ticks / os.sysconf("SC_CLK_TCK"))
    except (OSError, ValueError, IndexError):
        return None


def with_session_phases(
    timings: Mapping[str, float], *, start: float | None, connect: float | None
) -> dict[str, float]:
    """``timings`` with the process start-up and the connection added (rounded to milliseconds)."""
    out: dict[str, float] = {}
    if start is not None:
        out["start"] = round(start, 3)
    if connect is not None:
        out["connect"] = round(connect, 3)
    out.update(timings)
    return out


def ordered(timings: Mapping[str, float]) -> list[tuple[str, float]]:
    known = [(k, timings[k]) for k in PHASES if k in timings]
    return known + sorted((k, v) for k, v in timings.items() if k not in PHASES)


def timings_lines(timings: Mapping[str, float], *, total: float | None = None) -> list[str]:
    """The table as text lines: phase, seconds, share of the sum."""
    rows = ordered(timings)
    whole = total if total is not None else sum(v for _, v in rows)
    lines = [f"{'phase':<8} {'seconds':>8} {'share':>6}"]
    for name, secs in rows:
        share = f"{100 * secs / whole:5.1f}%" if whole > 0 else "     -"
        lines.append(f"{name:<8} {secs:8.3f} {share:>6}")
    lines.append(f"{'total':<8} {whole:8.3f}")
    return lines


class Stopwatch:
    """When the task began (for the total)."""

    def __init__(self) -> None:
        self.t0 = time.monotonic()

    def elapsed(self) -> float:
        return time.monotonic() - self.t0
