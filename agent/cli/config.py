"""The CLI's defaults in one place, as invoke configuration (``c.config``), after fabric's
``Config.global_defaults``.

``gda`` uses :class:`GdaConfig` (prefix ``gda``: ``/etc/gda.yaml``, ``~/.gda.yaml``, ``GDA_*`` variables
such as ``GDA_INVENTORY`` or ``GDA_LAB_SSH_PORT``); the repository's ``invoke`` gets the same values through
``Collection.configure`` (see :mod:`agent.cli.collection`). Tasks take ``None`` for "not given" and read
the default here, so a config file or variable can change it.
"""

from __future__ import annotations

from typing import Any

from invoke.config import Config, merge_dicts

from agent.lab.defaults import (
    DEFAULT_CONSOLE_PORT,
    DEFAULT_DISK1_SERIAL,
    DEFAULT_DISK2_SERIAL,
    DEFAULT_DISK_SIZE,
    DEFAULT_FLAVOUR,
    DEFAULT_SSH_PORT,
)

DEFAULTS: dict[str, Any] = {
    "inventory": "inventory.yaml",
    "fix_netplan": {"deadline": 90.0},
    "lab": {
        "state": None,  # None: $GDA_LAB_STATE, else ~/.cache/guest-disk-agent/lab
        "ssh_port": DEFAULT_SSH_PORT,
        "console_port": DEFAULT_CONSOLE_PORT,
        "disk_size": DEFAULT_DISK_SIZE,
        "disk1_serial": DEFAULT_DISK1_SERIAL,
        "disk2_serial": DEFAULT_DISK2_SERIAL,
        "flavour": DEFAULT_FLAVOUR,
    },
}


class GdaConfig(Config):
    """invoke's configuration with the project's defaults and the ``gda`` prefix."""

    prefix = "gda"

    @staticmethod
    def global_defaults() -> dict[str, Any]:
        defaults: dict[str, Any] = Config.global_defaults()
        merge_dicts(defaults, DEFAULTS)
        return defaults


def setting(config: Any, dotted: str) -> Any:
    """``config`` value at ``dotted`` (``"lab.ssh_port"``), else the default from :data:`DEFAULTS`.

    The fallback matters when a task is called with a bare ``Context()`` (tests, other programs)."""
    keys = dotted.split(".")
    fallback: Any = DEFAULTS
    for key in keys:
        fallback = fallback[key]
    node: Any = config
    for key in keys:
        try:
            node = node[key]
        except (KeyError, TypeError, AttributeError):
            return fallback
    return node


def or_setting(value: Any, config: Any, dotted: str) -> Any:
    """``value`` when given (not None), else the configured default."""
    return value if value is not None else setting(config, dotted)
