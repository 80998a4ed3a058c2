"""Run the CLI as a user does: ``gda`` (the Program, via ``python -m agent.cli.main``) or the
repository's ``invoke``, in a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]


def gda(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "agent.cli.main", *args], cwd=cwd or REPO, env=env,
                          capture_output=True, text=True, timeout=timeout, check=False)  # fmt: skip


def invoke(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "invoke", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=timeout, check=False)  # fmt: skip


def json_error(r: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    """The ``{"ok": false, "error": {...}}`` a failed ``--json`` run printed; checks its shape."""
    data = json.loads(r.stdout)
    assert data["ok"] is False, data
    err = data["error"]
    assert set(err) == {"kind", "message", "hint", "exit_code"}, err
    assert err["exit_code"] == r.returncode, (err, r.returncode)
    assert "Traceback" not in r.stderr
    return dict(err)
