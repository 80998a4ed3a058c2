"""Run one job on many guests: batches in order, at most ``forks`` guests at once (the imperative shell
around :mod:`agent.fleet.batches`).

Each guest runs in a worker thread of a :class:`~concurrent.futures.ThreadPoolExecutor`; everything it
reports (started, each progress message its ``log`` gets, its outcome) goes through one queue to the main
thread, which hands it to the :class:`Sink` (the view): the view is only ever called from the main thread.

Ctrl-C (SIGINT, counted by the run's own handler while it lasts, never raised in the middle of its
bookkeeping): no guest starts any more (the rest are skipped) and the running ones are
waited for; a second Ctrl-C stops waiting: the running guests are told to stop at their next progress
message and are reported interrupted. Either way the run's exit code is 130.
"""

from __future__ import annotations

import collections
import contextlib
import queue
import signal
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol

from agent.errors import ExitCode
from agent.fleet.batches import BatchSize, batches, stop_reason, worst_code
from agent.fleet.outcome import GuestOutcome, failed, skipped, succeeded

POLL = 0.25
"""Seconds the main thread waits for an event before it looks again (so a Ctrl-C is never missed)."""

Log = Callable[[str], None]
Job = Callable[[str, Log], tuple[Mapping[str, Any], int]]
"""``job(guest, log)`` → (the task's result data, its exit code); raises on failure."""


class Sink(Protocol):
    """What a view is told, always from the main thread."""

    def started(self, guest: str) -> None: ...
    def progress(self, guest: str, message: str) -> None: ...
    def finished(self, outcome: GuestOutcome) -> None: ...
    def interrupted(self, running: Sequence[str], *, again: bool) -> None: ...


@dataclass(frozen=True)
class FleetRun:
    """The outcomes in the order of the guests given, the worst exit code, the wall time."""

    outcomes: list[GuestOutcome]
    exit_code: int
    seconds: float


def run_fleet(
    names: Sequence[str],
    job: Job,
    sink: Sink,
    *,
    forks: int = 10,
    sizes: Sequence[BatchSize] = (),
    max_fail: float | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> FleetRun:
    """Run ``job`` on every guest of ``names`` (see the module's docstring)."""
    run = _Run(job, sink, clock)
    t0 = clock()
    pool = ThreadPoolExecutor(max_workers=max(1, forks), thread_name_prefix="gda-guest")
    try:
        with _ctrl_c_counted(run):
            plan = batches(names, sizes)
            for i, batch in enumerate(plan):
                run.run_batch(pool, batch, max(1, forks))
                run.take_ctrl_c(batch)  # one that came as the batch ended
                if run.stop is None and i + 1 < len(plan):
                    ran = [run.done[n] for n in batch if n in run.done and not run.done[n].skipped]
                    reason = stop_reason(sum(not o.ok for o in ran), len(batch), max_fail)
                    run.stop = f"not run: {reason}" if reason is not None else None
                if run.stop is not None:
                    break
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    for name in names:
        if name not in run.done:
            run.record(skipped(name, run.stop or "not run"))
    outcomes = [run.done[n] for n in names]
    codes = [o.exit_code for o in outcomes] + ([int(ExitCode.INTERRUPTED)] if run.interrupts else [])
    return FleetRun(outcomes, worst_code(codes), clock() - t0)


@contextlib.contextmanager
def _ctrl_c_counted(run: _Run) -> Iterator[None]:
    """While the run lasts, a Ctrl-C (SIGINT) only counts and wakes the main thread: it never raises
    in the middle of the run's bookkeeping. Off the main thread (no signal handler possible) as is."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, run.on_sigint)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


class _Run:
    """The state of one run. The main thread keeps ``done``; workers read ``stop`` and ``cancel``.

    A batch's guests are put in ``todo`` first, then up to ``forks`` worker loops are started; each takes
    guests from ``todo`` (into ``taken``, under ``lock``) until it is empty or the run stops. A taken guest
    always reports ``finished``; when the run stops, ``todo`` is emptied and its guests are reported
    skipped: so a Ctrl-C landing anywhere in the main thread loses no guest and waits for none.
    """

    def __init__(self, job: Job, sink: Sink, clock: Callable[[], float]) -> None:
        self.job, self.sink, self.clock = job, sink, clock
        self.events: queue.SimpleQueue[tuple[str, str, Any]] = queue.SimpleQueue()
        self.lock = threading.Lock()
        self.todo: collections.deque[str] = collections.deque()  # guests not yet taken (under ``lock``)
        self.taken: set[str] = set()  # guests a worker took: each gives a "finished" event (under ``lock``)
        self.cancel = threading.Event()
        self.done: dict[str, GuestOutcome] = {}
        self.begun: dict[str, float] = {}
        self.stop: str | None = None
        self.interrupts = 0
        self.sigints = 0  # Ctrl-Cs the handler counted
        self.handled = 0  # Ctrl-Cs handled

    def record(self, outcome: GuestOutcome) -> None:
        self.done[outcome.guest] = outcome
        self.sink.finished(outcome)

    def on_sigint(self, signum: int, frame: object) -> None:
        """The SIGINT handler: count it, wake the main thread (``SimpleQueue.put`` is reentrant)."""
        self.sigints += 1
        self.events.put(("ctrl-c", "", None))

    def take_ctrl_c(self, batch: Sequence[str]) -> bool:
        """Handle the Ctrl-Cs counted and not handled yet; True when the run gave up on ``batch``."""
        gave_up = False
        while self.handled < self.sigints:
            self.handled += 1
            gave_up = self.interrupted(batch) or gave_up
        return gave_up

    def run_batch(self, pool: ThreadPoolExecutor, batch: Sequence[str], forks: int) -> None:
        """Run the batch's guests and hand on their events until each has an outcome. A guest is either
        still in ``todo``, or ``taken`` by a worker (then it reports), both changed under ``lock``; a
        Ctrl-C is only counted by the handler and handled here (:meth:`take_ctrl_c`), so no guest a worker
        runs is reported skipped, and none is waited for that no worker will run."""
        with self.lock:
            self.todo.extend(batch)
        workers = 0
        while True:
            if self.take_ctrl_c(batch):
                return
            while self.stop is None and workers < min(forks, len(batch)):
                workers += 1
                pool.submit(self._worker)
            with self.lock:
                if self.stop is not None:
                    self.todo.clear()  # never taken now: run_fleet reports them skipped
                waiting = [n for n in batch if n not in self.done and (n in self.taken or n in self.todo)]
            if not waiting:
                return
            try:  # bounded: a Ctrl-C's wake-up may come before a guest's event
                kind, name, payload = self.events.get(timeout=POLL)
            except queue.Empty:
                continue
            if kind != "ctrl-c" and name not in self.done:  # else given up on (a second Ctrl-C)
                self._dispatch(kind, name, payload)

    def _drain(self) -> None:
        """Hand on the events already queued (so that the guests already started are known)."""
        while True:
            try:
                kind, name, payload = self.events.get_nowait()
            except queue.Empty:
                return
            if kind != "ctrl-c" and name not in self.done:
                self._dispatch(kind, name, payload)

    def _dispatch(self, kind: str, name: str, payload: Any) -> None:
        if kind == "started":
            self.begun[name] = self.clock()
            self.sink.started(name)
        elif kind == "progress":
            self.sink.progress(name, str(payload))
        else:
            self.record(payload)

    def interrupted(self, batch: Sequence[str]) -> bool:
        """Ctrl-C: no guest starts any more; the second time give up on the running ones (True)."""
        self.interrupts += 1
        self.stop = "not run: interrupted (Ctrl-C)"
        again = self.interrupts > 1
        self._drain()
        running = [name for name in batch if name in self.begun and name not in self.done]
        if again:
            self.cancel.set()
        self.sink.interrupted(running, again=again)
        if not again:
            return False
        with self.lock:
            self.todo.clear()
            taken = set(self.taken)
        for name in batch:
            if name not in self.done and name in taken:
                seconds = self.clock() - self.begun[name] if name in self.begun else 0.0
                self.record(failed(name, KeyboardInterrupt(), seconds))
        return True

    def _worker(self) -> None:
        """A worker thread: guests from ``todo`` until it is empty or the run stops."""
        while True:
            with self.lock:
                if self.stop is not None or not self.todo:
                    return
                name = self.todo.popleft()
                self.taken.add(name)
            self._work(name)

    def _work(self, name: str) -> None:
        """One guest: every report goes through the queue."""
        self.events.put(("started", name, None))
        t0 = self.clock()

        def log(message: str) -> None:
            if self.cancel.is_set():
                raise KeyboardInterrupt
            self.events.put(("progress", name, message))

        try:
            data, code = self.job(name, log)
            outcome = succeeded(name, data, code, self.clock() - t0)
        except BaseException as e:  # every failure of one guest is its outcome, never the run's
            outcome = failed(name, e, self.clock() - t0)
        self.events.put(("finished", name, outcome))
