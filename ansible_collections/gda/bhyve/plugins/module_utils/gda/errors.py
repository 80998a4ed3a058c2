# GENERATED from agent/errors.py by `python -m agent.collection_build`: do not edit.
"""Error types that reach the user as a message (never a traceback), a kind and an exit code.

Exit codes (one table, :class:`ExitCode`; the README and every ``--json`` error carry the same):

* 0 done, or nothing to do
* 1 refused: acting could lose data or is ambiguous; nothing was changed
* 2 bad usage or input (options, inventory)
* 3 failed while changing or verifying (mkfs failed, the new filesystem did not verify, a change was
  rolled back)
* 4 unreachable: neither SSH nor the console answered
* 70 a bug in the tool (an unexpected exception; reported in one line with the version)
* 130 interrupted (Ctrl-C)
"""

from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    OK = 0
    REFUSED = 1
    USAGE = 2
    CHANGE_FAILED = 3
    UNREACHABLE = 4
    BUG = 70
    INTERRUPTED = 130


class AgentError(Exception):
    """An expected failure: shown to the user as ``message`` plus an optional ``hint``.

    ``message`` and ``hint`` may name options as ``{opt:name}`` (see :mod:`agent.hints`): the pure
    core never spells a command-line flag; the CLI renders them (``--name``).
    """

    exit_code: int = ExitCode.REFUSED
    kind = "failed"

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        from ansible_collections.gda.bhyve.plugins.module_utils.gda.hints import render_options

        text = self.message if not self.hint else f"{self.message}\nhint: {self.hint}"
        return render_options(text)

    def to_json(self) -> dict[str, object]:
        from ansible_collections.gda.bhyve.plugins.module_utils.gda.hints import render_options

        return {
            "kind": self.kind,
            "message": render_options(self.message),
            "hint": render_options(self.hint) if self.hint else None,
            "exit_code": int(self.exit_code),
        }


class UsageError(AgentError):
    """Bad command-line usage or bad input file (exit 2)."""

    exit_code = ExitCode.USAGE
    kind = "usage"


class Refused(AgentError):
    """The tool refused to act because acting could lose data or is ambiguous (exit 1)."""

    kind = "refused"


class RemoteError(AgentError):
    """A remote command failed before anything was changed (exit 1)."""


class ChangeFailed(RemoteError):
    """Failed while changing or verifying: mkfs failed, the result did not verify, a change was rolled
    back (exit 3)."""

    exit_code = ExitCode.CHANGE_FAILED
    kind = "change-failed"


class Unreachable(RemoteError):
    """Neither SSH nor the console answered (exit 4)."""

    exit_code = ExitCode.UNREACHABLE
    kind = "unreachable"


class ConsoleError(AgentError):
    """The serial console did not behave as expected (exit 1)."""
