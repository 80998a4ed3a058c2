"""``ansible-test sanity`` on the collection (ansible_collections/gda/bhyve), the tests that need no docker.

The tests chosen (:data:`TESTS`): compile, import, validate-modules (documentation against the argument
spec, RETURN), ansible-doc, action-plugin-docs, yamllint, pep8, shebang, line-endings, empty-init,
no-smart-quotes, use-argspec-type-path, runtime-metadata. pylint is left out (minutes of CPU here).
``--requirements`` makes ansible-test install each test's pinned requirements into its own virtualenv under
``~/.ansible/test/venv`` (with pip's ordinary client: the first run fetches them, later runs reuse them);
known exceptions are in the collection's tests/sanity/ignore-2.19.txt.

ansible-test bootstraps pip in those virtualenvs with a script it downloads from Ansible's CI file server;
where that is unreachable, :func:`pip_bootstrap` leaves a stand-in at the path ansible-test caches it at
(ensurepip, then pip installs what ansible-test asks for, with the machine's pip configuration).
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from pathlib import Path

from tests.ansible.playbook_run import BIN, COLLECTION

TESTS = ("compile", "import", "validate-modules", "ansible-doc", "action-plugin-docs", "yamllint", "pep8",
         "shebang", "line-endings", "empty-init", "no-smart-quotes", "use-argspec-type-path",
         "runtime-metadata")  # fmt: skip
BUDGET = 120.0  # seconds, once the test virtualenvs exist

PIP_BOOTSTRAP = '''\
"""Stand-in for pip's bootstrap script (written by guest-disk-agent's tests/ansible/test_sanity.py):
ansible-test runs it in a new virtualenv with pip-install arguments. ensurepip runs in a child (it turns
pip's configuration off in its own process), then pip installs what was asked."""
import os
import subprocess
import sys

subprocess.check_call([sys.executable, "-m", "ensurepip", "--upgrade"], stdout=subprocess.DEVNULL)
args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
os.execv(sys.executable, [sys.executable, "-m", "pip", "install", *args])
'''


def pip_versions() -> list[str]:
    """The pip versions ansible-test bootstraps (``pip='24.2'`` in its python_requirements.py)."""
    import ansible_test

    setup = Path(ansible_test.__file__).parent / "_internal" / "python_requirements.py"
    return sorted(set(re.findall(r"\bpip='([0-9.]+)'", setup.read_text())))


def pip_bootstrap() -> None:
    cache = Path.home() / ".ansible" / "test" / "cache"
    for version in pip_versions() or ["24.2"]:
        path = cache / f"get_pip_{version.replace('.', '_')}.py"
        if not path.exists():
            cache.mkdir(parents=True, exist_ok=True)
            path.write_text(PIP_BOOTSTRAP, encoding="utf-8")


def test_ansible_test_sanity() -> None:
    pip_bootstrap()
    argv = [str(BIN / "ansible-test"), "sanity", "--python", "3.11", "--requirements", "--color", "no"]
    for name in TESTS:
        argv += ["--test", name]
    env = {**os.environ, "PATH": f"{BIN}:{os.environ.get('PATH', '/usr/bin:/bin')}", "LC_ALL": "C.UTF-8"}
    t0 = time.monotonic()
    r = subprocess.run(argv, cwd=COLLECTION, env=env, capture_output=True, text=True, timeout=900,
                       check=False)  # fmt: skip
    seconds = time.monotonic() - t0
    report = "\n".join(
        line for line in (r.stdout + r.stderr).splitlines() if "ERROR" in line or "FATAL" in line
    )
    assert r.returncode == 0, f"ansible-test sanity failed ({seconds:.0f} s):\n{report or r.stdout[-4000:]}"
    print(f"ansible-test sanity: {len(TESTS)} tests in {seconds:.1f} s")
