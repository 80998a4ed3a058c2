"""One SSH connection and one sudo per task, with the connection begun while ``gda`` loads
(agent.cli.early), counted from the real guest's own journal (sshd's and sudo's lines) around each run
of the installed ``gda``.

A connection sshd accepted is an ``Accepted publickey`` line; one closed before authenticating (a host
key the client refused) a ``[preauth]`` line; a root session a ``sudo`` ``session opened`` line. The
counting command's own connection and sudo are taken off.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.lab.conftest import Lab
from tests.lab.fleet_lab import GDA

COUNT = (
    "journalctl --sync; journalctl -q -o cat -t sshd -t sudo --no-pager | "
    "awk '/^Accepted publickey/ {a++} /preauth/ {p++} /^pam_unix\\(sudo:session\\): session opened/ {s++} "
    "END {print a+0, p+0, s+0}'"
)


@dataclass(frozen=True)
class Counts:
    accepted: int
    preauth: int
    sudo: int


@dataclass
class Guest:
    lab: Lab
    inv: Path

    def counts(self) -> Counts:
        with self.lab.ssh() as s:
            r = s.run(COUNT, root=True, timeout=60)
        assert r.status == 0, r.stderr
        a, p, su = (int(x) for x in r.stdout.split())
        return Counts(a, p, su)

    def gda(
        self, *args: str, env: dict[str, str] | None = None
    ) -> tuple[subprocess.CompletedProcess[str], Counts]:
        """Run the installed ``gda ARGS`` (``--inventory`` unless given); the connections and sudo
        sessions it made on the guest."""
        before = self.counts()
        argv = [GDA, *args]
        if "--inventory" not in args and "-i" not in args:
            argv += ["--inventory", str(self.inv)]
        r = subprocess.run(argv, env=env or self.lab.env(), capture_output=True, text=True, timeout=300)
        assert "Traceback" not in r.stdout + r.stderr, r.stdout + r.stderr
        after = self.counts()
        # the second count's own connection and sudo are in ``after``
        made = Counts(
            after.accepted - before.accepted - 1, after.preauth - before.preauth, after.sudo - before.sudo - 1
        )
        return r, made


def result(r: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(r.stdout)
    return data


@pytest.fixture(scope="module")
def guest(lab: Lab, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Guest]:
    lab.boot(disk1=True, nic_slot=5)
    yield Guest(lab, lab.inventory(tmp_path_factory.mktemp("inv-one-connection")))


def test_each_task_is_one_connection_and_one_sudo(guest: Guest) -> None:
    with guest.lab.ssh() as s:
        assert s.run("wipefs -a -q /dev/nvme0n1", root=True).status == 0

    r, made = guest.gda("disks", "--json")
    assert r.returncode == 0, r.stderr
    assert any(d["name"] == "nvme0n1" for d in result(r)["disks"])
    assert made == Counts(1, 0, 1)

    r, made = guest.gda("format", "--fs", "ext4", "--json")
    assert r.returncode == 0, r.stderr
    done = result(r)
    assert done["action"] == "formatted"
    assert made == Counts(1, 0, 1)

    r, made = guest.gda("format", "--fs", "ext4", "--json")
    assert r.returncode == 0, r.stderr
    assert result(r)["action"] == "nothing-to-do" and result(r)["uuid"] == done["uuid"]
    assert made == Counts(1, 0, 1)


def test_a_bad_request_runs_nothing_on_the_guest(guest: Guest) -> None:
    r, made = guest.gda("format", "--json")  # no --fs: refused after the early connection began
    assert r.returncode == 2, r.stdout + r.stderr
    assert result(r)["ok"] is False and "--fs" in result(r)["error"]["message"]
    # at most the early connection, dropped unused (at exit it is mostly still in its key exchange)
    assert made.sudo == 0 and made.accepted + made.preauth <= 1, made


def test_an_unknown_host_key_is_one_refused_connection_then_accepted_once(
    guest: Guest, tmp_path: Path
) -> None:
    kh = tmp_path / "known_hosts"
    kh.write_text("")
    inv = tmp_path / "inventory.yaml"
    inv.write_text(guest.inv.read_text().replace(str(guest.lab.paths.known_hosts), str(kh)))

    r, made = guest.gda("disks", "--json", "--inventory", str(inv))
    assert r.returncode == 1, r.stdout + r.stderr
    assert "SHA256:" in result(r)["error"]["message"] and kh.read_text() == ""
    assert made == Counts(0, 1, 0)  # the early attempt's refusal is the task's: no second attempt

    r, made = guest.gda("disks", "--json", "--inventory", str(inv), "--accept-new-host-key")
    assert r.returncode == 0, r.stderr
    assert kh.read_text().splitlines() == guest.lab.paths.known_hosts.read_text().splitlines()
    assert made == Counts(1, 0, 1)


def test_an_ssh_config_alias_is_reached_where_the_config_says(guest: Guest, tmp_path: Path) -> None:
    # the inventory names an alias and no port: the early TCP connection goes to alias:22 (which does
    # not resolve), the session to the HostName and Port ~/.ssh/config gives
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "config").write_text(
        f"Host gda-lab-alias\n  HostName 127.0.0.1\n  Port {guest.lab.ssh_port}\n"
    )
    inv = tmp_path / "inventory.yaml"
    text = guest.inv.read_text()
    text = text.replace("host: 127.0.0.1\n", "host: gda-lab-alias\n").replace(
        f"    port: {guest.lab.ssh_port}\n", ""
    )
    inv.write_text(text)
    env = {**guest.lab.env(), "HOME": str(home)}
    if shutil.which("gda") is None:
        env["PATH"] = f"{Path(GDA).parent}:{env.get('PATH', '')}"

    r, made = guest.gda("disks", "--json", "--inventory", str(inv), env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert any(d["name"] == "nvme0n1" for d in result(r)["disks"])
    assert made == Counts(1, 0, 1)
