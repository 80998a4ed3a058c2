"""fix-netplan's way back scripts (agent/scripts/netplan_wayback.sh), rendered and, where they need no
systemd or netplan, run here with the local ``sh``."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from agent.errors import RemoteError
from agent.ops.netplan_apply import WayBack


def test_backup_copies_each_file_next_to_it(tmp_path: Path) -> None:
    a, b = tmp_path / "a.yaml", tmp_path / "b yaml"
    a.write_text("A\n")
    b.write_text("B\n")
    way = WayBack("gda-netplan-revert-x", {str(a): f"{a}.bak.1", str(b): f"{b}.bak.1"}, 150)
    r = subprocess.run(["sh", "-c", way.script("backup")], capture_output=True, text=True, check=False)
    assert r.returncode == 0, r.stderr
    assert Path(f"{a}.bak.1").read_text() == "A\n" and Path(f"{b}.bak.1").read_text() == "B\n"


def test_the_timer_gets_the_pairs_as_arguments_and_escapes_its_own_dollars() -> None:
    way = WayBack("gda-netplan-revert-x", {"/etc/netplan/50 x.yaml": "/etc/netplan/50 x.yaml.bak.1"}, 150)
    text = way.script("arm")
    assert "set -- '/etc/netplan/50 x.yaml' '/etc/netplan/50 x.yaml.bak.1'\n" in text
    assert "ACTION=arm\n" in text and "FIRES_IN=150\n" in text
    # the job is a file of its own: a command line with ";" does not survive netplan's daemon-reload
    assert '/bin/sh "$job" "$@"' in text and "<<'JOB'" in text


@pytest.mark.parametrize("name", ["$x.yaml", "a;b.yaml", "50%.yaml"])
def test_paths_systemd_would_mangle_are_refused(name: str) -> None:
    with pytest.raises(RemoteError, match="no revert timer"):
        WayBack("u", {f"/etc/netplan/{name}": f"/etc/netplan/{name}.bak"}, 10).script("arm")
