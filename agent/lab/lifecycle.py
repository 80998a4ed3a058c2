"""The lab's life cycle as the tasks (and the tests) use it: build, boot with a disk layout, and the
shell ``export`` lines for the lab's passwords. Defaults come from :mod:`agent.lab.defaults`."""

from __future__ import annotations

import shlex
from collections.abc import Callable
from pathlib import Path

from agent.errors import UsageError
from agent.hints import opt
from agent.lab import build as lab_build
from agent.lab import control
from agent.lab.defaults import (
    DEFAULT_CONSOLE_PORT,
    DEFAULT_DISK1_SERIAL,
    DEFAULT_DISK2_SERIAL,
    DEFAULT_DISK_SIZE,
    DEFAULT_SSH_PORT,
)
from agent.lab.paths import StatePaths, default_state_dir
from agent.lab.recipe import recipe_for

Log = Callable[[str], None]


def _quiet(_msg: str) -> None:
    pass


def state_paths(state: str | None) -> StatePaths:
    """The lab state folder ``state``, else ``$GDA_LAB_STATE``, else ``~/.cache/guest-disk-agent/lab``."""
    return StatePaths(Path(state) if state else default_state_dir())


def build(force: bool = False, *, flavour: str | None = None, log: Log = _quiet) -> None:
    """Build (or find cached) the image of ``flavour`` (None: the default flavour)."""
    lab_build.build(recipe_for(flavour), log=log, force=force)


def up(
    *,
    state: str | None,
    disk1: bool,
    disk1_size: str = DEFAULT_DISK_SIZE,
    disk1_serial: str = DEFAULT_DISK1_SERIAL,
    disk1_slot: int | None = None,
    disk2: bool = False,
    disk2_size: str = DEFAULT_DISK_SIZE,
    disk2_serial: str = DEFAULT_DISK2_SERIAL,
    nic_slot: int | None = None,
    ssh_port: int = DEFAULT_SSH_PORT,
    console_port: int = DEFAULT_CONSOLE_PORT,
    fresh: bool = False,
    flavour: str | None = None,
    nics: int = 1,
    new_instance: bool = False,
    build_first: bool = True,
    log: Log = _quiet,
) -> control.LabState:
    """Boot the lab guest of ``flavour`` (building its image first unless ``build_first=False``)."""
    if build_first:
        build(flavour=flavour, log=log)
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
        flavour=flavour,
        nics=nics,
        new_instance=new_instance,
        log=log,
    )


def env_lines(state: str | None) -> list[str]:
    """Shell ``export`` lines for the lab's passwords (for ``eval "$(invoke lab.env)"``).

    The lab in ``state`` wrote them at ``lab.up`` (``secrets.env``); a ``state`` given explicitly must hold
    them. Without ``state``, the default lab's file is used when it exists, else the image's passwords.
    """
    sp = state_paths(state)
    try:
        text = sp.secrets_env.read_text()
    except OSError:
        if state:
            raise UsageError(
                f"no lab passwords in {state} (no secrets.env there)",
                hint=f"boot that lab first: lab.up {opt('state')} {shlex.quote(state)}",
            ) from None
        st = control.LabState.load(sp)
        secrets = control.lab_secrets(flavour=st.flavour if st else None)
        return [
            f"export XDEV_SUDO_PASSWORD={shlex.quote(secrets['admin'])}",
            f"export XDEV_CONSOLE_PASSWORD={shlex.quote(secrets['root'])}",
        ]
    return [line for line in text.splitlines() if line.startswith("export ")]
