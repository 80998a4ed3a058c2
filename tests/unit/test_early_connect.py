"""The SSH connection begun while ``gda`` loads (agent.cli.early, agent.transport.early_open): what the
command line and the inventory file say before the program has parsed either, and how a task takes the
early session only when it is the one it would have opened. Real sockets on loopback; the sessions are
real :class:`SshSession` objects (their SSH side: the lab guest, tests/lab/test_one_connection.py; the
endpoint against the loader on generated inventories: tests/property/test_early_endpoint_props.py).
"""

from __future__ import annotations

import inspect
import json
import os
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.cli import early
from agent.cli.early import Request, endpoint, request
from agent.inventory import load_inventory
from agent.ops.connect import Connector, ssh_target
from agent.transport import early_open
from agent.transport.early_open import PreSocket
from agent.transport.ssh import SshSession, SshTarget, SshUnreachable

FACTS = Path(__file__).resolve().parents[1] / "facts"

# ------------------------------------------------------------------------------------ the command line

REQUESTS = [
    (["gda", "format", "--fs", "ext4"], Request("inventory.yaml", None, False)),
    (["gda", "disks", "-i", "lab.yaml"], Request("lab.yaml", None, True)),
    (["gda", "disks", "--inventory=lab.yaml", "-g", "xdev"], Request("lab.yaml", "xdev", True)),
    (["gda", "format", "--guest=b", "--fs", "xfs", "--json"], Request("inventory.yaml", "b", False)),
    (["gda", "format", "-g", "a", "-g", "b", "--fs", "ext4"], None),  # several guests: a fleet run
    (["gda", "format", "--fs", "ext4", "--limit", "lab*"], None),
    (["gda", "format", "--fs", "ext4", "--forks", "2"], None),
    (["gda", "disks", "--batch=1"], None),
    (["gda", "disks", "--max-fail-percentage", "10"], None),
    (["gda", "format", "--fs", "ext4", "-a"], None),  # a new host key may be written: not early
    (["gda", "format", "--accept-new-host-key", "--fs", "ext4"], None),
    (["gda", "format", "-h"], None),
    (["gda", "disks", "--help"], None),
    (["gda", "fix-netplan"], Request("inventory.yaml", None, False, probe=True)),  # --via auto's probe
    (["gda", "fix-netplan", "-v", "auto", "-g", "x"], Request("inventory.yaml", "x", False, probe=True)),
    (["gda", "fix-netplan", "--via", "console"], None),  # no probe: the console at once
    (["gda", "fix-netplan", "--via=ssh"], None),  # SSH with its own timeout, no probe
    (["gda", "fix-netplan", "-v"], None),  # the value missing: invoke says so
    (["gda", "format", "--via", "console", "--fs", "ext4"], Request("inventory.yaml", None, False)),
    (["gda", "--help"], None),
    (["gda"], None),
    (["gda", "disks", "-i"], None),  # the value missing: invoke says so
]


@pytest.mark.parametrize(("argv", "expected"), REQUESTS, ids=[" ".join(a[1:]) for a, _ in REQUESTS])
def test_the_request_read_from_the_command_line(argv: list[str], expected: Request | None) -> None:
    assert request(argv, {}) == expected


def test_the_inventory_variable_and_a_runtime_config() -> None:
    assert request(["gda", "disks"], {"GDA_INVENTORY": "x.yaml"}) == Request("x.yaml", None, False)
    assert request(["gda", "disks", "-i", "y.yaml"], {"GDA_INVENTORY": "x.yaml"}) == Request(
        "y.yaml", None, True
    )
    assert request(["gda", "disks"], {"GDA_RUNTIME_CONFIG": "/etc/other.yaml"}) is None


def test_the_early_tasks_are_the_ones_whose_first_step_is_the_guests_ssh_session() -> None:
    from agent.cli import disk_tasks

    for name in early.EARLY_TASKS:
        body = inspect.getsource(getattr(disk_tasks, name).body)
        assert "with target.ssh() as s:" in body, name
    assert inspect.signature(Connector.ssh).parameters["connect_timeout"].default == early.CONNECT_TIMEOUT


def test_the_probe_tasks_open_ssh_or_consoles_probe_with_its_timeout() -> None:
    from agent.ops import fix_netplan, ssh_or_console

    assert early.PROBE_TIMEOUT == ssh_or_console.SSH_PROBE
    assert {"fix-netplan"} == early.PROBE_TASKS
    assert "ssh_or_console(connector" in inspect.getsource(fix_netplan)
    assert Request("i", None, False, probe=True).connect_timeout == ssh_or_console.SSH_PROBE
    assert Request("i", None, False).connect_timeout == early.CONNECT_TIMEOUT


# ------------------------------------------------------------------------------------ the inventory


def test_the_endpoint_is_the_guests_own_entry_with_its_paths_resolved(tmp_path: Path) -> None:
    inv = tmp_path / "inventory.yaml"
    root = {"guests": {"xdev": {"host": " 10.0.0.5 ", "port": 2222, "user": "admin",
                                "identity_file": "keys/id", "known_hosts": "~/kh"}}}  # fmt: skip
    assert endpoint(root, inv, None) == SshTarget(
        "10.0.0.5", 2222, "admin", tmp_path / "keys" / "id", Path(os.path.expanduser("~/kh")),
        early.CONNECT_TIMEOUT,
    )  # fmt: skip
    assert endpoint(root, inv, "xdev") == endpoint(root, inv, None)
    assert endpoint(root, inv, "other") is None


@pytest.mark.parametrize(
    "root",
    [
        None,
        [],
        {"guests": {"a": {"host": "h"}, "b": {"host": "h"}}},  # no guest named, several: a fleet run
        {"guests": {"a": {"host": "h"}}, "groups": {"g": {"members": ["a"], "vars": {"port": 2}}}},
        {"guests": {"a": {"host": ""}}},
        {"guests": {"a": {"host": "two words"}}},
        {"guests": {"a": {"host": "-oProxyCommand=x"}}},
        {"guests": {"a": {"host": "h", "port": "22"}}},
        {"guests": {"a": {"host": "h", "port": True}}},
        {"guests": {"a": {"host": "h", "port": 70000}}},
        {"guests": {"a": {"host": "h", "user": 5}}},
        {"guests": {"a": {"host": "h", "identity_file": ""}}},
        {"guests": {"a": {"host": "h", "known_hosts": ["x"]}}},
        {"guests": {"a": "h"}},
    ],
)
def test_no_endpoint_where_the_loader_might_read_it_otherwise(root: object, tmp_path: Path) -> None:
    assert endpoint(root, tmp_path / "inventory.yaml", None) is None


def _inventory_texts() -> Iterator[str]:
    for folder in ("inventory.groups", "inventory.limit"):
        for case in sorted((FACTS / folder).glob("*.json")):
            yield json.loads(case.read_text(encoding="utf-8"))["output"]
    yield (Path(__file__).resolve().parents[2] / "inventory.yaml").read_text(encoding="utf-8")


def test_every_endpoint_found_is_the_target_the_loader_gives(tmp_path: Path) -> None:
    from ruamel.yaml import YAML

    found = 0
    for text in _inventory_texts():
        path = tmp_path / "inventory.yaml"
        path.write_text(text, encoding="utf-8")
        root = YAML(typ="safe", pure=True).load(text)
        try:
            inv = load_inventory(path)
        except Exception:
            continue
        for name in [None, *inv.guests]:
            ep = endpoint(root, path, name)
            if ep is None:
                continue
            found += 1
            guest = inv.choose(name)[1]
            assert ssh_target(guest) == ep, text
    assert found >= 3


# ------------------------------------------------------------------------------------ claiming


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    yield srv
    srv.close()


def _target(port: int, tmp_path: Path, **over: object) -> SshTarget:
    fields: dict[str, object] = {"host": "127.0.0.1", "port": port, "user": "nobody",
                                 "known_hosts": tmp_path / "kh", "connect_timeout": 1.0}  # fmt: skip
    fields.update(over)
    return SshTarget(**fields)  # type: ignore[arg-type]


@pytest.fixture(autouse=True)
def _nothing_offered() -> Iterator[None]:
    early_open.discard()
    yield
    early_open.discard()


def test_a_session_is_claimed_once_and_only_for_its_own_target(tmp_path: Path) -> None:
    target = _target(1, tmp_path)
    session = SshSession(target)
    early_open.offer(session)
    assert early_open.claim(target, accept_new_host_key=False) is session
    assert early_open.claim(target, accept_new_host_key=False) is None

    for other in (
        _target(2, tmp_path),
        _target(1, tmp_path, user="root"),
        _target(1, tmp_path, connect_timeout=4.0),
    ):
        early_open.offer(SshSession(target))
        assert early_open.claim(other, accept_new_host_key=False) is None
        assert early_open.claim(target, accept_new_host_key=False) is None  # closed, not kept

    early_open.offer(SshSession(target))
    assert early_open.claim(target, accept_new_host_key=True) is None


def test_the_connector_hands_out_the_claimed_session_with_its_sudo_password(tmp_path: Path) -> None:
    inv = tmp_path / "inventory.yaml"
    inv.write_text("guests:\n  g:\n    host: 127.0.0.1\n    port: 2\n    user: admin\n", encoding="utf-8")
    guest = load_inventory(inv).choose(None)[1]
    connector = Connector(guest, sudo_password="pw")
    session = SshSession(ssh_target(guest))
    early_open.offer(session)
    got = connector.ssh()
    assert got is session and got._sudo_password == "pw"
    assert connector.ssh() is not session  # a second session is a new one


def test_the_presocket_connects_and_hands_over_its_socket(listener: socket.socket) -> None:
    pre = PreSocket("127.0.0.1", listener.getsockname()[1], timeout=2)
    conn, _ = listener.accept()
    sock = pre.result()
    sock.sendall(b"x")
    assert conn.recv(1) == b"x"
    pre.close()  # handed over: not closed under its new owner
    sock.sendall(b"y")
    assert conn.recv(1) == b"y"
    sock.close()
    conn.close()


def test_a_refused_presocket_is_the_sessions_unreachable_and_the_task_does_not_connect_again(
    tmp_path: Path, listener: socket.socket
) -> None:
    port = listener.getsockname()[1]
    listener.close()  # nothing listens there now
    session = SshSession(_target(port, tmp_path))
    session.begin_open(PreSocket("127.0.0.1", port, timeout=1))
    with pytest.raises(SshUnreachable) as info:
        session.open()
    assert f"cannot reach SSH on 127.0.0.1:{port}" in info.value.message


def test_the_task_waits_for_the_early_open_and_its_timeout_is_the_sessions(
    tmp_path: Path, listener: socket.socket
) -> None:
    # a forwarder that accepts and stays silent: the one connection times out, reported as unreachable
    port = listener.getsockname()[1]
    accepted: list[socket.socket] = []
    threading.Thread(target=lambda: accepted.append(listener.accept()[0]), daemon=True).start()
    session = SshSession(_target(port, tmp_path))
    session.begin_open(PreSocket("127.0.0.1", port, timeout=1))
    with pytest.raises(SshUnreachable) as info:
        session.open()
    assert "no SSH banner" in info.value.message
    assert session.connect_seconds >= 0.5  # waited for that open, not a new one
    assert len(accepted) == 1
    listener.settimeout(0.3)
    with pytest.raises(TimeoutError):
        listener.accept()  # no second connection


def test_a_probe_begun_early_says_when_the_banner_arrived_and_a_silent_one_times_out(
    tmp_path: Path, listener: socket.socket
) -> None:
    port = listener.getsockname()[1]
    accepted: list[socket.socket] = []

    def serve(banner: bytes | None) -> None:
        conn = listener.accept()[0]
        accepted.append(conn)
        if banner:
            conn.sendall(banner)

    # a server that greets: the banner is heard while the open goes on (paramiko then fails on it)
    threading.Thread(target=serve, args=(b"SSH-2.0-OpenSSH_9.2\r\n",), daemon=True).start()
    session = SshSession(_target(port, tmp_path, connect_timeout=1.0))
    session.begin_open(PreSocket("127.0.0.1", port, timeout=1.0), watch_banner=True)
    assert session.open_began is not None and session.banner_heard.wait(1.0)
    with pytest.raises(SshUnreachable):
        session.open()  # the connection closes after the banner: no key exchange
    # a forwarder that accepts and stays silent: no banner heard until the open is over, unreachable
    threading.Thread(target=serve, args=(None,), daemon=True).start()
    silent = SshSession(_target(port, tmp_path, connect_timeout=0.6))
    silent.begin_open(PreSocket("127.0.0.1", port, timeout=0.6), watch_banner=True)
    assert not silent.banner_heard.wait(0.4)
    with pytest.raises(SshUnreachable) as info:
        silent.open()
    assert "no SSH banner within 0.6s" in info.value.message and silent.banner_heard.is_set()
    for conn in accepted:
        conn.close()


def test_a_presocket_to_another_address_is_closed_and_the_session_connects_its_own_way(
    tmp_path: Path, listener: socket.socket
) -> None:
    other = socket.socket()
    other.bind(("127.0.0.1", 0))
    other.listen(1)
    try:
        pre = PreSocket("127.0.0.1", other.getsockname()[1], timeout=1)
        stray, _ = other.accept()
        session = SshSession(_target(listener.getsockname()[1], tmp_path, connect_timeout=0.5))
        session.begin_open(pre)
        own, _ = listener.accept()  # the session's own connection, to its own port
        stray.settimeout(2)
        assert stray.recv(1) == b""  # the presocket was closed unused
        with pytest.raises(SshUnreachable):
            session.open()
        own.close()
        stray.close()
    finally:
        other.close()


def test_closing_a_session_still_opening_closes_it_when_the_open_ends(
    tmp_path: Path, listener: socket.socket
) -> None:
    port = listener.getsockname()[1]
    session = SshSession(_target(port, tmp_path, connect_timeout=0.5))
    pre = PreSocket("127.0.0.1", port, timeout=1)
    conn, _ = listener.accept()
    session.begin_open(pre)
    early_open.offer(session)
    early_open.discard()  # the task never claimed it (a bad option, say)
    conn.settimeout(3)
    assert conn.recv(64).startswith(b"SSH-2.0-")  # paramiko's banner: it went on, on its thread
    assert conn.recv(4096) is not None
    conn.close()


def test_start_never_raises_and_offers_nothing_for_an_unreadable_inventory(tmp_path: Path) -> None:
    early.start(["gda", "disks", "-i", str(tmp_path / "missing.yaml")], {})
    (tmp_path / "bad.yaml").write_text("guests: [\n", encoding="utf-8")
    early.start(["gda", "disks", "-i", str(tmp_path / "bad.yaml")], {})
    assert early_open._offered is None


def test_start_offers_the_session_for_the_inventorys_guest(tmp_path: Path, listener: socket.socket) -> None:
    inv = tmp_path / "inventory.yaml"
    port = listener.getsockname()[1]
    inv.write_text(
        f"guests:\n  g:\n    host: 127.0.0.1\n    port: {port}\n    known_hosts: kh\n", encoding="utf-8"
    )
    early.start(["gda", "disks", "-i", str(inv)], {})
    conn, _ = listener.accept()  # connected before anything else loaded
    offered = early_open._offered
    assert offered is not None
    assert offered.target == SshTarget("127.0.0.1", port, None, None, tmp_path / "kh", early.CONNECT_TIMEOUT)
    conn.close()
