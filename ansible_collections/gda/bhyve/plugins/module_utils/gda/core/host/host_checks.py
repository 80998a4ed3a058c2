# GENERATED from agent/core/host/host_checks.py by `python -m agent.collection_build`: do not edit.
"""The decision: may this host device be passed through to the guest and formatted? (pure)

:func:`check_host_device` takes the :class:`~agent.core.host.host_facts.HostFacts` and one device path
(``/dev/diskid/DISK-Y39B70RTK7ASp4``, ``/dev/nda0p4``, ``/dev/gpt/data``) and returns a
:class:`~agent.core.host.host_finding.HostCheck`. Every name is compared through
:class:`~agent.core.host.glabel_status.GeomNames` (``diskid/DISK-Y39B70RTK7ASp4`` → ``nda0p4``), so a
pool that lists ``/dev/gpt/zfs0`` or swap on ``/dev/nda0p2.eli`` is matched to the partition.

* **error**: type ``freebsd-zfs``, ``freebsd-ufs``, ``freebsd-swap``, ``efi`` or ``freebsd-boot``; in an
  imported pool (``zpool status -P``) or carrying a pool label (``zdb -l``; ``fstyp`` says ``zfs``);
  mounted (``mount -p``); active swap (``swapctl -l``); a whole disk that carries a partition table;
  not known to the host at all. When exactly one other ``linux-data`` partition of a plausible size
  (≥ 1 GiB, not in use) is on the same disk, the fix names it.
* **warning**: a type other than ``linux-data``; open by someone (``Mode`` not ``r0w0e0``) while the
  guest is stopped; a filesystem already there (``fstyp``: the guest's format would need
  ``{opt:force}``); a check that could not run (an error when it is gpart's, or the output was cut
  short: then the type and the table are unknown).
* **info**: the size in bytes the guest will see (``diskinfo -v``), the NVMe serial it will see
  (``ser=`` from ``diskN_opts``, else bhyve's ``NVME-<slot>-<function>``, usr.sbin/bhyve/pci_nvme.c).
"""

from __future__ import annotations

from dataclasses import dataclass

from ansible_collections.gda.bhyve.plugins.module_utils.gda.core.host.gpart_output import GeomEntry, ListGeom
from ansible_collections.gda.bhyve.plugins.module_utils.gda.core.host.host_facts import HostFacts
from ansible_collections.gda.bhyve.plugins.module_utils.gda.core.host.host_finding import HostCheck, HostFinding
from ansible_collections.gda.bhyve.plugins.module_utils.gda.hints import opt

REFUSED_TYPES = {
    "freebsd-zfs": "a FreeBSD ZFS partition",
    "freebsd-ufs": "a FreeBSD UFS filesystem",
    "freebsd-swap": "FreeBSD swap space",
    "efi": "the EFI system partition the host boots from",
    "freebsd-boot": "FreeBSD boot code",
}
WANTED_TYPE = "linux-data"
PLAUSIBLE_MIN_BYTES = 1 << 30
NVME_SERIAL_MAX = 20  # bytes of the NVMe serial number field (pci_nvme.c copies ser= into it)
# without these the type and table are unknown, and nothing may be passed through; the others warn
BLOCKING_SECTIONS = {
    "gpart_show": ": the partition type and table are unknown",
    "gpart_list": ": the partition type and table are unknown",
    "done": "",
}


def human(n: int) -> str:
    """Bytes as binary units, e.g. ``256 GiB``, ``1.8 TiB``."""
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if size < 1024 or unit == "PiB":
            return f"{size:.0f} {unit}" if size >= 10 or unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


@dataclass(frozen=True)
class _Where:
    """Where the device sits: its geom and provider (a partition), or the geom it carries (a disk)."""

    part_geom: ListGeom | None
    part: GeomEntry | None
    disk_geom: ListGeom | None  # the table on the device itself (whole disk)


def _locate(facts: HostFacts, canon: str) -> _Where:
    names = facts.names
    part_geom = part = disk_geom = None
    for g in facts.geoms:
        for p in g.providers:
            if part is None and names.canonical(p.name) == canon:
                part_geom, part = g, p
        if disk_geom is None and (
            names.canonical(g.name) == canon or any(names.canonical(c.name) == canon for c in g.consumers)
        ):
            disk_geom = g
    return _Where(part_geom, part, disk_geom)


def _geom_disk(facts: HostFacts, g: ListGeom) -> str:
    if g.consumers:
        return facts.names.canonical(g.consumers[0].name)
    return facts.names.canonical(g.name)


def _in_use(facts: HostFacts, canon: str, shown: str) -> list[HostFinding]:
    """Errors for a provider in an imported pool, carrying a pool label, mounted or swapping."""
    names = facts.names
    out: list[HostFinding] = []
    imported: set[str] = set()
    for pool in facts.pools:
        for v in pool.vdevs:
            if names.canonical(v) == canon:
                imported.add(pool.name)
                out.append(
                    HostFinding(
                        "in-pool",
                        "error",
                        f"{shown} is in the imported ZFS pool {pool.name} (zpool status -P lists {v}, "
                        f"state {pool.state or 'unknown'}): formatting it would destroy the pool's data",
                        data={"pool": pool.name, "vdev": v},
                    )
                )
    for dev, z in facts.zdb.items():
        if not z.found or names.canonical(dev) != canon or (z.pool and z.pool in imported):
            continue
        where = f"pool_guid {z.pool_guid}" + (f", last used by host {z.hostname}" if z.hostname else "")
        data = {"pool": z.pool, "state": z.state_name, "pool_guid": z.pool_guid}
        if z.state == 2:
            out.append(
                HostFinding(
                    "destroyed-pool-label",
                    "warning",
                    f"{shown} carries the label of the destroyed ZFS pool {z.pool} (zdb -l, {where}): "
                    "`zpool import -D` could still bring it back",
                    "make sure that pool is not wanted any more; `zpool labelclear` removes the label",
                    data=data,
                )
            )
            continue
        out.append(
            HostFinding(
                "pool-label",
                "error",
                f"{shown} carries the label of the {z.state_name or 'unknown-state'} ZFS pool "
                f"{z.pool or '(unnamed)'} (zdb -l, {where}); it is not imported, so zpool status does "
                "not show it, but the pool's data is there",
                data=data,
            )
        )
    if not any(f.code in ("in-pool", "pool-label") for f in out):
        for dev, t in facts.fstyp.items():
            if t.type == "zfs" and names.canonical(dev) == canon:
                out.append(
                    HostFinding(
                        "pool-label",
                        "error",
                        f"{shown} carries a ZFS label (fstyp -l -u: zfs {t.label or ''}".rstrip()
                        + "): it belongs to a ZFS pool",
                        data={"pool": t.label, "state": None, "pool_guid": None},
                    )
                )
    for m in facts.mounts:
        if m.device.startswith("/dev/") and names.canonical(m.device) == canon:
            out.append(
                HostFinding(
                    "mounted",
                    "error",
                    f"{shown} is mounted on {m.mountpoint} ({m.fstype}; mount -p lists {m.device})",
                    data={"mountpoint": m.mountpoint, "fstype": m.fstype, "source": m.device},
                )
            )
    for s in facts.swaps:
        if names.canonical(s) == canon:
            out.append(
                HostFinding(
                    "swap",
                    "error",
                    f"{shown} is active swap (swapctl -l lists {s})",
                    data={"swap": s},
                )
            )
    return out


_FIXES = {
    "in-pool": "pick a partition no pool uses (`zpool status -P` lists each pool's devices)",
    "pool-label": "if that pool is really not wanted any more, destroy it deliberately first "
    "(`zpool import` it and `zpool destroy` it, or `zpool labelclear -f` the device); otherwise pick "
    "another partition",
    "mounted": "unmount it (and drop its /etc/fstab line) if its data is not needed, "
    "or pick another partition",
    "swap": "stop the swap (`swapoff`, and drop its /etc/fstab line) if that is intended, "
    "or pick another partition",
}


def _suggestion(facts: HostFacts, g: ListGeom | None, canon: str) -> GeomEntry | None:
    """The only other linux-data partition of ≥ 1 GiB on geom ``g`` that nothing uses."""
    if g is None:
        return None
    names = facts.names
    fits = [
        p
        for p in g.providers
        if p.type == WANTED_TYPE
        and names.canonical(p.name) != canon
        and (p.mediasize or 0) >= PLAUSIBLE_MIN_BYTES
        and not [f for f in _in_use(facts, names.canonical(p.name), p.name) if f.severity == "error"]
    ]
    return fits[0] if len(fits) == 1 else None


def _with_fix(f: HostFinding, fix: str) -> HostFinding:
    return HostFinding(f.code, f.severity, f.message, fix, f.data)


def _serial_info(serial: str | None, slot: int | None, func: int) -> tuple[str | None, HostFinding]:
    if serial:
        seen = serial[:NVME_SERIAL_MAX]
        cut = f" (bhyve keeps the first {NVME_SERIAL_MAX} characters of {serial})" if seen != serial else ""
        msg = f"the guest will see NVMe serial {seen} (ser= in the disk's options){cut}"
        return seen, HostFinding("guest-serial", "info", msg, data={"serial": seen, "source": "ser"})
    if slot is not None:
        seen = f"NVME-{slot}-{func}"
        return seen, HostFinding(
            "guest-serial",
            "info",
            f"the guest will see NVMe serial {seen} (bhyve's default from PCI slot {slot}, function {func})",
            "it changes when the slot changes: set ser=<serial> in the disk's options to pin it",
            data={"serial": seen, "source": "slot"},
        )
    return None, HostFinding(
        "guest-serial",
        "info",
        "the NVMe serial the guest will see is not known (no ser= option and no slot given)",
        data={"serial": None, "source": None},
    )


def check_host_device(
    facts: HostFacts,
    device: str,
    *,
    serial: str | None = None,
    slot: int | None = None,
    func: int = 0,
    guest_running: bool = False,
) -> HostCheck:
    """Check ``device`` for pass-through. ``serial`` is ``ser=`` from ``diskN_opts``; else ``slot`` and
    ``func`` give bhyve's default serial; ``guest_running`` says the open mode is the guest's own."""
    names = facts.names
    canon = names.canonical(device)
    where = _locate(facts, canon)
    info = facts.diskinfo.get(device) or next(
        (i for d, i in facts.diskinfo.items() if names.canonical(d) == canon), None
    )
    size = (
        info.mediasize
        if info and info.mediasize is not None
        else (where.part.mediasize if where.part else None)
    )
    sector = info.sectorsize if info and info.sectorsize else (where.part.sectorsize if where.part else None)
    findings: list[HostFinding] = []
    disk: str | None = None
    ptype: str | None = None
    suggestion: GeomEntry | None = None

    if where.part is None and where.disk_geom is None and size is None:
        findings.append(
            HostFinding(
                "not-found",
                "error",
                f"{device} ({canon}) is not a provider this host knows: neither gpart nor diskinfo report it",
                "check the path: `gpart show -p` lists the partitions, `glabel status` their "
                "/dev/diskid and /dev/gpt names",
            )
        )
    if where.part is not None and where.part_geom is not None:
        p, g = where.part, where.part_geom
        disk, ptype = _geom_disk(facts, g), p.type
        suggestion = _suggestion(facts, g, canon)
        what = f"partition {p.index if p.index is not None else '?'} of {disk}"
        if ptype in REFUSED_TYPES:
            findings.append(
                HostFinding(
                    "partition-type",
                    "error",
                    f"{device} is {what} with type {ptype} ({REFUSED_TYPES[ptype]}, "
                    f"{human(p.mediasize) if p.mediasize else 'size unknown'}): the guest would overwrite it",
                    "pass a linux-data partition through instead (create one with "
                    f"`gpart add -t {WANTED_TYPE}` in free space)",
                    data={"type": ptype, "rawtype": p.get("rawtype")},
                )
            )
        elif ptype != WANTED_TYPE:
            findings.append(
                HostFinding(
                    "partition-type-unusual",
                    "warning",
                    f"{device} is {what} with type {ptype or 'unknown'}, not {WANTED_TYPE}: another system "
                    "may use it",
                    f"make sure nothing else needs it; `gpart modify -i {p.index} -t {WANTED_TYPE} {g.name}` "
                    "marks it for Linux",
                    data={"type": ptype, "rawtype": p.get("rawtype")},
                )
            )
        used = _in_use(facts, canon, device)
        findings += used
        if p.opened and not guest_running and not [f for f in used if f.severity == "error"]:
            findings.append(
                HostFinding(
                    "open",
                    "warning",
                    f"{device} is open on the host (gpart list: Mode {p.mode}) while the guest is stopped: "
                    "something holds it (a mount, a pool, geli, another VM)",
                    "find the holder (`fstat`, `geom -t`) and release it before starting the guest",
                    data={"mode": p.mode},
                )
            )
    if where.disk_geom is not None:
        g = where.disk_geom
        disk = canon
        suggestion = suggestion or _suggestion(facts, g, canon)
        kinds = ", ".join(f"{p.name} {p.type}" for p in g.providers) or "no partitions"
        findings.append(
            HostFinding(
                "whole-disk-table",
                "error",
                f"{device} is the whole disk {canon} and carries a {g.scheme or 'partition'} table "
                f"({kinds}): the guest would format over every partition",
                "pass one partition through instead, not the disk",
                data={"scheme": g.scheme, "partitions": [p.name for p in g.providers]},
            )
        )
        for p in g.providers:
            findings += _in_use(facts, names.canonical(p.name), f"{p.name} (on {device})")
    if where.part is None and where.disk_geom is None:
        findings += _in_use(facts, canon, device)
    ftype = facts.fstyp.get(device) or next(
        (t for d, t in facts.fstyp.items() if names.canonical(d) == canon), None
    )
    if ftype is not None and ftype.type == "geli":
        findings.append(
            HostFinding(
                "geli",
                "warning",
                f"{device} is a GELI-encrypted provider (fstyp -l -u: geli): its data is encrypted, and "
                "a format in the guest would not see it",
                "make sure nothing (swap, a pool) is kept on it encrypted; `geli dump` shows its metadata",
                data={"fstype": "geli"},
            )
        )
    elif ftype is not None and ftype.type not in (None, "zfs"):
        label = f", label {ftype.label}" if ftype.label else ""
        findings.append(
            HostFinding(
                "has-filesystem",
                "warning",
                f"{device} already carries {ftype.type}{label} (fstyp -l -u): the guest's format refuses it "
                f"unless {opt('force')}",
                "make sure it holds nothing you need; to keep it, pick another partition",
                data={"fstype": ftype.type, "label": ftype.label},
            )
        )
    missing = any(f.code == "not-found" for f in findings)
    for problem in facts.problems:
        if missing and problem.device is not None and names.canonical(problem.device) == canon:
            continue  # the device's own commands failed because it does not exist: said above
        blocking = problem.section in BLOCKING_SECTIONS
        findings.append(
            HostFinding(
                "unchecked",
                "error" if blocking else "warning",
                f"not checked: {problem.text}" + BLOCKING_SECTIONS.get(problem.section, ""),
                "make the command work on the host (it runs as root), then check again"
                if blocking
                else "run the command on the host by hand (as root) and look before going on",
                data={"section": problem.section},
            )
        )
    if suggestion is not None:
        sp = facts.names.canonical(suggestion.name)
        size_s = human(suggestion.mediasize) if suggestion.mediasize else "size unknown"
        hint = f"use /dev/{suggestion.name} ({sp}, {WANTED_TYPE}, {size_s}) instead"
        findings = [_with_fix(f, hint) if f.severity == "error" else f for f in findings]
    findings = [_with_fix(f, _FIXES[f.code]) if f.fix is None and f.code in _FIXES else f for f in findings]
    if size is not None:
        findings.append(
            HostFinding(
                "guest-size",
                "info",
                f"the guest will see {size} bytes ({human(size)})"
                + (f" with {sector}-byte sectors" if sector else ""),
                data={"size_bytes": size, "sector_size": sector},
            )
        )
    seen, serial_finding = _serial_info(serial, slot, func)
    findings.append(serial_finding)
    order = {"error": 0, "warning": 1, "info": 2}
    findings.sort(key=lambda f: order[f.severity])
    return HostCheck(
        device=device,
        provider=canon,
        disk=disk,
        partition_type=ptype,
        size_bytes=size,
        sector_size=sector,
        serial=seen,
        suggestion=f"/dev/{suggestion.name}" if suggestion is not None else None,
        findings=tuple(findings),
    )
