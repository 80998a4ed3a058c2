"""A lab boot whose guest kernel failed: told apart from a lab that does not come up, and booted once
more (the failure is the emulator's, not the lab's).

Two kinds are seen under TCG on a busy 2-core host. A panic, or an Oops that kills a task, is fatal
at once (Debian 13's 6.12 kernel now and then dies early in text patching: "Oops: int3" in
sched_clock_cpu, then a panic). A hang or stall report ("INFO: task ... blocked", "rcu: INFO: ...
stall", "soft lockup", or a bare register dump) is not fatal by itself: it counts only when the login
prompt or SSH then does not come."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from pathlib import Path
from typing import Concatenate, ParamSpec, TypeVar, cast

from agent.errors import AgentError
from agent.lab.paths import StatePaths

P = ParamSpec("P")
R = TypeVar("R")

KERNEL_FATAL = re.compile(rb"Kernel panic - not syncing|\] Oops: ")
"""A console line after which this boot cannot come up."""

KERNEL_REPORT = re.compile(
    rb"^[^\n]*(?:Kernel panic - not syncing|\] Oops: |\] BUG: |\] general protection fault|"
    rb"\] INFO: task .* blocked for more than|\] rcu: INFO: |\] watchdog: BUG: soft lockup|"
    rb"\] WARNING: CPU: |\] Call Trace:)[^\n]*",
    re.MULTILINE,
)
"""The first line of a report the kernel prints on a fault, a hang or a stall."""


class GuestKernelFailed(AgentError):
    """The guest's kernel failed while booting (seen on the console before the guest came up)."""


def boot_fatal(console: bytes) -> bool:
    """True when the console shows a kernel panic or Oops (this boot is lost). Pure."""
    return KERNEL_FATAL.search(console) is not None


def kernel_report(console: bytes) -> str | None:
    """The first line of the first fault, hang or stall report on the console (printable ASCII only),
    or None. Pure."""
    m = KERNEL_REPORT.search(console.replace(b"\r", b""))
    if m is None:
        return None
    return re.sub(r"[^\x20-\x7e]", "", m.group(0).decode("ascii", "replace")).strip()


def the_kernels_failure_or(e: AgentError, console_log: Path) -> AgentError:
    """``e`` (the guest did not come up, or exited) as the kernel's failure (:class:`GuestKernelFailed`,
    booted once more) when the console shows a kernel's fault, hang or stall report; else ``e``."""
    if isinstance(e, GuestKernelFailed):
        return e
    try:
        report = kernel_report(console_log.read_bytes())
    except OSError:
        return e
    if report is None:
        return e
    return GuestKernelFailed(
        f"the guest's kernel reported {report!r} and the guest did not come up\n{e.message}", hint=e.hint
    )


def booted_again_on_kernel_failure(
    boot: Callable[Concatenate[StatePaths, P], R], *, down: Callable[[StatePaths], object]
) -> Callable[Concatenate[StatePaths, P], R]:
    """``boot``, and once more with the same arguments (after ``down``) when the guest's kernel failed
    during the boot, saying so through the boot's ``log``."""

    @functools.wraps(boot)
    def booted(sp: StatePaths, /, *args: P.args, **kwargs: P.kwargs) -> R:
        log = cast(Callable[[str], None], kwargs.get("log", print))
        try:
            return boot(sp, *args, **kwargs)
        except GuestKernelFailed as e:
            log(f"  the guest's kernel failed during boot; booting again ({e.message.splitlines()[0]})")
            down(sp)
            return boot(sp, *args, **kwargs)

    return booted
