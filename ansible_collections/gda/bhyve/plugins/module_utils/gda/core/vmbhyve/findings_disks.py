# GENERATED from agent/core/vmbhyve/findings_disks.py by `python -m agent.collection_build`: do not edit.
"""Findings about the disks: diskN_dev holding a path, unknown kinds and controllers, names that do not
fit their kind, the end of vm-bhyve's disk list, gaps, shared backings and NVMe serials. Pure.

vm-bhyve: release v1.6.2 lib/vm-run ``vm::bhyve_device_disks`` and ``vm::get_disk_path``; bhyve's
NVMe default serial is from usr.sbin/bhyve/pci_nvme.c (``NVME-<slot>-<function>``).
"""

from __future__ import annotations

import re

from ansible_collections.gda.bhyve.plugins.module_utils.gda.core.vmbhyve.finding import Finding
from ansible_collections.gda.bhyve.plugins.module_utils.gda.core.vmbhyve.vmconf import DiskConf, VmConfig
from ansible_collections.gda.bhyve.plugins.module_utils.gda.core.vmbhyve.vmslots import DISK_DEVS, DISK_TYPES, HostContext, SlotPlan

NVME_SERIAL_MAX = 20  # NVMe Identify Controller SN is 20 bytes; bhyve pads/truncates ser= to it


def _looks_like_path(value: str) -> bool:
    return value.startswith("/") or "/" in value


def _disk_fix(d: DiskConf, path: str) -> str:
    return f'disk{d.index}_name="{path}" and disk{d.index}_dev="custom"'


def disk_findings(conf: VmConfig, plan: SlotPlan, ctx: HostContext) -> list[Finding]:
    out: list[Finding] = []
    vm_dir = ctx.vm_dir.rstrip("/")
    for d in conf.disks:
        n = d.index
        attached = plan.disk(n)
        ln = d.lines
        dev = d.dev
        # diskN_dev holding a path: the seed's two wrong configs
        if dev is not None and _looks_like_path(dev):
            if d.name:
                opened = attached.path if attached else f"{vm_dir}/{d.name}"
                out.append(
                    Finding(
                        "dev-is-path",
                        "error",
                        f"disk{n}_dev is a path ({dev}), but diskN_dev only names the kind of backing: "
                        "vm-bhyve "
                        f'treats it as "file" and opens {opened} — bhyve stops with "Could not open backing '
                        f'file: {opened}: No such file or directory" and the VM does not start',
                        fix=_disk_fix(d, dev),
                        line=ln.get("dev"),
                        disk=n,
                    )
                )
            elif not d.name:
                later = [x.index for x in conf.disks if x.index > n]
                out.append(
                    Finding(
                        "dev-is-path-no-name",
                        "error",
                        f"disk{n}_dev is a path ({dev}) and disk{n}_name is not set: vm-bhyve's disk list "
                        "ends "
                        f"at disk{n}, so the VM boots without disk{n}"
                        + (f" (and without disk{', disk'.join(map(str, later))})" if later else "")
                        + " and nothing says so",
                        fix=_disk_fix(d, dev),
                        line=ln.get("dev"),
                        disk=n,
                    )
                )
        elif dev is not None and dev not in DISK_DEVS:
            opened = f"{vm_dir}/{d.name}" if d.name else f"{vm_dir}/<name>"
            out.append(
                Finding(
                    "dev-unknown",
                    "error",
                    f'disk{n}_dev="{dev}" is not a kind vm-bhyve knows ({", ".join(DISK_DEVS)}): it is '
                    "treated "
                    f"as file and bhyve opens {opened}",
                    fix=f'disk{n}_dev="file" (or zvol, sparse-zvol, custom)',
                    line=ln.get("dev"),
                    disk=n,
                )
            )
        # name and kind that do not go together
        if d.name:
            absolute = d.name.startswith("/")
            if dev == "custom" and not absolute:
                out.append(
                    Finding(
                        "custom-relative-name",
                        "error",
                        f'disk{n}_dev="custom" passes disk{n}_name to bhyve as written, and {d.name!r} is '
                        "not an "
                        f"absolute path: bhyve runs in / (vm-run does `cd /`), so it opens /{d.name}",
                        fix=f'give the full path (disk{n}_name="/dev/..."), or drop disk{n}_dev="custom" '
                        "to use "
                        f"{vm_dir}/{d.name}",
                        line=ln.get("name"),
                        disk=n,
                    )
                )
            elif absolute and (dev is None or dev in ("file", "zvol", "sparse-zvol")):
                where = attached.path if attached else f"{vm_dir}/{d.name}"
                out.append(
                    Finding(
                        "absolute-name-not-custom",
                        "error",
                        f"disk{n}_name is an absolute path ({d.name}) but disk{n}_dev is "
                        f"{dev or 'not set (file)'}: vm-bhyve prefixes it and bhyve opens {where}",
                        fix=f'disk{n}_dev="custom"',
                        line=ln.get("dev", ln.get("name")),
                        disk=n,
                    )
                )
        # type
        if d.type and d.type not in DISK_TYPES:
            dropped = d.type.split("-", 1)[0] == "ahci" and conf.ahci_device_limit > 1
            out.append(
                Finding(
                    "type-unknown",
                    "error",
                    f'disk{n}_type="{d.type}" is not a disk controller vm-bhyve offers '
                    f"({', '.join(DISK_TYPES)}): "
                    + (
                        "with ahci_device_limit set, vm-bhyve silently leaves it out"
                        if dropped
                        else "bhyve will refuse the device and the VM will not start"
                    ),
                    fix=f'disk{n}_type="nvme" (or virtio-blk, ahci-hd, ahci-cd)',
                    line=ln.get("type"),
                    disk=n,
                )
            )
        # incomplete disk at the end of the chain
        if n == plan.chain_end and not (dev is not None and _looks_like_path(dev) and not d.name):
            missing = [f"disk{n}_{f}" for f, v in (("name", d.name), ("type", d.type)) if not v]
            later = [x.index for x in conf.disks if x.index > n]
            out.append(
                Finding(
                    "disk-incomplete",
                    "error",
                    f"{' and '.join(missing)} not set: vm-bhyve's disk list ends at disk{n}; the VM boots "
                    f"without disk{n}"
                    + (f" and disk{', disk'.join(map(str, later))}" if later else "")
                    + " and nothing says so",
                    fix=" and ".join(f"set {m}" for m in missing)
                    + (' (diskN_type: "nvme", "virtio-blk", "ahci-hd")' if d.type is None else ""),
                    line=d.first_line,
                    disk=n,
                )
            )
        # NVMe serial
        if attached is not None and attached.type == "nvme":
            out += _nvme_serial_findings(d, attached.slot, attached.func, ctx)
    # gap in the numbering
    indexes = {d.index for d in conf.disks}
    if plan.chain_end not in indexes:
        after = sorted(i for i in indexes if i > plan.chain_end)
        if after:
            first = conf.disk(after[0])
            out.append(
                Finding(
                    "disk-gap",
                    "warning" if conf.is_excerpt else "error",
                    f"there is no disk{plan.chain_end}: vm-bhyve stops at the gap and ignores "
                    + ", ".join(f"disk{i}" for i in after)
                    + (
                        f" (the file is an excerpt: if disk{plan.chain_end} is in a part left out, this "
                        "does not apply)"
                        if conf.is_excerpt
                        else ""
                    ),
                    fix=f"renumber: disk{after[0]} → disk{plan.chain_end}, ... (no gaps from disk0 up)",
                    line=first.first_line if first else None,
                    disk=after[0],
                )
            )
    # two disks on one backing
    seen: dict[str, int] = {}
    for p in plan.disks:
        if p.path in seen:
            dconf = conf.disk(p.index)
            out.append(
                Finding(
                    "same-backing",
                    "error",
                    f"disk{seen[p.path]} and disk{p.index} both open {p.path}: two controllers writing one "
                    "device corrupt it",
                    fix=f"remove disk{p.index}, or point it at another backing",
                    line=dconf.first_line if dconf else None,
                    disk=p.index,
                )
            )
        else:
            seen[p.path] = p.index
    return out


def suggested_nvme_serial(vm_name: str, index: int) -> str:
    """A stable serial (<= 20 chars, no commas): the VM name and the disk number."""
    base = re.sub(r"[^A-Za-z0-9_-]", "", vm_name).upper() or "VM"
    suffix = f"-D{index}"
    return base[: NVME_SERIAL_MAX - len(suffix)] + suffix


def _nvme_serial_findings(d: DiskConf, slot: int, func: int, ctx: HostContext) -> list[Finding]:
    n = d.index
    opts = [o.strip() for o in (d.opts or "").split(",") if o.strip()]
    sers = [o.split("=", 1)[1] for o in opts if o.startswith("ser=")]
    if not sers:
        serial = suggested_nvme_serial(ctx.vm_name, n)
        return [
            Finding(
                "nvme-no-serial",
                "info",
                f"disk{n} is nvme without ser= in disk{n}_opts: bhyve names it serial NVME-{slot}-{func} "
                "(pci_nvme.c: NVME-<slot>-<function>), which changes whenever its slot changes — and "
                f"/dev/disk/by-id/nvme-bhyve-NVMe_NVME-{slot}-{func} in the guest with it",
                fix=f'pin it: disk{n}_opts="ser={serial}" (20 characters at most)'
                + (f" (keep the other options: {d.opts},ser={serial})" if d.opts else ""),
                line=d.lines.get("opts", d.first_line),
                disk=n,
            )
        ]
    if len(sers[0]) > NVME_SERIAL_MAX:
        return [
            Finding(
                "nvme-serial-too-long",
                "warning",
                f"disk{n}'s ser={sers[0]} is {len(sers[0])} characters: the NVMe serial field holds 20, the "
                f"guest sees {sers[0][:NVME_SERIAL_MAX]}",
                fix=f"ser= of at most {NVME_SERIAL_MAX} characters",
                line=d.lines.get("opts"),
                disk=n,
            )
        ]
    return []
