"""Folder name under tests/facts → the function that turns a case (its JSON dict) into the JSON result.

Each entry takes the whole case dict (``case["output"]`` plus any extra inputs the case carries, such as
a spec or options) and returns plain JSON data. Keep the functions small: they call the project's pure
parsers and deciders and pick the fields worth pinning.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.unit import disk_cases, host_cases, inventory_cases, net_cases

Case = dict[str, Any]

REGISTRY: dict[str, Callable[[Case], Any]] = {}


def _vmbhyve_check(case: Case) -> Any:
    """A vm-bhyve guest config (``output``) + ``options`` (vm_dir, vm_name, zvol_dataset, before) → the
    bhyve device line vm-bhyve will generate, the "before" line, the findings and the NIC renames, as
    ``report_to_json`` gives them. ``"output_bytes": "latin-1"`` gives the file's bytes as code points
    U+0000-U+00FF (a conf that is not UTF-8)."""
    from agent.core.vmbhyve.vmconf import decode_conf
    from agent.core.vmbhyve.vmfindings import check_vm_config_text
    from agent.core.vmbhyve.vmreport import report_to_json

    opts = case.get("options", {})
    # "output_bytes": "latin-1": each code point of ``output`` (U+0000-U+00FF) is one byte of the file
    output = case["output"]
    if case.get("output_bytes") == "latin-1":
        output = decode_conf(output.encode("latin-1"))
    data = report_to_json(
        check_vm_config_text(
            output,
            vm_dir=opts.get("vm_dir", "/zdata/vms/xdev"),
            vm_name=opts.get("vm_name", "xdev"),
            zvol_dataset=opts.get("zvol_dataset", "zdata/vms"),
            before_text=opts.get("before"),
        )
    )
    renames = data["renames"]
    assert isinstance(renames, list)
    return {
        "ok": data["ok"],
        "devices": data["devices"],
        "before": data["before"],
        "findings": data["findings"],
        "renames": [{k: r[k] for k in ("nic", "from", "to")} for r in renames],
    }


REGISTRY["vmbhyve.check"] = _vmbhyve_check


def _vmbhyve_vmrun(case: Case) -> Any:
    """A conf (``output``) → this project's plan_slots in the form of what vm-bhyve v1.6.2's own vm::run
    did with it (``vmrun``, made by tests/tools/vmbhyve_vmrun.py): the devices line, bhyve's device
    arguments, whether bhyve ran, vm-bhyve's warnings. Checked against ``vmrun`` too, which
    GDA_UPDATE_FACTS never rewrites."""
    from agent.core.vmbhyve.vmconf import parse_vm_config
    from agent.core.vmbhyve.vmslots import GENERATED_MAC, HostContext, plan_slots

    run = case["vmrun"]
    name = case.get("options", {}).get("vm_name", "xdev")
    ctx = HostContext(
        vm_dir=f"{run['provenance']['datastore_shown_as']}/{name}",
        vm_name=name,
        zvol_dataset="zdata/vms",
        tap_names={int(k): v for k, v in run["taps"].items()},
        free_vnc_port=5900,  # the stub's netstat lists no port in use
    )
    plan = plan_slots(parse_vm_config(case["output"]), ctx)
    line = plan.devices_line().replace(GENERATED_MAC, run["provenance"]["generated_mac"])
    got = {
        "devices": line if plan.refusal is None else None,
        "device_args": line.split() if plan.refusal is None else None,
        "bhyve_started": plan.refusal is None,
        "warnings": list(plan.warnings),
    }
    logged = [ln.split("[bhyve devices: ", 1)[1][:-1] for ln in run["log"] if "[bhyve devices: " in ln]
    assert got["devices"] == (logged[0] if logged else None), "differs from vm-bhyve's own log"
    assert got["warnings"] == run["warnings"]
    return got


REGISTRY["vmbhyve.vmrun"] = _vmbhyve_vmrun  # conf → plan_slots, compared with vm-bhyve's own vm::run
REGISTRY["net.repair"] = net_cases.repair_case  # netplan files + interfaces + options → plan
REGISTRY["net.facts"] = net_cases.facts_case  # net_facts.sh output → files and interfaces
REGISTRY["disk.facts"] = disk_cases.facts_case  # disk_facts.sh output + fs/force/pins → verdicts, choice
REGISTRY["disk.guard"] = disk_cases.guard_case  # disk_guard.sh output + exit code + spec → result or error
REGISTRY["host.facts"] = host_cases.facts_case  # host_facts.sh output → parsed host facts
REGISTRY["host.check"] = host_cases.check_case  # host_facts.sh output + device + options → findings
REGISTRY["inventory.groups"] = inventory_cases.groups_case  # inventory text → merged settings + origins
REGISTRY["inventory.limit"] = inventory_cases.limit_case  # inventory text + --limit/--guest → guests
