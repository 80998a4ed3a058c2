# GENERATED from agent/core/vmbhyve/vmfindings.py by `python -m agent.collection_build`: do not edit.
"""Check a vm-bhyve guest config: what is wrong with it, and what vm-bhyve will do with it. Pure.

``check_vm_config_text`` parses the config (vmconf), computes the PCI slot plan vm-bhyve will generate
(vmslots), collects the findings (findings_parse, findings_plan, findings_disks) and returns a Report:
findings (severity, the disk/NIC concerned, the line, a message and a concrete fix), the plan, the NIC
renames relative to a "before" config, and lines that explain the disk settings. agent.core.vmbhyve.vmreport
formats it.

The vm-bhyve behaviour cited is churchers/vm-bhyve release v1.6.2: lib/vm-run (``vm::run`` and its
``vm::bhyve_device_*`` functions, ``vm::get_disk_path``), lib/vm-switch (``switch::provision``),
lib/vm-config (``config::load``, ``config::get``), sample-templates/config.sample. The "before" may be
a config or a vm-bhyve.log (agent.core.vmbhyve.vmlog: its last ``[bhyve devices: ...]`` line). When
vm-bhyve or bhyve will not start the guest, no NIC name is predicted and the finding says why.
"""

from __future__ import annotations

from ansible_collections.gda.bhyve.plugins.module_utils.gda.core.vmbhyve.finding import SEVERITY_ORDER, Finding, Report, Severity
from ansible_collections.gda.bhyve.plugins.module_utils.gda.core.vmbhyve.findings_disks import disk_findings
from ansible_collections.gda.bhyve.plugins.module_utils.gda.core.vmbhyve.findings_parse import parse_findings
from ansible_collections.gda.bhyve.plugins.module_utils.gda.core.vmbhyve.findings_plan import global_findings, nic_findings, plan_findings
from ansible_collections.gda.bhyve.plugins.module_utils.gda.core.vmbhyve.nic_renames import config_before_last_disk, predict_renames
from ansible_collections.gda.bhyve.plugins.module_utils.gda.core.vmbhyve.vmconf import VmConfig, parse_vm_config
from ansible_collections.gda.bhyve.plugins.module_utils.gda.core.vmbhyve.vmlog import is_vmbhyve_log, plan_from_log
from ansible_collections.gda.bhyve.plugins.module_utils.gda.core.vmbhyve.vmslots import HostContext, SlotPlan, plan_slots
from ansible_collections.gda.bhyve.plugins.module_utils.gda.hints import opt

__all__ = ["Finding", "Report", "Severity", "check_vm_config", "check_vm_config_text"]


def check_vm_config_text(
    conf_text: str,
    *,
    vm_dir: str,
    vm_name: str,
    zvol_dataset: str,
    before_text: str | None = None,
) -> Report:
    """Check a guest config given as text. ``vm_dir`` is the guest's folder (e.g. /zdata/vms/xdev),
    ``zvol_dataset`` the datastore dataset (e.g. zdata/vms). ``before_text``: the config before the change
    (for the NIC rename), or vm-bhyve.log text; without it the config minus its last disk is used."""
    ctx = HostContext(vm_dir=vm_dir, vm_name=vm_name, zvol_dataset=zvol_dataset)
    conf = parse_vm_config(conf_text)
    if before_text is not None and is_vmbhyve_log(before_text):
        logged = plan_from_log(before_text, plan_slots(conf, ctx))
        return check_vm_config(conf, ctx, before_plan=logged, before_source="log")
    before = parse_vm_config(before_text) if before_text is not None else None
    return check_vm_config(conf, ctx, before=before)


def check_vm_config(
    conf: VmConfig,
    ctx: HostContext,
    *,
    before: VmConfig | None = None,
    before_plan: SlotPlan | None = None,
    before_source: str | None = None,
) -> Report:
    plan = plan_slots(conf, ctx)
    findings: list[Finding] = []
    findings += parse_findings(conf)
    findings += global_findings(conf)
    findings += disk_findings(conf, plan, ctx)
    findings += plan_findings(plan, conf)
    findings += nic_findings(conf, plan)

    if before_plan is None:
        if before is not None:
            before_source = "explicit"
        else:
            before = config_before_last_disk(conf)
            if before is not None:
                before_source = f"minus-disk{max(d.index for d in conf.disks)}"
        before_plan = plan_slots(before, ctx) if before is not None else None
    renames = predict_renames(before_plan, plan) if before_plan is not None else ()
    if not plan.starts:
        if plan.nics:
            findings.append(
                Finding(
                    "nic-names-unknown",
                    "info",
                    "no NIC name or rename is predicted: the guest will not start "
                    f"({plan.refusal or plan.bhyve_error})",
                    fix="fix the error above first",
                )
            )
        renames = ()
    nic_by_index = {n.index: n for n in conf.nics}
    for r in renames:
        nic = nic_by_index.get(r.index)
        findings.append(
            Finding(
                "nic-rename",
                "warning",
                r.message,
                fix="`gda attach` pins the NIC by MAC before it restarts the guest; by hand: "
                f"`gda fix-netplan {opt('match_mac')}` before the restart (while SSH works), "
                "or `gda fix-netplan` from the console after the first boot",
                line=nic.first_line if nic else None,
                nic=r.index,
            )
        )
    findings.sort(key=lambda f: (SEVERITY_ORDER[f.severity], f.line if f.line is not None else 1 << 30))
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
        "new slot, which renames it in the guest (enp0s5 → enp0s6; NICs sharing a slot carry their "
        "function, enp0s5f0 and enp0s5f1 → enp0s6f0 and enp0s6f1).",
    )
