"""``lab.*`` (the QEMU lab guest) and ``demo`` (the whole story on it).

Defaults (ports, serials, sizes, the state folder) come from the configuration (``c.config.lab``, see
:mod:`agent.cli.config`). Each body imports the lab library inside the task (the one lazy import), so
``gda --help`` stays fast.
"""

from __future__ import annotations

from typing import Any

from invoke.context import Context

from agent.cli.config import DEFAULTS, or_setting
from agent.cli.emit import info, say
from agent.cli.options import Opt, choice, nic_count, pci_slot, port, size
from agent.cli.tasking import gda_task
from agent.errors import Refused
from agent.lab.defaults import LAB_FLAVOURS

_LAB = DEFAULTS["lab"]
STATE = Opt("lab state folder (default $GDA_LAB_STATE, else ~/.cache/guest-disk-agent/lab)", "s")
SSH_PORT = Opt(f"loopback port forwarded to the guest's sshd (default {_LAB['ssh_port']})", "p", port)
CONSOLE_PORT = Opt(f"loopback TCP port of the serial console (default {_LAB['console_port']})", "c", port)


def _state(c: Context, state: str | None) -> str | None:
    value = or_setting(state, c.config, "lab.state")
    return str(value) if value else None


FLAVOUR = Opt(
    f"lab flavour: {' or '.join(LAB_FLAVOURS)} (default {_LAB['flavour']}; trixie has cloud-init, "
    "like Ubuntu 24.04)",
    "l",
    choice(*LAB_FLAVOURS),
)


@gda_task({"force": Opt("rebuild even when this recipe's image is cached", "f"), "flavour": FLAVOUR})
def build(c: Context, force: bool = False, flavour: str | None = None) -> None:
    """Build a lab guest image (Debian via debootstrap; cached by flavour and recipe; needs root)."""
    from agent.lab import lifecycle

    lifecycle.build(force=force, flavour=or_setting(flavour, c.config, "lab.flavour"), log=info)


UP_OPTS = {
    "disk1": Opt("attach the passed-through disk: NVMe at slot 5, the NIC moves to slot 6 (enp0s6)", "d"),
    "disk1_size": Opt(f"size of disk1's sparse image (default {_LAB['disk_size']})", check=size),
    "disk1_serial": Opt(f"NVMe serial of disk1 (default {_LAB['disk1_serial']})"),
    "disk1_slot": Opt(
        "PCI slot of disk1 (default 5; with --nic-slot 5 the NIC keeps its name)", check=pci_slot
    ),
    "disk2": Opt("attach a second NVMe disk (next free slot)", "D"),
    "disk2_size": Opt("size of disk2's image", check=size),
    "disk2_serial": Opt(f"NVMe serial of disk2 (default {_LAB['disk2_serial']})"),
    "nic_slot": Opt("PCI slot of the NIC (default: 5, or after the disks)", "n", pci_slot),
    "nics": Opt(
        "number of NICs: functions of the NIC slot, as vm-bhyve lays them out (trixie)", "N", nic_count
    ),
    "flavour": FLAVOUR,
    "new_instance": Opt("give cloud-init a new instance-id: it writes its netplan file again (trixie)", "I"),
    "ssh_port": SSH_PORT,
    "console_port": CONSOLE_PORT,
    "state": STATE,
    "fresh": Opt("start from a clean root overlay and empty disk images", "F"),
}


@gda_task(UP_OPTS)
def up(
    c: Context,
    disk1: bool = False,
    disk1_size: str | None = None,
    disk1_serial: str | None = None,
    disk1_slot: int | None = None,
    disk2: bool = False,
    disk2_size: str | None = None,
    disk2_serial: str | None = None,
    nic_slot: int | None = None,
    ssh_port: int | None = None,
    console_port: int | None = None,
    state: str | None = None,
    fresh: bool = False,
    nics: int = 1,
    flavour: str | None = None,
    new_instance: bool = False,
) -> None:
    """Boot the lab guest under QEMU (TCG) with vm-bhyve's slot layout; waits for console and SSH."""
    from agent.lab import lifecycle, status

    cfg = c.config
    lifecycle.up(
        state=_state(c, state),
        disk1=disk1,
        disk1_size=or_setting(disk1_size, cfg, "lab.disk_size"),
        disk1_serial=or_setting(disk1_serial, cfg, "lab.disk1_serial"),
        disk1_slot=disk1_slot,
        disk2=disk2,
        disk2_size=or_setting(disk2_size, cfg, "lab.disk_size"),
        disk2_serial=or_setting(disk2_serial, cfg, "lab.disk2_serial"),
        nic_slot=nic_slot,
        ssh_port=int(or_setting(ssh_port, cfg, "lab.ssh_port")),
        console_port=int(or_setting(console_port, cfg, "lab.console_port")),
        fresh=fresh,
        flavour=or_setting(flavour, cfg, "lab.flavour"),
        nics=nics,
        new_instance=new_instance,
        log=info,
    )
    for line in status.status_lines(lifecycle.state_paths(_state(c, state))):
        info(line)


@gda_task({"state": STATE})
def down(c: Context, state: str | None = None) -> None:
    """Stop the lab guest (by the pid QEMU wrote)."""
    from agent.lab import control, lifecycle

    control.down(lifecycle.state_paths(_state(c, state)), log=info)


@gda_task({"state": STATE})
def status(c: Context, state: str | None = None) -> None:
    """Show the lab images (versions) and whether the lab guest runs, its ports, how to reach it."""
    from agent.lab import lifecycle, status

    for line in status.status_lines(lifecycle.state_paths(_state(c, state))):
        say(line)


@gda_task({"state": STATE})
def console(c: Context, state: str | None = None) -> None:
    """Attach this terminal to the lab guest's serial console (leave with Ctrl-])."""
    from agent.lab import control, lifecycle, terminal

    st = control.running_state(lifecycle.state_paths(_state(c, state)))
    if st is None:
        raise Refused("the lab guest is not running", hint="lab.up")
    terminal.attach("127.0.0.1", st.console_port)


@gda_task({"state": STATE})
def env(c: Context, state: str | None = None) -> None:
    """Print `export` lines for the lab's sudo and console passwords: eval "$(gda lab.env)"."""
    from agent.lab import lifecycle

    for line in lifecycle.env_lines(_state(c, state)):
        print(line)


DEMO_OPTS = {
    "inventory": Opt(
        "with --guest-only: the inventory file (default ./inventory.yaml: the lab guest); the "
        "host-first story writes its own (the stand-in host and the lab guest on it)",
        "i",
    ),
    "fs": Opt("ext4 or xfs (default ext4)", "f", choice("ext4", "xfs")),
    "state": STATE,
    "ssh_port": Opt(f"lab SSH port (must match the inventory; default {_LAB['ssh_port']})", "p", port),
    "console_port": Opt(
        f"lab console port (must match the inventory; default {_LAB['console_port']})", "c", port
    ),
    "flavour": FLAVOUR,
    "guest_only": Opt(
        "the guest's side alone, no FreeBSD host: the disk attached by the lab, SSH lost, "
        "fix-netplan through the serial console",
        "G",
    ),
}


@gda_task(DEMO_OPTS)
def demo(
    c: Context,
    inventory: str | None = None,
    fs: str = "ext4",
    state: str | None = None,
    ssh_port: int | None = None,
    console_port: int | None = None,
    flavour: str | None = None,
    guest_only: bool = False,
) -> None:
    """The whole story host-first, on the lab and a stand-in FreeBSD host (root): p3 refused, p4 checked,
    attached (NIC pinned by MAC), formatted for FreeBSD, verified on the host. --guest-only: the guest's
    side alone (SSH lost, fix-netplan via console)."""
    from agent.cli.demo_story import run_demo

    cfg: Any = c.config
    run_demo(
        str(or_setting(inventory, cfg, "inventory")),
        fs,
        state=_state(c, state),
        ssh_port=int(or_setting(ssh_port, cfg, "lab.ssh_port")),
        console_port=int(or_setting(console_port, cfg, "lab.console_port")),
        flavour=or_setting(flavour, cfg, "lab.flavour"),
        guest_only=guest_only,
    )
