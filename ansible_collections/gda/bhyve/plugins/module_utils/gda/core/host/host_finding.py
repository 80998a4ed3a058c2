# GENERATED from agent/core/host/host_finding.py by `python -m agent.collection_build`: do not edit.
"""What the host check of one device returns: findings with a severity, and the result (pure).

A finding's ``message`` says what was found, ``fix`` what to do; both may name options as
``{opt:name}`` (agent.hints), spelled by the front end. Severities as for the vm-bhyve config check:
``error`` (nothing may be done: exit 1), ``warning`` (look before going on), ``info`` (facts the
guest side needs: the size and the NVMe serial it will see).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Severity = Literal["error", "warning", "info"]


@dataclass(frozen=True)
class HostFinding:
    code: str
    severity: Severity
    message: str
    fix: str | None = None
    data: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "severity": self.severity,
            "message": self.message,
            "fix": self.fix,
            "data": dict(self.data),
        }


@dataclass(frozen=True)
class HostCheck:
    """The check of one device: what it resolved to and every finding."""

    device: str
    provider: str  # the canonical provider, e.g. "nda0p4"
    disk: str | None  # the canonical disk it is on (itself for a whole disk), None if unknown
    partition_type: str | None
    size_bytes: int | None
    sector_size: int | None
    serial: str | None
    suggestion: str | None  # the one linux-data partition to use instead, when a refusal has one
    findings: tuple[HostFinding, ...]

    @property
    def ok(self) -> bool:
        """No error (warnings and infos do not stop anything)."""
        return not any(f.severity == "error" for f in self.findings)

    def by_severity(self, severity: Severity) -> tuple[HostFinding, ...]:
        return tuple(f for f in self.findings if f.severity == severity)

    def to_json(self) -> dict[str, Any]:
        return {
            "device": self.device,
            "provider": self.provider,
            "disk": self.disk,
            "ok": self.ok,
            "partition_type": self.partition_type,
            "size_bytes": self.size_bytes,
            "sector_size": self.sector_size,
            "serial": self.serial,
            "suggestion": self.suggestion,
            "findings": [f.to_json() for f in self.findings],
        }


def refusal_text(check: HostCheck) -> tuple[str, str] | None:
    """(message, hint) for refusing ``check`` (None when it has no error): the message says what was
    found (the pool, the mount, the type) and names the partition to use instead when there is one."""
    errors = check.by_severity("error")
    if not errors:
        return None
    message = f"{check.device} ({check.provider}) must not be passed through: " + "; ".join(
        f.message for f in errors
    )
    if check.suggestion:
        message += f"; {check.suggestion} on the same disk is the one linux-data partition that fits"
    fixes = list(dict.fromkeys(f.fix for f in errors if f.fix))
    return message, "; ".join(fixes) or "pick another device"
