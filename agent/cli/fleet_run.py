"""Fleet mode of a guest task: the selected guests, their passwords resolved once, the run, the output.

:func:`run` is what :func:`agent.cli.tasking.guest_task` calls when a run is not a single-guest one. Before
any guest starts it selects the guests (:func:`agent.inventory.limit.select_guests`), refuses what a fleet
run cannot do (the task's ``fleet_check``), and resolves each distinct sudo (and, for a task that uses the
console, console) password variable once, in the main thread: a prompt only on a terminal. Then
:func:`agent.fleet.runner.run_fleet` runs the body on every guest and :mod:`agent.cli.fleet_view` shows it.
The exit code is the worst of the guests' (:func:`agent.fleet.batches.worst_code`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from invoke.exceptions import Exit

from agent.cli import fleet_view
from agent.cli.emit import Result
from agent.cli.tasking import Target

if TYPE_CHECKING:
    from agent.fleet.batches import BatchSize
    from agent.inventory import Guest
    from agent.ops.connect import Connector

DEFAULT_FORKS = 10


@dataclass(frozen=True)
class FleetRequest:
    """A guest task's body (the context already bound) and everything the command line gave."""

    body: Callable[..., Result | None]
    options: Mapping[str, Any]
    inventory: str
    guests: Sequence[str] = ()
    limit: str | None = None
    forks: int | None = None
    batch: Sequence[BatchSize] | None = None
    max_fail_percentage: float | None = None
    accept_new_host_key: bool = False
    json: bool = False
    fleet_check: Callable[[Mapping[str, Any]], None] | None = None
    uses_console: bool = False


def run(req: FleetRequest) -> None:
    """Run ``req.body`` on every selected guest; raises :class:`Exit` with the worst code when not 0."""
    from agent.fleet.runner import run_fleet
    from agent.inventory import load_inventory
    from agent.inventory.limit import select_guests

    selected = select_guests(load_inventory(Path(req.inventory)), req.limit, req.guests)
    if req.fleet_check is not None:
        req.fleet_check(req.options)
    connectors = build_connectors(
        {s.name: s.guest for s in selected}, accept=req.accept_new_host_key, console=req.uses_console
    )

    def job(name: str, log: Callable[[str], None]) -> tuple[Mapping[str, Any], int]:
        target = Target(name, connectors[name], json=req.json, log=log, fleet=True)
        result = req.body(target, **req.options)
        return (result.data, int(result.exit_code)) if result is not None else ({}, 0)

    names = [s.name for s in selected]
    with fleet_view.open_view(names, json=req.json) as view:
        outcome = run_fleet(
            names,
            job,
            view,
            forks=req.forks or DEFAULT_FORKS,
            sizes=tuple(req.batch or ()),
            max_fail=req.max_fail_percentage,
        )
    fleet_view.print_summary(outcome, json=req.json)
    if outcome.exit_code:
        raise Exit(code=outcome.exit_code)


def build_connectors(guests: Mapping[str, Guest], *, accept: bool, console: bool) -> dict[str, Connector]:
    """One :class:`Connector` per guest; each distinct password variable resolved once, here."""
    from agent.ops.connect import Connector, resolve_console_password, resolve_sudo_password

    sudo: dict[str | None, str | None] = {}
    consoles: dict[str | None, str | None] = {}
    out: dict[str, Connector] = {}
    for name, guest in guests.items():
        env = guest.sudo_password_env
        if env not in sudo:
            sudo[env] = resolve_sudo_password(guest)
        console_password = None
        if console and guest.console is not None:
            cenv = guest.console.password_env
            if cenv not in consoles:
                consoles[cenv] = resolve_console_password(guest)
            console_password = consoles[cenv]
        out[name] = Connector(
            guest, accept_new_host_key=accept, sudo_password=sudo[env], console_password=console_password
        )
    return out
