"""The README's main command, `invoke demo`, runs the whole seed story on a lab of the tests' own."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.lab.conftest import Lab


def test_demo_runs_the_seed_story(lab: Lab, tmp_path: Path) -> None:
    lab.down()
    inv = lab.inventory(tmp_path)
    r = lab.invoke(
        "demo",
        "--state",
        str(lab.state),
        "--ssh-port",
        str(lab.ssh_port),
        "--console-port",
        str(lab.console_port),
        inventory=inv,
        env={k: v for k, v in os.environ.items() if not k.startswith("XDEV_")},  # the demo knows the lab's
        timeout=900,
    )
    out = r.stdout
    assert r.returncode == 0, r.stderr + out
    assert "Traceback" not in r.stderr
    assert "network0 moves from slot 5 to slot 6: enp0s5 → enp0s6" in out
    assert "over SSH: lo UNKNOWN enp0s5 UP" in out
    assert "SSH is gone" in out
    assert "enp0s5 → enp0s6; SSH back" in out
    assert "features turned off for a freebsd host: orphan_file, metadata_csum_seed" in out
    assert "FreeBSD read-write: yes" in out
    blkid = subprocess.run(
        ["blkid", "-p", "-o", "export", str(lab.paths.disk(1))], capture_output=True, text=True, check=True
    ).stdout
    assert "TYPE=ext4" in blkid and "LABEL=linux-data" in blkid and "PTTYPE" not in blkid
