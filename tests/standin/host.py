"""The stand-in FreeBSD host moved into the package: agent/lab/standin/host.py (re-exported here, so the
tests' imports keep working)."""

from __future__ import annotations

from agent.lab.standin.host import (
    IMPORT_ROOT,
    SSHD,
    STUBS,
    TOOLS,
    LabLink,
    StandinHost,
    free_port,
    missing_requirements,
)

__all__ = ["IMPORT_ROOT", "SSHD", "STUBS", "TOOLS", "LabLink", "StandinHost", "free_port",
           "missing_requirements"]  # fmt: skip
