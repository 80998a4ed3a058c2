"""The connection drops while the guard runs (issue 9, item 8): the SSH transport keeps the stdout it had
received, and the format task reads how far the guard got — after its RESULT line, mkfs finished and was
verified and a rerun is a no-op; before it, mkfs may have started."""

from __future__ import annotations

import select
from pathlib import Path
from typing import Any

import pytest

from agent.core.disk.guard_codes import GuardExit
from agent.errors import ChangeFailed, ExitCode, Refused, RemoteError
from agent.inventory import Guest
from agent.ops import format_disk as fmt
from agent.transport.protocol import Result
from agent.transport.ssh import SshSession, SshTarget, SshTimeout, SshUnreachable
from tests.unit.disk_fixtures import fixture_text
from tests.unit.test_format_disk_op import NS_PATH, FakeSession, guard_ok

N = "0123456789abcdef"


def lost(partial: str, error: type[SshUnreachable | SshTimeout] = SshUnreachable) -> FakeSession:
    def guard(_script: str) -> Result:
        e = error("SSH connection to admin@guest lost")
        e.partial_stdout = partial
        raise e

    return FakeSession(fixture_text("lab_blank_nvme"), guard)


def run(session: FakeSession) -> fmt.FormatOutcome:
    return fmt.run_format(
        session, "lab", Guest(host="127.0.0.1"), fmt.FormatOptions(fs="ext4"), log=lambda _m: None
    )


def test_lost_after_an_ok_result_says_mkfs_finished_and_a_rerun_is_a_no_op() -> None:
    with pytest.raises(SshUnreachable) as ei:
        run(lost(guard_ok()))
    e = ei.value
    assert e.exit_code == ExitCode.UNREACHABLE  # the task did not see the end: not a success
    assert e.message.startswith("SSH connection to admin@guest lost, but only after the guard's result line")
    assert "mkfs finished on /dev/nvme0n1 and was verified (ext4, UUID 3bb5bece-" in e.message
    assert "a rerun with the same options is a no-op" in e.message
    assert "may already have started" not in e.message


def test_a_timeout_after_the_result_line_says_the_same() -> None:
    with pytest.raises(RemoteError, match="mkfs finished on /dev/nvme0n1 and was verified"):
        run(lost(guard_ok(), SshTimeout))


def test_lost_after_a_refusal_reports_the_refusal() -> None:
    partial = (
        f"@@GDA-GUARD v1 nonce={N}@@\n@@GDA-{N} OBS device=/dev/nvme0n1\n@@GDA-{N} OBS mounted=/mnt\n"
        f"@@GDA-{N} RESULT code={int(GuardExit.MOUNTED)} reason=mounted@@\n"
    )
    with pytest.raises(Refused, match="nothing was changed"):
        run(lost(partial))


def test_lost_after_a_failed_verification_reports_the_failure() -> None:
    partial = guard_ok().replace(
        "RESULT code=0 reason=ok", f"RESULT code={int(GuardExit.VERIFY_FAILED)} reason=x"
    )
    with pytest.raises(ChangeFailed):
        run(lost(partial))


@pytest.mark.parametrize(
    "partial",
    [
        "",
        f"@@GDA-GUARD v1 nonce={N}@@\n@@GDA-{N} OBS device=/dev/nvme0n1\n@@GDA-{N} OBS mkfs_argv=mkfs.ext4\n",
        "sudo: some noise\n",
    ],
)
def test_lost_before_the_result_line_says_mkfs_may_have_started(partial: str) -> None:
    with pytest.raises(RemoteError) as ei:
        run(lost(partial))
    assert ei.value.message.endswith(f"; the guard may already have started mkfs on {NS_PATH}")


# ------------------------------------------------------------------ the SSH transport keeps what it got


class FakeChannel:
    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = chunks
        self.closed = False

    def exec_command(self, _command: str) -> None:
        pass

    def shutdown_write(self) -> None:
        pass

    def recv_ready(self) -> bool:
        return bool(self.chunks)

    def recv(self, _n: int) -> bytes:
        return self.chunks.pop(0)

    def recv_stderr_ready(self) -> bool:
        return False

    def exit_status_ready(self) -> bool:
        return False

    def close(self) -> None:
        self.closed = True


class DropsAfterOutput:
    """A transport that is active until everything was read once, then gone."""

    def __init__(self, channel: FakeChannel) -> None:
        self.channel = channel
        self.asked = False

    def open_session(self, timeout: float | None = None) -> FakeChannel:
        return self.channel

    def is_active(self) -> bool:
        if self.channel.chunks:
            return True
        if self.asked:
            return False
        self.asked = True
        return True


class FakeConn:
    def __init__(self, transport: DropsAfterOutput) -> None:
        self.user, self.host, self.port = "admin", "guest", 22
        self.client: Any = type("C", (), {"get_transport": lambda _s: transport})()


def test_ssh_exec_keeps_the_partial_stdout_on_a_lost_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(select, "select", lambda *_a: ([], [], []))
    session = SshSession(SshTarget(host="guest", user="admin", port=22))
    channel = FakeChannel([b"@@GDA-GUARD v1 ", "nonce=x@@\n\u00e9".encode()])
    session.conn = FakeConn(DropsAfterOutput(channel))  # type: ignore[assignment]
    with pytest.raises(SshUnreachable) as ei:
        session.run("true")
    assert ei.value.partial_stdout == "@@GDA-GUARD v1 nonce=x@@\n\u00e9"
    assert channel.closed


def test_lost_after_an_ok_result_still_checks_the_freebsd_features() -> None:
    dump = (
        Path(__file__).resolve().parents[1] / "fixtures" / "dumpe2fs" / "ext4_orphan_file_csum_seed.txt"
    ).read_text()
    session = lost(guard_ok(dump))
    with pytest.raises(ChangeFailed, match="FreeBSD cannot mount read-write"):
        fmt.run_format(
            session,
            "lab",
            Guest(host="127.0.0.1"),
            fmt.FormatOptions(fs="ext4", host_compat="freebsd"),
            log=lambda _m: None,
        )
