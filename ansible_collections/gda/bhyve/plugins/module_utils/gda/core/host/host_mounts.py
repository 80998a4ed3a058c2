# GENERATED from agent/core/host/host_mounts.py by `python -m agent.collection_build`: do not edit.
"""``mount -p`` (what is mounted) and ``swapctl -l`` (active swap) on a FreeBSD host (pure).

``mount -p`` (sbin/mount/mount.c, ``putfsent``) prints fstab lines: device, mount point, type,
options, then dump and pass numbers, separated by tabs or a space::

    /dev/nda0p2\\t\\tnone\\t\\tswap\\tsw\\t\\t0 0
    zdata/vms\\t\\t/zdata/vms\\tzfs\\trw,nfsv4acls\\t\\t0 0

``swapctl -l`` (sbin/swapon/swapon.c, ``swaplist``): a header ``Device:  <n>-blocks  Used:``, then
``/dev/%-8s <total> <used>`` per device (``devname`` of the swap device, e.g. ``nda0p2.eli``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ansible_collections.gda.bhyve.plugins.module_utils.gda.core.guest_text import clean
from ansible_collections.gda.bhyve.plugins.module_utils.gda.core.marker import lines_of


@dataclass(frozen=True)
class HostMount:
    device: str
    mountpoint: str
    fstype: str


def parse_mount_p(text: str) -> tuple[HostMount, ...]:
    """Every line with at least device, mount point and type."""
    out = []
    for line in lines_of(text):
        parts = [p for p in re.split(r"[ \t]+", line.strip()) if p]
        if len(parts) >= 3 and not parts[0].startswith("#"):
            out.append(HostMount(clean(parts[0]), clean(parts[1]), clean(parts[2])))
    return tuple(out)


def parse_swapctl(text: str) -> tuple[str, ...]:
    """The swap devices of ``swapctl -l`` (``/dev/...`` paths; the header and totals skipped)."""
    out = []
    for line in lines_of(text):
        parts = line.split()
        if parts and parts[0].startswith("/dev/"):
            out.append(clean(parts[0]))
    return tuple(out)
