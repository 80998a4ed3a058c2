"""``inventory``: what the inventory resolves to.

``gda inventory --list [--limit PATTERN] [--guest NAME ...] [--json]`` shows each selected guest with
its groups and every setting it ends up with, and where that value came from: ``guest`` (its own entry),
``group NAME``, ``all``, or ``default`` (``default (on: HOST)`` for a console that its ``on:`` host gives).
The body imports the inventory (pydantic) inside the task, so ``gda --help`` stays fast.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from invoke.context import Context
from invoke.parser.argument import Argument
from rich.markup import escape
from rich.table import Table

from agent.cli.config import or_setting
from agent.cli.emit import Result, out
from agent.cli.options import CheckedArgument, GdaTask, Opt
from agent.cli.tasking import JSON_OPT, gda_task
from agent.errors import UsageError
from agent.hints import opt

if TYPE_CHECKING:
    from agent.inventory import Guest, Inventory
    from agent.inventory.limit import Selected

INVENTORY_OPTS = {
    "list": Opt("show the resolved guests and where each setting came from (guest, group, all, default)"),
    "limit": Opt("only the guests this pattern selects: names, globs (lab*), groups, !name, &name, a,b", "l"),
    "guest": Opt("only this guest (repeat for more)", "g"),
    "inventory": Opt("inventory file (default ./inventory.yaml)", "i"),
    **JSON_OPT,
}

_NESTED = ("disk", "network", "console")


class _RepeatableTask(GdaTask):
    """A :class:`GdaTask` whose ``iterable`` options collect every occurrence (``-g a -g b``)."""

    def get_arguments(self, ignore_unknown_help: bool | None = None) -> list[Argument]:
        args: list[Argument] = super().get_arguments(ignore_unknown_help)
        repeatable = set(self.iterable)
        return [
            CheckedArgument(names=a.names, attr_name=a.attr_name, help=a.help, kind=list)
            if (a.attr_name or a.name or "") in repeatable
            else a
            for a in args
        ]


def flat_settings(guest: Guest) -> dict[tuple[str, ...], Any]:
    """The guest's settings that have a value, by key path (``("console", "ssh", "host")``), as JSON."""
    flat: dict[tuple[str, ...], Any] = {}

    def walk(node: Mapping[str, Any], at: tuple[str, ...]) -> None:
        for key, value in node.items():
            path = (*at, key)
            if isinstance(value, Mapping) and (path[0] in _NESTED):
                walk(value, path)
            elif value is not None and value != []:
                flat[path] = value

    walk(guest.model_dump(mode="json"), ())
    return flat


def origin_of(path: tuple[str, ...], origins: Mapping[tuple[str, ...], str], guest: Guest) -> str:
    """Which layer set ``path`` (``guest``, ``group NAME``, ``all``) or ``default``."""
    if path in origins:
        return origins[path]
    if path[0] == "console" and guest.on is not None and not any(p[0] == "console" for p in origins):
        return f"default (on: {guest.on})"
    return "default"


def resolved_json(inventory: Inventory, origins: Mapping[str, Any], chosen: list[Selected]) -> dict[str, Any]:
    """The ``--json`` form: per guest its groups and ``{dotted.key: {"value", "from"}}``."""
    from agent.inventory.limit import tree_of

    tree = tree_of(inventory)
    guests = []
    for item in chosen:
        own = origins.get(item.name, {})
        settings = {
            ".".join(path): {"value": value, "from": origin_of(path, own, item.guest)}
            for path, value in flat_settings(item.guest).items()
        }
        guests.append({"name": item.name, "groups": list(tree.groups_of(item.name)), "settings": settings})
    groups = {
        name: {
            "members": list(group.members),
            "guests": list(tree.guests_of(name)),
            "priority": group.priority,
        }
        for name, group in inventory.groups.items()
    }
    return {"guests": guests, "groups": groups}


def _human(data: Mapping[str, Any]) -> None:
    for guest in data["guests"]:
        groups = ", ".join(guest["groups"]) or "none"
        table = Table(title=escape(f"{guest['name']}  (groups: {groups})"), title_justify="left")
        table.add_column("setting")
        table.add_column("value")
        table.add_column("from")
        for key, setting in guest["settings"].items():
            value = setting["value"]
            shown = ", ".join(map(str, value)) if isinstance(value, list) else str(value)
            table.add_row(escape(key), escape(shown), escape(setting["from"]))
        out.print(table)


def _inventory(
    c: Context,
    list: bool = False,
    limit: str | None = None,
    guest: Any = None,
    inventory: str | None = None,
    json: bool = False,
) -> Result:
    """Show what the inventory resolves to: with --list, the selected guests (--limit, --guest) and
    where each of their settings came from (the guest, a group, all, or a default)."""
    from agent.inventory.limit import select_guests
    from agent.inventory.loader import load_inventory_with_origins

    if not list:
        raise UsageError(f"inventory needs {opt('list')}", hint="gda inventory --list [--limit PATTERN]")
    names = tuple(guest or ())
    path = Path(str(or_setting(inventory, c.config, "inventory")))
    loaded, origins = load_inventory_with_origins(path)
    chosen = select_guests(loaded, limit=limit, guests=names)
    data = resolved_json(loaded, origins, chosen)
    return Result(data, lambda: _human(data))


_inventory.__name__ = "inventory"
_plain_task = gda_task(INVENTORY_OPTS)(_inventory)
inventory = _RepeatableTask(_plain_task.body, opts=INVENTORY_OPTS, iterable=["guest"], name="inventory")
