"""The fleet runner with real threads and fake jobs: the forks bound, batches in order, max-fail skipping,
progress routed to its guest, failures as outcomes, Ctrl-C. Timing through events, never sleeps."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from agent.errors import ExitCode, Refused, Unreachable
from agent.fleet.batches import parse_batch
from agent.fleet.outcome import GuestOutcome
from agent.fleet.runner import FleetRun, Log, run_fleet

WAIT = 10.0  # seconds a fake job waits for the test at most (a failed test, not a hang)


def ctrl_c() -> None:
    """What a Ctrl-C on the terminal does: SIGINT to the main thread (called from a worker)."""
    signal.pthread_kill(threading.main_thread().ident or 0, signal.SIGINT)


class Recorder:
    """A sink that keeps every event (called from the main thread only: checked)."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str, Any]] = []
        self.on_started: Callable[[str], None] = lambda name: None
        self.on_interrupted: Callable[[Sequence[str], bool], None] = lambda running, again: None
        self.on_finished: Callable[[GuestOutcome], None] = lambda outcome: None

    def _main(self) -> None:
        assert threading.current_thread() is threading.main_thread()

    def started(self, guest: str) -> None:
        self._main()
        self.events.append(("started", guest, None))
        self.on_started(guest)

    def progress(self, guest: str, message: str) -> None:
        self._main()
        self.events.append(("progress", guest, message))

    def finished(self, outcome: GuestOutcome) -> None:
        self._main()
        self.events.append(("finished", outcome.guest, outcome))
        self.on_finished(outcome)

    def interrupted(self, running: Sequence[str], *, again: bool) -> None:
        self._main()
        self.events.append(("interrupted", ",".join(running), again))
        self.on_interrupted(running, again)

    def of(self, kind: str) -> list[str]:
        return [name for k, name, _ in self.events if k == kind]


def ok_job(name: str, log: Log) -> tuple[Mapping[str, Any], int]:
    log(f"working on {name}")
    return {"action": "formatted", "device": "nvme0n1", "uuid": f"uuid-{name}"}, 0


def by_name(run: FleetRun) -> dict[str, GuestOutcome]:
    return {o.guest: o for o in run.outcomes}


def test_every_guest_runs_and_reports_its_own_progress() -> None:
    rec = Recorder()
    run = run_fleet(["a", "b", "c"], ok_job, rec, forks=3)
    assert run.exit_code == 0
    assert [o.guest for o in run.outcomes] == ["a", "b", "c"], "outcomes in the order given"
    assert all(o.ok and o.word == "formatted" for o in run.outcomes)
    assert sorted((g, m) for k, g, m in rec.events if k == "progress") == [
        ("a", "working on a"),
        ("b", "working on b"),
        ("c", "working on c"),
    ]
    for name in "abc":  # per guest: started, then its progress, then finished
        kinds = [k for k, g, _ in rec.events if g == name]
        assert kinds == ["started", "progress", "finished"]
    assert by_name(run)["b"].line()["uuid"] == "uuid-b"


def test_no_more_than_forks_guests_run_at_once() -> None:
    lock, running, most = threading.Lock(), [0], [0]
    go = threading.Event()
    rec = Recorder()

    def job(name: str, log: Log) -> tuple[Mapping[str, Any], int]:
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        assert go.wait(WAIT)
        with lock:
            running[0] -= 1
        return {}, 0

    # release the jobs only once two have started: a third could start only if the bound were broken
    rec.on_started = lambda name: go.set() if len(rec.of("started")) == 2 else None
    run = run_fleet([f"g{i}" for i in range(6)], job, rec, forks=2)
    assert run.exit_code == 0 and most[0] == 2
    assert len(rec.of("finished")) == 6


def test_batches_run_one_after_the_other() -> None:
    rec = Recorder()
    run = run_fleet(["a", "b", "c", "d", "e"], ok_job, rec, forks=10, sizes=parse_batch("2,3"))
    assert run.exit_code == 0
    starts, ends = rec.of("started"), rec.of("finished")
    order = [(k, g) for k, g, _ in rec.events if k in ("started", "finished")]
    # no guest of the second batch starts before both of the first have finished
    first_end = max(order.index(("finished", g)) for g in ("a", "b"))
    assert all(order.index(("started", g)) > first_end for g in ("c", "d", "e"))
    assert sorted(starts) == sorted(ends) == ["a", "b", "c", "d", "e"]


def failing(bad: set[str], exc: Callable[[str], BaseException] = lambda n: Unreachable(f"{n} is down")):
    def job(name: str, log: Log) -> tuple[Mapping[str, Any], int]:
        if name in bad:
            raise exc(name)
        return ok_job(name, log)

    return job


def test_max_fail_percentage_skips_the_rest() -> None:
    rec = Recorder()
    names = ["a", "b", "c", "d", "e", "f"]
    # batch 1 (a, b): 1 of 2 failed = 50% > 40% -> c..f skipped
    run = run_fleet(names, failing({"b"}), rec, forks=1, sizes=parse_batch("2"), max_fail=40)
    got = by_name(run)
    assert [got[n].word for n in names] == ["formatted", "unreachable", *["skipped"] * 4]
    assert run.exit_code == ExitCode.UNREACHABLE, "skipped guests count 0; the failure its own code"
    skip = got["c"].line()
    assert skip["skipped"] is True and skip["ok"] is False and skip["error"]["kind"] == "skipped"
    assert "1 of 2 guests of the batch failed" in skip["error"]["message"]
    assert set(rec.of("started")) == {"a", "b"}, "the skipped guests never started"
    assert rec.of("finished")[-4:] == ["c", "d", "e", "f"], "each skipped guest is reported too"


def test_at_the_max_fail_percentage_the_run_goes_on() -> None:
    run = run_fleet(["a", "b", "c", "d"], failing({"a"}), Recorder(), sizes=parse_batch("2"), max_fail=50)
    assert [o.word for o in run.outcomes] == ["unreachable", "formatted", "formatted", "formatted"]


def test_a_wholly_failed_batch_stops_the_run_as_in_ansible() -> None:
    run = run_fleet(["a", "b", "c"], failing({"a"}), Recorder(), sizes=parse_batch("1"))
    assert [o.word for o in run.outcomes] == ["unreachable", "skipped", "skipped"]
    assert "every guest of the batch failed (1 of 1)" in run.outcomes[1].error["message"]


def test_without_batches_failures_never_skip() -> None:
    run = run_fleet(["a", "b", "c"], failing({"a", "b", "c"}), Recorder(), max_fail=0)
    assert [o.word for o in run.outcomes] == ["unreachable"] * 3


def test_failures_are_outcomes_with_their_codes() -> None:
    def job(name: str, log: Log) -> tuple[Mapping[str, Any], int]:
        if name == "refused":
            raise Refused("the disk has a partition table", hint="wipe it yourself")
        if name == "bug":
            raise ZeroDivisionError("division by zero")
        return ok_job(name, log)

    run = run_fleet(["ok", "refused", "bug"], job, Recorder())
    got = by_name(run)
    assert got["refused"].exit_code == 1 and got["refused"].error == {
        "kind": "refused",
        "message": "the disk has a partition table",
        "hint": "wipe it yourself",
        "exit_code": 1,
    }
    assert got["bug"].exit_code == 70 and got["bug"].word == "bug"
    assert "ZeroDivisionError: division by zero (please report it)" in got["bug"].error["message"]
    assert run.exit_code == ExitCode.BUG and got["ok"].ok


def test_ctrl_c_skips_the_rest_and_waits_for_the_running_guest() -> None:
    release = threading.Event()
    rec = Recorder()

    def job(name: str, log: Log) -> tuple[Mapping[str, Any], int]:
        ctrl_c()  # Ctrl-C while this guest runs
        assert release.wait(WAIT)
        return ok_job(name, log)

    rec.on_interrupted = lambda running, again: release.set()
    run = run_fleet(["a", "b", "c"], job, rec, forks=1)
    got = by_name(run)
    assert got["a"].word == "formatted", "the running guest finished"
    assert got["b"].word == got["c"].word == "skipped"
    assert "interrupted (Ctrl-C)" in got["b"].error["message"]
    assert run.exit_code == ExitCode.INTERRUPTED
    assert ("interrupted", "a", False) in rec.events


def test_a_second_ctrl_c_stops_the_running_guests_at_their_next_step() -> None:
    second, release, ended = threading.Event(), threading.Event(), threading.Event()
    stopped: list[BaseException] = []
    rec = Recorder()

    def job(name: str, log: Log) -> tuple[Mapping[str, Any], int]:
        ctrl_c()
        assert second.wait(WAIT)
        ctrl_c()
        assert release.wait(WAIT)
        try:
            log("next step")
        except KeyboardInterrupt as e:
            stopped.append(e)
            raise
        finally:
            ended.set()
        return {}, 0

    def on_interrupted(running: Sequence[str], again: bool) -> None:
        (release if again else second).set()

    rec.on_interrupted = on_interrupted
    run = run_fleet(["a", "b"], job, rec, forks=1)
    assert [o.word for o in run.outcomes] == ["interrupted", "skipped"]
    assert run.outcomes[0].exit_code == 130 and run.exit_code == 130
    assert ("interrupted", "a", True) in rec.events
    # the worker ends on its own: its next log() raised KeyboardInterrupt
    assert ended.wait(WAIT) and len(stopped) == 1


def test_the_others_finish_while_one_guest_waits() -> None:
    release = threading.Event()
    rec = Recorder()

    def job(name: str, log: Log) -> tuple[Mapping[str, Any], int]:
        if name == "slow":
            assert release.wait(WAIT), "the other guests never finished"
        return ok_job(name, log)

    rec.on_finished = lambda o: release.set() if len(rec.of("finished")) == 3 else None
    run = run_fleet(["slow", "b", "c", "d"], job, rec, forks=4)
    assert run.exit_code == 0
    assert rec.of("finished")[-1] == "slow"
