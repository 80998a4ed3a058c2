"""The lab tasks' bodies: build, up, down, status, env, console."""

from __future__ import annotations

import shlex
from pathlib import Path

from agent.cli import info
from agent.lab import build as lab_build
from agent.lab import control
from agent.lab.paths import StatePaths, default_state_dir
from agent.lab.qemu import DEFAULT_DISK1_SERIAL


def state_paths(state: str | None) -> StatePaths:
    return StatePaths(Path(state) if state else default_state_dir())


def build(force: bool = False) -> None:
    lab_build.build(log=info, force=force)


def up(
    *,
    state: str | None,
    disk1: bool,
    disk1_size: str = "4G",
    disk1_serial: str = DEFAULT_DISK1_SERIAL,
    disk1_slot: int | None = None,
    disk2: bool = False,
    disk2_size: str = "4G",
    disk2_serial: str = "GDA2NDDISK000",
    nic_slot: int | None = None,
    ssh_port: int = control.DEFAULT_SSH_PORT,
    console_port: int = control.DEFAULT_CONSOLE_PORT,
    fresh: bool = False,
    build_first: bool = True,
) -> control.LabState:
    # invoke passes options whose default is None as strings
    disk1_slot = int(disk1_slot) if disk1_slot is not None else None
    nic_slot = int(nic_slot) if nic_slot is not None else None
    if build_first:
        lab_build.build(log=info)
    disks: list[control.DiskSpec] = []
    if disk1:
        disks.append(control.DiskSpec(1, disk1_size, disk1_serial, disk1_slot))
    if disk2:
        disks.append(control.DiskSpec(2, disk2_size, disk2_serial, None))
    return control.up(
        state_paths(state),
        disks=disks,
        nic_slot=nic_slot,
        ssh_port=ssh_port,
        console_port=console_port,
        fresh=fresh,
        log=info,
    )


def env_lines(state: str | None) -> list[str]:
    """Shell ``export`` lines for the lab's passwords (for ``eval "$(invoke lab.env)"``)."""
    secrets = control.lab_secrets()
    return [
        f"export XDEV_SUDO_PASSWORD={shlex.quote(secrets['admin'])}",
        f"export XDEV_CONSOLE_PASSWORD={shlex.quote(secrets['root'])}",
    ]
