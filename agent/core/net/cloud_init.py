"""cloud-init's netplan file, and the file that stops cloud-init from regenerating it (pure).

cloud-init writes ``/etc/netplan/50-cloud-init.yaml`` from its datasource and may write it again (undoing
a repair) at the next boot; :data:`CLOUD_INIT_DISABLE_PATH` with :func:`cloud_init_disable_config` stops
that (fix-netplan's ``pin_cloud_init`` option).
"""

from __future__ import annotations

import posixpath

from agent.hints import opt

CLOUD_INIT_FILE_NAME = "50-cloud-init.yaml"
CLOUD_INIT_DISABLE_PATH = "/etc/cloud/cloud.cfg.d/99-disable-network-config.cfg"
_CLOUD_INIT_HEADER = "This file is generated from information provided by the datasource"


def is_cloud_init_file(path: str, text: str | None = None) -> bool:
    """True for cloud-init's netplan file: ``50-cloud-init.yaml``, or (given ``text``) one with its header."""
    if posixpath.basename(path) == CLOUD_INIT_FILE_NAME:
        return True
    return text is not None and _CLOUD_INIT_HEADER in text


def cloud_init_disable_config() -> str:
    """Content for :data:`CLOUD_INIT_DISABLE_PATH`: stops cloud-init from rewriting the netplan file."""
    return (
        "# Written by guest-disk-agent (fix-netplan, pin-cloud-init): the netplan configuration is managed\n"
        "# by hand; stop cloud-init from regenerating it.\n"
        "network: {config: disabled}\n"
    )


def cloud_init_warning(path: str) -> str:
    """The warning for a repaired file that cloud-init writes (names the option, never a flag)."""
    return (
        f"{path} is written by cloud-init, which may regenerate it (and undo this change) at the "
        f"next boot; {opt('pin_cloud_init')} writes {CLOUD_INIT_DISABLE_PATH} to stop that"
    )
