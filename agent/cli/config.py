"""The CLI's defaults in one place, as invoke configuration (``c.config``), after fabric's
``Config.global_defaults``.

``gda`` uses :class:`GdaConfig` (prefix ``gda``: ``/etc/gda.yaml``, ``~/.gda.yaml``, ``GDA_*`` variables
such as ``GDA_INVENTORY`` or ``GDA_LAB_SSH_PORT``); the repository's ``invoke`` gets the same values through
``Collection.configure`` (see :mod:`agent.cli.collection`). Tasks take ``None`` for "not given" and read
the default here, so a config file or variable can change it.
"""

from __future__ import annotations

import json
from typing import Any

from invoke.config import Config, merge_dicts
from invoke.util import yaml  # type: ignore[attr-defined]  # the YAML invoke loads config files with

from agent.core.yaml_limits import error_where
from agent.errors import UsageError
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


#: Where ``gda`` looks for its configuration files (invoke's system and user levels, ``gda`` prefix).
CONFIG_FILES_HINT = "gda reads /etc/gda.yaml and ~/.gda.yaml (or .yml, .json, .py); fix or move the file"


class ConfigFileError(UsageError):
    """A ``gda`` config file that cannot be read as settings (exit 2): its path, and what is wrong."""

    def __init__(self, message: str) -> None:
        super().__init__(message, CONFIG_FILES_HINT)


def _settings(path: str, data: Any) -> Any:
    """A config file's data when it is settings (a mapping, or nothing), else :class:`ConfigFileError`."""
    if data is None or isinstance(data, dict):
        return data
    raise ConfigFileError(
        f"{path}: a gda config file must be a mapping of settings (such as `inventory: PATH`), "
        f"not {type(data).__name__}"
    )


class GdaConfig(Config):
    """invoke's configuration with the project's defaults and the ``gda`` prefix.

    A config file that is not valid YAML or JSON, is not a mapping, or (``.py``) fails when run is a usage
    error naming the file, where invoke lets the loader's exception through. A missing file (ENOENT) goes
    on through: invoke skips it."""

    prefix = "gda"

    @staticmethod
    def global_defaults() -> dict[str, Any]:
        defaults: dict[str, Any] = Config.global_defaults()
        merge_dicts(defaults, DEFAULTS)
        return defaults

    def _load_yaml(self, path: Any) -> Any:
        try:
            return _settings(path, super()._load_yaml(path))
        except yaml.MarkedYAMLError as e:
            raise ConfigFileError(
                f"{error_where(path, e)}: not valid YAML: {e.problem or e.context}"
            ) from None
        except yaml.YAMLError as e:
            raise ConfigFileError(f"{path}: not valid YAML: {e}") from None
        except UnicodeDecodeError as e:
            raise ConfigFileError(f"{path}: not UTF-8 text ({e.reason})") from None

    _load_yml = _load_yaml

    def _load_json(self, path: Any) -> Any:
        try:
            return _settings(path, super()._load_json(path))
        except json.JSONDecodeError as e:
            raise ConfigFileError(f"{path}:{e.lineno}:{e.colno}: not valid JSON: {e.msg}") from None
        except UnicodeDecodeError as e:
            raise ConfigFileError(f"{path}: not UTF-8 text ({e.reason})") from None

    def _load_py(self, path: str) -> dict[str, Any]:
        try:
            return dict(super()._load_py(path))
        except OSError:
            raise  # ENOENT: invoke skips the file
        except Exception as e:  # the file is the user's Python: whatever it raises is a usage error
            raise ConfigFileError(f"{path}: running it failed: {type(e).__name__}: {e}") from None


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
