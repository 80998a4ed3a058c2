"""What a vm-bhyve guest's conf says that an inventory entry can use (pure): its NICs' MACs, its disks
(the host device passed through, and the NVMe serial the guest will see), its serial console.

The conf is read as vm-bhyve reads it (agent.core.vmbhyve.vmconf); the disks and NICs vm-bhyve
attaches, their slots and paths come from its slot plan (agent.core.vmbhyve.vmslots). The serial of an
NVMe disk is the last ``ser=`` of ``diskN_opts``, else bhyve's ``NVME-<slot>-<function>``
(usr.sbin/bhyve/pci_nvme.c), cut to the 20 bytes of the NVMe serial field: the rule of
agent.ops.attach_report.guest_serial and agent.core.host.host_checks. The console is vm-bhyve's
``comports`` (default ``com1``): the first port is ``/dev/nmdm-<name>.1B`` (lib/vm-run
``vm::bhyve_device_comports``, v1.6.2 lines 382-412), what ``vm console <name>`` opens with ``cu``.

Every string taken from the host is cleaned of control characters (agent.core.guest_text.clean).
"""

from __future__ import annotations

from dataclasses import dataclass

from agent.core.guest_text import clean
from agent.core.host.host_checks import NVME_SERIAL_MAX
from agent.core.vmbhyve.vmconf import DiskConf, parse_vm_config, ser_option
from agent.core.vmbhyve.vmslots import HostContext, plan_slots, resolve_disk_path


@dataclass(frozen=True)
class NicDraft:
    index: int
    mac: str | None  # networkN_mac; None: vm-bhyve makes one up at every start
    type: str | None
    switch: str | None
    attached: bool  # in vm-bhyve's slot plan


@dataclass(frozen=True)
class DiskDraft:
    index: int
    name: str | None
    dev: str  # file when unset (vm::get_disk_path's default)
    type: str | None
    path: str | None  # what bhyve opens (resolved like vm-bhyve); None without a name
    attached: bool  # vm-bhyve passes it to bhyve (the disk loop reaches it)
    serial: str | None = None  # NVMe: what the guest will see
    serial_source: str | None = None  # "ser" (diskN_opts) or "slot" (bhyve's default, changes with the slot)
    slot: str | None = None  # "S:F" in the slot plan

    @property
    def passed_through(self) -> bool:
        """A host device handed to the guest as it is (``custom`` with a ``/dev/...`` name)."""
        return self.dev == "custom" and (self.path or "").startswith("/dev/")


@dataclass(frozen=True)
class GuestDraft:
    """One guest as its conf describes it. ``problems``: what made parts of it unknown."""

    name: str
    conf_path: str | None
    nics: tuple[NicDraft, ...] = ()
    disks: tuple[DiskDraft, ...] = ()
    console_device: str | None = None  # /dev/nmdm-<name>.1B, what `vm console` opens
    comports: tuple[str, ...] = ()
    loader: str | None = None
    problems: tuple[str, ...] = ()

    @property
    def passthrough(self) -> tuple[DiskDraft, ...]:
        return tuple(d for d in self.disks if d.passed_through)


def _disk(d: DiskConf, ctx: HostContext, placed: dict[int, tuple[int, int]]) -> DiskDraft:
    dev = d.dev or "file"
    path = clean(resolve_disk_path(d.name, d.dev, ctx)) if d.name else None
    at = placed.get(d.index)
    serial = source = None
    if d.type == "nvme":
        ser = ser_option(d.opts)
        if ser:
            serial, source = clean(ser[:NVME_SERIAL_MAX]), "ser"
        elif at is not None:
            serial, source = f"NVME-{at[0]}-{at[1]}", "slot"
    return DiskDraft(
        d.index,
        clean(d.name) if d.name else None,
        clean(dev),
        clean(d.type) if d.type else None,
        path,
        at is not None,
        serial,
        source,
        f"{at[0]}:{at[1]}" if at is not None else None,
    )


def draft_guest(name: str, conf_text: str, *, vm_dir: str, zvol_dataset: str) -> GuestDraft:
    """The guest ``name`` whose conf is ``conf_text``; ``vm_dir`` is the datastore's folder (the guest's
    folder is ``vm_dir/name``), ``zvol_dataset`` its ZFS dataset (for zvol disks; may be empty)."""
    conf = parse_vm_config(conf_text)
    folder = f"{vm_dir.rstrip('/')}/{name}"
    ctx = HostContext(vm_dir=folder, vm_name=name, zvol_dataset=zvol_dataset)
    plan = plan_slots(conf, ctx)
    placed = {p.index: (p.slot, p.func) for p in plan.disks}
    nic_placed = {n.index for n in plan.nics}
    nics = tuple(
        NicDraft(
            n.index, clean(n.mac) if n.mac else None, _opt(n.type), _opt(n.switch), n.index in nic_placed
        )
        for n in conf.nics
    )
    problems = [f"vm-bhyve would not start it: {clean(plan.refusal)}"] if plan.refusal else []
    problems += [f"line {i.line}: {i.kind}" for i in conf.issues if i.kind in ("carriage-return", "not-utf8")]
    ports = tuple(clean(p) for p in (conf.get("comports", "com1") or "").split())
    return GuestDraft(
        name=name,
        conf_path=f"{folder}/{name}.conf",
        nics=nics,
        disks=tuple(_disk(d, ctx, placed) for d in conf.disks),
        console_device=f"/dev/nmdm-{name}.1B" if ports else None,
        comports=ports,
        loader=_opt(conf.loader),
        problems=tuple(problems),
    )


def _opt(value: str | None) -> str | None:
    return clean(value) if value else None


def unread_guest(name: str, why: str) -> GuestDraft:
    """A guest ``vm list`` shows whose conf was not read (``why``)."""
    return GuestDraft(name=name, conf_path=None, problems=(clean(why),))
