"""One guest's outcome in a fleet run, and the summary taken from all of them (pure).

A guest's JSON object is the one the single-guest task prints (``{"ok": true, ...}`` or
``{"ok": false, "error": {kind, message, hint, exit_code}}``) plus ``"guest"`` and ``"seconds"``; a guest
that never ran is ``{"ok": false, "skipped": true, "error": {"kind": "skipped", ...}}`` with exit code 0.
Its result word is the task's ``action`` (``formatted``, ``nothing-to-do``, ``fixed``, ...; ``listed`` for
``disks``), else the error kind, else ``skipped``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import agent
from agent.errors import AgentError, ExitCode


@dataclass(frozen=True)
class GuestOutcome:
    """What one guest's run gave: its JSON ``data`` (without guest and seconds), its exit code, its time."""

    guest: str
    data: Mapping[str, Any]
    exit_code: int
    seconds: float = 0.0
    skipped: bool = False

    @property
    def ok(self) -> bool:
        return self.data.get("ok") is True

    @property
    def error(self) -> Mapping[str, Any]:
        err = self.data.get("error")
        return err if isinstance(err, Mapping) else {}

    @property
    def word(self) -> str:
        """The result in one word (see the module's docstring)."""
        if self.skipped:
            return "skipped"
        if not self.ok:
            return str(self.error.get("kind") or "failed")
        action = self.data.get("action")
        if isinstance(action, str) and action:
            return action
        return "listed" if "disks" in self.data else "ok"

    def line(self) -> dict[str, Any]:
        """The guest's JSON line: its data plus ``guest`` and ``seconds``."""
        return {**self.data, "guest": self.guest, "seconds": round(self.seconds, 3)}


def succeeded(guest: str, data: Mapping[str, Any], exit_code: int, seconds: float) -> GuestOutcome:
    """A task that returned its result ``data`` (``"ok": true`` added unless it says)."""
    return GuestOutcome(guest, {"ok": True, **data}, int(exit_code), seconds)


def _error(kind: str, message: str, hint: str | None, code: int) -> dict[str, Any]:
    return {"ok": False, "error": {"kind": kind, "message": message, "hint": hint, "exit_code": code}}


def failed(guest: str, exc: BaseException, seconds: float) -> GuestOutcome:
    """A task that raised ``exc``: an :class:`AgentError` its own code, Ctrl-C 130, anything else a bug."""
    if isinstance(exc, AgentError):
        return GuestOutcome(guest, {"ok": False, "error": exc.to_json()}, int(exc.exit_code), seconds)
    if isinstance(exc, KeyboardInterrupt):
        code = int(ExitCode.INTERRUPTED)
        return GuestOutcome(guest, _error("interrupted", "interrupted", None, code), code, seconds)
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    what = type(exc).__name__ + (f": {first}" if first else "")
    message = f"bug in guest-disk-agent {agent.__version__}: {what} (please report it)"
    return GuestOutcome(guest, _error("bug", message, None, int(ExitCode.BUG)), int(ExitCode.BUG), seconds)


def skipped(guest: str, why: str) -> GuestOutcome:
    """A guest that never ran: ``why`` says what stopped the run."""
    return GuestOutcome(guest, {**_error("skipped", why, None, 0), "skipped": True}, 0, skipped=True)


# ---------------------------------------------------------------------------------------------------
# the summary


@dataclass(frozen=True)
class SummaryRow:
    """One row of the summary table: guest, result, device, UUID, time; ``message`` for a failure."""

    guest: str
    result: str
    device: str | None
    uuid: str | None
    seconds: float | None
    ok: bool
    message: str | None = None
    hint: str | None = None


def _device(data: Mapping[str, Any]) -> str | None:
    for key in ("device", "interface"):
        value = data.get(key)
        if isinstance(value, str) and value:
            return value
    disks = data.get("disks")
    if isinstance(disks, list):
        names = [
            str(d.get("name")) for d in disks if isinstance(d, Mapping) and d.get("state") == "candidate"
        ]
        return ", ".join(names) or None
    return None


def summary_row(o: GuestOutcome) -> SummaryRow:
    uuid = o.data.get("uuid")
    message, hint = o.error.get("message"), o.error.get("hint")
    return SummaryRow(
        guest=o.guest,
        result=o.word,
        device=_device(o.data) if o.ok else None,
        uuid=uuid if isinstance(uuid, str) else None,
        seconds=None if o.skipped else round(o.seconds, 1),
        ok=o.ok,
        message=str(message) if message else None,
        hint=str(hint) if hint else None,
    )


def result_counts(outcomes: Sequence[GuestOutcome]) -> dict[str, int]:
    """How many guests gave each result word, in the order the words first appear."""
    return dict(Counter(o.word for o in outcomes))


def counts_text(outcomes: Sequence[GuestOutcome]) -> str:
    """``3 guests: 2 formatted, 1 unreachable``."""
    counts = ", ".join(f"{n} {word}" for word, n in result_counts(outcomes).items())
    noun = "guest" if len(outcomes) == 1 else "guests"
    return f"{len(outcomes)} {noun}: {counts}" if counts else f"0 {noun}"


def summary_json(outcomes: Sequence[GuestOutcome], exit_code: int, seconds: float) -> dict[str, Any]:
    """The final JSON line of a fleet run."""
    return {
        "summary": True,
        "ok": exit_code == 0,
        "guests": len(outcomes),
        "results": result_counts(outcomes),
        "exit_code": int(exit_code),
        "seconds": round(seconds, 3),
    }
