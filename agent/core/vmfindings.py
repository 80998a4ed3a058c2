"""What is wrong with a vm-bhyve guest config, and what vm-bhyve will do with it. Pure.

``check_vm_config_text`` parses the config (agent.core.vmconf), computes the PCI slot plan vm-bhyve will
generate (agent.core.vmslots), and returns a Report: findings (severity, the disk/NIC concerned, the line,
a message and a concrete fix), the plan, the NIC renames relative to a "before" config, and lines that
explain the disk settings. ``report_to_json`` and ``render_report`` format it (plain text; no colours).

The vm-bhyve behaviour cited here is churchers/vm-bhyve at commit c318a774: lib/vm-run
(``vm::bhyve_device_disks``, ``vm::get_disk_path``, ``vm::run``), lib/vm-config (``config::load``,
``config::get``), sample-templates/config.sample; bhyve's NVMe default serial is from
usr.sbin/bhyve/pci_nvme.c (``NVME-<slot>-<function>``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from agent.core.vmconf import DiskConf, ParseIssue, VmConfig, parse_vm_config
from agent.core.vmslots import (
    DISK_DEVS,
    DISK_TYPES,
    GENERATED_MAC,
    HostContext,
    NicRename,
    SlotPlan,
    config_before_last_disk,
    plan_slots,
    predict_renames,
)

Severity = Literal["error", "warning", "info"]
_SEVERITY_ORDER: dict[str, int] = {"error": 0, "warning": 1, "info": 2}

NVME_SERIAL_MAX = 20  # NVMe Identify Controller SN is 20 bytes; bhyve pads/truncates ser= to it


@dataclass(frozen=True)
class Finding:
    code: str
    severity: Severity
    message: str
    fix: str | None = None
    line: int | None = None
    disk: int | None = None
    nic: int | None = None


@dataclass(frozen=True)
class Report:
    vm_name: str
    vm_dir: str
    zvol_dataset: str
    conf: VmConfig
    plan: SlotPlan
    findings: tuple[Finding, ...]
    explanations: tuple[str, ...]
    before_plan: SlotPlan | None = None
    before_source: str | None = None  # "explicit" | "minus-disk<N>"
    renames: tuple[NicRename, ...] = field(default_factory=tuple)

    def count(self, severity: Severity) -> int:
        return sum(1 for f in self.findings if f.severity == severity)

    @property
    def ok(self) -> bool:
        """Nothing wrong: no error and no warning (info findings are notes)."""
        return not any(f.severity in ("error", "warning") for f in self.findings)

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else 1


# ---------------------------------------------------------------------------------------------------
# entry points


def check_vm_config_text(
    conf_text: str,
    *,
    vm_dir: str,
    vm_name: str,
    zvol_dataset: str,
    before_text: str | None = None,
    tap_names: Mapping[int, str] | None = None,
) -> Report:
    """Check a guest config given as text. ``vm_dir`` is the guest's folder (e.g. /zdata/vms/xdev),
    ``zvol_dataset`` the datastore dataset (e.g. zdata/vms). ``before_text``: the config before the change
    (for the NIC rename); without it the config minus its last disk is used."""
    ctx = HostContext(
        vm_dir=vm_dir, vm_name=vm_name, zvol_dataset=zvol_dataset, tap_names=dict(tap_names or {})
    )
    before = parse_vm_config(before_text) if before_text is not None else None
    return check_vm_config(parse_vm_config(conf_text), ctx, before=before)


def check_vm_config(conf: VmConfig, ctx: HostContext, *, before: VmConfig | None = None) -> Report:
    plan = plan_slots(conf, ctx)
    findings: list[Finding] = []
    findings += _parse_findings(conf)
    findings += _global_findings(conf, plan)
    findings += _disk_findings(conf, plan, ctx)
    findings += _plan_findings(conf, plan)
    findings += _nic_findings(conf)

    before_source: str | None = None
    if before is not None:
        before_source = "explicit"
    else:
        before = config_before_last_disk(conf)
        if before is not None:
            before_source = f"minus-disk{max(d.index for d in conf.disks)}"
    before_plan = plan_slots(before, ctx) if before is not None else None
    renames = predict_renames(before_plan, plan) if before_plan is not None else ()
    nic_by_index = {n.index: n for n in conf.nics}
    for r in renames:
        nic = nic_by_index.get(r.index)
        findings.append(
            Finding(
                "nic-rename",
                "warning",
                r.message,
                fix="`invoke fix-netplan --match-mac` before the restart (while SSH works), "
                "or `invoke fix-netplan` from the console after the first boot",
                line=nic.first_line if nic else None,
                nic=r.index,
            )
        )
    findings.sort(key=lambda f: (_SEVERITY_ORDER[f.severity], f.line if f.line is not None else 1 << 30))
    return Report(
        vm_name=ctx.vm_name,
        vm_dir=ctx.vm_dir,
        zvol_dataset=ctx.zvol_dataset,
        conf=conf,
        plan=plan,
        findings=tuple(findings),
        explanations=_explanations(ctx),
        before_plan=before_plan,
        before_source=before_source,
        renames=tuple(renames),
    )


def _explanations(ctx: HostContext) -> tuple[str, ...]:
    d = ctx.vm_dir.rstrip("/")
    return (
        f"diskN_name is the backing: a file in the VM's folder when relative (disk0 → {d}/disk0), "
        f"a zvol for zvol/sparse-zvol (disk0 → /dev/zvol/{ctx.zvol_dataset}/{ctx.vm_name}/disk0), "
        "and the device or file itself, as written, for custom (/dev/diskid/DISK-...p4).",
        "diskN_dev is the kind of backing — file (the default), zvol, sparse-zvol, custom (a host device "
        "or a file elsewhere), iscsi — never a path: vm-bhyve treats any other value as file.",
        "diskN_type is the controller the guest sees: virtio-blk, ahci-hd, ahci-cd or nvme.",
        "vm-bhyve reads disk0, disk1, ... and stops at the first diskN without a name or a type: "
        "later disks are left out without a word, and the VM still boots.",
        "Disks take PCI slots from 4 up and the NICs come after them: adding a disk moves the NIC to a "
        "new slot, which renames it in the guest (enp0s5 → enp0s6).",
    )


# ---------------------------------------------------------------------------------------------------
# parse-level findings


def _parse_findings(conf: VmConfig) -> list[Finding]:
    out: list[Finding] = []
    if conf.is_excerpt:
        out.append(
            Finding(
                "excerpt",
                "info",
                "the file is an excerpt (`...` on line(s) "
                + ", ".join(str(n) for n in conf.elisions)
                + "): settings not shown are taken as unset",
                line=conf.elisions[0],
            )
        )
    for issue in conf.issues:
        f = _issue_finding(issue)
        if f is not None:
            out.append(f)
    for key, lines in conf.duplicates.items():
        values = [e.value for e in conf.entries if e.key == key]
        differ = len(set(values)) > 1
        disk, nic = _device_of(key)
        out.append(
            Finding(
                "duplicate-key",
                "error" if differ and (disk is not None or nic is not None) else "warning",
                f"{key} is set {len(lines)} times (lines {', '.join(map(str, lines))}): vm-bhyve's "
                "config::get "
                f"uses the first one (line {lines[0]}: {values[0]!r})"
                + (", not the last one as sh would" if differ else ""),
                fix=f"keep one {key}= line",
                line=lines[0],
                disk=disk,
                nic=nic,
            )
        )
    return out


def _device_of(key: str) -> tuple[int | None, int | None]:
    m = re.match(r"disk(\d+)_", key)
    if m:
        return int(m.group(1)), None
    m = re.match(r"network(\d+)_", key)
    if m:
        return None, int(m.group(1))
    return None, None


def _issue_finding(issue: ParseIssue) -> Finding | None:
    disk, nic = _device_of(issue.key or "")
    device_key = disk is not None or nic is not None
    text = issue.text.strip()
    if issue.kind == "commented-key":
        return Finding(
            "commented-key", "info", f"`{text}` is commented out: vm-bhyve ignores it", line=issue.line
        )
    if issue.kind in ("ignored-indented", "ignored-uppercase"):
        why = (
            "starts with whitespace"
            if issue.kind == "ignored-indented"
            else "does not start with a lowercase letter"
        )
        return Finding(
            "ignored-line",
            "error" if device_key else "warning",
            f"`{text}` {why}: vm-bhyve only reads lines that start with a lowercase letter, so it is ignored",
            fix=f"write it at the start of the line, in lowercase: {text.lstrip()}",
            line=issue.line,
            disk=disk,
            nic=nic,
        )
    if issue.kind == "space-in-key":
        fixed = re.sub(r"\s*=\s*", "=", text, count=1)
        return Finding(
            "space-around-equals",
            "error",
            f"`{text}`: with spaces around '=' the key is {(issue.key or '') + ' '!r}, which vm-bhyve "
            "never looks up",
            fix=f"no spaces around '=': {fixed}",
            line=issue.line,
        )
    if issue.kind == "single-quoted":
        value = text.split("=", 1)[1]
        return Finding(
            "single-quoted",
            "error" if device_key else "warning",
            f"`{text}`: vm-bhyve removes only double quotes, so the value is {value} with the single quotes",
            fix=f'use double quotes: {issue.key}="{value.strip(chr(39))}"',
            line=issue.line,
            disk=disk,
            nic=nic,
        )
    if issue.kind == "hash-in-quotes":
        return Finding(
            "hash-in-value",
            "warning",
            f"`{text}`: '#' starts a comment for vm-bhyve even inside double quotes; the value is cut there",
            fix="values cannot contain '#'",
            line=issue.line,
        )
    if issue.kind == "carriage-return":
        return Finding(
            "carriage-return",
            "error",
            "the line ends in a carriage return (a CRLF file): vm-bhyve keeps it in the value, so names and "
            "paths do not match",
            fix="convert the file to Unix line endings (dos2unix, or `tr -d '\\r'`)",
            line=issue.line,
        )
    if issue.kind == "no-equals":
        return Finding("no-equals", "warning", f"`{text}` has no '=': not a setting", line=issue.line)
    if issue.kind == "unbalanced-quotes":
        return Finding(
            "unbalanced-quotes",
            "warning",
            f"`{text}` has an odd number of double quotes (vm-bhyve deletes them all)",
            line=issue.line,
        )
    return None  # elisions are summarised once


# ---------------------------------------------------------------------------------------------------
# global settings


def _global_findings(conf: VmConfig, plan: SlotPlan) -> list[Finding]:
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
                    'to start - missing required configuration"); the plan assumes the old UEFI meaning',
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


# ---------------------------------------------------------------------------------------------------
# disks


def _looks_like_path(value: str) -> bool:
    return value.startswith("/") or "/" in value


def _disk_fix(d: DiskConf, path: str) -> str:
    return f'disk{d.index}_name="{path}" and disk{d.index}_dev="custom"'


def _disk_findings(conf: VmConfig, plan: SlotPlan, ctx: HostContext) -> list[Finding]:
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


# ---------------------------------------------------------------------------------------------------
# the plan itself


def _plan_findings(conf: VmConfig, plan: SlotPlan) -> list[Finding]:
    out: list[Finding] = []
    taken: dict[tuple[int, int], str] = {}
    for dev in plan.devices:
        func = 0 if dev.func is None else dev.func
        key = (dev.slot, func)
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


def _nic_findings(conf: VmConfig) -> list[Finding]:
    out: list[Finding] = []
    for nic in conf.nics:
        if nic.type and not nic.mac:
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


# ---------------------------------------------------------------------------------------------------
# output


def _finding_json(f: Finding) -> dict[str, object]:
    return {
        "code": f.code,
        "severity": f.severity,
        "message": f.message,
        "fix": f.fix,
        "line": f.line,
        "disk": f.disk,
        "nic": f.nic,
    }


def report_to_json(report: Report) -> dict[str, object]:
    """A JSON-ready dict: ok, exit_code, vm {name, dir, zvol_dataset}, counts {error, warning, info},
    loader, uefi, excerpt, devices (the vm-bhyve.log devices string), slots [...], disks [...] (every diskN
    the file mentions, attached or not), nics [...], before {source, devices} | None, renames [...],
    findings [{code, severity, message, fix, line, disk, nic}], explanations [str]."""
    plan = report.plan
    disks: list[dict[str, object]] = []
    for d in report.conf.disks:
        p = plan.disk(d.index)
        disks.append(
            {
                "index": d.index,
                "name": d.name,
                "dev": d.dev,
                "type": d.type,
                "opts": d.opts,
                "lines": dict(d.lines),
                "attached": p is not None,
                "path": p.path if p else None,
                "slot": p.slot if p else None,
                "function": p.func if p else None,
                "ahci_port": p.ahci_port if p else None,
                "ignored_reason": next((i.reason for i in plan.ignored_disks if i.index == d.index), None),
            }
        )
    return {
        "ok": report.ok,
        "exit_code": report.exit_code,
        "vm": {"name": report.vm_name, "dir": report.vm_dir, "zvol_dataset": report.zvol_dataset},
        "counts": {s: report.count(s) for s in ("error", "warning", "info")},
        "loader": report.conf.loader,
        "uefi": plan.uefi,
        "excerpt": report.conf.is_excerpt,
        "devices": plan.devices_line(),
        "slots": [
            {
                "slot": dev.slot,
                "function": dev.func,
                "emulation": dev.emulation,
                "args": dev.args,
                "kind": dev.kind,
                "disks": list(dev.disks),
                "nic": dev.nic,
                "device": dev.render(),
            }
            for dev in plan.devices
        ],
        "disks": disks,
        "nics": [
            {
                "index": n.index,
                "type": n.type,
                "tap": n.tap,
                "mac": None if n.mac == GENERATED_MAC else n.mac,
                "slot": n.slot,
                "function": n.func,
                "guest_name": n.guest_name,
            }
            for n in plan.nics
        ],
        "before": (
            {"source": report.before_source, "devices": report.before_plan.devices_line()}
            if report.before_plan is not None
            else None
        ),
        "renames": [
            {
                "nic": r.index,
                "from": {"slot": r.before_slot, "function": r.before_func, "name": r.before_name},
                "to": {"slot": r.after_slot, "function": r.after_func, "name": r.after_name},
                "message": r.message,
            }
            for r in report.renames
        ],
        "findings": [_finding_json(f) for f in report.findings],
        "explanations": list(report.explanations),
    }


def _kind_note(dev: str) -> str:
    return {
        "file": "file in the VM's folder",
        "zvol": "zvol",
        "sparse-zvol": "sparse zvol",
        "custom": "custom: the name as written",
        "iscsi": "iscsi LUN",
    }.get(dev, f"unknown kind {dev!r}, read as file")


def render_report(report: Report) -> list[str]:
    """Plain text lines for a terminal (the caller adds colours)."""
    plan = report.plan
    lines: list[str] = []
    counts = ", ".join(
        f"{report.count(s)} {s}{'s' if report.count(s) != 1 else ''}" for s in ("error", "warning")
    )
    lines.append(f"vm-bhyve config for {report.vm_name}: {counts}, {report.count('info')} info")
    lines.append(f"mode: {'UEFI' if plan.uefi else 'BIOS/loader'} (loader={report.conf.loader or '-'})")
    lines.append(f"bhyve devices: {plan.devices_line()}")
    for p in plan.disks:
        where = f"{p.slot}:{p.func}" + (f" port {p.ahci_port}" if p.ahci_port is not None else "")
        lines.append(f"  disk{p.index}: {p.type} at {where} → {p.path} ({_kind_note(p.dev)})")
    for ig in plan.ignored_disks:
        lines.append(f"  disk{ig.index}: NOT ATTACHED — {ig.reason}")
    for n in plan.nics:
        lines.append(f"  network{n.index}: {n.type} at {n.slot}:{n.func} on {n.tap} → guest {n.guest_name}")
    if report.before_plan is not None:
        src = (
            "given"
            if report.before_source == "explicit"
            else f"this config without {(report.before_source or '').removeprefix('minus-')}"
        )
        lines.append(f"before ({src}): {report.before_plan.devices_line()}")
    for f in report.findings:
        where = " ".join(
            x
            for x in (
                f"line {f.line}" if f.line is not None else "",
                f"disk{f.disk}" if f.disk is not None else "",
                f"network{f.nic}" if f.nic is not None else "",
            )
            if x
        )
        lines.append(f"{f.severity.upper():7} {where + ': ' if where else ''}{f.message}")
        if f.fix:
            lines.append(f"        fix: {f.fix}")
    lines.append("how vm-bhyve reads the disk settings:")
    lines += [f"  - {e}" for e in report.explanations]
    return lines
