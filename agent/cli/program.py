"""The ``gda`` program: an invoke ``Program`` with the project's collection (``[project.scripts]``).

Besides invoke's own behaviour (``--help`` on every task, ``--version``, ``--print-completion-script``),
every failure goes through :func:`agent.cli.emit.report_failure`: a bad option, an unknown task or a bad
configuration value exits 2 (``{"ok": false, "error": ...}`` on stdout when ``--json``/``-j`` is on the
command line), Ctrl-C 130, an unexpected exception one line naming it a bug, 70.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from invoke.exceptions import AmbiguousEnvVar, Exit, ParseError, UncastableEnvVar, UnexpectedExit
from invoke.program import Program

import agent
from agent.cli.collection import ns
from agent.cli.config import GdaConfig
from agent.cli.emit import report_failure
from agent.errors import UsageError


def _wants_json(argv: list[str]) -> bool:
    return any(a in ("--json", "-j") for a in argv[1:])


class GdaProgram(Program):  # type: ignore[misc]
    """invoke's Program with the project's exit codes and JSON errors."""

    def run(self, argv: Any = None, exit: bool = True) -> None:
        words = sys.argv if argv is None else argv.split() if isinstance(argv, str) else list(argv)
        json = _wants_json([str(w) for w in words])
        code = 0
        try:
            self._configure(self.create_config)
            self.parse_core(argv)
            self.parse_collection()
            self.parse_tasks()
            self.parse_cleanup()
            self._configure(self.update_config)
            self._configure(self.execute)  # loads the GDA_* variables; tasks catch their own errors
        except Exit as e:
            if e.message:
                print(e.message, file=sys.stderr)
            code = e.code
        except UnexpectedExit as e:
            code = e.result.exited
        except ParseError as e:
            code = report_failure(UsageError(str(e), hint="gda --help; gda TASK --help"), json=json)
        except SystemExit:
            raise
        except BaseException as e:  # never a traceback
            code = report_failure(e, json=json)
        if exit and code:
            sys.exit(code)

    @staticmethod
    def _configure(step: Callable[[], None]) -> None:
        """Run a configuration ``step``; a bad value (``GDA_LAB_SSH_PORT=abc``, a broken config file) is a
        usage error, not a bug."""
        try:
            step()
        except (ValueError, TypeError, OSError, UncastableEnvVar, AmbiguousEnvVar) as e:
            raise UsageError(
                f"bad configuration: {e}", hint="check the GDA_* variables and gda.yaml config files"
            ) from None


program = GdaProgram(
    namespace=ns,
    version=agent.__version__,
    name="gda",
    binary="gda",
    binary_names=["gda"],
    config_class=GdaConfig,
)
