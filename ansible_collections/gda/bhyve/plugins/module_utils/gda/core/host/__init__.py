# GENERATED from agent/core/host/__init__.py by `python -m agent.collection_build`: do not edit.
"""The FreeBSD host side (pure): parsers for what ``host_facts.sh`` gathers (glabel, gpart, diskinfo,
zpool/zdb, mount, swapctl, fstyp), the facts model, and the check of a device to pass through."""
