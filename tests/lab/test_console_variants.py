"""The serial console when root's login shell is dash (``/bin/sh``), on the real lab guest (issue 9, item 18).

bash's ``$'...'`` quoting, used for multi-line commands before, is a syntax error in dash; long commands
overflowed dash's canonical-mode line (4095 characters). Root's shell is switched over SSH, then a console
session of the inventory's (console timeouts and an extra prompt regex from the inventory) logs in as root
and runs a multi-line script with quotes and non-ASCII text, in the login shell itself and through the
command protocol (a long script, staged as a file), and writes a file with non-ASCII content.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.inventory import load_inventory
from agent.ops.connect import Connector
from tests.lab.conftest import Lab

pytestmark = pytest.mark.lab

SCRIPT = """name='O'"'"'Brien'
printf '%s|%s\\n' "$name" "größe: 100% — Привет, 世界"
if [ -n "$name" ]; then
  echo "tab:\there" | tr '\\t' '_'
fi
echo 'back\\slash' "$((6 * 7))" "!bang"
"""
SCRIPT_OUTPUT = "O'Brien|größe: 100% — Привет, 世界\ntab:_here\nback\\slash 42 !bang\n"


@pytest.fixture(scope="module")
def dash_root(lab: Lab, tmp_path_factory: pytest.TempPathFactory) -> Connector:
    lab.boot()
    with lab.ssh() as s:
        r = s.run("usermod -s /bin/sh root && getent passwd root", root=True, timeout=60)
    assert r.status == 0 and r.stdout.strip().endswith(":/bin/sh"), r.stdout + r.stderr
    tmp = tmp_path_factory.mktemp("console-variants")
    extra = "      prompt_timeout: 15\n      command_timeout: 180\n      login_timeout: 120\n"
    extra += "      shell_prompt: ['\\[root@xdev\\]# ']\n"
    _, guest = load_inventory(lab.inventory(Path(tmp), extra=extra)).choose(None)
    assert guest.console is not None and guest.console.login_timeout == 120
    return Connector(guest, sudo_password=None, console_password=lab.secrets["root"])


def test_dash_login_shell_runs_multi_line_scripts(dash_root: Connector) -> None:
    with dash_root.console() as shell:
        session = shell.session
        assert session.command_timeout == 180 and session.prompt_timeout == 15
        assert session.run("ps -o comm= -p $$").output.strip() in ("sh", "dash")
        assert session.run("readlink -f /proc/$$/exe").output.strip() == "/usr/bin/dash"
        result = session.run(SCRIPT)
        assert (result.status, result.output) == (0, SCRIPT_OUTPUT)
        # the command protocol (a child sh, as root): a script far longer than one console line
        long_script = SCRIPT * 60
        r = shell.run(long_script, root=True, timeout=180)
        assert (r.status, r.output) == (0, SCRIPT_OUTPUT * 60)
        data = "größe — Привет\n'quoted' \"double\" $HOME `tick`\n".encode()
        shell.write_file("/root/variants.txt", data, mode=0o600)
        assert shell.read_file("/root/variants.txt") == data
