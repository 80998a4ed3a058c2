"""The console script's quick exit (``agent.cli.program.exit_now``): the status as ``sys.exit`` gives
it, everything written still arrives, and a thread still at work is waited for."""

from __future__ import annotations

import subprocess
import sys

import pytest


def run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", f"from agent.cli.program import exit_now\n{code}"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


@pytest.mark.parametrize(("code", "status"), [("None", 0), ("0", 0), ("3", 3), ("130", 130)])
def test_the_status_is_the_one_given(code: str, status: int) -> None:
    r = run(f"print('out', end=''); import sys; print('err', file=sys.stderr, end=''); exit_now({code})")
    assert (r.returncode, r.stdout, r.stderr) == (status, "out", "err")


def test_a_message_is_printed_and_ends_with_one() -> None:
    r = run("exit_now('went wrong')")
    assert (r.returncode, r.stderr) == (1, "went wrong\n")


def test_a_thread_still_at_work_is_waited_for() -> None:
    r = run(
        "import threading, time\n"
        "threading.Thread(target=lambda: (time.sleep(0.3), print('thread done', flush=True))).start()\n"
        "exit_now(4)"
    )
    assert (r.returncode, r.stdout) == (4, "thread done\n")
