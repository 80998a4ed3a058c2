"""``gda inventory --from-host HOST``: read a vm-bhyve host's guests, draft an inventory from them.

One SSH connection, one script (``agent/scripts/inventory_from_host.sh``, framed by agent.core.marker,
header kind ``VMINV``): rc.conf's ``vm_dir`` (``zfs:pool/ds`` resolved to its mountpoint), ``vm list``
(run as the host's ``vm_command`` says, its words given as the script's arguments, never spliced into
its text), and every guest conf of every datastore as a hex dump, so the bytes arrive as vm-bhyve
reads them. Everything else is pure: :func:`parse_read` splits the output, agent.core.vmbhyve.vm_list
reads the listing and agent.core.vmbhyve.inventory_draft drafts and renders the inventory. The other
datastores (``datastore_list`` and ``path_<name>`` in ``$vm_dir/.config/system.conf``) are read too.

A host without vm-bhyve (no ``vm`` command, no ``vm_dir`` in rc.conf, a ``vm list`` that fails) is
refused (exit 1) with what was found there; an unreachable host is exit 4 (the SSH transport's).
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field

from agent.core import marker, script_render
from agent.core.guest_text import clean
from agent.core.vmbhyve.inventory_draft import HostEntry, InventoryDraft, build_draft
from agent.core.vmbhyve.vm_list import VmListError, parse_vm_list
from agent.core.vmbhyve.vmconf import decode_conf
from agent.errors import Refused
from agent.transport.protocol import CommandProtocol

MARKER_KIND = "VMINV"
SCRIPT_EXITS = {
    "EXIT_OK": 0,
    "EXIT_NO_VM": 3,
    "EXIT_NO_VM_DIR": 4,
    "EXIT_NO_MOUNTPOINT": 5,
    "EXIT_NO_TEMP": 6,
}
TIMEOUT = 120.0  # seconds for the whole read (vm list reads every conf; a big host takes a while)
_HINTS = {
    "no-vm": "install vm-bhyve on the host (pkg install vm-bhyve), or set the host's vm_command in the "
    "inventory (e.g. vm_command: sudo vm) and give it with -i",
    "no-vm-dir": "set up vm-bhyve on the host: sysrc vm_enable=YES vm_dir=zfs:POOL/vms; vm init",
    "no-mountpoint": "check the dataset rc.conf's vm_dir names (zfs list)",
}


@dataclass(frozen=True)
class HostRead:
    """What the script found: rc.conf's ``vm_dir``, its folder and dataset, ``vm list``'s output, the
    confs by guest name (``DS/NAME`` in another datastore), the other datastores found (name -> folder,
    ZFS dataset), and folder names it did not read (cleaned)."""

    label: str
    vm_command: str
    vm_dir: str
    folder: str
    dataset: str
    vm_list: str
    confs: dict[str, str]
    skipped: tuple[str, ...] = ()
    unread: dict[str, str] = field(default_factory=dict)  # guest name -> why its conf was not read
    datastores: dict[str, tuple[str, str]] = field(default_factory=dict)  # other datastores: folder, dataset


def read_script(vm_command: str, *, nonce: str) -> str:
    """The one script, with ``vm_command``'s words (``sudo vm``) as its arguments."""
    argv = shlex.split(vm_command) or ["vm"]
    return script_render.render("inventory_from_host", nonce=nonce, exit_codes=SCRIPT_EXITS, argv=argv)


def _refused(label: str, message: str, hint: str | None = None) -> Refused:
    return Refused(f"no vm-bhyve guests to draft on {label}: {clean(message)}", hint=hint)


def _hex(text: str, what: str, label: str) -> bytes:
    try:
        return bytes.fromhex("".join(text.split()))
    except ValueError:
        raise _refused(label, f"the hex dump of {what} is damaged") from None


def parse_read(stdout: str, *, nonce: str, label: str, vm_command: str = "vm") -> HostRead:
    """The script's output split up (pure). :class:`Refused` when the host has no usable vm-bhyve or the
    output is not this run's."""
    try:
        framed = marker.parse(stdout, MARKER_KIND, what=f"reading the vm-bhyve guests on {label}")
    except marker.MarkerError as e:
        raise _refused(label, e.message, e.hint) from None
    if framed.nonce != nonce:
        raise _refused(label, "the output does not carry this run's marker")
    listing = framed.get("vm_list")
    said = ""
    if listing is not None:
        words = (listing.stderr or listing.stdout).strip()
        said = f"; `{vm_command} list` said: {' | '.join(words.splitlines()[:3])}" if words else ""
    if framed.result is not None and framed.result[0] != 0:
        reason = framed.result[1]
        raise _refused(label, framed.observed.get("error", reason) + said, _HINTS.get(reason))
    if not framed.complete or listing is None or framed.result is None:
        raise _refused(label, "the output was cut short")
    if listing.rc != 0:
        detail = said or f"; `{vm_command} list` exited {listing.rc}"
        raise _refused(label, f"`{vm_command} list` failed{detail}", _HINTS["no-vm-dir"])
    confs: dict[str, str] = {}
    unread: dict[str, str] = {}
    for section in framed.all("conf_hex"):
        if section.rc == 0:
            confs[section.arg] = decode_conf(_hex(section.stdout, f"{section.arg}.conf", label))
        else:
            said_od = section.stderr.strip().splitlines()
            unread[section.arg] = clean(said_od[0] if said_od else f"od exited {section.rc}")
    skipped_section = framed.get("skipped")
    skipped = tuple(
        clean(_hex(line, "a folder name", label).decode("utf-8", errors="replace"))
        for line in (skipped_section.stdout.split() if skipped_section else [])
    )
    datastores: dict[str, tuple[str, str]] = {}
    for key, spec in framed.observed.items():
        name = key.removeprefix("datastore.")
        found = framed.observed.get(f"datastore_dir.{name}")
        if key.startswith("datastore.") and found:
            datastores[name] = (found, spec.removeprefix("zfs:") if spec.startswith("zfs:") else "")
    return HostRead(
        label=label,
        vm_command=clean(framed.observed.get("vm_command", vm_command)),
        vm_dir=framed.observed.get("vm_dir", ""),
        folder=framed.observed.get("dir", ""),
        dataset=framed.observed.get("dataset", ""),
        vm_list=listing.stdout,
        confs=confs,
        skipped=skipped,
        unread=unread,
        datastores=datastores,
    )


def draft(read: HostRead, host: HostEntry) -> InventoryDraft:
    """The inventory draft of what ``read`` found (pure). :class:`Refused` when ``vm list``'s output
    cannot be read."""
    try:
        listing = parse_vm_list(read.vm_list)
    except VmListError as e:
        raise _refused(read.label, str(e)) from None
    d = build_draft(host, listing, read.confs, vm_dir=read.vm_dir, folder=read.folder, dataset=read.dataset,
                    unread=read.unread, datastores=read.datastores)  # fmt: skip
    extra = tuple(
        (name, "a folder of vm_dir whose name vm-bhyve would not take: not read") for name in read.skipped
    )
    return InventoryDraft(d.host, d.vm_dir, d.folder, d.guests, d.skipped + extra, d.notes)


def read_host(conn: CommandProtocol, vm_command: str, *, root: bool) -> HostRead:
    """Run the script on the host ``conn`` is connected to (as root with ``root``) and split its output."""
    nonce = marker.new_nonce()
    r = conn.run(read_script(vm_command, nonce=nonce), root=root, timeout=TIMEOUT)
    if not marker.has_header(r.stdout, MARKER_KIND):
        detail = clean((r.stderr or r.stdout).strip()) or f"exit status {r.status}"
        raise _refused(conn.label, f"the read script did not run: {detail}")
    return parse_read(r.stdout, nonce=nonce, label=conn.label, vm_command=vm_command)
