"""The two task decorators every task uses.

* :func:`gda_task`: options from :class:`~agent.cli.options.Opt`; a refused option value, an
  :class:`~agent.errors.AgentError`, Ctrl-C or a bug become a message (JSON with ``--json``) and the exit
  code; a returned :class:`~agent.cli.emit.Result` is emitted.
* :func:`guest_task`: also adds the shared guest options (``--inventory/-i``, ``--guest/-g`` (repeatable),
  ``--limit``, ``--forks``, ``--batch``, ``--max-fail-percentage``, ``--accept-new-host-key/-a``,
  ``--json/-j``), loads the guest and hands the body a :class:`Target`: its ``connector`` (built once)
  reaches the guest, ``ssh()`` opens the one session, ``log`` takes its progress messages.

  One guest and none of the fleet options: the body runs once, as it always did (single mode). Otherwise
  :mod:`agent.cli.fleet_run` runs it on every selected guest (fleet mode); the body must then log through
  ``target.log`` and never prompt (``target.can_prompt`` is False).
"""

from __future__ import annotations

import functools
import inspect
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from invoke.context import Context
from invoke.exceptions import Exit

from agent.cli.config import or_setting
from agent.cli.emit import Result, emit, info, report_failure
from agent.cli.options import GdaTask, Opt, first_invalid, forks

if TYPE_CHECKING:
    from agent.inventory import Guest
    from agent.ops.connect import Connector
    from agent.transport.ssh import SshSession

JSON_OPT = {"json": Opt("print a machine-readable result on stdout (also on failure)", "j")}


def _batch(text: str) -> object:
    from agent.fleet.batches import parse_batch

    return parse_batch(text)


def _max_fail(text: str) -> float:
    from agent.fleet.batches import parse_max_fail

    return parse_max_fail(text)


FLEET_OPTS: dict[str, Opt] = {
    "limit": Opt("only the guests this pattern selects (Ansible's: lab*, group, a,b, all:!lab3)"),
    "forks": Opt("at most N guests at once (default 10)", check=forks),
    "batch": Opt(
        "run the guests in batches, as Ansible's serial: N, N% or a list such as 1,5,20%", check=_batch
    ),
    "max_fail_percentage": Opt(
        "skip the rest when more than P% of a batch failed (as Ansible's max_fail_percentage)",
        check=_max_fail,
    ),
}
"""The options that make a run a fleet run even for one guest."""

GUEST_OPTS: dict[str, Opt] = {
    "inventory": Opt("inventory file (default ./inventory.yaml)", "i"),
    "guest": Opt(
        "a guest of the inventory: -g NAME, repeat for several (default: every guest)", "g", repeat=True
    ),
    **FLEET_OPTS,
    "accept_new_host_key": Opt(
        "accept and record an unknown SSH host key (a changed key is always refused)", "a"
    ),
    **JSON_OPT,
}


def gda_task(
    opts: Mapping[str, Opt] | None = None, **task_kwargs: Any
) -> Callable[[Callable[..., Result | None]], GdaTask]:
    """Make ``body`` a task with ``opts``; see the module's docstring."""

    def decorate(body: Callable[..., Result | None]) -> GdaTask:
        @functools.wraps(body)
        def run(c: Context, *args: Any, **kwargs: Any) -> None:
            json = bool(kwargs.get("json"))
            try:
                bad = first_invalid(kwargs.values())
                if bad is not None:
                    raise bad
                result = body(c, *args, **kwargs)
                code = emit(result, json=json) if result is not None else 0
            except (Exit, SystemExit):
                raise
            except BaseException as e:  # every failure ends here: a message and an exit code
                raise Exit(code=report_failure(e, json=json)) from None
            if code:
                raise Exit(code=code)

        return GdaTask(run, opts=opts, **task_kwargs)

    return decorate


@dataclass
class Target:
    """The guest a task works on (from the inventory) and how to reach it: ``connector`` is the one
    :class:`~agent.ops.connect.Connector`, built once (the sudo password resolved once)."""

    name: str
    connector: Connector
    json: bool
    log: Callable[[str], None] = info
    """Where the body's progress messages go: stderr in single mode, the guest's line in fleet mode."""
    fleet: bool = False
    """In a fleet run (several guests at once): no prompt can be answered."""

    @property
    def guest(self) -> Guest:
        return self.connector.guest

    @property
    def accept_new_host_key(self) -> bool:
        return self.connector.accept_new_host_key

    @property
    def can_prompt(self) -> bool:
        """Whether the body may ask the user (a terminal, no ``--json``, not a fleet run)."""
        return sys.stdin.isatty() and not self.json and not self.fleet

    def ssh(self, *, connect_timeout: float = 10.0) -> SshSession:
        """An unopened SSH session (use ``with``): the task's one connection."""
        return self.connector.ssh(connect_timeout=connect_timeout)


def load_target(config: Any, inventory: str | None, guest: str | None, *, accept: bool, json: bool) -> Target:
    """The chosen guest of the inventory (``--inventory``, else the default in ``config``)."""
    # the inventory and the transport (pydantic, paramiko) load only when a task runs
    from agent.ops.connect import Connector

    path = str(or_setting(inventory, config, "inventory"))
    name, connector = Connector.from_inventory(path, guest, accept_new_host_key=accept)
    return Target(name, connector, json=json)


FleetCheck = Callable[[Mapping[str, Any]], None]
"""Raises :class:`~agent.errors.UsageError` for the task's own options a fleet run cannot take."""


def guest_task(
    opts: Mapping[str, Opt] | None = None,
    *,
    fleet_check: FleetCheck | None = None,
    uses_console: bool = False,
    **task_kwargs: Any,
) -> Callable[[Callable[..., Result | None]], GdaTask]:
    """A :func:`gda_task` whose body is ``body(c, target, **own_options)``; the shared guest options
    are added to the task's signature and help. ``fleet_check(own_options)`` refuses what a fleet run
    cannot do; ``uses_console``: console passwords are resolved before a fleet run starts."""

    def decorate(body: Callable[..., Result | None]) -> GdaTask:
        sig = inspect.signature(body)
        ctx, _target, *own = sig.parameters.values()
        kw = inspect.Parameter.KEYWORD_ONLY
        shared = [
            inspect.Parameter("inventory", kw, default=None, annotation="str | None"),
            inspect.Parameter("guest", kw, default=None, annotation="list[str] | None"),
            inspect.Parameter("limit", kw, default=None, annotation="str | None"),
            inspect.Parameter("forks", kw, default=None, annotation="int | None"),
            inspect.Parameter("batch", kw, default=None, annotation="str | None"),
            inspect.Parameter("max_fail_percentage", kw, default=None, annotation="float | None"),
            inspect.Parameter("accept_new_host_key", kw, default=False, annotation="bool"),
            inspect.Parameter("json", kw, default=False, annotation="bool"),
        ]

        @functools.wraps(body)
        def run(c: Context, **kwargs: Any) -> Result | None:
            inventory, guests = kwargs.pop("inventory", None), list(kwargs.pop("guest", None) or [])
            fleet = {name: kwargs.pop(name, None) for name in FLEET_OPTS}
            accept, json = bool(kwargs.pop("accept_new_host_key", False)), bool(kwargs.pop("json", False))
            if len(guests) <= 1 and all(v is None for v in fleet.values()):
                target = _single_target(c.config, inventory, guests, accept=accept, json=json)
                if target is not None:
                    return body(c, target, **kwargs)
            from agent.cli import fleet_run

            fleet_run.run(
                fleet_run.FleetRequest(
                    body=functools.partial(body, c),
                    options=kwargs,
                    inventory=str(or_setting(inventory, c.config, "inventory")),
                    guests=guests,
                    accept_new_host_key=accept,
                    json=json,
                    fleet_check=fleet_check,
                    uses_console=uses_console,
                    **fleet,
                )
            )
            return None

        run.__signature__ = sig.replace(  # type: ignore[attr-defined]
            parameters=[ctx, *(p.replace(kind=kw) for p in own), *shared]
        )
        return gda_task({**(opts or {}), **GUEST_OPTS}, **task_kwargs)(run)

    return decorate


def _single_target(
    config: Any, inventory: str | None, guests: list[str], *, accept: bool, json: bool
) -> Target | None:
    """The one guest of a single-mode run (named, or the inventory's only guest), as it always was; None
    when no guest is named and the inventory has several (a fleet run on all of them)."""
    if guests:
        return load_target(config, inventory, guests[0], accept=accept, json=json)
    from agent.inventory import load_inventory
    from agent.ops.connect import Connector

    inv = load_inventory(Path(str(or_setting(inventory, config, "inventory"))))
    if len(inv.guests) != 1:
        return None
    name, guest = inv.choose(None)
    return Target(name, Connector(guest, accept_new_host_key=accept), json=json)
