"""``SshSession.open(on_banner=...)``: the banner is peeked at on the TCP connection before paramiko reads
it, so ``--via auto`` knows within a fraction of a second whether SSH answers at all (real sockets on
loopback: a forwarder that accepts and stays silent, one that closes, a refused port, a server whose
banner comes)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.transport.ssh import SshSession, SshTarget, SshUnreachable


def _server(behaviour: str) -> Iterator[int]:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            if behaviour == "banner":
                conn.sendall(b"SSH-2.0-gda_test\r\n")  # then nothing: no key exchange
            if behaviour == "close":
                conn.close()
            else:
                stop.wait(5)
                conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    listener.close()


@pytest.fixture(params=["silent", "close", "banner"])
def server(request: pytest.FixtureRequest) -> Iterator[tuple[str, int]]:
    for port in _server(request.param):
        yield request.param, port


def _session(port: int, tmp_path: Path, timeout: float) -> SshSession:
    target = SshTarget("127.0.0.1", port=port, user="nobody", known_hosts=tmp_path / "kh",
                       connect_timeout=timeout)  # fmt: skip
    return SshSession(target)


def test_the_banner_is_reported_before_the_key_exchange_and_silence_is_unreachable(
    server: tuple[str, int], tmp_path: Path
) -> None:
    behaviour, port = server
    heard: list[float] = []
    t0 = time.monotonic()
    with pytest.raises(SshUnreachable) as e:
        _session(port, tmp_path, 1.0).open(on_banner=lambda: heard.append(time.monotonic() - t0))
    if behaviour == "banner":
        assert len(heard) == 1 and heard[0] < 0.5  # at once, though the key exchange then times out
    else:
        assert heard == []
        expected = "no SSH banner within 1s" if behaviour == "silent" else "closed before the SSH banner"
        assert expected in e.value.message and f"127.0.0.1:{port}" in e.value.message


def test_a_refused_port_is_unreachable_at_once(tmp_path: Path) -> None:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    t0 = time.monotonic()
    with pytest.raises(SshUnreachable, match=r"cannot reach SSH on 127\.0\.0\.1"):
        _session(port, tmp_path, 3.0).open(on_banner=lambda: None)
    assert time.monotonic() - t0 < 2.0  # not the 3 s connect timeout
