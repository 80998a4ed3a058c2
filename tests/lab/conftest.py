"""Fixtures for tests against the real lab guest (QEMU/TCG, Debian bookworm or trixie, real sshd and NVMe).

The images are built once per machine (cached by flavour and recipe); ``lab.boot(flavour="trixie")`` boots
the cloud-init flavour (the ``trixie_image`` fixture builds it). Tests boot their own lab instance in a
private state folder on their own ports, so a lab the user runs on the default ports is left alone.
Every boot starts from a fresh root overlay and fresh disk images: whatever a test changes in the
guest is gone at the next boot.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from agent.lab import control
from agent.lab import lifecycle as lab_ops
from agent.lab.paths import StatePaths
from agent.transport.ssh import SshSession, SshTarget

REPO = Path(__file__).resolve().parents[2]
# Under pytest-xdist (``./dev test`` runs two workers, files spread with --dist loadfile) every worker
# boots its own lab instance: worker gwN takes the ports 10*N above the base. Modules that boot a guest
# of their own use fixed ports of their own (one module runs in one worker).
_WORKER = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)
SSH_PORT = int(os.environ.get("GDA_TEST_SSH_PORT", "2322")) + 10 * _WORKER
CONSOLE_PORT = int(os.environ.get("GDA_TEST_CONSOLE_PORT", "4655")) + 10 * _WORKER


@dataclass
class Lab:
    """One lab instance for the tests: boot it in a given layout, reach it, inspect its disks."""

    state: Path
    ssh_port: int = SSH_PORT
    console_port: int = CONSOLE_PORT
    layout: dict[str, Any] | None = None
    secrets: dict[str, str] = field(default_factory=dict)
    flavour: str = "bookworm"

    @property
    def paths(self) -> StatePaths:
        return StatePaths(self.state)

    def boot(self, *, fresh: bool = True, **layout: Any) -> control.LabState:
        """(Re)boot the guest with ``layout`` (lab.up options), fresh overlay and disks; ``fresh=False``
        keeps the root overlay (and disk images) of the previous boot: the same guest, rebooted."""
        self.down()
        st = lab_ops.up(
            state=str(self.state),
            ssh_port=self.ssh_port,
            console_port=self.console_port,
            fresh=fresh,
            build_first=False,
            **{"disk1": False, **layout},
        )
        self.layout = layout
        self.flavour = st.flavour
        self.secrets = control.lab_secrets(flavour=st.flavour)
        return st

    def down(self) -> None:
        control.down(self.paths, log=lambda _m: None)

    def target(self, **over: Any) -> SshTarget:
        base: dict[str, Any] = dict(
            host="127.0.0.1",
            port=self.ssh_port,
            user="admin",
            identity_file=self.paths.ssh_key,
            known_hosts=self.paths.known_hosts,
        )
        base.update(over)
        return SshTarget(**base)

    def ssh(self, **over: Any) -> SshSession:
        return SshSession(
            self.target(**over), sudo_password=self.secrets["admin"], sudo_password_env="XDEV_SUDO_PASSWORD"
        )

    def env(self) -> dict[str, str]:
        """Environment for running the CLI against this lab (passwords in env vars, as documented)."""
        return {
            **os.environ,
            "XDEV_SUDO_PASSWORD": self.secrets["admin"],
            "XDEV_CONSOLE_PASSWORD": self.secrets["root"],
        }

    def inventory(self, tmp: Path, extra: str = "", guest_extra: str = "") -> Path:
        """An inventory.yaml like the repository's, pointed at this lab's ports and state."""
        text = f"""\
guests:
  xdev:
    host: 127.0.0.1
    port: {self.ssh_port}
    user: admin
    identity_file: {self.paths.ssh_key}
    known_hosts: {self.paths.known_hosts}
    sudo_password_env: XDEV_SUDO_PASSWORD
    network:
      mac: 58:9c:fc:03:19:32
      netplan_file: /etc/netplan/50-cloud-init.yaml
    console:
      tcp: 127.0.0.1:{self.console_port}
      user: root
      password_env: XDEV_CONSOLE_PASSWORD
{guest_extra}{extra}"""
        path = tmp / "inventory.yaml"
        path.write_text(text)
        return path

    def invoke(
        self,
        *args: str,
        inventory: Path | None = None,
        env: dict[str, str] | None = None,
        timeout: float = 600,
    ) -> subprocess.CompletedProcess[str]:
        """Run ``invoke ARGS`` from the repository, as a user would."""
        argv = [sys.executable, "-m", "invoke", *args]
        if inventory is not None:
            argv += ["--inventory", str(inventory)]
        return subprocess.run(
            argv,
            cwd=REPO,
            env=env or self.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )


def _require_lab_prereqs() -> None:
    missing = [t for t in ("qemu-system-x86_64", "qemu-img", "debootstrap") if not _which(t)]
    if missing:
        pytest.fail(f"lab tests need {', '.join(missing)} (run bash .ci/run, which installs them)")


def _which(tool: str) -> bool:
    from shutil import which

    return which(tool) is not None


@pytest.fixture(scope="session")
def lab_image() -> None:
    """Build the lab image once (a cache hit when the recipe did not change)."""
    _require_lab_prereqs()
    lab_ops.build()


@pytest.fixture(scope="session")
def trixie_image() -> None:
    """Build the trixie (cloud-init) image once (a cache hit when its recipe did not change)."""
    _require_lab_prereqs()
    if not _which("genisoimage"):
        pytest.fail("the trixie lab flavour needs genisoimage (run bash .ci/run, which installs it)")
    lab_ops.build(flavour="trixie")


@pytest.fixture(scope="session")
def lab(lab_image: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """The tests' lab instance; each test module boots the layout it needs."""
    the_lab = Lab(state=tmp_path_factory.mktemp("lab-state"))
    try:
        yield the_lab
    finally:
        the_lab.down()
