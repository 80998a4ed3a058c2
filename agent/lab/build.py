"""Build a flavour's lab image: debootstrap -> configure the chroot -> ``mkfs.ext4 -d`` -> kernel + initrd.

No mount, no loop device. The result is cached under the flavour and the recipe's key
(``<cache>/trixie-<key>/``), so a second build is instant; the versions of the guest's main packages
are recorded beside it (``versions.json``, shown by ``lab.status``). Needs root (debootstrap and chroot).
"""

from __future__ import annotations

import glob
import json
import os
import secrets
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from agent.errors import AgentError
from agent.lab.nocloud import IMAGE_CLOUD_CFG_PATH
from agent.lab.paths import ImagePaths, cache_root
from agent.lab.recipe import DEFAULT_RECIPE, VERSIONED_PACKAGES, Recipe, debian_mirror_from_sources

Log = Callable[[str], None]


def image_paths(recipe: Recipe = DEFAULT_RECIPE) -> ImagePaths:
    return ImagePaths(cache_root() / recipe.cache_name)


def image_versions(paths: ImagePaths) -> dict[str, str]:
    """The guest's package versions recorded at build time ({} for an image built before they were)."""
    try:
        data = json.loads(paths.versions.read_text())
    except (OSError, ValueError):
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def machine_mirror(suite: str) -> str:
    """The Debian mirror this machine's apt uses (never hard-coded)."""
    deb822 = [Path(p).read_text() for p in sorted(glob.glob("/etc/apt/sources.list.d/*.sources"))]
    sl = Path("/etc/apt/sources.list")
    return debian_mirror_from_sources(deb822, sl.read_text() if sl.exists() else "", suite)


def _run(argv: list[str], *, input: str | None = None) -> None:
    proc = subprocess.run(argv, input=input, text=True, capture_output=True, check=False)
    if proc.returncode != 0:
        tail = "\n".join(((proc.stdout or "") + (proc.stderr or "")).splitlines()[-25:])
        raise AgentError(f"lab build step failed ({proc.returncode}): {' '.join(argv[:4])} ...\n{tail}")


def _need(tool: str, package: str) -> None:
    if shutil.which(tool) is None:
        raise AgentError(f"{tool} not found", hint=f"apt-get install {package}")


def build(recipe: Recipe = DEFAULT_RECIPE, *, log: Log = print, force: bool = False) -> ImagePaths:
    """Build (or reuse) the image for ``recipe`` and return its paths."""
    paths = image_paths(recipe)
    if paths.done_marker.exists() and not force:
        log(f"lab image {recipe.cache_name} is cached at {paths.root}")
        return paths
    if os.geteuid() != 0:
        raise AgentError(
            "building the lab image needs root (debootstrap and chroot)",
            hint="run `invoke lab.build` as root, e.g. `sudo .venv/bin/invoke lab.build`",
        )
    for tool, pkg in (
        ("debootstrap", "debootstrap"),
        ("mkfs.ext4", "e2fsprogs"),
        ("ssh-keygen", "openssh-client"),
        *((("genisoimage", "genisoimage"),) if recipe.cloud_init else ()),
    ):
        _need(tool, pkg)
    mirror = machine_mirror(recipe.suite)
    paths.root.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f"build-{recipe.cache_name}-", dir=paths.root.parent))
    try:
        _build_into(recipe, mirror, work, log)
        if paths.root.exists():
            shutil.rmtree(paths.root)
        work.rename(paths.root)
    finally:
        if work.exists():
            shutil.rmtree(work, ignore_errors=True)
    return paths


def _build_into(recipe: Recipe, mirror: str, out: Path, log: Log) -> None:
    t0 = time.monotonic()
    tree = out / "rootfs"
    log(f"debootstrap {recipe.suite} ({recipe.variant}, {recipe.flavour}) from this machine's apt mirror ...")
    _run(
        [
            "debootstrap",
            f"--variant={recipe.variant}",
            f"--include={','.join(recipe.packages)}",
            recipe.suite,
            str(tree),
            mirror,
        ]
    )
    log(f"  debootstrap done in {time.monotonic() - t0:.0f}s; configuring the guest ...")
    paths = ImagePaths(out)
    passwords = {"admin": secrets.token_urlsafe(15), "root": secrets.token_urlsafe(15)}
    _configure(recipe, tree, passwords, paths, log)
    paths.secrets.write_text(json.dumps(passwords))
    paths.secrets.chmod(0o600)
    paths.versions.write_text(json.dumps(_package_versions(tree), indent=2) + "\n")

    for prefix, dst in (("vmlinuz", paths.kernel), ("initrd.img", paths.initrd)):
        found = sorted((tree / "boot").glob(f"{prefix}-*"))
        if not found:
            raise AgentError(f"no /boot/{prefix}-* in the built tree: did linux-image-cloud-amd64 install?")
        shutil.copyfile(found[-1], dst)
    shutil.rmtree(tree / "var/cache/apt/archives", ignore_errors=True)
    (tree / "var/cache/apt/archives/partial").mkdir(parents=True, exist_ok=True)

    log(f"mkfs.ext4 -d (image {recipe.image_size}, no mount, no loop device) ...")
    _run(["mkfs.ext4", "-q", "-F", "-L", "lab-root", "-d", str(tree), str(paths.rootfs), recipe.image_size])
    shutil.rmtree(tree)
    (out / "recipe.json").write_text(
        json.dumps({"flavour": recipe.flavour, "key": recipe.key(), "suite": recipe.suite}, indent=2)
    )
    paths.done_marker.write_text(f"built in {time.monotonic() - t0:.0f}s\n")
    log(f"lab image built in {time.monotonic() - t0:.0f}s")


def _package_versions(tree: Path) -> dict[str, str]:
    """``dpkg-query`` in the built tree: the versions of :data:`VERSIONED_PACKAGES` that are installed."""
    proc = subprocess.run(
        ["chroot", str(tree), "dpkg-query", "-W", "-f", "${Package} ${Version} ${db:Status-Status}\\n",
         *VERSIONED_PACKAGES],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    found: dict[str, str] = {}
    for line in proc.stdout.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[2] == "installed":
            found[parts[0]] = parts[1]
    return found


def _write(path: Path, text: str, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)


def _configure(recipe: Recipe, tree: Path, passwords: dict[str, str], paths: ImagePaths, log: Log) -> None:
    def chroot(*argv: str, input: str | None = None) -> None:
        _run(["chroot", str(tree), *argv], input=input)

    _write(tree / "etc/hostname", f"{recipe.hostname}\n")
    _write(tree / "etc/hosts", f"127.0.0.1\tlocalhost\n127.0.1.1\t{recipe.hostname}\n")
    _write(tree / "etc/fstab", "/dev/vda\t/\text4\terrors=remount-ro\t0\t1\n")
    if recipe.netplan_content is not None:
        _write(tree / recipe.netplan_path.lstrip("/"), recipe.netplan_content, 0o600)
    u = recipe.admin_user
    chroot("useradd", "--create-home", "--shell", "/bin/bash", "--groups", "sudo", u)
    chroot("chpasswd", input=f"{u}:{passwords['admin']}\nroot:{passwords['root']}\n")
    # The lab's client key: generated here, its public half authorised for admin.
    _run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "gda-lab", "-f", str(paths.ssh_key)])
    ssh_dir = tree / "home" / u / ".ssh"
    _write(ssh_dir / "authorized_keys", paths.ssh_key.with_suffix(".pub").read_text(), 0o600)
    ssh_dir.chmod(0o700)
    chroot("chown", "-R", f"{u}:{u}", f"/home/{u}/.ssh")
    # One fixed host key generated at build time; the lab writes the known_hosts line for it.
    for old in (tree / "etc/ssh").glob("ssh_host_*"):
        old.unlink()
    _run(
        [
            "ssh-keygen",
            "-q",
            "-t",
            "ed25519",
            "-N",
            "",
            "-C",
            f"root@{recipe.hostname}",
            "-f",
            str(tree / "etc/ssh/ssh_host_ed25519_key"),
        ]
    )
    shutil.copyfile(tree / "etc/ssh/ssh_host_ed25519_key.pub", paths.host_key_pub)
    _write(
        tree / "etc/ssh/sshd_config.d/10-lab.conf",
        "HostKey /etc/ssh/ssh_host_ed25519_key\nPasswordAuthentication no\nUseDNS no\n",
    )
    chroot("systemctl", "enable", "systemd-networkd.service", "ssh.service", "serial-getty@ttyS0.service")
    if recipe.masked_units:
        chroot("systemctl", "mask", *recipe.masked_units)
    if recipe.blacklisted_modules:
        _write(
            tree / "etc/modprobe.d/gda-lab.conf",
            "# guest-disk-agent lab: modules no lab test uses, kept out of a TCG boot\n"
            + "".join(f"blacklist {m}\n" for m in recipe.blacklisted_modules),
        )
    if recipe.initrd_modules:
        _write(tree / "etc/initramfs-tools/conf.d/gda-lab.conf", "MODULES=list\n")
        _write(tree / "etc/initramfs-tools/modules", "".join(f"{m}\n" for m in recipe.initrd_modules))
        chroot("update-initramfs", "-u", "-k", "all")
    _write(tree / "etc/machine-id", "")
    if recipe.cloud_init_cfg is not None:
        # cloud-init itself writes the netplan file at first boot, from the seed the lab attaches.
        _write(tree / IMAGE_CLOUD_CFG_PATH.lstrip("/"), recipe.cloud_init_cfg)
    else:
        _write(
            tree / "etc/cloud/cloud.cfg.d/README",
            "cloud-init is not installed in the lab; this folder "
            "exists so that --pin-cloud-init has somewhere to write.\n",
        )
    log("  guest configured (hostname, users, ssh keys, netplan or cloud-init, serial getty)")
