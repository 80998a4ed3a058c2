"""Running a real ``ansible-playbook`` (ansible-core in the project's venv) with the repository's collection.

:func:`run_playbook` writes the playbook and the inventory into a folder, points Ansible at the
repository's ``ansible_collections/`` and at private folders (home, temp, ControlPersist sockets), runs
``ansible-playbook`` and returns its output together with every result the playbook registered under a
name starting with ``r_`` (a last play on localhost writes them as JSON: the test asserts on the
modules' real return values, not on log text).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
COLLECTION = REPO / "ansible_collections" / "gda" / "bhyve"
BIN = Path(sys.executable).parent

DUMP_PLAY = """
- name: Keep the registered results for the test
  hosts: localhost
  gather_facts: false
  connection: local
  tasks:
    - name: Write them as JSON
      ansible.builtin.copy:
        dest: "{{{{ gda_results_file }}}}"
        mode: "0600"
        content: "{{{{ hostvars[{target!r}] | dict2items | selectattr('key', 'match', '^r_')
          | items2dict | to_json }}}}"
"""


@dataclass(frozen=True)
class PlaybookRun:
    returncode: int
    stdout: str
    stderr: str
    results: dict[str, Any]
    seconds: float

    def result(self, name: str) -> dict[str, Any]:
        """The registered result ``r_<name>``."""
        key = f"r_{name}"
        assert key in self.results, (
            f"no {key} in the results ({sorted(self.results)}):\n{self.stdout[-3000:]}"
        )
        value: dict[str, Any] = self.results[key]
        return value


def ansible_env(work: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for ansible-playbook: the repository's collections, private state folders."""
    cp = Path(tempfile.mkdtemp(prefix="gda-cp-"))  # short: ControlPath sockets have a 108-byte limit
    env = {
        **os.environ,
        "PATH": f"{BIN}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        "ANSIBLE_COLLECTIONS_PATH": str(REPO),
        "ANSIBLE_HOME": str(work / "ansible-home"),
        "ANSIBLE_LOCAL_TEMP": str(work / "ansible-tmp"),
        "ANSIBLE_SSH_CONTROL_PATH_DIR": str(cp),
        "ANSIBLE_HOST_KEY_CHECKING": "True",
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_RETRY_FILES_ENABLED": "False",
        "ANSIBLE_CONFIG": str(work / "ansible.cfg"),  # no ansible.cfg of the caller's folder or home
        "ANSIBLE_PYTHON_INTERPRETER": "auto_silent",
        "ANSIBLE_DEPRECATION_WARNINGS": "False",
        # ControlPersist as Ansible's default, shorter: the masters exit soon after the run
        "ANSIBLE_SSH_ARGS": "-C -o ControlMaster=auto -o ControlPersist=10s",
    }
    (work / "ansible.cfg").write_text("[defaults]\n", encoding="utf-8")
    return {**env, **(extra or {})}


def run_playbook(
    work: Path,
    playbook: str,
    inventory: str,
    *,
    target: str,
    env: Mapping[str, str] | None = None,
    args: tuple[str, ...] = (),
    timeout: float = 600,
) -> PlaybookRun:
    """Run ``playbook`` (YAML text, the dump play appended) against ``inventory`` (YAML text); the
    results registered on host ``target``."""
    import time

    work.mkdir(parents=True, exist_ok=True)
    (work / "playbook.yml").write_text(playbook + DUMP_PLAY.format(target=target), encoding="utf-8")
    (work / "inventory.yml").write_text(inventory, encoding="utf-8")
    results = work / "results.json"
    results.unlink(missing_ok=True)
    full_env = ansible_env(work, env)
    argv = [str(BIN / "ansible-playbook"), "-i", str(work / "inventory.yml"), str(work / "playbook.yml"),
            "-e", f"gda_results_file={results}", *args]  # fmt: skip
    t0 = time.monotonic()
    try:
        r = subprocess.run(argv, cwd=work, env=full_env, capture_output=True, text=True, timeout=timeout,
                           check=False)  # fmt: skip
    finally:
        shutil.rmtree(full_env["ANSIBLE_SSH_CONTROL_PATH_DIR"], ignore_errors=True)
    seconds = time.monotonic() - t0
    data = json.loads(results.read_text(encoding="utf-8")) if results.is_file() else {}
    return PlaybookRun(r.returncode, r.stdout, r.stderr, data, seconds)
