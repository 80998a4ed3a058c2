"""``inventory``: what the inventory resolves to, or a draft of one from a vm-bhyve host.

``gda inventory --list [--limit PATTERN] [--guest NAME ...] [--json]`` shows each selected guest with
its groups and every setting it ends up with, and where that value came from: ``guest`` (its own entry),
``group NAME``, ``all``, or ``default`` (``default (on: HOST)`` for a console that its ``on:`` host gives).

``gda inventory --from-host HOST [--host-port/--host-user/--host-identity-file/--host-known-hosts]
[-i INVENTORY] [--json]`` prints an inventory to start from, one guest per vm-bhyve guest of HOST
(agent.ops.inventory_from_host): HOST is an SSH address or ~/.ssh/config alias, or with ``-i`` the name
of a host under that inventory's ``hosts:`` (its settings, the options overriding them).
The body imports the inventory (pydantic) inside the task, so ``gda --help`` stays fast.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from invoke.context import Context
from invoke.parser.argument import Argument

from agent.cli import emit
from agent.cli.config import or_setting
from agent.cli.emit import Result, escape, info
from agent.cli.host_tasks import HOST_SSH_OPTS
from agent.cli.options import CheckedArgument, GdaTask, Opt
from agent.cli.tasking import JSON_OPT, gda_task
from agent.errors import UsageError
from agent.hints import opt

if TYPE_CHECKING:
    from agent.core.vmbhyve.inventory_draft import HostEntry
    from agent.inventory import Guest, Inventory
    from agent.inventory.limit import Selected

INVENTORY_OPTS = {
    "list": Opt("show the resolved guests and where each setting came from (guest, group, all, default)"),
    "limit": Opt("only the guests this pattern selects: names, globs (lab*), groups, !name, &name, a,b", "l"),
    "guest": Opt("only this guest (repeat for more)", "g"),
    "inventory": Opt("inventory file (default ./inventory.yaml; with --from-host: the host's hosts: entry)",
                     "i"),
    "from_host": Opt("print an inventory to start from: the guests vm-bhyve lists on this FreeBSD host", "H"),
    **HOST_SSH_OPTS,
    "port": dataclasses.replace(HOST_SSH_OPTS["port"], help="SSH port of --from-host (or its hosts: entry)"),
    "accept_new_host_key": Opt("accept and record an unknown host key of --from-host (like accept-new)", "a"),
    **JSON_OPT,
}  # fmt: skip

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
    from rich.table import Table

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
        emit.out.print(table)


def _inventory(
    c: Context,
    list: bool = False,
    limit: str | None = None,
    guest: Any = None,
    inventory: str | None = None,
    from_host: str | None = None,
    port: int | None = None,
    user: str | None = None,
    host_identity_file: Path | None = None,
    host_known_hosts: Path | None = None,
    accept_new_host_key: bool = False,
    json: bool = False,
) -> Result:
    """Show what the inventory resolves to: with --list, the selected guests (--limit, --guest) and
    where each of their settings came from (the guest, a group, all, or a default). With --from-host
    HOST, print an inventory to start from: one guest per vm-bhyve guest of HOST (vm list, and each
    guest's config for its MACs, disks and console), to be completed with the guests' addresses.

    Exit 1 when HOST has no vm-bhyve guests to read (what was found is said), 4 when it is unreachable."""
    from agent.inventory.limit import select_guests
    from agent.inventory.loader import load_inventory_with_origins

    ssh_given = any(v is not None for v in (port, user, host_identity_file, host_known_hosts))
    if from_host is not None:
        if list or limit or guest:
            raise UsageError(f"{opt('from_host')} drafts a new inventory: it takes no {opt('list')}, "
                             f"{opt('limit')} or {opt('guest')}")  # fmt: skip
        entry = _host_entry(from_host, inventory, port, user, host_identity_file, host_known_hosts)
        return _from_host(entry, accept_new_host_key)
    if ssh_given or accept_new_host_key:
        raise UsageError(f"the host options go with {opt('from_host')} HOST")
    if not list:
        raise UsageError(
            f"inventory needs {opt('list')} or {opt('from_host')} HOST",
            hint="gda inventory --list [--limit PATTERN]; gda inventory --from-host HOST > inventory.yaml",
        )
    names = tuple(guest or ())
    path = Path(str(or_setting(inventory, c.config, "inventory")))
    loaded, origins = load_inventory_with_origins(path)
    chosen = select_guests(loaded, limit=limit, guests=names)
    data = resolved_json(loaded, origins, chosen)
    return Result(data, lambda: _human(data))


def _host_entry(
    name: str,
    inventory: str | None,
    port: int | None,
    user: str | None,
    identity_file: Path | None,
    known_hosts: Path | None,
) -> HostEntry:
    """The host's entry: from ``-i``'s ``hosts:`` (the options override it), else ``name`` as the address."""
    import re

    from agent.core.vmbhyve.inventory_draft import HostEntry
    from agent.inventory import load_inventory

    def text(p: Path | None) -> str | None:
        return str(p) if p is not None else None

    if inventory is None:
        key = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-._") or "bhyvehost"
        return HostEntry(key, name, port, user, text(identity_file), text(known_hosts))
    path = Path(inventory)
    inv = load_inventory(path)
    if name not in inv.hosts:
        listed = ", ".join(sorted(inv.hosts)) or "none"
        raise UsageError(
            f"no host {name!r} under hosts: in {path} (hosts: {listed})",
            hint=f"give a host of {path}, or leave out {opt('inventory')} to reach {name} as an SSH address",
        )
    h = inv.hosts[name]
    return HostEntry(
        name,
        h.host,
        port or h.port,
        user or h.user,
        text(identity_file or h.identity_file),
        text(known_hosts or h.known_hosts),
        h.sudo_password_env,
        h.vm_command,
    )


def _from_host(entry: HostEntry, accept_new_host_key: bool) -> Result:
    from agent.cli.host_tasks import _sudo_password
    from agent.core.vmbhyve.inventory_draft import draft_json, guest_names
    from agent.ops import inventory_from_host as op
    from agent.ops.vm_check import host_target
    from agent.transport.ssh import SshSession  # only the host needs SSH

    target = host_target(
        entry.host,
        entry.port,
        entry.user,
        identity_file=Path(entry.identity_file) if entry.identity_file else None,
        known_hosts=Path(entry.known_hosts) if entry.known_hosts else None,
    )
    env = entry.sudo_password_env
    session = SshSession(
        target,
        accept_new_host_key=accept_new_host_key,
        sudo_password=_sudo_password(env),
        sudo_password_env=env,
    )
    with session as s:
        read = op.read_host(s, entry.vm_command, root=env is not None)
    drafted = op.draft(read, entry)
    data = draft_json(drafted)

    def human() -> None:
        import sys

        sys.stdout.write(data["inventory_yaml"])  # cleaned already: YAML, not rich text
        sys.stdout.flush()
        names = ", ".join(guest_names(drafted)) or "none"
        info(f"drafted {len(drafted.guests)} guest(s) from {entry.name}: {names}")

    return Result(data, human)


_inventory.__name__ = "inventory"
_plain_task = gda_task(INVENTORY_OPTS)(_inventory)
inventory = _RepeatableTask(_plain_task.body, opts=INVENTORY_OPTS, iterable=["guest"], name="inventory")
