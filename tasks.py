"""guest-disk-agent tasks for `invoke` in this repository (`invoke --list`); the installed program is
`gda` (agent.cli.program). Both run the one collection of agent/cli/collection.py."""

from __future__ import annotations

from agent.cli.collection import ns

__all__ = ["ns"]
