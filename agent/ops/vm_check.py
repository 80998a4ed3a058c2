"""``check-vm-config``: read a vm-bhyve guest config (a file, or from the FreeBSD host), check it.

The reading and checking live in :mod:`agent.ops.vm_conf_source` (standard library only: the Ansible
collection ships it as module_utils); this module re-exports them for the CLI and adds
:func:`host_target`, the SSH target of the host (paramiko, imported only when it is called).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from agent.ops.vm_conf_source import (
    MARKER_KIND,
    SCRIPT_EXITS,
    ConfSource,
    check,
    check_vm_name,
    conf_from_result,
    conf_script,
    from_file,
    from_host,
    parse_conf_output,
)

if TYPE_CHECKING:
    from agent.transport.ssh import SshTarget

__all__ = ["MARKER_KIND", "SCRIPT_EXITS", "ConfSource", "check", "check_vm_name", "conf_from_result",
           "conf_script", "from_file", "from_host", "host_target", "parse_conf_output"]  # fmt: skip


def host_target(
    host: str,
    port: int | None,
    user: str | None,
    *,
    identity_file: Path | None = None,
    known_hosts: Path | None = None,
) -> SshTarget:
    """Where to reach the FreeBSD host (an ~/.ssh/config alias works: ssh_config is read)."""
    from agent.transport.ssh import SshTarget  # paramiko: only the CLI reaches the host over SSH

    return SshTarget(host=host, port=port, user=user, identity_file=identity_file, known_hosts=known_hosts)
