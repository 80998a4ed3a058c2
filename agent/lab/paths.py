"""Where the lab keeps its files.

* image cache: ``$XDG_CACHE_HOME/guest-disk-agent/images/<flavour>-<recipe key>/`` (root.img, vmlinuz,
  initrd.img, the lab's SSH key pair, the guest's host key, the generated passwords and the package
  versions). Shared by every lab.
* state folder: ``~/.cache/guest-disk-agent/lab`` by default (``GDA_LAB_STATE`` or ``--state`` to
  change it): the running guest's overlay, disk images, pid, ports, console log, cloud-init seed, and
  the ``ssh/`` folder (key and known_hosts) that ``inventory.yaml`` points at.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


def cache_root(env: dict[str, str] | None = None) -> Path:
    env = dict(os.environ) if env is None else env
    base = env.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(env.get("GDA_IMAGE_CACHE") or Path(base) / "guest-disk-agent" / "images")


def default_state_dir(env: dict[str, str] | None = None) -> Path:
    env = dict(os.environ) if env is None else env
    if env.get("GDA_LAB_STATE"):
        return Path(env["GDA_LAB_STATE"])
    return Path.home() / ".cache" / "guest-disk-agent" / "lab"


@dataclass(frozen=True)
class ImagePaths:
    """Files of one built image (one recipe key)."""

    root: Path

    @property
    def rootfs(self) -> Path:
        return self.root / "root.img"

    @property
    def kernel(self) -> Path:
        return self.root / "vmlinuz"

    @property
    def initrd(self) -> Path:
        return self.root / "initrd.img"

    @property
    def ssh_key(self) -> Path:
        return self.root / "id_ed25519"

    @property
    def host_key_pub(self) -> Path:
        return self.root / "ssh_host_ed25519_key.pub"

    @property
    def secrets(self) -> Path:
        return self.root / "secrets.json"

    @property
    def versions(self) -> Path:
        return self.root / "versions.json"

    @property
    def done_marker(self) -> Path:
        return self.root / "BUILD-COMPLETE"


@dataclass(frozen=True)
class StatePaths:
    """Files of one lab instance."""

    root: Path

    @property
    def state_json(self) -> Path:
        return self.root / "state.json"

    @property
    def overlay(self) -> Path:
        return self.root / "root-overlay.qcow2"

    def disk(self, n: int) -> Path:
        return self.root / f"disk{n}.img"

    @property
    def pidfile(self) -> Path:
        return self.root / "qemu.pid"

    @property
    def monitor(self) -> Path:
        return self.root / "monitor.sock"

    @property
    def console_log(self) -> Path:
        return self.root / "console.log"

    @property
    def ssh_dir(self) -> Path:
        return self.root / "ssh"

    @property
    def ssh_key(self) -> Path:
        return self.ssh_dir / "id_ed25519"

    @property
    def known_hosts(self) -> Path:
        return self.ssh_dir / "known_hosts"

    @property
    def secrets_env(self) -> Path:
        return self.root / "secrets.env"

    @property
    def seed_iso(self) -> Path:
        return self.root / "cidata.iso"

    @property
    def instance_id(self) -> Path:
        return self.root / "instance-id"
