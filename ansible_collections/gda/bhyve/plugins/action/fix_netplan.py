# Copyright: guest-disk-agent contributors
# BSD-2-Clause (see the repository's pyproject.toml)
"""gda.bhyve.fix_netplan: the guest's NIC rename repaired through its serial console, run on the controller.

Like ``ansible.builtin.reboot`` this action runs on the controller and then waits for Ansible's own
connection to come back. The work is the library's: ``agent.ops.fix_netplan.run_fix`` (SSH when it
answers, else the serial console; the repair with its way back; the library's own SSH confirmation).
The ``agent`` package (guest-disk-agent) must be importable by the controller's Python; it is imported
only when the task runs, so that ``ansible-doc`` and the sanity tests work without it.

The guest is built from the connection Ansible has for the host (address, port, user, key), the task's
``console`` (the inventory's ``console:`` mapping: tcp/unix/command/ssh, user, password_env, prompts,
timeouts) or the host variable ``gda_console``, and the task's network and sudo settings. Passwords come
from environment variables the task names (``console.password_env``, ``sudo_password_env``) or, for sudo,
Ansible's become password; they never appear in arguments, results or logs.
"""

from __future__ import annotations

import contextlib
import os
import random
import time
from typing import Any

from ansible.errors import AnsibleConnectionFailure
from ansible.module_utils.common.text.converters import to_text
from ansible.plugins.action import ActionBase
from ansible.utils.display import Display

display = Display()

ARGUMENT_SPEC: dict[str, Any] = {
    "via": {"type": "str", "default": "auto", "choices": ["auto", "ssh", "console"]},
    "console": {"type": "dict"},
    "mac": {"type": "str"},
    "netplan_file": {"type": "str"},
    "match_mac": {"type": "bool", "default": False},
    "pin_cloud_init": {"type": "bool", "default": False},
    "deadline": {"type": "float", "default": 90.0},
    "known_hosts": {"type": "path"},
    "accept_new_host_key": {"type": "bool", "default": False},
    "sudo_password_env": {"type": "str"},
    "wait_timeout": {"type": "int", "default": 120},
}
# host variables read when the task does not give the value
HOST_VARS = {"console": "gda_console", "mac": "gda_mac", "netplan_file": "gda_netplan_file",
             "known_hosts": "gda_known_hosts", "sudo_password_env": "gda_sudo_password_env"}  # fmt: skip
TEST_COMMAND = "true"
MAX_BACKOFF = 8.0


class FixNetplanError(Exception):
    """A failure reported as the task's ``msg`` (never a traceback)."""

    def __init__(self, msg: str, hint: str | None = None, **data: Any) -> None:
        super().__init__(msg)
        self.msg = msg + (f" (hint: {hint})" if hint else "")
        self.data = data


def _option_names(name: str) -> str:
    """How a message names an option (``{opt:name}``): as this action's argument of that name."""
    return name


def _conn_option(connection: Any, play_context: Any, option: str, attr: str) -> Any:
    """An option of the task's connection (ssh: host, port, remote_user, private_key_file), else the
    play context's attribute."""
    try:
        value = connection.get_option(option)
    except (KeyError, AttributeError):  # a connection plugin without that option
        value = None
    return value if value not in (None, "") else getattr(play_context, attr, None)


def guest_settings(args: dict[str, Any], conn: dict[str, Any]) -> dict[str, Any]:
    """The guest as the inventory schema (agent.inventory.schema.Guest) spells it, from the task's
    arguments (host variables already merged in) and the connection's address, port, user and key."""
    host = conn.get("host")
    if not host:
        raise FixNetplanError("the host has no address: set ansible_host (or name the host by its address)")
    data: dict[str, Any] = {"host": str(host)}
    if conn.get("port"):
        data["port"] = int(conn["port"])
    for key, value in (("user", conn.get("user")), ("identity_file", conn.get("key"))):
        if value:
            data[key] = str(value)
    if args.get("known_hosts"):
        data["known_hosts"] = args["known_hosts"]
    if args.get("sudo_password_env"):
        data["sudo_password_env"] = args["sudo_password_env"]
    network = {k: args[k] for k in ("mac", "netplan_file") if args.get(k)}
    if network:
        data["network"] = network
    if args.get("console"):
        data["console"] = dict(args["console"])
    elif args["via"] == "console":
        raise FixNetplanError("via=console needs the console: give console (tcp, unix, command or ssh) "
                              "or the host variable gda_console")  # fmt: skip
    return data


def _secret(env_name: str | None, what: str) -> str | None:
    if not env_name:
        return None
    value = os.environ.get(env_name)
    if value is None:
        raise FixNetplanError(f"the {what} is read from ${env_name}, which is not set on the controller",
                              hint=f"export {env_name} before running ansible-playbook")  # fmt: skip
    return value


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(ARGUMENT_SPEC)

    def run(self, tmp: str | None = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        self._supports_check_mode = True
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        del tmp
        _validation, args = self.validate_argument_spec(ARGUMENT_SPEC)
        for key, var in HOST_VARS.items():
            if args.get(key) is None and task_vars.get(var) is not None:
                args[key] = self._templar.template(task_vars[var])
        try:
            result.update(self._fix(args, task_vars))
        except FixNetplanError as e:
            result.update({"failed": True, "changed": False, "msg": e.msg, **e.data})
        return result

    # ------------------------------------------------------------------------------------------ the fix
    def _connection_facts(self) -> dict[str, Any]:
        c, pc = self._connection, self._play_context
        return {
            "host": _conn_option(c, pc, "host", "remote_addr"),
            "port": _conn_option(c, pc, "port", "port"),
            "user": _conn_option(c, pc, "remote_user", "remote_user"),
            "key": _conn_option(c, pc, "private_key_file", "private_key_file"),
        }

    def _become_password(self, task_vars: dict[str, Any]) -> str | None:
        become = getattr(self._connection, "become", None)
        if become is not None:
            try:
                value = become.get_option("become_pass")
            except KeyError:
                value = None
            if value:
                return str(value)
        for var in ("ansible_become_password", "ansible_become_pass"):
            if task_vars.get(var):
                return str(self._templar.template(task_vars[var]))
        return None

    def _fix(self, args: dict[str, Any], task_vars: dict[str, Any]) -> dict[str, Any]:
        try:
            from pydantic import ValidationError

            from agent.errors import AgentError
            from agent.hints import render_options
            from agent.inventory.schema import Guest
            from agent.ops import fix_netplan as ops
            from agent.ops.connect import Connector
        except ImportError as e:
            raise FixNetplanError(
                f"gda.bhyve.fix_netplan needs the guest-disk-agent package in the controller's Python "
                f"({e}); install it there (pip install guest-disk-agent, or the repository) and rerun"
            ) from None
        try:
            guest = Guest.model_validate(guest_settings(args, self._connection_facts()))
        except ValidationError as e:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in e.errors()
            )
            raise FixNetplanError(f"the guest's settings are not valid: {problems}") from None
        host = task_vars.get("inventory_hostname", guest.host)
        console = guest.console
        opts = ops.FixOptions(
            via=args["via"],
            match_mac=args["match_mac"],
            pin_cloud_init=args["pin_cloud_init"],
            deadline=args["deadline"],
            dry_run=bool(self._task.check_mode),
        )
        started = time.monotonic()
        try:
            connector = Connector(
                guest,
                accept_new_host_key=args["accept_new_host_key"],
                sudo_password=_secret(guest.sudo_password_env, "sudo password")
                or self._become_password(task_vars),
                console_password=_secret(console.password_env if console else None, "console password"),
            )
            outcome = ops.run_fix(connector, opts, log=lambda line: display.vv(f"{host}: {line}"))
        except FixNetplanError:
            raise
        except AgentError as e:
            hint = render_options(e.hint, _option_names) if e.hint else None
            error = {"kind": e.kind, "exit_code": int(e.exit_code)}
            raise FixNetplanError(render_options(e.message, _option_names), hint, error=error) from None
        except Exception as e:  # never a traceback: one line naming the exception, as gda does (exit 70)
            raise FixNetplanError(f"bug in gda.bhyve.fix_netplan: {type(e).__name__}: {e}") from None
        fix = outcome.to_json()
        changed = outcome.action in ("fixed", "pinned") or (
            outcome.action == "dry-run" and bool(outcome.changes)
        )
        out: dict[str, Any] = {
            "changed": changed,
            "action": outcome.action,
            "via": outcome.via,
            "renames": outcome.renames,
            "changes": outcome.changes,
            "interface": outcome.interface,
            "addresses": outcome.addresses,
            "fix": {k: v for k, v in fix.items() if k != "warnings"},
        }
        if outcome.warnings:
            out["warnings"] = list(outcome.warnings)
        if not opts.dry_run:
            out["reconnect_seconds"] = self._wait_for_connection(args["wait_timeout"])
        out["elapsed"] = round(time.monotonic() - started, 1)
        return out

    # ----------------------------------------------------------------------------------------- the wait
    def _wait_for_connection(self, timeout: int) -> float:
        """Reset Ansible's connection (a ControlPersist master from before the rename is stale) and run
        :data:`TEST_COMMAND` until it answers, with a capped exponential backoff, for ``timeout`` s."""
        started = time.monotonic()
        deadline = started + timeout
        attempt, last = 0, "no attempt"
        self._reset_connection()
        while True:
            try:
                r = self._low_level_execute_command(TEST_COMMAND, sudoable=False)
                if r.get("rc") == 0:
                    return round(time.monotonic() - started, 1)
                last = f"{TEST_COMMAND!r} exited {r.get('rc')}: {to_text(r.get('stderr', '')).strip()[-200:]}"
            except AnsibleConnectionFailure as e:
                last = to_text(e).strip().splitlines()[-1] if to_text(e).strip() else type(e).__name__
                self._reset_connection()
            left = deadline - time.monotonic()
            if left <= 0:
                raise FixNetplanError(
                    f"netplan was repaired, but Ansible's connection did not come back within {timeout} s "
                    f"(last: {last})",
                    hint="the library's own SSH check succeeded: compare ansible_host/ansible_port with "
                    "the guest's new address, or raise wait_timeout",
                )
            time.sleep(min(left, MAX_BACKOFF, 2**attempt * 0.5 + random.random() / 4))
            attempt += 1

    def _reset_connection(self) -> None:
        with contextlib.suppress(AnsibleConnectionFailure, AttributeError):
            self._connection.reset()
