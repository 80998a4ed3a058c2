# GENERATED from agent/core/vmbhyve/finding.py by `python -m agent.collection_build`: do not edit.
"""What a check of a vm-bhyve guest config returns: findings and the report that holds them. Pure.

A finding's ``message`` and ``fix`` may name options as ``{opt:name}`` (agent.hints); the renderers
in agent.core.vmbhyve.vmreport spell them for the front end.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from ansible_collections.gda.bhyve.plugins.module_utils.gda.core.vmbhyve.nic_renames import NicRename
from ansible_collections.gda.bhyve.plugins.module_utils.gda.core.vmbhyve.vmconf import VmConfig
from ansible_collections.gda.bhyve.plugins.module_utils.gda.core.vmbhyve.vmslots import SlotPlan

Severity = Literal["error", "warning", "info"]
SEVERITY_ORDER: dict[str, int] = {"error": 0, "warning": 1, "info": 2}


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
    before_source: str | None = None  # "explicit" | "log" | "minus-disk<N>"
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
