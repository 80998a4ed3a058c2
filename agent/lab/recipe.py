"""The lab guest's recipes, one per flavour, and the hash that keys the image cache.

Two flavours (:data:`FLAVOURS`):

* ``bookworm`` (Debian 12): netplan 0.106, systemd 252, e2fsprogs 1.47.0 (Debian's patch turns
  ``orphan_file``/``metadata_csum_seed`` off), no cloud-init, no python3. The build writes the netplan
  file the Ubuntu installer leaves (``50-cloud-init.yaml``, the NIC by name).
* ``trixie`` (Debian 13), the one that looks like the user's Ubuntu 24.04: netplan 1.1, systemd 257,
  e2fsprogs 1.47.2 (``orphan_file`` and ``metadata_csum_seed`` on by default), python3 and cloud-init with
  the NoCloud datasource: cloud-init itself writes ``50-cloud-init.yaml`` at first boot from the seed
  the lab hands it (:mod:`agent.lab.nocloud`).

Pure data and functions. The Debian mirror is *not* part of the recipe: it is read from the
machine's own apt sources at build time (see :func:`debian_mirror_from_sources`), so the same
recipe built from any mirror gives the same cache key.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, replace

from agent.errors import AgentError, UsageError
from agent.hints import opt
from agent.lab.defaults import DEFAULT_FLAVOUR, LAB_FLAVOURS
from agent.lab.nocloud import IMAGE_CLOUD_CFG

# Bump when the build procedure itself changes in a way the fields below do not capture.
BUILD_PROCEDURE_VERSION = 4

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

    flavour: str = "bookworm"
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
    # The netplan file the build writes; None: cloud-init writes it at first boot (``cloud_init``).
    netplan_content: str | None = CLOUD_INIT_NETPLAN
    # cloud-init's settings in the image (``/etc/cloud/cloud.cfg.d/90-gda-lab.cfg``); None: no cloud-init.
    cloud_init_cfg: str | None = None
    # Units masked to keep a TCG boot short; none of them matters to the bhyve situation. Measured with
    # ``systemd-analyze blame`` on both flavours under TCG: each modprobe@ unit took 2-7 s of a vCPU (a
    # kmod process and a module load), run beside the critical chain (sshd waits on networkd, and on
    # trixie on cloud-init). The ConditionNeedsUpdate units (ldconfig, catalog, update-done) would run
    # at every boot, since every boot starts from a fresh overlay of the built image.
    # modprobe@loop and modprobe@dm_mod stay: the guard's tests make loop and dm devices.
    masked_units: tuple[str, ...] = (
        "systemd-networkd-wait-online.service",
        "e2scrub_all.timer",
        "e2scrub_reap.service",
        "fstrim.timer",
        "modprobe@drm.service",
        "modprobe@efi_pstore.service",
        "modprobe@fuse.service",
        "modprobe@configfs.service",
        "sys-kernel-config.mount",
        "sys-kernel-debug.mount",
        "sys-kernel-tracing.mount",
        "dev-hugepages.mount",
        "proc-sys-fs-binfmt_misc.automount",
        "systemd-binfmt.service",
        "systemd-random-seed.service",
        "systemd-pstore.service",
        "ldconfig.service",
        "systemd-journal-catalog-update.service",
        "systemd-update-done.service",
    )
    # Kernel modules udev would load by modalias that no lab test uses (the TCG CPU's svm flag loads
    # kvm_amd; QEMU's fw_cfg and vsock devices): /etc/modprobe.d/gda-lab.conf blacklists them.
    blacklisted_modules: tuple[str, ...] = (
        "kvm_amd",
        "kvm_intel",
        "kvm",
        "vmw_vmci",
        "vmw_vsock_vmci_transport",
        "vsock_loopback",
        "vmw_vsock_virtio_transport_common",
        "efi_pstore",
    )
    # The initrd holds only what mounts the root (initramfs-tools MODULES=list instead of its default
    # MODULES=most: bookworm's initrd 15 MB → 6 MB, trixie's 18 MB → 11 MB, and far fewer modules for the
    # initrd's udev to try): virtio_pci (a module in bookworm's 6.1 cloud kernel, built into trixie's 6.12),
    # virtio_blk, ext4 and crc32c (built in where they are; listing a built-in module is harmless).
    initrd_modules: tuple[str, ...] = ("virtio_pci", "virtio_blk", "ext4", "crc32c_generic")
    procedure: int = BUILD_PROCEDURE_VERSION

    def key(self) -> str:
        """A short, stable hash of the recipe: the cache key of the built image."""
        blob = json.dumps(asdict(self), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]

    @property
    def cloud_init(self) -> bool:
        """True for the flavour where cloud-init writes the netplan file (from the lab's NoCloud seed)."""
        return self.cloud_init_cfg is not None

    @property
    def cache_name(self) -> str:
        """The image's folder in the cache: flavour and recipe hash (``trixie-0123456789abcdef``)."""
        return f"{self.flavour}-{self.key()}"


DEFAULT_RECIPE = Recipe()

TRIXIE_RECIPE = replace(
    DEFAULT_RECIPE,
    flavour="trixie",
    suite="trixie",
    packages=(*DEFAULT_RECIPE.packages, "python3", "cloud-init"),
    netplan_content=None,
    cloud_init_cfg=IMAGE_CLOUD_CFG,
)

FLAVOURS: dict[str, Recipe] = {r.flavour: r for r in (DEFAULT_RECIPE, TRIXIE_RECIPE)}
assert tuple(FLAVOURS) == LAB_FLAVOURS and DEFAULT_RECIPE.flavour == DEFAULT_FLAVOUR

# The packages whose versions the lab records at build time and shows in ``lab.status``.
VERSIONED_PACKAGES = (
    "systemd",
    "netplan.io",
    "e2fsprogs",
    "xfsprogs",
    "openssh-server",
    "python3",
    "cloud-init",
)


def recipe_for(flavour: str | None) -> Recipe:
    """The recipe of ``flavour`` (None: the default flavour); bad usage for an unknown name."""
    name = flavour or DEFAULT_FLAVOUR
    try:
        return FLAVOURS[name]
    except KeyError:
        raise UsageError(
            f"unknown lab flavour {name!r}",
            hint=f"{opt('flavour')} takes one of: {', '.join(FLAVOURS)}",
        ) from None


_DEB_LINE = re.compile(r"^\s*deb\s+(?:\[[^\]]*\]\s+)?(?P<uri>\S+)\s+(?P<suite>\S+)\s+(?P<comps>.+)$")


def _looks_like_main_archive(uri: str, suites: Iterable[str]) -> bool:
    """A Debian main archive: not a security archive, and serving a release suite (``bookworm``, not only
    ``bookworm-updates``)."""
    return "security" not in uri and any("-" not in s and "/" not in s for s in suites)


def debian_mirror_from_sources(deb822_files: Iterable[str], sources_list: str, suite: str) -> str:
    """Find the Debian archive URI this machine's apt uses, to ask it for ``suite``.

    ``deb822_files`` are the texts of ``/etc/apt/sources.list.d/*.sources``; ``sources_list`` is
    the text of ``/etc/apt/sources.list``. An archive that lists ``suite`` wins; else the first main
    archive (a machine configured for bookworm gives its mirror for trixie too: the suites are folders
    of one archive). Security archives are skipped. Raises AgentError when no suitable entry exists,
    saying where it looked.
    """
    archives: list[tuple[str, list[str]]] = []
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
            archives += [(uri, suites) for uri in fields.get("uris", "").split()]
    for line in sources_list.splitlines():
        m = _DEB_LINE.match(line)
        if m:
            archives.append((m["uri"], [m["suite"]]))
    main = [(uri, suites) for uri, suites in archives if _looks_like_main_archive(uri, suites)]
    for uri, suites in main:
        if suite in suites:
            return uri.rstrip("/")
    if main:
        return main[0][0].rstrip("/")
    raise AgentError(
        f"no Debian '{suite}' archive found in this machine's apt sources",
        hint="add one to /etc/apt/sources.list.d/debian.sources (URIs:/Suites:) or /etc/apt/sources.list; "
        "the lab takes its mirror from there",
    )
