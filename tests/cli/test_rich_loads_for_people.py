"""rich is loaded for what people read only: the program with every task module, a JSON result and
JSON rendering load none of it (a ``--json`` run's start-up is shorter by its imports); the first human
line loads it, and the consoles are the safe ones."""

from __future__ import annotations

import json
import subprocess
import sys

PROBE = r"""
import io, json, sys
from agent.cli.program import program
from agent.cli import disk_tasks, emit, host_tasks, inventory_task, net_tasks, render
emit.print_json({"ok": True, "text": "\x1b[31m"})
before = sorted(m for m in sys.modules if m == "rich" or m.startswith("rich."))
emit.info("formatting \x1b]0;t\x07")
print(json.dumps({"before": before, "after": "rich.console" in sys.modules,
                  "safe": type(emit.err).__name__, "same": emit.err is emit.err}))
"""


def test_the_program_and_a_json_result_load_no_rich_and_the_first_human_line_does() -> None:
    r = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True)
    first, last = r.stdout.splitlines()[0], r.stdout.splitlines()[-1]
    assert first.startswith("{") and '"\\u001b[31m"' in r.stdout  # the JSON result, escaped
    got = json.loads(last)
    assert got == {"before": [], "after": True, "safe": "SafeConsole", "same": True}
    assert "formatting \\x1b]0;t\\x07" in r.stderr  # the stderr console shows the controls as escapes
