"""Several lab guests at once for the fleet tests (issue 12): N bookworm guests booted side by side,
each in its own state folder on its own ports (SSH 2500+i, console 4800+i) with a disk1 NVMe, and ONE
inventory naming them ``lab1``..``labN`` (group ``fleet``), the way :meth:`Lab.inventory` writes one.

The guests boot in parallel threads (TCG on 2 cores: several boots side by side take longer each, so the
boot deadline here is longer than a single lab's). Each guest has one vCPU (:data:`CPUS`): with two each,
4 guests put 8 vCPU threads on the 2 host cores, and a guest kernel then spins on locks held by a vCPU
the host has descheduled (measured: 4 guests side by side took 11.2 s with 2 vCPUs, 9.0 s with 1).
Every guest is stopped on exit, also when one of the boots failed. ``gda`` runs as a user would run it:
the installed entry point, stdin not a terminal.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.lab import control
from agent.lab.defaults import DEFAULT_DISK1_SERIAL
from tests.lab.conftest import Lab

GDA = str(Path(sys.executable).parent / "gda")
SSH_BASE = 2500
CONSOLE_BASE = 4800
GROUP = "fleet"
BOOT_TIMEOUT = 900.0  # seconds per guest; N TCG boots share the 2 cores
SERIAL = DEFAULT_DISK1_SERIAL
CPUS = 1  # vCPUs per guest (see above)


def _quiet(_msg: str) -> None:
    pass


@dataclass
class FleetLab:
    """N lab guests (``labs[i]`` is guest ``lab{i+1}``) and the folder their inventory lives in."""

    root: Path
    labs: list[Lab]

    @property
    def names(self) -> list[str]:
        return [f"lab{i}" for i in range(1, len(self.labs) + 1)]

    def lab(self, name: str) -> Lab:
        return self.labs[self.names.index(name)]

    def boot_all(self) -> None:
        """Boot every guest in parallel (fresh overlay and disk1, the NIC kept at slot 5 so SSH works);
        the first failure is raised once every boot has ended (the others are left to the teardown)."""
        with ThreadPoolExecutor(max_workers=len(self.labs)) as pool:
            futures = [pool.submit(_boot, lab) for lab in self.labs]
            errors = [f.exception() for f in futures]
        for e in errors:
            if e is not None:
                raise e

    def down_all(self) -> None:
        for lab in self.labs:
            control.down(lab.paths, log=_quiet)

    def inventory(self, guest_extra: dict[str, str] | None = None, name: str = "inventory.yaml") -> Path:
        """One inventory with every guest and the group ``fleet``; ``guest_extra[NAME]`` is YAML appended
        to that guest's entry (indented four spaces, e.g. ``"    disk: {serial: NOPE}\\n"``)."""
        extra = guest_extra or {}
        entries = []
        for guest, lab in zip(self.names, self.labs, strict=True):
            entries.append(f"""\
  {guest}:
    host: 127.0.0.1
    port: {lab.ssh_port}
    user: admin
    identity_file: {lab.paths.ssh_key}
    known_hosts: {lab.paths.known_hosts}
    sudo_password_env: XDEV_SUDO_PASSWORD
    network:
      mac: 58:9c:fc:03:19:32
      netplan_file: /etc/netplan/50-cloud-init.yaml
    console:
      tcp: 127.0.0.1:{lab.console_port}
      user: root
      password_env: XDEV_CONSOLE_PASSWORD
{extra.get(guest, "")}""")
        groups = f"groups:\n  {GROUP}:\n    members: [{', '.join(self.names)}]\n"
        text = "guests:\n" + "".join(entries) + groups
        path = self.root / name
        path.write_text(text)
        return path

    def env(self) -> dict[str, str]:
        """The CLI's environment: every guest is booted from the same image, so one pair of passwords."""
        return self.labs[0].env()

    def gda(self, *args: str, inventory: Path, timeout: float = 900) -> subprocess.CompletedProcess[str]:
        """Run ``gda ARGS --inventory INV`` (stdin not a terminal); no outcome may print a traceback."""
        r = subprocess.run(
            [GDA, *args, "--inventory", str(inventory)],
            cwd=self.root,
            env=self.env(),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        for stream in (r.stdout, r.stderr):
            assert "Traceback" not in stream, stream
        return r

    def root_run(self, name: str, script: str) -> str:
        """Run ``script`` as root on guest ``name`` (test setup and checks); returns stdout."""
        with self.lab(name).ssh() as s:
            r = s.run(script, root=True, timeout=300)
        assert r.status == 0, f"{name}: {script!r} exited {r.status}: {r.stderr}"
        return r.stdout

    def nvme_path(self, name: str) -> str:
        """The guest's /dev path of its disk1 (by serial)."""
        out = self.root_run(name, "lsblk -dn -o PATH,SERIAL")
        paths = {f[1]: f[0] for f in (line.split() for line in out.splitlines()) if len(f) == 2}
        return paths[SERIAL]

    def blkid_uuid(self, name: str, device: str) -> str:
        """What ``blkid -p`` on guest ``name`` says the UUID of ``device`` is."""
        return self.root_run(name, f"blkid -p -s UUID -o value {shlex.quote(device)}").strip()

    def blkid_uuid_or_empty(self, name: str) -> str:
        """The UUID on guest ``name``'s disk1, "" when it carries no signature (blkid's exit 2)."""
        dev = shlex.quote(self.nvme_path(name))
        return self.root_run(name, f"blkid -p -s UUID -o value {dev} || [ $? -eq 2 ]").strip()

    def wipe_all(self) -> None:
        """Every guest's disk1 blank again (``wipefs -a`` on the guest, side by side)."""

        def wipe(name: str) -> None:
            dev = shlex.quote(self.nvme_path(name))
            self.root_run(name, f'wipefs -a -q {dev} && sync && test -z "$(blkid -p {dev})"')

        with ThreadPoolExecutor(max_workers=len(self.labs)) as pool:
            list(pool.map(wipe, self.names))


def _boot(lab: Lab) -> control.LabState:
    control.down(lab.paths, log=_quiet)
    st = control.up(
        lab.paths,
        disks=[control.DiskSpec(1, "4G", SERIAL, None)],
        nic_slot=5,
        ssh_port=lab.ssh_port,
        console_port=lab.console_port,
        fresh=True,
        timeout=BOOT_TIMEOUT,
        cpus=CPUS,
        log=_quiet,
    )
    lab.layout = {"disk1": True, "nic_slot": 5}
    lab.flavour = st.flavour
    lab.secrets = control.lab_secrets(flavour=st.flavour)
    return st


@contextmanager
def fleet_lab(root: Path, n: int) -> Iterator[FleetLab]:
    """``n`` booted lab guests under ``root`` (state folders ``root/labI``); all stopped on exit."""
    labs = [
        Lab(state=root / f"lab{i}", ssh_port=SSH_BASE + i, console_port=CONSOLE_BASE + i)
        for i in range(1, n + 1)
    ]
    fleet = FleetLab(root, labs)
    try:
        fleet.boot_all()
        yield fleet
    finally:
        fleet.down_all()


def json_lines(stdout: str) -> list[dict[str, Any]]:
    """Every stdout line as a JSON object (fleet mode's ``--json`` prints nothing else)."""
    objects = [json.loads(line) for line in stdout.splitlines() if line.strip()]
    assert all(isinstance(o, dict) for o in objects), stdout
    return objects


def split_results(stdout: str) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    """The per-guest objects by guest name, and the final summary object (the last line)."""
    objects = json_lines(stdout)
    assert objects and objects[-1].get("summary") is True, stdout
    per_guest = objects[:-1]
    by_guest = {o["guest"]: o for o in per_guest}
    assert len(by_guest) == len(per_guest), f"one line per guest: {stdout}"
    return by_guest, objects[-1]
