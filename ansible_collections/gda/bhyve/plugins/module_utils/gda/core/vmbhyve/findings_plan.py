# GENERATED from agent/core/vmbhyve/findings_plan.py by `python -m agent.collection_build`: do not edit.
"""Findings about the guest-wide settings (loader/uefi, required keys, ahci_device_limit), the PCI slot
plan as a whole (range, collisions, arguments split at a blank, UEFI slots, vm-bhyve stopping before
bhyve) and the NICs (no switch, generated MAC). Pure. vm-bhyve: release v1.6.2, lib/vm-run and
lib/vm-switch."""

from __future__ import annotations

from ansible_collections.gda.bhyve.plugins.module_utils.gda.core.vmbhyve.finding import Finding
from ansible_collections.gda.bhyve.plugins.module_utils.gda.core.vmbhyve.vmconf import VmConfig
from ansible_collections.gda.bhyve.plugins.module_utils.gda.core.vmbhyve.vmslots import PciDevice, SlotPlan
from ansible_collections.gda.bhyve.plugins.module_utils.gda.core.vmbhyve.vmslots_types import shell_words


def global_findings(conf: VmConfig) -> list[Finding]:
    out: list[Finding] = []
    legacy = conf.legacy_uefi
    if legacy is not None:
        if conf.loader is not None:
            out.append(
                Finding(
                    "legacy-uefi",
                    "warning",
                    f'uefi="{legacy}" is the pre-1.1 setting and is ignored: UEFI mode comes from '
                    f'loader="{conf.loader}" (vm-run: [ "${{_loader%-*}}" = "uefi" ])',
                    fix="remove the uefi= line"
                    + ("" if conf.uefi else ' and set loader="uefi" if the guest boots by UEFI'),
                    line=conf.line_of("uefi"),
                )
            )
        else:
            out.append(
                Finding(
                    "legacy-uefi",
                    "error",
                    f'uefi="{legacy}" without loader=: vm-bhyve 1.1 and later refuse to start ("fatal; '
                    "unable "
                    'to start - missing required configuration"), before building any device',
                    fix='replace it by loader="uefi" (or loader="uefi-csm" for the CSM firmware)',
                    line=conf.line_of("uefi"),
                )
            )
    if not conf.is_excerpt:
        missing = [k for k in ("loader", "cpu", "memory") if not conf.get(k)]
        if "loader" in missing and legacy is not None:
            missing.remove("loader")
        if missing:
            out.append(
                Finding(
                    "required-missing",
                    "error",
                    f"{', '.join(missing)} not set: vm-bhyve refuses to start the guest "
                    '("fatal; unable to start - missing required configuration")',
                    fix="set " + " ".join(f"{k}=..." for k in missing),
                )
            )
    raw = conf.ahci_device_limit_raw
    if raw is not None and conf.ahci_device_limit == 1 and raw != "1":
        out.append(
            Finding(
                "ahci-limit-ignored",
                "warning",
                f'ahci_device_limit="{raw}" is not a number from 2 to 32: vm-bhyve ignores it and gives '
                "every "
                "ahci disk its own controller",
                fix='ahci_device_limit="8" (any integer 2..32)',
                line=conf.line_of("ahci_device_limit"),
            )
        )
    return out


def plan_findings(plan: SlotPlan, conf: VmConfig) -> list[Finding]:
    out: list[Finding] = []
    if plan.refusal is not None and all(conf.get(k) for k in ("loader", "cpu", "memory")):
        out.append(
            Finding(
                "vm-bhyve-stops",
                "error",
                f"{plan.refusal}: bhyve is never started",
                fix='set disk0_name/disk0_type for the boot disk, or loader="uefi"'
                if conf.loader in ("bhyveload", "grub")
                else 'loader="uefi", "bhyveload" or "grub"',
                line=conf.line_of("loader"),
            )
        )
    taken: dict[tuple[int, int], str] = {}
    for dev in plan.devices:
        func = 0 if dev.func is None else dev.func
        key = (dev.slot, func)
        words = shell_words(dev.render())
        if len(words) > 2:
            out.append(
                Finding(
                    "device-arg-split",
                    "error",
                    f"`{dev.render()}` holds a blank: vm-run passes its devices to bhyve unquoted, so the "
                    f"shell splits it and bhyve gets {' and '.join(repr(w) for w in words[1:])} as separate "
                    "arguments — bhyve stops with its usage message and the VM does not start",
                    fix="one value per key, without blanks"
                    + (": passthru0=..., passthru1=... for two devices" if dev.kind == "passthru" else ""),
                    line=_line_of_device(conf, dev),
                    disk=dev.disks[0] if dev.disks else None,
                    nic=dev.nic,
                )
            )
        if not 0 <= dev.slot <= 31:
            out.append(
                Finding(
                    "slot-out-of-range",
                    "error",
                    f"{dev.render()}: PCI slots go from 0 to 31; bhyve will not start",
                    fix="fewer devices, or ahci_device_limit to group ahci disks",
                )
            )
        elif key in taken:
            out.append(
                Finding(
                    "slot-collision",
                    "error",
                    f"{dev.render()} lands on slot {dev.slot}:{func}, already used by {taken[key]}: "
                    "bhyve will not start",
                    fix="fewer devices before it, or a passthru slot that is free",
                )
            )
        else:
            taken[key] = dev.render()
    if plan.uefi:
        late = [p for p in plan.disks if p.slot > 6]
        if late:
            out.append(
                Finding(
                    "uefi-disk-beyond-slot-6",
                    "info",
                    "in UEFI mode each disk takes its own slot: "
                    + ", ".join(f"disk{p.index} is on slot {p.slot}" for p in late)
                    + " (vm-run's comment says UEFI stops at slot 6, the code does not; old UEFI firmware "
                    "only boots from slots 3-6 — fine for a data disk)",
                    disk=late[0].index,
                )
            )
    return out


def _line_of_device(conf: VmConfig, dev: PciDevice) -> int | None:
    blank = [e for e in conf.entries if " " in e.value.strip() and e.value.strip() in dev.render()]
    return blank[0].line if blank else None


def nic_findings(conf: VmConfig, plan: SlotPlan) -> list[Finding]:
    out: list[Finding] = []
    for s in plan.skipped_nics:
        nic = next((n for n in conf.nics if n.index == s.index), None)
        taker = next((n for n in plan.nics if n.index > s.index), None)
        out.append(
            Finding(
                "nic-no-switch",
                "error",
                f'{s.reason}: vm-bhyve warns "{s.warning}" and starts the guest without network{s.index}'
                + (
                    f"; network{taker.index} takes its function: {taker.slot}:{taker.func} "
                    f"({taker.guest_name})"
                    if taker is not None
                    else ""
                ),
                fix=f'network{s.index}_switch="<a switch from `vm switch list`>" '
                f"(or remove the network{s.index}_* lines)",
                line=nic.lines.get("switch", nic.first_line) if nic else None,
                nic=s.index,
            )
        )
    attached = {n.index for n in plan.nics}
    for nic in conf.nics:
        if nic.type and not nic.mac and nic.index in attached:
            out.append(
                Finding(
                    "nic-mac-generated",
                    "info",
                    f"network{nic.index}_mac is not set: vm-bhyve generates one (58:9c:fc:0x:xx:xx) on the "
                    "first "
                    "start and writes it into the config",
                    line=nic.first_line,
                    nic=nic.index,
                )
            )
    return out
