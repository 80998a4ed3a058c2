"""Hostile input on the real guest (issue 9): an ext4 label with an ESC sequence never reaches the
terminal raw, and a known_hosts with ``@cert-authority``/``@revoked`` lines is read, a revoked guest key
refused (exit 1, no traceback).

One boot: disk1 (NVMe) with the NIC at slot 5, so SSH works. ``gda`` runs as a user would run it,
stdin not a terminal (so ``--force`` without ``--yes`` is a refusal, not a prompt).
"""

from __future__ import annotations

import shlex
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from agent.transport.hostkeys import HostKeyError
from agent.transport.ssh import SshSession
from tests.lab.conftest import Lab

SERIAL = "Y39B70RTK7AS"
GDA = str(Path(sys.executable).parent / "gda")
SHOWN = "\\x1b[2K"  # how the label's ESC[2K must appear


@dataclass
class Hostile:
    lab: Lab
    inv: Path
    dev: str
    tmp: Path

    def gda(self, *args: str, inv: Path | None = None) -> subprocess.CompletedProcess[str]:
        r = subprocess.run(
            [GDA, *args, "--inventory", str(inv or self.inv)],
            cwd=self.tmp,
            env=self.lab.env(),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        for stream in (r.stdout, r.stderr):
            assert "Traceback" not in stream, stream
            assert "\x1b" not in stream and "\x9b" not in stream, f"raw ESC/CSI on the terminal: {stream!r}"
        return r

    def root(self, script: str) -> str:
        with self.lab.ssh() as s:
            r = s.run(script, root=True, timeout=120)
        assert r.status == 0, f"{script!r} exited {r.status}: {r.stderr}"
        return r.stdout

    def inventory_with_known_hosts(self, text: str) -> Path:
        kh = self.tmp / "known_hosts.test"
        kh.write_text(text)
        inv = self.tmp / "inventory.kh.yaml"
        inv.write_text(self.inv.read_text().replace(str(self.lab.paths.known_hosts), str(kh)))
        return inv


@pytest.fixture(scope="module")
def hostile(lab: Lab, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hostile]:
    st = lab.boot(disk1=True, nic_slot=5)
    assert st.nic_name == "enp0s5"
    with lab.ssh() as s:
        r = s.run("lsblk -dn -o PATH,SERIAL")
    paths = {f[1]: f[0] for f in (line.split() for line in r.stdout.splitlines()) if len(f) == 2}
    tmp = tmp_path_factory.mktemp("hostile")
    yield Hostile(lab, lab.inventory(tmp), paths[SERIAL], tmp)


def test_an_esc_label_is_shown_escaped_in_disks_and_the_force_refusal(hostile: Hostile) -> None:
    dev = shlex.quote(hostile.dev)
    hostile.root(f"wipefs -a -q {dev} && mkfs.ext4 -q -F -L \"$(printf 'x\\033[2Kdata')\" {dev} && sync")
    label = hostile.root(f"blkid -p -s LABEL -o value {dev}")
    assert "\x1b[2K" in label, "the guest really carries the ESC label"

    disks = hostile.gda("disks", "--fs", "xfs")
    assert disks.returncode == 0, disks.stderr
    assert hostile.dev.removeprefix("/dev/") in disks.stdout

    refused = hostile.gda("format", "--fs", "xfs", "--force")
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "would destroy" in refused.stderr and f"label x{SHOWN}data" in refused.stderr, refused.stderr
    assert "--yes" in refused.stderr
    assert "\x1b[2K" in hostile.root(f"blkid -p -s LABEL -o value {dev}"), "nothing was changed"


def _guest_key_line(lab: Lab) -> tuple[str, str, str]:
    host, keytype, data = lab.paths.known_hosts.read_text().split()[:3]
    return host, keytype, data


def test_known_hosts_with_markers_is_read(hostile: Hostile, tmp_path: Path) -> None:
    """Before: paramiko's loader raised InvalidHostKey on the marker line: every task a traceback."""
    host, keytype, data = _guest_key_line(hostile.lab)
    other = tmp_path / "ca"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True)
    ca_type, ca_data = other.with_suffix(".pub").read_text().split()[:2]
    inv = hostile.inventory_with_known_hosts(
        f"@cert-authority *.example.org {ca_type} {ca_data}\n"
        f"@revoked old.example.org {ca_type} {ca_data}\n"
        f"{host} {keytype} {data}\n"
    )
    r = hostile.gda("disks", inv=inv)
    assert r.returncode == 0, r.stderr


def test_a_revoked_guest_key_is_refused(hostile: Hostile) -> None:
    host, keytype, data = _guest_key_line(hostile.lab)
    inv = hostile.inventory_with_known_hosts(f"{host} {keytype} {data}\n@revoked * {keytype} {data}\n")
    for extra in ((), ("--accept-new-host-key",)):
        r = hostile.gda("disks", *extra, inv=inv)
        assert r.returncode == 1, r.stdout + r.stderr
        assert "REVOKED" in r.stderr and "never remove the @revoked line" in r.stderr, r.stderr
    kh = hostile.tmp / "known_hosts.test"
    assert kh.read_text().count(data) == 2, "the revoked key was not recorded again"
    with pytest.raises(HostKeyError, match="REVOKED"):
        SshSession(hostile.lab.target(known_hosts=kh), accept_new_host_key=True).open()
