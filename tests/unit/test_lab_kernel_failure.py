"""A lab boot whose guest kernel failed is told apart from a lab that does not come up, and booted once
more: the console tails are the trixie guest's in CI runs on this kind of machine (TCG, -smp 2)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from agent.errors import AgentError
from agent.lab.control import wait_for_boot
from agent.lab.panic import GuestKernelFailed, boot_fatal, booted_again_on_kernel_failure, kernel_report
from agent.lab.paths import StatePaths

PANIC_TAIL = b"""[    5.683014] Oops: int3: 0000 [#2] PREEMPT SMP NOPTI
[    5.683163] RIP: 0010:sched_clock_cpu+0x9/0x1d0
[    5.683762] Kernel panic - not syncing: Fatal exception in interrupt
"""  # a CI run on 2026-12-01

HUNG_TAIL = b"""[   14.209761] cloud-init[412]: Cloud-init v. 25.1.4 running 'init-local'
[  225.780782] Call Trace:\r
[  225.780782]  <TASK>\r
[  225.780782]  do_syscall_64+0x5d/0x90\r
[  225.780782]  entry_SYSCALL_64_after_hwframe+0x6e/0xd8\r
[  225.780782] RIP: 0033:0x7fe2d1343190\r
[  225.780782] RSP: 002b:00007ffd8a5ed418 EFLAGS: 00000202 ORIG_RAX: 000000000000013e\r
[  225.780782]  </TASK>\r
"""  # the last lines of the CI run of 2026-12-07 (its first lines were cut): no login prompt in 240 s

QUIET_TAIL = b"""[    1.204411] watchdog: Perf NMI watchdog permanently disabled\r
[   12.918200] cloud-init[412]: Cloud-init v. 25.1.4 running 'init-local'\r
"""  # every boot prints the first line: it is no report


def test_a_panic_or_oops_is_fatal_and_its_first_line_is_the_report() -> None:
    assert boot_fatal(PANIC_TAIL)
    assert kernel_report(PANIC_TAIL) == "[    5.683014] Oops: int3: 0000 [#2] PREEMPT SMP NOPTI"
    assert not boot_fatal(HUNG_TAIL) and not boot_fatal(QUIET_TAIL)
    assert not boot_fatal(b"xdev login: \n")


def test_a_register_dump_is_a_report_and_the_nmi_watchdog_line_is_not() -> None:
    assert kernel_report(HUNG_TAIL) == "[  225.780782] Call Trace:"
    assert kernel_report(QUIET_TAIL) is None
    hung = b"[  242.1] INFO: task systemd-udevd:201 blocked for more than 120 seconds.\n" + HUNG_TAIL
    assert kernel_report(hung) == "[  242.1] INFO: task systemd-udevd:201 blocked for more than 120 seconds."
    stall = b"[   88.0] rcu: INFO: rcu_preempt self-detected stall on CPU\x1b[0m\n"
    assert kernel_report(stall) == "[   88.0] rcu: INFO: rcu_preempt self-detected stall on CPU[0m"


def _timed_out(tmp_path: Path, console: bytes, monkeypatch: pytest.MonkeyPatch) -> AgentError:
    monkeypatch.setattr("agent.lab.control.pid_alive", lambda pid: pid == os.getpid())  # the guest runs on
    log = tmp_path / "console.log"
    log.write_bytes(console)
    with pytest.raises(AgentError) as e:
        wait_for_boot(
            "the login prompt", lambda: False, deadline=time.monotonic() - 1, console_log=log, pid=os.getpid()
        )
    return e.value


def test_a_boot_that_times_out_after_a_kernel_report_is_the_kernels_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    e = _timed_out(tmp_path, HUNG_TAIL, monkeypatch)
    assert isinstance(e, GuestKernelFailed)
    first, *rest = e.message.splitlines()
    assert first == "the guest's kernel reported '[  225.780782] Call Trace:' and the guest did not come up"
    assert rest[0] == "timed out waiting for the login prompt." and "RIP: 0033:0x7fe2d1343190" in e.message
    assert e.hint is not None and "lab.down" in e.hint


def test_a_guest_that_exits_after_a_kernel_report_is_the_kernels_failure(tmp_path: Path) -> None:
    log = tmp_path / "console.log"
    log.write_bytes(HUNG_TAIL)
    with pytest.raises(GuestKernelFailed) as e:  # no QEMU runs as this pid: the guest has exited
        wait_for_boot("the SSH banner", lambda: False, deadline=time.monotonic() + 60, console_log=log, pid=1)
    assert e.value.message.splitlines()[1] == "the lab guest exited while waiting for the SSH banner."


def test_a_boot_that_times_out_on_a_quiet_console_is_no_kernel_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    e = _timed_out(tmp_path, QUIET_TAIL, monkeypatch)
    assert not isinstance(e, GuestKernelFailed)
    assert e.message.startswith("timed out waiting for the login prompt.\nlast console lines:\n")


def test_a_failed_kernel_boots_once_more_and_a_second_failure_is_reported() -> None:
    calls: list[dict[str, object]] = []
    said: list[str] = []
    stopped: list[StatePaths] = []

    def boot_once(sp: StatePaths, **kwargs: object) -> str:
        calls.append(kwargs)
        if len(calls) == 1 or kwargs.get("flavour") == "never":
            raise GuestKernelFailed("kernel failure at boot: [ 5.6] Oops: int3\nmore")
        return "booted"

    up = booted_again_on_kernel_failure(boot_once, down=stopped.append)  # what control.up is made of
    got = up(StatePaths(Path("/nonexistent")), disks=[], flavour="trixie", log=said.append)
    assert got == "booted" and len(calls) == 2 and calls[0] == calls[1] and len(stopped) == 1
    assert said == [
        "  the guest's kernel failed during boot; booting again (kernel failure at boot: [ 5.6] Oops: int3)"
    ]
    calls.clear()
    with pytest.raises(GuestKernelFailed):
        up(StatePaths(Path("/nonexistent")), disks=[], flavour="never", log=said.append)
    assert len(calls) == 2 and len(stopped) == 2  # once more, not forever
