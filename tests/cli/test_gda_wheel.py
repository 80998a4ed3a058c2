"""A non-editable install: build the wheel, install it into a fresh virtualenv and run ``gda`` from
another folder. The wheel carries the shell scripts and the demo's data.

The wheel is built from a copy of the source tree (the repository gets no build/ folder); the venv gets
the dependencies through a ``.pth`` line to this interpreter's site-packages, so nothing but the build
backend is downloaded (pip's build isolation fetches setuptools from PyPI).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli.gda_run import REPO


def _run(
    *argv: str | Path, cwd: Path | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(a) for a in argv], cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          check=False)  # fmt: skip


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    """(the wheel, the venv it is installed in)."""
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    src.mkdir()
    shutil.copytree(REPO / "agent", src / "agent", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, src / name)
    r = _run(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", tmp / "dist", src)
    assert r.returncode == 0, f"pip wheel failed (needs PyPI for the build backend):\n{r.stderr}"
    (wheel,) = (tmp / "dist").glob("guest_disk_agent-*.whl")
    venv = tmp / "venv"
    r = _run(sys.executable, "-m", "venv", "--without-pip", venv)
    assert r.returncode == 0, r.stderr
    py = venv / "bin" / "python"
    r = _run(sys.executable, "-m", "pip", "--python", py, "install", "-q", "--no-deps", wheel)
    assert r.returncode == 0, r.stderr
    site = _run(py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])").stdout.strip()
    Path(site, "gda-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    yield wheel, venv


def test_the_wheel_carries_scripts_and_data(built: tuple[Path, Path]) -> None:
    wheel, _ = built
    names = set(zipfile.ZipFile(wheel).namelist())
    scripts = {p.relative_to(REPO).as_posix() for p in (REPO / "agent" / "scripts").glob("*.sh")}
    assert scripts and scripts <= names, scripts - names
    assert "agent/scripts/lib/marker.sh" in names
    assert "agent/data/xdev.conf" in names
    # gda demo's stand-in FreeBSD host runs from the installed package: its seed scenario and stubs
    assert {"agent/lab/standin/scenarios/seed.json", "agent/lab/standin/stubs/vm_lab.py"} <= names
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    assert "gda = agent.cli.main:main" in zipfile.ZipFile(wheel).read(entry_points).decode()


def test_gda_runs_from_another_folder(built: tuple[Path, Path], tmp_path: Path) -> None:
    _, venv = built
    gda = venv / "bin" / "gda"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    where = _run(venv / "bin" / "python", "-c", "import agent; print(agent.__file__)", cwd=elsewhere)
    assert where.stdout.startswith(str(venv)), "the installed package, not the repository's"

    r = _run(gda, "--help", cwd=elsewhere)
    assert r.returncode == 0 and "fix-netplan" in r.stdout and "check-vm-config" in r.stdout, r.stderr
    assert _run(gda, "--version", cwd=elsewhere).stdout.strip() == "gda 0.1.0"
    assert "--host-compat" in _run(gda, "format", "-h", cwd=elsewhere).stdout

    conf = elsewhere / "xdev.conf"
    shutil.copy(REPO / "tests" / "fixtures" / "vmbhyve" / "xdev.conf", conf)
    r = _run(gda, "check-vm-config", "--conf", conf, "--vm-dir", "/zdata/vms/xdev", "--json", cwd=elsewhere)
    data = json.loads(r.stdout)
    assert r.returncode == 1, r.stderr  # the predicted NIC rename is a warning
    assert data["renames"][0]["message"].startswith("network0 moves from slot 5 to slot 6")

    r = _run(gda, "disks", "--json", cwd=elsewhere)  # no inventory.yaml here
    assert r.returncode == 2 and json.loads(r.stdout)["error"]["kind"] == "usage"


def test_the_demo_finds_its_data_in_the_installed_package(built: tuple[Path, Path], tmp_path: Path) -> None:
    _, venv = built
    code = (
        "from importlib import resources; from agent.cli.demo_story import SEED_CONF; "
        "print(SEED_CONF.is_file(), 'disk1_dev=\"custom\"' in SEED_CONF.read_text())"
    )
    r = _run(venv / "bin" / "python", "-c", code, cwd=tmp_path)
    assert r.stdout.split() == ["True", "True"], r.stderr
    assert _run(venv / "bin" / "gda", "demo", "--help", cwd=tmp_path).returncode == 0
