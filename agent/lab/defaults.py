"""The lab's defaults, in one place: the CLI's configuration (``agent.cli.config``), the lab tasks and
the lab library read them from here."""

from __future__ import annotations

DEFAULT_SSH_PORT = 2222
"""Loopback port forwarded to the guest's sshd."""
DEFAULT_CONSOLE_PORT = 4555
"""Loopback TCP port of the guest's serial console."""
DEFAULT_DISK_SIZE = "4G"
"""Size of a passed-through disk's sparse image."""
DEFAULT_DISK1_SERIAL = "Y39B70RTK7AS"
"""NVMe serial of disk1: the seed's disk (vm-bhyve's /dev/diskid/DISK-Y39B70RTK7AS)."""
DEFAULT_DISK2_SERIAL = "GDA2NDDISK000"
"""NVMe serial of disk2."""
LAB_FLAVOURS = ("bookworm", "trixie")
"""The lab's flavours (recipes in :mod:`agent.lab.recipe`): Debian 12, and Debian 13 with cloud-init."""
DEFAULT_FLAVOUR = "bookworm"
"""The flavour ``lab.up`` boots unless told otherwise."""
