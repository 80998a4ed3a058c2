"""``--accept-new-host-key`` from many threads at once (a fleet run): every key is recorded as one whole
line in known_hosts, and the file reads back with the project's own loader."""

from __future__ import annotations

import threading
from pathlib import Path

import paramiko

from agent.transport.hostkeys import AcceptNewHost
from agent.transport.known_hosts import load_known_hosts


def test_parallel_accepts_write_whole_lines(tmp_path: Path) -> None:
    known = tmp_path / "ssh" / "known_hosts"
    keys = [paramiko.Ed25519Key.from_private_key_file(str(_ed25519(tmp_path, i))) for i in range(12)]
    start = threading.Barrier(len(keys))

    def accept(i: int) -> None:
        client = paramiko.SSHClient()
        start.wait()
        AcceptNewHost(known).missing_host_key(client, f"[127.0.0.1]:{2500 + i}", keys[i])

    threads = [threading.Thread(target=accept, args=(i,)) for i in range(len(keys))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    lines = known.read_text().splitlines()
    assert len(lines) == len(keys) and all(len(line.split()) == 3 for line in lines)
    loaded = load_known_hosts([known])
    assert {h for h in loaded.keys} == {f"[127.0.0.1]:{2500 + i}" for i in range(len(keys))}


def _ed25519(tmp: Path, i: int) -> Path:
    import subprocess

    path = tmp / f"k{i}"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)
    return path
