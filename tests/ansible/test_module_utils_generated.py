"""The collection's module_utils are generated from ``agent/`` (``python -m agent.collection_build``).

The committed copy must be what the generator writes now (else: the diff, and the command that refreshes
it); the generated package must import with nothing but the standard library (no ``agent``, pydantic,
paramiko, ...) and render every shipped script exactly as ``agent`` does; a root that pulls a
third-party import is refused with the chain; galaxy.yml carries agent's version; and a real
``ansible`` run of ``gda.bhyve.guest_disk`` on this machine (check mode, a pin that matches nothing: it
only reads) gets gda's refusal back, so AnsiballZ found every module_util it ships.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import agent
from agent import collection_build as cb
from agent.core import script_render
from tests.ansible.playbook_run import BIN, ansible_env

REFRESH = "python -m agent.collection_build"


def generate(out: Path, roots: Path = cb.ROOTS_FILE) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "agent.collection_build", "--roots", str(roots), "--out", str(out)],
        cwd=cb.REPO_DIR,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("module-utils") / "gda"
    r = generate(out)
    assert r.returncode == 0, r.stderr
    return out


def test_the_committed_module_utils_are_the_generated_ones(generated: Path) -> None:
    diff = cb.differences(cb.existing(generated), cb.existing(cb.OUT_DIR))
    assert not diff, (
        f"{cb.OUT_DIR} differs from what the generator writes; refresh it with `{REFRESH}`:\n"
        + "".join(diff[:200])
    )


BLOCKER = """
import importlib.abc, json, sys
BLOCKED = {"agent", "pydantic", "paramiko", "fabric", "invoke", "ruamel", "rich", "yaml"}
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"{name} is not on the managed host")
sys.meta_path.insert(0, Block())
sys.path[:0] = [ROOT]
P = "ansible_collections.gda.bhyve.plugins.module_utils.gda"
import importlib
for m in MODULES:
    importlib.import_module(P + "." + m if m else P)
sr = importlib.import_module(P + ".core.script_render")
out = {n: sr.render(n[:-3], nonce="0123456789abcdef") for n in sr.script_names() if not n.startswith("lib/")}
print(json.dumps({"scripts": out, "names": sr.script_names()}))
"""


def test_the_generated_package_is_stdlib_only_and_renders_the_same_scripts(
    generated: Path, tmp_path: Path
) -> None:
    root = tmp_path / "root"
    pkg = root / "ansible_collections" / "gda" / "bhyve" / "plugins" / "module_utils"
    pkg.mkdir(parents=True)
    (pkg / "gda").symlink_to(generated, target_is_directory=True)
    modules = sorted(
        ".".join(p.relative_to(generated).with_suffix("").parts).removesuffix("__init__").rstrip(".")
        for p in generated.rglob("*.py")
    )
    code = f"ROOT = {str(root)!r}\nMODULES = {modules!r}\n" + BLOCKER
    r = subprocess.run(
        [sys.executable, "-I", "-c", code], capture_output=True, text=True, check=False, timeout=60
    )
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["names"] == script_render.script_names()
    for name, text in data["scripts"].items():
        assert text == script_render.render(name[:-3], nonce="0123456789abcdef"), name


def test_a_root_with_a_third_party_import_is_refused_with_the_chain(tmp_path: Path) -> None:
    roots = tmp_path / "roots.txt"
    roots.write_text("# the CLI's side of the format task (the inventory's Guest)\nagent.ops.format_disk\n")
    r = generate(tmp_path / "out", roots)
    assert r.returncode == 1
    assert "which is not in the standard library" in r.stderr
    assert "<- agent.inventory <- agent.ops.format_disk)" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr
    assert not (tmp_path / "out").exists()


def test_galaxy_version_is_the_agent_version() -> None:
    galaxy = (cb.COLLECTION_DIR / "galaxy.yml").read_text(encoding="utf-8")
    assert f"\nversion: {agent.__version__}\n" in galaxy


def test_guest_disk_runs_through_ansible_and_reports_a_refusal(tmp_path: Path) -> None:
    """Check mode with a device pin that matches nothing: the module only reads this machine's disks."""
    env = ansible_env(tmp_path, {"ANSIBLE_LOCALHOST_WARNING": "False"})
    argv = [str(BIN / "ansible"), "localhost", "-c", "local", "-i", "localhost,", "--check", "-m",
            "gda.bhyve.guest_disk", "-a", "fs=ext4 device=/dev/gda-no-such-disk",
            "-e", f"ansible_python_interpreter={sys.executable}"]  # fmt: skip
    r = subprocess.run(argv, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False)
    out = r.stdout + r.stderr
    assert r.returncode == 2, out  # the task failed (not unreachable, not a module packaging error)
    assert "Traceback" not in out and "Could not find imported module support code" not in out, out
    if os.geteuid() == 0:
        assert "no disk matches the pins device=/dev/gda-no-such-disk" in out, out
    else:
        assert "this step needs root" in out and "become: true" in out, out
