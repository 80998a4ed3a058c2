"""fix-netplan with ``pin_cloud_init`` on a guest whose netplan already fits: the request is a no-op only
when cloud-init's off switch is in place; otherwise only that file is written (and read back)."""

from __future__ import annotations

import shlex
from typing import Any

import pytest

from agent.core.net.cloud_init import CLOUD_INIT_DISABLE_PATH, cloud_init_disable_config
from agent.errors import ChangeFailed
from agent.ops.fix_netplan import FixOptions, FixOutcome, _Fix
from agent.transport.protocol import Result


class FileCmd:
    """A guest reduced to a file table: ``cat PATH``, ``mkdir -p``, ``write_file``."""

    label = "fake"

    def __init__(self, files: dict[str, str] | None = None, *, lose_writes: bool = False) -> None:
        self.files = dict(files or {})
        self.lose_writes = lose_writes
        self.writes: list[tuple[str, int]] = []

    def run(self, script: str, **_kw: Any) -> Result:
        words = shlex.split(script.replace("2>/dev/null", "").replace("&& sync", ""))
        if words[0] == "cat":
            text = self.files.get(words[1])
            return Result(0, text) if text is not None else Result(1, "", "No such file")
        return Result(0, "")

    def write_file(self, path: str, data: bytes, *, mode: int = 0o600) -> None:
        self.writes.append((path, mode))
        if not self.lose_writes:
            self.files[path] = data.decode()


def _pin(cmd: FileCmd, dry_run: bool = False) -> FixOutcome:
    fix = _Fix(None, cmd, "ssh", FixOptions(pin_cloud_init=True, dry_run=dry_run), "t", log=lambda _m: None)  # type: ignore[arg-type]
    outcome = FixOutcome("nothing-to-fix", "ssh")
    fix._pin_only(outcome)
    return outcome


def test_an_absent_pin_is_written_and_read_back() -> None:
    cmd = FileCmd()
    outcome = _pin(cmd)
    assert outcome.action == "pinned"
    assert cmd.files[CLOUD_INIT_DISABLE_PATH] == cloud_init_disable_config()
    assert cmd.writes == [(CLOUD_INIT_DISABLE_PATH, 0o644)]
    assert outcome.changes == [f"write {CLOUD_INIT_DISABLE_PATH}: cloud-init then leaves the network alone"]


def test_a_pin_in_place_is_a_no_op() -> None:
    cmd = FileCmd({CLOUD_INIT_DISABLE_PATH: cloud_init_disable_config()})
    outcome = _pin(cmd)
    assert outcome.action == "nothing-to-fix" and cmd.writes == []
    assert any("in place" in n for n in outcome.notes)


def test_another_content_is_rewritten_and_a_dry_run_changes_nothing() -> None:
    cmd = FileCmd({CLOUD_INIT_DISABLE_PATH: "network: {config: enabled}\n"})
    outcome = _pin(cmd, dry_run=True)
    assert outcome.action == "dry-run" and cmd.writes == []
    assert _pin(cmd).action == "pinned"


def test_a_write_that_does_not_stick_is_a_failure_not_a_success() -> None:
    with pytest.raises(ChangeFailed, match="does not hold"):
        _pin(FileCmd(lose_writes=True))
