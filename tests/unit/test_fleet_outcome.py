"""One guest's outcome and the summary taken from the task's own result data (pure)."""

from __future__ import annotations

from typing import Any

import pytest

from agent.errors import ChangeFailed, Unreachable, UsageError
from agent.fleet.outcome import (
    counts_text,
    failed,
    skipped,
    succeeded,
    summary_json,
    summary_row,
)

FORMATTED: dict[str, Any] = {
    "action": "formatted",
    "guest": "lab1",
    "device": "nvme0n1",
    "device_path": "/dev/nvme0n1",
    "fs": "ext4",
    "uuid": "0b5c1f6e-2f4e-4b7a-9d0e-1c2b3a4d5e6f",
}
DISKS: dict[str, Any] = {
    "guest": "lab2",
    "disks": [
        {"name": "vda", "state": "excluded"},
        {"name": "nvme0n1", "state": "candidate"},
    ],
}
FIXED: dict[str, Any] = {"action": "fixed", "via": "console", "interface": "enp0s5", "renames": {}}


@pytest.mark.parametrize(
    ("data", "word", "device", "uuid"),
    [
        (FORMATTED, "formatted", "nvme0n1", FORMATTED["uuid"]),
        ({**FORMATTED, "action": "nothing-to-do"}, "nothing-to-do", "nvme0n1", FORMATTED["uuid"]),
        (DISKS, "listed", "nvme0n1", None),
        ({**DISKS, "disks": []}, "listed", None, None),
        (FIXED, "fixed", "enp0s5", None),
        ({}, "ok", None, None),
    ],
)
def test_the_summary_row_comes_from_the_task_data(
    data: dict[str, Any], word: str, device: str | None, uuid: str | None
) -> None:
    o = succeeded("g", data, 0, 12.34)
    row = summary_row(o)
    assert (o.word, row.result, row.device, row.uuid, row.seconds) == (word, word, device, uuid, 12.3)
    assert row.ok and row.message is None


def test_a_success_line_is_the_single_guest_object_plus_guest_and_seconds() -> None:
    line = succeeded("lab1", FORMATTED, 0, 1.23456).line()
    assert line == {"ok": True, **FORMATTED, "guest": "lab1", "seconds": 1.235}


@pytest.mark.parametrize(
    ("exc", "kind", "code"),
    [
        (Unreachable("cannot reach SSH on 127.0.0.1:1", hint="is the guest up?"), "unreachable", 4),
        (ChangeFailed("mkfs failed"), "change-failed", 3),
        (UsageError("{opt:fs} is required"), "usage", 2),
        (KeyboardInterrupt(), "interrupted", 130),
        (RuntimeError("oops\nmore"), "bug", 70),
    ],
)
def test_a_failure_line_is_the_single_guest_error_object(exc: BaseException, kind: str, code: int) -> None:
    o = failed("lab2", exc, 0.5)
    line = o.line()
    assert line["ok"] is False and line["guest"] == "lab2" and line["seconds"] == 0.5
    assert set(line["error"]) == {"kind", "message", "hint", "exit_code"}
    assert (o.word, o.exit_code, line["error"]["exit_code"]) == (kind, code, code)
    row = summary_row(o)
    assert row.device is None and not row.ok and row.message
    if kind == "usage":
        assert line["error"]["message"] == "--fs is required", "options rendered as in single mode"
    if kind == "bug":
        assert "RuntimeError: oops (please report it)" in line["error"]["message"]


def test_a_skipped_guest() -> None:
    o = skipped("lab3", "not run: interrupted (Ctrl-C)")
    assert o.exit_code == 0 and o.word == "skipped"
    line = o.line()
    assert line["skipped"] is True and line["ok"] is False and line["seconds"] == 0.0
    assert line["error"] == {
        "kind": "skipped",
        "message": "not run: interrupted (Ctrl-C)",
        "hint": None,
        "exit_code": 0,
    }
    assert summary_row(o).seconds is None


def test_the_summary_object_counts_the_results() -> None:
    outcomes = [
        succeeded("a", FORMATTED, 0, 1.0),
        succeeded("b", FORMATTED, 0, 1.0),
        failed("c", Unreachable("down"), 0.1),
        skipped("d", "not run"),
    ]
    assert summary_json(outcomes, 4, 2.5) == {
        "summary": True,
        "ok": False,
        "guests": 4,
        "results": {"formatted": 2, "unreachable": 1, "skipped": 1},
        "exit_code": 4,
        "seconds": 2.5,
    }
    assert counts_text(outcomes) == "4 guests: 2 formatted, 1 unreachable, 1 skipped"
    assert summary_json(outcomes[:1], 0, 1.0)["ok"] is True
