"""The two task decorators every task uses.

* :func:`gda_task`: options from :class:`~agent.cli.options.Opt`; a refused option value, an
  :class:`~agent.errors.AgentError`, Ctrl-C or a bug become a message (JSON with ``--json``) and the exit
  code; a returned :class:`~agent.cli.emit.Result` is emitted.
* :func:`guest_task`: also adds the shared guest options (``--inventory/-i``, ``--guest/-g``,
  ``--accept-new-host-key/-a``, ``--json/-j``), loads the guest and hands the body a :class:`Target`:
  its ``connector`` (built once) reaches the guest, ``ssh()`` opens the one session.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from invoke.context import Context
from invoke.exceptions import Exit

from agent.cli.config import or_setting
from agent.cli.emit import Result, emit, report_failure
from agent.cli.options import GdaTask, Opt, first_invalid

if TYPE_CHECKING:
    from agent.inventory import Guest
    from agent.ops.connect import Connector
    from agent.transport.ssh import SshSession

JSON_OPT = {"json": Opt("print a machine-readable result on stdout (also on failure)", "j")}

GUEST_OPTS: dict[str, Opt] = {
    "inventory": Opt("inventory file (default ./inventory.yaml)", "i"),
    "guest": Opt("guest name in the inventory (default: the only one)", "g"),
    "accept_new_host_key": Opt(
        "accept and record an unknown SSH host key (a changed key is always refused)", "a"
    ),
    **JSON_OPT,
}


def gda_task(
    opts: Mapping[str, Opt] | None = None, **task_kwargs: Any
) -> Callable[[Callable[..., Result | None]], GdaTask]:
    """Make ``body`` a task with ``opts``; see the module's docstring."""

    def decorate(body: Callable[..., Result | None]) -> GdaTask:
        @functools.wraps(body)
        def run(c: Context, *args: Any, **kwargs: Any) -> None:
            json = bool(kwargs.get("json"))
            try:
                bad = first_invalid(kwargs.values())
                if bad is not None:
                    raise bad
                result = body(c, *args, **kwargs)
                code = emit(result, json=json) if result is not None else 0
            except (Exit, SystemExit):
                raise
            except BaseException as e:  # every failure ends here: a message and an exit code
                raise Exit(code=report_failure(e, json=json)) from None
            if code:
                raise Exit(code=code)

        return GdaTask(run, opts=opts, **task_kwargs)

    return decorate


@dataclass
class Target:
    """The guest a task works on (from the inventory) and how to reach it: ``connector`` is the one
    :class:`~agent.ops.connect.Connector`, built once (the sudo password resolved once)."""

    name: str
    connector: Connector
    json: bool

    @property
    def guest(self) -> Guest:
        return self.connector.guest

    @property
    def accept_new_host_key(self) -> bool:
        return self.connector.accept_new_host_key

    def ssh(self, *, connect_timeout: float = 10.0) -> SshSession:
        """An unopened SSH session (use ``with``): the task's one connection."""
        return self.connector.ssh(connect_timeout=connect_timeout)


def load_target(config: Any, inventory: str | None, guest: str | None, *, accept: bool, json: bool) -> Target:
    """The chosen guest of the inventory (``--inventory``, else the default in ``config``)."""
    # the inventory and the transport (pydantic, paramiko) load only when a task runs
    from agent.ops.connect import Connector

    path = str(or_setting(inventory, config, "inventory"))
    name, connector = Connector.from_inventory(path, guest, accept_new_host_key=accept)
    return Target(name, connector, json=json)


def guest_task(
    opts: Mapping[str, Opt] | None = None, **task_kwargs: Any
) -> Callable[[Callable[..., Result | None]], GdaTask]:
    """A :func:`gda_task` whose body is ``body(c, target, **own_options)``; the shared guest options
    are added to the task's signature and help."""

    def decorate(body: Callable[..., Result | None]) -> GdaTask:
        sig = inspect.signature(body)
        ctx, _target, *own = sig.parameters.values()
        kw = inspect.Parameter.KEYWORD_ONLY
        shared = [
            inspect.Parameter("inventory", kw, default=None, annotation="str | None"),
            inspect.Parameter("guest", kw, default=None, annotation="str | None"),
            inspect.Parameter("accept_new_host_key", kw, default=False, annotation="bool"),
            inspect.Parameter("json", kw, default=False, annotation="bool"),
        ]

        @functools.wraps(body)
        def run(c: Context, **kwargs: Any) -> Result | None:
            inventory, guest = kwargs.pop("inventory", None), kwargs.pop("guest", None)
            accept, json = bool(kwargs.pop("accept_new_host_key", False)), bool(kwargs.pop("json", False))
            target = load_target(c.config, inventory, guest, accept=accept, json=json)
            return body(c, target, **kwargs)

        run.__signature__ = sig.replace(  # type: ignore[attr-defined]
            parameters=[ctx, *(p.replace(kind=kw) for p in own), *shared]
        )
        return gda_task({**(opts or {}), **GUEST_OPTS}, **task_kwargs)(run)

    return decorate
