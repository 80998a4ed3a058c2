"""``--via auto``: SSH when it answers, the console logging in beside a silent SSH (agent.ops.ssh_or_console),
with sessions that take real time in real threads."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any, cast

import pytest

from agent.ops import ssh_or_console as soc
from agent.ops.connect import Connector
from agent.transport.hostkeys import HostKeyError
from agent.transport.ssh import SshUnreachable


class FakeSsh:
    """``open`` takes ``delay`` seconds in all; the banner comes after ``banner`` seconds (None: never)."""

    def __init__(self, delay: float, error: Exception | None, banner: float | None, gateway: bool) -> None:
        self.delay, self.error, self.banner = delay, error, banner
        self.conn = SimpleNamespace(gateway="jump" if gateway else None)
        self.closed = threading.Event()
        self.entered = False
        self.banner_heard = threading.Event()
        self.open_began: float | None = None  # set: begun while gda loaded (agent.cli.early)

    def open(self, *, on_banner: Any = None) -> FakeSsh:
        if self.banner is not None and on_banner is not None:
            time.sleep(self.banner)
            on_banner()
        time.sleep(max(0.0, self.delay - (self.banner or 0.0)))
        if self.error is not None:
            raise self.error
        return self

    def close(self) -> None:
        self.closed.set()

    def __enter__(self) -> FakeSsh:
        self.entered = True
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass
class FakeConnector:
    ssh_delay: float
    ssh_error: Exception | None = None
    banner: float | None = None
    gateway: bool = False
    login: float = 0.2
    has_console: bool = True
    began_ago: float | None = None  # the probe was begun this long ago, while gda loaded
    console_called: list[float] = field(default_factory=list)
    events: list[str] = field(default_factory=list)
    made: list[FakeSsh] = field(default_factory=list)

    @property
    def guest(self) -> Any:
        return SimpleNamespace(console=object() if self.has_console else None)

    def ssh(self, *, connect_timeout: float) -> FakeSsh:
        assert connect_timeout == soc.SSH_PROBE
        s = FakeSsh(self.ssh_delay, self.ssh_error, self.banner, self.gateway)
        if self.began_ago is not None:
            s.open_began = time.monotonic() - self.began_ago
        self.made.append(s)
        return s

    @contextlib.contextmanager
    def console(self, *, transcript: Any) -> Iterator[str]:
        self.console_called.append(time.monotonic())
        time.sleep(self.login)
        self.events.append("console in")
        try:
            yield "CONSOLE"
        finally:
            self.events.append("console out")


def run(c: FakeConnector) -> tuple[str, Any, float, list[str]]:
    said: list[str] = []
    t0 = time.monotonic()
    with soc.ssh_or_console(cast(Connector, c), transcript=None, log=said.append) as (via, cmd):
        took = time.monotonic() - t0
        c.events.append(f"use {via}")
    return via, cmd, took, said


def test_ssh_that_answers_at_once_is_used_and_the_console_is_never_touched() -> None:
    c = FakeConnector(ssh_delay=0.05, banner=0.01)
    via, cmd, took, said = run(c)
    assert (via, cmd) == ("ssh", c.made[0]) and took < soc.BANNER_FIRST
    assert c.events == ["use ssh"] and said == [] and c.made[0].closed.is_set()


def test_a_silent_ssh_does_not_hold_up_the_console(monkeypatch: pytest.MonkeyPatch) -> None:
    # QEMU's forwarder: the connection is accepted, no banner comes, the probe times out after 4 s
    monkeypatch.setattr(soc, "BANNER_FIRST", 0.3)
    c = FakeConnector(ssh_delay=1.5, ssh_error=SshUnreachable("no SSH banner within 4s"))
    via, cmd, took, said = run(c)
    assert (via, cmd) == ("console", "CONSOLE")
    assert took < 1.0  # 0.3 s for SSH's banner, 0.2 s of login: not SSH's whole timeout first
    assert c.events == ["console in", "use console", "console out"]
    assert said == [
        "SSH is unreachable (no answer within 0.3s while the console logged in); using the serial console"
    ]


def test_a_probe_begun_while_gda_loaded_has_its_banner_seconds_counted_from_then(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(soc, "BANNER_FIRST", 0.4)
    c = FakeConnector(ssh_delay=1.5, ssh_error=SshUnreachable("no SSH banner within 4s"), began_ago=0.3)
    t0 = time.monotonic()
    via, _cmd, _took, said = run(c)
    assert via == "console" and c.console_called[0] - t0 < 0.25  # 0.1 s left of the 0.4, not 0.4 more
    assert said == [
        "SSH is unreachable (no answer within 0.4s while the console logged in); using the serial console"
    ]
    late = FakeConnector(ssh_delay=1.5, ssh_error=SshUnreachable("no SSH banner"), began_ago=5.0)
    t0 = time.monotonic()
    assert run(late)[0] == "console" and late.console_called[0] - t0 < 0.1  # its seconds are over


def test_a_banner_that_came_is_waited_for_however_slow_the_login_behind_it() -> None:
    # a healthy guest under load: the banner at once, key exchange and authentication slow
    c = FakeConnector(ssh_delay=soc.BANNER_FIRST + 0.5, banner=0.02)
    via, cmd, took, said = run(c)
    assert (via, cmd) == ("ssh", c.made[0]) and took >= soc.BANNER_FIRST + 0.5
    assert c.events == ["use ssh"] and said == []  # the console was never logged in


def test_through_a_gateway_ssh_gets_ssh_first_seconds(monkeypatch: pytest.MonkeyPatch) -> None:
    # a ProxyJump hop: the banner cannot be seen, so the whole SSH session has SSH_FIRST seconds
    monkeypatch.setattr(soc, "SSH_FIRST", 0.3)
    c = FakeConnector(ssh_delay=1.5, ssh_error=SshUnreachable("no SSH banner"), banner=0.01, gateway=True)
    via, _cmd, took, said = run(c)
    assert via == "console" and 0.3 <= took < 1.0
    assert said == [
        "SSH is unreachable (no answer within 0.3s while the console logged in); using the serial console"
    ]


def test_ssh_that_fails_fast_says_why_at_once() -> None:
    c = FakeConnector(ssh_delay=0.0, ssh_error=SshUnreachable("cannot reach SSH on h:22: Connection refused"))
    via, _cmd, took, said = run(c)
    assert via == "console" and "Connection refused" in said[0]
    assert took < soc.BANNER_FIRST + 0.2 + 0.15  # the failure is not waited out: only the login's 0.2 s


def test_a_late_session_is_closed_once_the_console_is_in(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(soc, "BANNER_FIRST", 0.1)
    c = FakeConnector(ssh_delay=0.5, banner=0.3, login=0.2)  # SSH answers after the console is in
    via, _cmd, _took, _said = run(c)
    assert via == "console"
    assert c.made[0].closed.wait(2.0), "the late SSH session was left open"
    assert not c.made[0].entered


def test_ssh_that_answers_while_the_console_logs_in_still_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(soc, "BANNER_FIRST", 0.1)
    c = FakeConnector(ssh_delay=0.2, banner=0.15, login=0.4)
    via, cmd, _took, said = run(c)
    assert (via, cmd) == ("ssh", c.made[0]) and said == []
    assert c.events == ["console in", "console out", "use ssh"]  # logged out again before SSH is used


def test_a_host_key_failure_is_raised_not_taken_for_unreachable() -> None:
    c = FakeConnector(ssh_delay=0.0, ssh_error=HostKeyError("host key for h:22 does NOT match"))
    with pytest.raises(HostKeyError):
        run(c)
    assert c.events == []


def test_without_a_console_ssh_gets_its_whole_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(soc, "BANNER_FIRST", 0.1)
    monkeypatch.setattr(soc, "SSH_FIRST", 0.1)
    c = FakeConnector(ssh_delay=0.4, has_console=False)
    via, _cmd, _took, _said = run(c)
    assert via == "ssh" and c.events == ["use ssh"]


def test_without_a_console_an_unreachable_ssh_is_said_before_the_console_error() -> None:
    from agent.errors import UsageError

    c = FakeConnector(
        ssh_delay=0.0, ssh_error=SshUnreachable("cannot reach SSH on h:2999"), has_console=False
    )

    @contextlib.contextmanager
    def no_console(*, transcript: Any) -> Iterator[str]:
        raise UsageError("the guest has no console: in inventory.yaml")
        yield "never"

    c.console = no_console  # type: ignore[method-assign]
    said: list[str] = []
    with pytest.raises(UsageError), soc.ssh_or_console(cast(Connector, c), transcript=None, log=said.append):
        pass
    assert said == ["SSH is unreachable (cannot reach SSH on h:2999); using the serial console"]
