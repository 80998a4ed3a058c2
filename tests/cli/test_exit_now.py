"""The console script's quick exit (``agent.cli.main.exit_now``): the status as ``sys.exit`` gives
it, everything written still arrives, and a thread still at work is waited for."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


def run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", f"from agent.cli.main import exit_now\n{code}"],
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


def test_with_its_reader_gone_stderr_still_arrives() -> None:
    # stdout's reader has closed its end (``gda ... | head``): the flush of stdout fails, stderr is still
    # written, and the status is the one given
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        r = subprocess.run(
            [sys.executable, "-c", "from agent.cli.main import exit_now\nimport sys\n"
             "sys.stdout.write('x' * 100); sys.stderr.write('the error'); exit_now(3)"],
            stdout=write_end, stderr=subprocess.PIPE, timeout=60, check=False,
            env={**os.environ, "PYTHONUNBUFFERED": ""},  # stdout buffered, as gda's is in a pipe
        )  # fmt: skip
    finally:
        os.close(write_end)
    assert (r.returncode, r.stderr) == (3, b"the error")
