"""``demo``: the seed's story host-first, on the lab guest and a stand-in FreeBSD host (the lab tasks'
``demo`` runs it; ``demo --guest-only`` runs the guest's side alone: agent/cli/demo_guest_only.py).

The host is the stand-in (agent/lab/standin: a real sshd on 127.0.0.1 whose FreeBSD commands answer from
the seed's scenario, package data), with p4 (``linux-data``) mapped to a 2 GiB sparse image in the lab's
state folder and p3 (``freebsd-zfs``, the same size in the seed) a member of pool zdata; its ``vm``
drives the lab's QEMU guest. The guest's conf is the seed's without disk1. Then, as a user would:

0. ``vm start xdev`` on the host: the guest without the disk, its NIC at slot 5 (``enp0s5``), SSH works;
1. ``check-vm-config --guest xdev --device p3``: refused, naming pool zdata, suggesting p4;
2. ``check-vm-config --device p4``: may be passed through; ``attach --dry-run``: the NIC rename it causes;
3. ``attach --device p4``: the NIC pinned by MAC while SSH works, the conf's diff, ``vm stop``/``vm start``,
   SSH back on the renamed NIC;
4. ``format --fs ext4 --host-compat freebsd --serial <the serial attach printed>``;
5. ``host-verify --stop``: the guest stopped, ``fstyp``, the read-only test mount, the fstab line.

Each step calls the op the task calls (agent.ops.*), with the inventory the demo writes (printed, so every
step can be rerun by hand with ``gda TASK -i <it>``). Needs root (the stand-in's sshd, ``unshare -m``).
"""

from __future__ import annotations

import json
import os
import shutil
import time
from importlib import resources
from pathlib import Path
from typing import Any

from agent.cli.emit import info, out
from agent.errors import Refused
from agent.hints import render_options
from agent.lab.defaults import DEFAULT_CONSOLE_PORT, DEFAULT_SSH_PORT

SEED_CONF = resources.files("agent") / "data" / "xdev.conf"
"""The seed's vm-bhyve config (package data; the tests keep the original in tests/fixtures/vmbhyve)."""

VM = "xdev"
P3 = "/dev/diskid/DISK-Y39B70RTK7ASp3"
P4 = "/dev/diskid/DISK-Y39B70RTK7ASp4"
CONF = "/zdata/vms/xdev/xdev.conf"  # where the seed's vm_dir (zfs:zdata/vms) keeps the guest's conf
P4_SECTORS = 4194304  # 2 GiB: mkfs and the checks are quick; p4 is 256 GiB in the seed
BOOT_WAIT = 420.0  # seconds for the guest's first boot (TCG: a bookworm boot is 30-60 s, trixie 90 s+)
NETPLAN_FILE = "/etc/netplan/50-cloud-init.yaml"
SEED_MAC = "58:9c:fc:03:19:32"  # network0_mac of the seed's conf


def step(n: int, text: str) -> None:
    out.print(f"\n[bold cyan]── {n}. {text}[/bold cyan]")


def say(text: str) -> None:
    for line in render_options(text).split("\n"):
        out.print(f"  {line}", markup=False)


# ------------------------------------------------------------------------------ pure parts
def demo_scenario(seed: dict[str, Any], image: Path) -> dict[str, Any]:
    """The seed's host with p4 shrunk to :data:`P4_SECTORS` and mapped to ``image``; no guest running."""
    parts = [dict(p, sectors=P4_SECTORS) if p["i"] == 4 else dict(p) for p in seed["parts"]]
    why = "the demo's host: the seed's, with p4 2 GiB (a sparse image in the lab's state folder)"
    return {**seed, "description": why, "parts": parts, "images": {P4: str(image)}, "running": []}


def conf_without_disk1(text: str) -> str:
    """The seed's conf as it was before the disk: without its ``disk1_`` lines."""
    return "".join(ln for ln in text.splitlines(keepends=True) if not ln.startswith("disk1_"))


def demo_inventory(host: Any, ssh_port: int, ssh_key: Path, known_hosts: Path) -> str:
    """The inventory of the story: the stand-in under ``hosts:``, the lab guest ``on:`` it (its console
    ``vm console xdev`` over SSH to the host)."""
    reach = (f"      host: {host.host}\n      port: {host.port}\n      user: root\n"
             f"      identity_file: {host.identity_file}\n"
             f"      known_hosts: {host.known_hosts}\n")  # fmt: skip
    return (
        "# written by gda demo: the stand-in FreeBSD host and the lab guest on it\n"
        "hosts:\n  standin:\n" + reach.replace("      ", "    ") + "guests:\n"
        f"  {VM}:\n    host: 127.0.0.1\n    port: {ssh_port}\n    user: admin\n"
        f"    identity_file: {ssh_key}\n    known_hosts: {known_hosts}\n"
        "    sudo_password_env: XDEV_SUDO_PASSWORD\n    on: standin\n"
        f"    disk:\n      host_path: {P4}\n      host_os: freebsd\n"
        f"    network:\n      mac: {SEED_MAC}\n      netplan_file: {NETPLAN_FILE}\n"
        f"    console:\n      ssh:\n{reach.replace('      ', '        ')}        command: vm console {VM}\n"
        "      user: root\n      password_env: XDEV_CONSOLE_PASSWORD\n"
    )


# ------------------------------------------------------------------------------ the story
def run_demo(
    inventory: str | None,
    fs: str = "ext4",
    *,
    state: str | None = None,
    ssh_port: int = DEFAULT_SSH_PORT,
    console_port: int = DEFAULT_CONSOLE_PORT,
    flavour: str | None = None,
    guest_only: bool = False,
) -> None:
    if guest_only:
        from agent.cli.demo_guest_only import run_guest_only

        run_guest_only(inventory, fs, state=state, ssh_port=ssh_port, console_port=console_port,
                       flavour=flavour)  # fmt: skip
        return
    from agent.lab import control, lifecycle
    from agent.lab.recipe import recipe_for
    from agent.lab.standin.host import LabLink, StandinHost, missing_requirements
    from agent.lab.standin.scenario import SEED, read_scenario, scenario_path

    why = missing_requirements()
    if why is not None:
        raise Refused(
            f"the host-first demo runs a stand-in FreeBSD host (OpenSSH's sshd on 127.0.0.1, FreeBSD's "
            f"commands in a private mount namespace), and it cannot run here: {why}",
            "run it as root on Debian with openssh-server and util-linux (./dev demo installs them); "
            "--guest-only runs the guest's side of the story without a host",
        )
    t0 = time.monotonic()
    recipe = recipe_for(flavour)
    lifecycle.build(flavour=flavour, log=info)
    sp = lifecycle.state_paths(state)
    control.down(sp, log=lambda _m: None)
    sp.root.mkdir(parents=True, exist_ok=True)
    sp.overlay.unlink(missing_ok=True)  # a fresh root: netplan names the NIC as installed (enp0s5)
    image = sp.root / "p4.img"
    image.unlink(missing_ok=True)
    with image.open("wb") as f:
        f.truncate(P4_SECTORS * 512)  # sparse: the host partition starts out blank
    work = sp.root / "demo-host"
    shutil.rmtree(work, ignore_errors=True)  # the demo's own folder: keys, sshd_config, the host's files
    work.mkdir()
    scenario = work.parent / "demo-host-scenario.json"
    scenario.write_text(json.dumps(demo_scenario(read_scenario(scenario_path(SEED)), image), indent=2))
    lab = LabLink(sp.root, ssh_port, console_port, flavour=recipe.flavour, guest=VM)
    host = StandinHost(scenario, work, lab=lab).start()
    try:
        host.write_file(CONF, conf_without_disk1(SEED_CONF.read_text(encoding="utf-8")))
        inv = work / "inventory.yaml"
        inv.write_text(demo_inventory(host, ssh_port, sp.ssh_key, sp.known_hosts), encoding="utf-8")
        secrets = control.lab_secrets(flavour=recipe.flavour)
        os.environ.setdefault("XDEV_SUDO_PASSWORD", secrets["admin"])
        os.environ.setdefault("XDEV_CONSOLE_PASSWORD", secrets["root"])
        from agent.cli.demo_host_steps import Story

        Story(host, inv, fs, sp, ssh_port).tell()
    finally:
        host.stop()
    out.print(
        f"\n[bold green]done in {time.monotonic() - t0:.0f}s.[/bold green] The guest is stopped (host-verify "
        f"--stop) and so is the stand-in host; the disk image is {image}"
    )
