"""What a fleet run shows: progress as it happens, then a summary.

* ``--json``: one compact JSON object per guest on stdout as it finishes (the single-guest object plus
  ``guest`` and ``seconds``), then one summary object (:func:`agent.fleet.outcome.summary_json`); the
  progress goes to stderr as plain lines.
* stderr not a terminal: plain lines as they happen, ``NAME: message`` (control characters shown as
  escapes, every line of a message prefixed), and ``NAME: <result> ...`` when the guest ends.
* stderr a terminal: a rich Live view, one line per guest: its phase (the latest progress message), the
  seconds since it started, then its result.
* At the end (not with ``--json``): the summary table on stdout: guest, result, device, UUID, time, then
  the counts and, for each guest that failed, its message and hint.
"""

from __future__ import annotations

import contextlib
import json as jsonlib
import sys
import time
from collections.abc import Iterator, Sequence
from typing import Any

from rich import box
from rich.console import Console, RenderableType
from rich.live import Live
from rich.markup import escape
from rich.table import Table

from agent.cli.emit import err, out, rendered
from agent.cli.safe_console import SafeConsole
from agent.core.guest_text import clean
from agent.fleet.outcome import GuestOutcome, SummaryRow, counts_text, summary_json, summary_row
from agent.fleet.runner import FleetRun, Sink
from agent.hints import render_options


def _style(o: GuestOutcome | SummaryRow) -> str:
    if o.ok:
        return "green"
    return "yellow" if isinstance(o, SummaryRow) and o.result == "skipped" else "red"


def ended_text(o: GuestOutcome) -> str:
    """The line that says how a guest ended (without its name)."""
    row = summary_row(o)
    if o.ok:
        parts = [row.result, row.device or "", f"UUID {row.uuid}" if row.uuid else ""]
        return " ".join(p for p in parts if p) + f" ({o.seconds:.1f} s)"
    text = f"{row.result}: {render_options(row.message or '')}"
    return text if o.skipped else text + f" ({o.seconds:.1f} s)"


def _interrupt_text(running: Sequence[str], again: bool) -> str:
    if again:
        return "interrupted again: stopping " + (", ".join(running) or "nothing") + " at their next step"
    if not running:
        return "interrupted: no guest starts any more"
    return (
        f"interrupted: no guest starts any more; waiting for {', '.join(running)} (Ctrl-C again to stop them)"
    )


class PlainLines:
    """Plain progress lines on ``console`` (stderr)."""

    def __init__(self, console: Console = err) -> None:
        self.console = console

    def _say(self, name: str, text: str) -> None:
        for line in render_options(text).rstrip("\n").split("\n"):
            self.console.print(f"{clean(name)}: {clean(line)}", markup=False, highlight=False)

    def started(self, guest: str) -> None:
        self._say(guest, "started")

    def progress(self, guest: str, message: str) -> None:
        self._say(guest, message)

    def finished(self, outcome: GuestOutcome) -> None:
        self._say(outcome.guest, ended_text(outcome))

    def interrupted(self, running: Sequence[str], *, again: bool) -> None:
        self.console.print(_interrupt_text(running, again), markup=False)


class JsonLines(PlainLines):
    """Plain progress lines on stderr, one JSON line per guest on stdout."""

    def finished(self, outcome: GuestOutcome) -> None:
        super().finished(outcome)
        write_json_line(outcome.line())


def write_json_line(data: Any) -> None:
    sys.stdout.write(jsonlib.dumps(rendered(data), sort_keys=True, default=str) + "\n")
    sys.stdout.flush()


class LiveView:
    """A rich Live table on stderr, one line per guest, redrawn a few times a second."""

    def __init__(self, names: Sequence[str], console: Console = err) -> None:
        self.console = console
        self.phase: dict[str, str] = dict.fromkeys(names, "waiting")
        self.begun: dict[str, float] = {}
        self.ended: dict[str, GuestOutcome] = {}
        self.live = Live(self, console=console, refresh_per_second=4, transient=False)

    def __rich__(self) -> RenderableType:
        table = Table(box=None, show_header=False, pad_edge=False, expand=True)
        table.add_column("guest", no_wrap=True, style="bold")
        table.add_column("phase", ratio=1, no_wrap=True, overflow="ellipsis")
        table.add_column("time", justify="right", no_wrap=True)
        table.add_column("result", no_wrap=True)
        now = time.monotonic()
        for name, phase in self.phase.items():
            o = self.ended.get(name)
            if o is not None:
                seconds = "" if o.skipped else f"{o.seconds:.0f}s"
                table.add_row(escape(name), escape(phase), seconds, f"[{_style(o)}]{escape(o.word)}[/]")
            else:
                seconds = f"{now - self.begun[name]:.0f}s" if name in self.begun else ""
                table.add_row(escape(name), escape(phase), seconds, "")
        return table

    def started(self, guest: str) -> None:
        self.begun[guest] = time.monotonic()
        self.phase[guest] = "started"

    def progress(self, guest: str, message: str) -> None:
        lines = [line for line in render_options(message).split("\n") if line.strip()]
        if lines:
            self.phase[guest] = clean(lines[-1])

    def finished(self, outcome: GuestOutcome) -> None:
        self.ended[outcome.guest] = outcome
        if not outcome.ok:
            self.phase[outcome.guest] = clean(render_options(summary_row(outcome).message or ""))
        self.live.refresh()

    def interrupted(self, running: Sequence[str], *, again: bool) -> None:
        self.live.console.print(_interrupt_text(running, again), markup=False)


@contextlib.contextmanager
def open_view(names: Sequence[str], *, json: bool) -> Iterator[Sink]:
    """The view for this run (see the module's docstring), started and stopped around the run."""
    if json:
        yield JsonLines()
    elif err.is_terminal:
        view = LiveView(names)
        with view.live:
            yield view
    else:
        yield PlainLines()


def summary_table(rows: Sequence[SummaryRow]) -> Table:
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    for name in ("guest", "result", "device", "UUID"):
        table.add_column(name, no_wrap=True)
    table.add_column("time", justify="right", no_wrap=True)
    for r in rows:
        seconds = "" if r.seconds is None else f"{r.seconds:.1f}s"
        table.add_row(
            escape(r.guest),
            f"[{_style(r)}]{escape(r.result)}[/]",
            escape(r.device or ""),
            r.uuid or "",
            seconds,
        )
    return table


def print_summary(run: FleetRun, *, json: bool) -> None:
    """The summary: one JSON object with ``json``, else the table, the counts and each failure's reason."""
    if json:
        write_json_line(summary_json(run.outcomes, run.exit_code, run.seconds))
        return
    rows = [summary_row(o) for o in run.outcomes]
    # a terminal folds the table to its width; a pipe or a file gets it whole (rich would assume 80 columns)
    # Console.print caps ``width`` at the console's own: a wide console of its own for a pipe or a file
    wide = out if out.is_terminal else SafeConsole(file=out.file, width=400, highlight=False, soft_wrap=True)
    wide.print(summary_table(rows))
    out.print(f"{counts_text(run.outcomes)}; {run.seconds:.1f} s, exit {run.exit_code}", markup=False)
    for r in rows:
        if not r.ok and r.message:
            out.print(f"{r.guest}: {r.result}: {render_options(r.message)}", markup=False)
            if r.hint:
                out.print(f"{r.guest}: hint: {render_options(r.hint)}", markup=False)
