# Copyright (c) guest-disk-agent contributors
# BSD-2-Clause (see the project's LICENSE)
"""gda's command protocol on the managed host itself, for the collection's modules.

A module runs on the guest (or the bhyve host) it manages: there is no SSH or console to speak
through, only ``AnsibleModule.run_command``. :class:`LocalProtocol` gives the agent's core the same
three operations as its transports (``run``, ``write_file``, ``read_file``; see
``module_utils/gda/transport/protocol.py``), so the core's flows run unchanged inside a module.

Root: a task that needs root uses ``become: true``; the module then already runs as root, and
``run(root=True)`` runs the script directly. Without become, ``root=True`` is refused with a
:class:`LocalRootError` (a :class:`AgentError`, so modules report it as any refusal) instead of
running the script half-privileged. File contents go on stdin or through Python's own file calls,
never on a command line.

Interface (stable: both ``guest_disk`` and ``vm_config`` use it): ``LocalProtocol(module)``;
attributes ``label``, ``commands_run``; methods ``run(script, *, root=False, stdin=None,
timeout=None) -> Result``, ``write_file(path, data, *, mode=0o600)``, ``read_file(path) -> bytes``.
"""

from __future__ import annotations

import os
import tempfile
import time
from typing import Any

from ansible_collections.gda.bhyve.plugins.module_utils.gda.errors import AgentError, RemoteError
from ansible_collections.gda.bhyve.plugins.module_utils.gda.transport.protocol import Result

#: exit status of coreutils' ``timeout`` when the time ran out
TIMEOUT_STATUS = 124


class LocalRootError(AgentError):
    """A script needs root but the module does not run as root."""


class LocalTimeout(RemoteError):
    """A script ran longer than its timeout and was stopped (``partial_stdout``: what it printed)."""

    partial_stdout = ""


class LocalProtocol:
    """:class:`CommandProtocol` over ``module.run_command`` on the host the module runs on."""

    def __init__(self, module: Any, *, label: str = "local (ansible module)") -> None:
        self.module = module
        self.label = label
        self.commands_run = 0

    def _require_root(self) -> None:
        if os.geteuid() != 0:
            raise LocalRootError(
                f"this step needs root, but the module runs as uid {os.geteuid()}",
                "run the task with become: true",
            )

    def run(
        self,
        script: str,
        *,
        root: bool = False,
        stdin: bytes | None = None,
        timeout: float | None = None,
    ) -> Result:
        if root:
            self._require_root()
        if not stdin:
            # run_command only opens a pipe for non-empty data: without one the script would
            # inherit the module's stdin; the transports' scripts read nothing then
            script = "exec </dev/null\n" + script
        argv = ["sh", "-c", script]
        if timeout is not None:
            # coreutils' timeout: TERM at the deadline, KILL 5 s later; status 124 when it fired
            argv = ["timeout", "-k", "5", f"{max(timeout, 1.0):.0f}", *argv]
        self.commands_run += 1
        started = time.monotonic()
        rc, out, err = self.module.run_command(
            argv,
            data=stdin or None,
            binary_data=True,
            use_unsafe_shell=False,
            errors="surrogate_or_replace",
        )
        seconds = time.monotonic() - started
        if timeout is not None and rc == TIMEOUT_STATUS:
            error = LocalTimeout(f"a script on {self.label} did not finish within {timeout:.0f} s")
            error.partial_stdout = out  # as the transports' errors: how far the script got
            raise error
        return Result(status=rc, stdout=out, stderr=err, seconds=seconds)

    def write_file(self, path: str, data: bytes, *, mode: int = 0o600) -> None:
        """Write ``data`` to ``path`` atomically: a private temporary file next to it, given
        ``mode``, flushed and renamed over ``path``."""
        self._require_root()
        directory = os.path.dirname(path) or "/"
        fd, tmp = tempfile.mkstemp(prefix=".gda-write.", dir=directory)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.chmod(tmp, mode)
            os.replace(tmp, path)
        except OSError as e:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise RemoteError(f"writing {path} on {self.label} failed: {e.strerror or e}") from None
        self.commands_run += 1

    def read_file(self, path: str) -> bytes:
        """The content of ``path``."""
        self._require_root()
        self.commands_run += 1
        try:
            with open(path, "rb") as f:
                return f.read()
        except OSError as e:
            raise RemoteError(f"reading {path} on {self.label} failed: {e.strerror or e}") from None
