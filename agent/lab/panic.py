"""A lab boot whose guest kernel panicked: told apart from a lab that does not come up, and booted once
more (the panic is the emulator's, not the lab's)."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Concatenate, ParamSpec, TypeVar, cast

from agent.errors import AgentError
from agent.lab.paths import StatePaths

P = ParamSpec("P")
R = TypeVar("R")

KERNEL_PANIC = re.compile(rb"Kernel panic - not syncing")


class GuestPanicked(AgentError):
    """The guest's kernel panicked while booting (seen on the console before the login prompt)."""


def boot_panicked(console: bytes) -> bool:
    """True when the console shows a kernel panic (under TCG with several vCPUs, Debian 13's 6.12 kernel
    now and then dies early in text patching: "Oops: int3" in sched_clock_cpu, then a panic). Pure."""
    return KERNEL_PANIC.search(console) is not None


def booted_again_on_panic(
    boot: Callable[Concatenate[StatePaths, P], R], *, down: Callable[[StatePaths], object]
) -> Callable[Concatenate[StatePaths, P], R]:
    """``boot``, and once more with the same arguments (after ``down``) when the guest's kernel panicked
    during the boot, saying so through the boot's ``log``."""

    @functools.wraps(boot)
    def booted(sp: StatePaths, /, *args: P.args, **kwargs: P.kwargs) -> R:
        log = cast(Callable[[str], None], kwargs.get("log", print))
        try:
            return boot(sp, *args, **kwargs)
        except GuestPanicked as e:
            log(f"  the guest's kernel panicked during boot; booting again ({e.message.splitlines()[0]})")
            down(sp)
            return boot(sp, *args, **kwargs)

    return booted
