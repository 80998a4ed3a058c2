"""The lab guest's recipe: what goes into the image, and the hash that keys the image cache.

Pure data and functions. The Debian mirror is *not* part of the recipe: it is read from the
machine's own apt sources at build time (see :func:`debian_mirror_from_sources`), so the same
recipe built from any mirror gives the same cache key.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass

from agent.errors import AgentError

# Bump when the build procedure itself changes in a way the fields below do not capture.
BUILD_PROCEDURE_VERSION = 3

CLOUD_INIT_NETPLAN = """\
# This file is generated from information provided by the datasource.  Changes
# to it will not persist across an instance reboot.  To disable cloud-init's
# network configuration capabilities, write a file
# /etc/cloud/cloud.cfg.d/99-disable-network-config.cfg with the following:
# network: {config: disabled}
network:
    ethernets:
        enp0s5:
            dhcp4: true
    version: 2
"""


@dataclass(frozen=True)
class Recipe:
    """Everything that determines the content of the lab image."""

    suite: str = "bookworm"
    variant: str = "minbase"
    packages: tuple[str, ...] = (
        "linux-image-cloud-amd64",
        "systemd",
        "systemd-sysv",
        "udev",
        "dbus",
        "openssh-server",
        "netplan.io",
        "iproute2",
        "e2fsprogs",
        "xfsprogs",
        "fdisk",
        "sudo",
        "util-linux",
        "kmod",
    )
    hostname: str = "xdev"
    admin_user: str = "admin"
    image_size: str = "2G"
    netplan_path: str = "/etc/netplan/50-cloud-init.yaml"
    netplan_content: str = CLOUD_INIT_NETPLAN
    # Units masked to keep a TCG boot short; none of them matters to the bhyve situation.
    masked_units: tuple[str, ...] = (
        "systemd-networkd-wait-online.service",
        "e2scrub_all.timer",
        "e2scrub_reap.service",
        "fstrim.timer",
    )
    procedure: int = BUILD_PROCEDURE_VERSION

    def key(self) -> str:
        """A short, stable hash of the recipe: the cache key of the built image."""
        blob = json.dumps(asdict(self), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]


DEFAULT_RECIPE = Recipe()

_DEB_LINE = re.compile(r"^\s*deb\s+(?:\[[^\]]*\]\s+)?(?P<uri>\S+)\s+(?P<suite>\S+)\s+(?P<comps>.+)$")


def _looks_like_main_archive(uri: str, suites: Iterable[str], suite: str) -> bool:
    return "security" not in uri and suite in suites


def debian_mirror_from_sources(deb822_files: Iterable[str], sources_list: str, suite: str) -> str:
    """Find the Debian archive URI this machine's apt uses for ``suite``.

    ``deb822_files`` are the texts of ``/etc/apt/sources.list.d/*.sources``; ``sources_list`` is
    the text of ``/etc/apt/sources.list``. Security archives are skipped. Raises AgentError when no
    suitable entry exists, saying where it looked.
    """
    for text in deb822_files:
        for stanza in re.split(r"\n\s*\n", text):
            fields: dict[str, str] = {}
            for line in stanza.splitlines():
                if line.lstrip().startswith("#") or ":" not in line:
                    continue
                key, _, value = line.partition(":")
                fields[key.strip().lower()] = value.strip()
            if fields.get("enabled", "yes").lower() == "no":
                continue
            if "deb" not in fields.get("types", "").split():
                continue
            suites = fields.get("suites", "").split()
            for uri in fields.get("uris", "").split():
                if _looks_like_main_archive(uri, suites, suite):
                    return uri.rstrip("/")
    for line in sources_list.splitlines():
        m = _DEB_LINE.match(line)
        if m and _looks_like_main_archive(m["uri"], [m["suite"]], suite):
            return m["uri"].rstrip("/")
    raise AgentError(
        f"no Debian '{suite}' archive found in this machine's apt sources",
        hint="add one to /etc/apt/sources.list.d/debian.sources (URIs:/Suites:) or /etc/apt/sources.list; "
        "the lab takes its mirror from there",
    )
