"""An inventory to start from, drafted from a vm-bhyve host's guests (pure): ``gda inventory --from-host``.

:func:`build_draft` joins ``vm list``'s rows (agent.core.vmbhyve.vm_list) with the guests' confs
(agent.core.vmbhyve.guest_draft); :func:`render_yaml` writes the inventory with ruamel.yaml, comments
included: per guest ``on: HOST``, ``network.mac`` (``network0_mac``), ``disk:`` (the host device passed
through, ``host_path``; for NVMe the serial the guest will see; ``host_os: freebsd``), and comments for
what the host cannot know (the guest's address and user, the netplan file) and what it says besides (the
other disks and NICs, the console). The draft loads with agent.inventory.load_inventory: a guest's
``host:`` (required) is its name, to be replaced by its address (or kept as an ~/.ssh/config alias).

Strings from the host arrive cleaned of control characters; every scalar that YAML 1.1 (Ansible's) or
1.2 could read as something other than a string (``yes``, ``on``, ``null``, ``1e3``, a MAC of digits)
is double-quoted. A guest name that is not an inventory name is left out, and said so in the header.
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.scalarstring import DoubleQuotedScalarString

from agent.core.guest_text import clean
from agent.core.vmbhyve.guest_draft import DiskDraft, GuestDraft, draft_guest, unread_guest
from agent.core.vmbhyve.vm_list import VmListing, VmListRow

_PLAIN_RE = re.compile(r"[A-Za-z/][A-Za-z0-9_./-]*")
_YAML11_WORDS = {"y", "n", "yes", "no", "on", "off", "true", "false", "null", "~"}
_ADDRESS_TODO = "TODO the guest's SSH address (not known on the host; its name as an alias)"
_USER_TODO = "user: admin  # TODO the guest's login user"
_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")  # the inventory's (and vm-bhyve's) name rule


def yaml_scalar(value: str) -> str:
    """``value`` as a plain scalar when no YAML reads it as anything but that string, else double-quoted."""
    if _PLAIN_RE.fullmatch(value) and value.lower() not in _YAML11_WORDS:
        return value
    quoted: str = DoubleQuotedScalarString(value)
    return quoted


def env_name(guest: str, what: str) -> str:
    """A variable name for ``guest``'s ``what`` (``XDEV_SUDO_PASSWORD``), for the placeholders."""
    stem = re.sub(r"[^A-Za-z0-9]", "_", guest).upper()
    return f"{'GDA_' if stem[:1].isdigit() else ''}{stem}_{what}"


@dataclass(frozen=True)
class HostEntry:
    """The host's entry under ``hosts:`` (``name``) and how it was reached."""

    name: str
    host: str
    port: int | None = None
    user: str | None = None
    identity_file: str | None = None
    known_hosts: str | None = None
    sudo_password_env: str | None = None
    vm_command: str = "vm"

    def to_map(self) -> CommentedMap:
        m = CommentedMap(host=yaml_scalar(self.host))
        for key in ("port", "user", "identity_file", "known_hosts", "sudo_password_env"):
            value = getattr(self, key)
            if value is not None:
                m[key] = value if isinstance(value, int) else yaml_scalar(str(value))
        if self.vm_command != "vm":
            m["vm_command"] = yaml_scalar(self.vm_command)
        return m


@dataclass(frozen=True)
class DraftGuest:
    draft: GuestDraft
    row: VmListRow


@dataclass(frozen=True)
class InventoryDraft:
    host: HostEntry
    vm_dir: str  # rc.conf's vm_dir as set (zfs:pool/ds or a path)
    folder: str  # where it is mounted
    guests: tuple[DraftGuest, ...]
    skipped: tuple[tuple[str, str], ...] = ()  # (name as shown, why it is not in the draft)
    notes: tuple[str, ...] = field(default_factory=tuple)


def build_draft(
    host: HostEntry,
    listing: VmListing,
    confs: Mapping[str, str],
    *,
    vm_dir: str,
    folder: str,
    dataset: str,
    unread: Mapping[str, str] | None = None,
    datastores: Mapping[str, tuple[str, str]] | None = None,
) -> InventoryDraft:
    """The draft of every guest ``vm list`` shows. ``confs``: the confs read from the host, by guest name
    for the default datastore (``folder/NAME/NAME.conf``) and by ``DS/NAME`` for the datastore ``DS`` of
    ``datastores`` (name -> its folder and ZFS dataset, from system.conf's ``path_DS``). A guest whose
    conf was not read (``unread``: why, by the same key) is drafted from its ``vm list`` row alone, with
    the reason."""
    guests: list[DraftGuest] = []
    skipped: list[tuple[str, str]] = []
    stores = {"default": (folder, dataset), **(datastores or {})}
    for row in listing.rows:
        if not _NAME_RE.fullmatch(row.name):
            skipped.append((row.name, "not an inventory name (letters, digits, '.', '_', '-')"))
            continue
        key = row.name if row.datastore == "default" else f"{row.datastore}/{row.name}"
        if row.datastore not in stores:
            ds = row.datastore
            why = f"in datastore {ds}, whose folder was not found (path_{ds} in system.conf)"
            guests.append(DraftGuest(unread_guest(row.name, why), row))
            continue
        where, zvols = stores[row.datastore]
        if key in confs:
            draft = draft_guest(row.name, confs[key], vm_dir=where, zvol_dataset=zvols)
            guests.append(DraftGuest(draft, row))
        else:
            why = f"{where}/{row.name}/{row.name}.conf was not read"
            if unread and key in unread:
                why += f": {unread[key]}"
            guests.append(DraftGuest(unread_guest(row.name, why), row))
    notes = tuple(f"vm list line {n}: {why}" for n, why in listing.problems)
    return InventoryDraft(host, clean(vm_dir), clean(folder), tuple(guests), tuple(skipped), notes)


# ------------------------------------------------------------------------------------------ YAML
def _eol(m: CommentedMap, key: str, comment: str, indent: int) -> None:
    """``# comment`` at the end of ``key``'s line, two blanks after its value (ruamel's own column
    is taken from the comment above and may leave one blank)."""
    value = m[key]
    shown = len(str(value)) + (2 if isinstance(value, DoubleQuotedScalarString) else 0)
    m.yaml_add_eol_comment(clean(comment), key, column=indent + len(key) + 2 + shown + 2)


def _disk_line(d: DiskDraft, *, path: bool = True) -> str:
    where = f"slot {d.slot}" if d.slot else "not attached: the disk loop stops before it"
    shown = f", {d.path or '(no name)'}" if path else ""
    return f"disk{d.index}: {d.type or '(no type)'}, {d.dev}{shown} ({where})"


def _serial_comment(d: DiskDraft) -> str:
    if d.serial_source == "ser":
        return f"ser= in disk{d.index}_opts"
    return f"bhyve's default from slot {d.slot}: it changes with the slot (gda attach writes ser=)"


def _disk_map(g: GuestDraft, before: list[str]) -> CommentedMap:
    disk = CommentedMap()
    chosen = g.passthrough[0] if g.passthrough else None
    if chosen is not None:
        disk["host_path"] = yaml_scalar(chosen.path or "")
        _eol(disk, "host_path", _disk_line(chosen, path=False), 6)
        if chosen.serial:
            disk["serial"] = yaml_scalar(chosen.serial)
            _eol(disk, "serial", _serial_comment(chosen), 6)
    disk["host_os"] = "freebsd"
    if chosen is None and g.conf_path is not None:
        before.append("disk: no host device passed through yet (no custom /dev/... disk): "
                      "gda attach --guest NAME --device /dev/... adds one")  # fmt: skip
    for d in g.disks:
        if d is not chosen:
            extra = "another host device: disk: pins one" if d.passed_through else "not passed through"
            before.append(f"{_disk_line(d)}: {extra}")
    return disk


def _network_map(g: GuestDraft, before: list[str]) -> CommentedMap | None:
    first = next((n for n in g.nics if n.attached and n.mac), None)
    for n in g.nics:
        if n is first:
            continue
        if n.mac is None:
            before.append(f"network{n.index}: no network{n.index}_mac: vm-bhyve makes up a MAC at every "
                          "start (gda attach pins it)")  # fmt: skip
        else:
            before.append(f"network{n.index}_mac={n.mac}" + ("" if n.attached else " (not attached)"))
    if first is None:
        return None
    net = CommentedMap(mac=yaml_scalar(first.mac or ""))
    _eol(net, "mac", f"network{first.index}_mac ({first.type or '?'} on {first.switch or '?'})", 6)
    net.yaml_set_comment_before_after_key(
        "mac",
        before="netplan_file: /etc/netplan/50-cloud-init.yaml  # in the guest: not known here",
        indent=6,
    )
    return net


def _guest_map(dg: DraftGuest, host: HostEntry) -> CommentedMap:
    g, row = dg.draft, dg.row
    about = [
        f"vm list: {row.state}, datastore {row.datastore}" + (f", conf {g.conf_path}" if g.conf_path else "")
    ]
    about += [f"not known: {p}" for p in g.problems]
    m = CommentedMap()
    m["host"] = yaml_scalar(g.name)
    _eol(m, "host", _ADDRESS_TODO, 4)
    m["on"] = yaml_scalar(host.name)
    m.yaml_set_comment_before_after_key(
        "on",
        before=f"{_USER_TODO}\nsudo_password_env: {env_name(g.name, 'SUDO_PASSWORD')}",
        indent=4,
    )
    if g.conf_path is not None:
        net = _network_map(g, about)
        if net is not None:
            m["network"] = net
        m["disk"] = _disk_map(g, about)
        if g.console_device:
            about.append(
                f"console: with on: it is `{host.vm_command} console {g.name}` over SSH to {host.name}, "
                f"cu on {g.console_device} ({g.comports[0]})"
            )
    m.yaml_set_comment_before_after_key("host", before="\n".join(clean(a) for a in about), indent=4)
    return m


def _header(d: InventoryDraft) -> str:
    lines = [
        f"guest-disk-agent inventory drafted by `gda inventory --from-host {d.host.name}` from vm-bhyve",
        f"(vm_dir={d.vm_dir}, mounted at {d.folder}): {len(d.guests)} guest(s). A draft to start from:",
        "give each guest its address and user (the host cannot know them), then check it with",
        "`gda inventory --list -i FILE`.",
    ]
    lines += [f"left out: {clean(name)}: {why}" for name, why in d.skipped]
    lines += [clean(n) for n in d.notes]
    return "\n".join(lines)


def to_commented(d: InventoryDraft) -> CommentedMap:
    root = CommentedMap()
    root["hosts"] = CommentedMap({yaml_scalar(d.host.name): d.host.to_map()})
    guests = CommentedMap()
    for dg in d.guests:
        guests[yaml_scalar(dg.draft.name)] = _guest_map(dg, d.host)
    root["guests"] = guests
    root.yaml_set_start_comment(_header(d))
    return root


def render_yaml(d: InventoryDraft) -> str:
    """The draft as inventory YAML (with its comments)."""
    yaml = YAML(typ="rt")
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.width = 4096  # long comments stay on their line
    buf = io.StringIO()
    yaml.dump(to_commented(d), buf)
    return buf.getvalue()


def draft_json(d: InventoryDraft) -> dict[str, Any]:
    """The draft for ``--json``: the YAML and what it was made of."""
    return {
        "host": {"name": d.host.name, "host": d.host.host, "vm_dir": d.vm_dir, "folder": d.folder},
        "guests": [_guest_json(dg) for dg in d.guests],
        "skipped": [{"name": clean(n), "why": w} for n, w in d.skipped],
        "notes": list(d.notes),
        "inventory_yaml": render_yaml(d),
    }


def _guest_json(dg: DraftGuest) -> dict[str, Any]:
    g = dg.draft
    return {
        "name": g.name,
        "state": dg.row.state,
        "running": dg.row.running,
        "datastore": dg.row.datastore,
        "conf": g.conf_path,
        "macs": [{"index": n.index, "mac": n.mac, "attached": n.attached} for n in g.nics],
        "disks": [_disk_json(x) for x in g.disks],
        "console_device": g.console_device,
        "problems": list(g.problems),
    }


def _disk_json(d: DiskDraft) -> dict[str, Any]:
    return {
        "index": d.index, "name": d.name, "dev": d.dev, "type": d.type, "path": d.path, "slot": d.slot,
        "attached": d.attached, "passed_through": d.passed_through, "serial": d.serial,
        "serial_source": d.serial_source,
    }  # fmt: skip


def guest_names(d: InventoryDraft) -> Sequence[str]:
    return [dg.draft.name for dg in d.guests]
