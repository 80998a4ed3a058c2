"""Error types that reach the user as a message (never a traceback) and an exit code.

Exit codes: 0 done or nothing to do, 1 refused or failed, 2 bad usage or input.
"""

from __future__ import annotations


class AgentError(Exception):
    """An expected failure: shown to the user as ``message`` plus an optional ``hint``."""

    exit_code = 1

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\nhint: {self.hint}"


class UsageError(AgentError):
    """Bad command-line usage or bad input file (exit 2)."""

    exit_code = 2


class Refused(AgentError):
    """The tool refused to act because acting could lose data or is ambiguous (exit 1)."""


class RemoteError(AgentError):
    """A remote command or connection failed (exit 1)."""


class ConsoleError(AgentError):
    """The serial console did not behave as expected (exit 1)."""
