"""``check-vm-config``: the FreeBSD host's side, before the guest boots.

The conf comes from a local file (``--conf``), from ``--host H --vm NAME``, or from the inventory: ``--guest
NAME`` reads the guest's conf on its host (its ``on:``; the vm name is the guest's name). Over SSH the
same round trip runs the host checks (agent.ops.host_check) of every host device the conf passes through
and of ``--device``; a host error makes the exit 1. The body imports its op modules inside the task (and
SSH only when it connects), so ``gda --help`` stays fast.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from invoke.context import Context

from agent.cli import render
from agent.cli.emit import Result
from agent.cli.options import Opt, existing_file, local_path, port
from agent.cli.tasking import JSON_OPT, gda_task
from agent.errors import UsageError
from agent.hints import opt

if TYPE_CHECKING:
    from agent.transport.ssh import SshTarget

#: How to reach the host over SSH without an inventory (with --guest they override the inventory's host)
HOST_SSH_OPTS = {
    "port": Opt("SSH port of the host (--host, or the --guest's host)", "p", port, aliases=("host-port",)),
    "user": Opt("SSH user on the host", "u", aliases=("host-user",)),
    "host_identity_file": Opt("SSH private key for the host (default: ~/.ssh/config, ssh-agent)", "I",
                              existing_file),
    "host_known_hosts": Opt("known_hosts file of the host (default: ~/.ssh/config's or ~/.ssh/known_hosts)",
                            "k", local_path),
}  # fmt: skip
CHECK_OPTS = {
    "conf": Opt("path of the vm-bhyve guest config (e.g. /zdata/vms/xdev/xdev.conf)", "c"),
    "host": Opt("read the config over SSH from this FreeBSD host instead (with --vm)", "H"),
    "vm": Opt("guest name on --host (vm-bhyve's vm_dir/<vm>/<vm>.conf)", "v"),
    **HOST_SSH_OPTS,
    "before": Opt("the config as it was before the change (default: this config minus its last disk)", "b"),
    "vm_dir": Opt("the guest's folder on the host (default: the folder of --conf)", "d"),
    "vm_name": Opt("guest name (default: the conf's file name)", "n"),
    "zvol_dataset": Opt("vm-bhyve's ZFS dataset, for zvol disks (default: the parent of --vm-dir)", "z"),
    "accept_new_host_key": Opt("accept and record an unknown host key of --host (like accept-new)", "a"),
    "guest": Opt("read the config of this inventory guest on its host (the guest's on:)", "g"),
    "inventory": Opt("inventory file for --guest (default ./inventory.yaml)", "i"),
    "device": Opt("also check this host device (/dev/...) for pass-through (with --host or --guest)", "D"),
    **JSON_OPT,
}
_STYLE = {"ERROR": "bold red", "WARNING": "yellow", "INFO": "cyan"}


@gda_task(CHECK_OPTS)
def check_vm_config(
    c: Context,
    conf: str | None = None,
    host: str | None = None,
    vm: str | None = None,
    port: int | None = None,
    user: str | None = None,
    host_identity_file: Path | None = None,
    host_known_hosts: Path | None = None,
    before: str | None = None,
    vm_dir: str | None = None,
    vm_name: str | None = None,
    zvol_dataset: str | None = None,
    accept_new_host_key: bool = False,
    guest: str | None = None,
    inventory: str | None = None,
    device: str | None = None,
    json: bool = False,
) -> Result:
    """Check a vm-bhyve guest config before boot: disk settings, PCI slots, the NIC rename it causes;
    on the host (--host or --guest) also every host device the config passes through (and --device).

    Exit 1 when the config has errors or warnings (a predicted NIC rename is one) or a host device must
    not be passed through."""
    from agent.ops import vm_check as ops

    if sum(1 for given in (conf, host, guest) if given) != 1:
        raise UsageError(
            f"give either {opt('conf')} PATH or {opt('host')} HOST {opt('vm')} NAME or {opt('guest')} NAME"
        )
    if conf:
        if device:
            raise UsageError(
                f"{opt('device')} needs the host: a local {opt('conf')} file has no host checks",
                hint=f"give {opt('guest')} NAME (a guest with on: in the inventory) or "
                f"{opt('host')} HOST {opt('vm')} NAME",
            )
        src = ops.from_file(conf, vm_dir=vm_dir, vm_name=vm_name, zvol_dataset=zvol_dataset)
        report = ops.check(src, before)
        return Result(
            {**render.findings_json(report), "host": None},
            lambda: render.findings(report, origin=src.origin),
            exit_code=report.exit_code,
        )
    ssh = HostSsh(port, user, host_identity_file, host_known_hosts)
    return _on_host(c, host, guest, inventory, vm, ssh, before, device, accept_new_host_key)


def _on_host(
    c: Context,
    host: str | None,
    guest: str | None,
    inventory: str | None,
    vm: str | None,
    ssh: HostSsh,
    before: str | None,
    device: str | None,
    accept: bool,
) -> Result:
    from agent.ops import host_check as hc
    from agent.ops import vm_check as ops
    from agent.transport.ssh import SshSession  # only the host needs SSH

    devices = [hc.check_device_option(device)] if device else []
    sudo_env: str | None = None
    if guest:
        target, vm, sudo_env = ssh.guest_host(c, inventory, guest, vm)
    else:
        assert host is not None
        if not vm:
            raise UsageError(f"{opt('host')} needs {opt('vm')} NAME")
        target = ssh.target(host)
    ops.check_vm_name(vm)
    password = _sudo_password(sudo_env)
    session = SshSession(
        target, accept_new_host_key=accept, sudo_password=password, sudo_password_env=sudo_env
    )
    with session as s:
        read = hc.read_host(s, vm, devices, root=sudo_env is not None)
    report = ops.check(read.src, before)
    host_report = hc.check_devices(read, report, devices)
    code = max(report.exit_code, host_report.exit_code)
    data = {
        **render.findings_json(report),
        "ok": report.ok and host_report.ok,
        "exit_code": code,
        "host": host_report.to_json(),
    }

    def human() -> None:
        render.findings(report, origin=read.src.origin)
        _host_lines(host_report.lines())

    return Result(data, human, exit_code=code)


@dataclass(frozen=True)
class HostSsh:
    """The host's SSH options given on the command line (None: ~/.ssh/config, or the inventory's host)."""

    port: int | None = None
    user: str | None = None
    identity_file: Path | None = None
    known_hosts: Path | None = None

    def target(self, host: str) -> SshTarget:
        """``--host HOST`` without an inventory: these options, the rest from ~/.ssh/config."""
        from agent.ops import vm_check as ops

        return ops.host_target(host, self.port, self.user, identity_file=self.identity_file,
                               known_hosts=self.known_hosts)  # fmt: skip

    def guest_host(
        self, c: Context, inventory: str | None, guest: str, vm: str | None
    ) -> tuple[SshTarget, str, str | None]:
        """``--guest NAME``: its host from the inventory, these options overriding the inventory's."""
        return _guest_host(c, inventory, guest, vm, self.port, self.user, identity_file=self.identity_file,
                           known_hosts=self.known_hosts)  # fmt: skip


def _guest_host(
    c: Context,
    inventory: str | None,
    guest: str,
    vm: str | None,
    port: int | None,
    user: str | None,
    *,
    identity_file: Path | None = None,
    known_hosts: Path | None = None,
) -> tuple[SshTarget, str, str | None]:
    """The SSH target of ``guest``'s host (its ``on:``; the command line's options override it), the vm
    name and the host's sudo variable."""
    from agent.cli.config import or_setting
    from agent.inventory import DEFAULT_INVENTORY, load_inventory
    from agent.ops import vm_check as ops

    path = Path(str(or_setting(inventory, c.config, "inventory") or DEFAULT_INVENTORY))
    inv = load_inventory(path)
    name, _ = inv.choose(guest)
    on = inv.host_of(name)
    if on is None:
        raise UsageError(
            f"guest {name!r} names no host in {path} (no on:)",
            hint=f"add the host under hosts: and on: <host> to the guest, or give {opt('host')} HOST "
            f"{opt('vm')} NAME",
        )
    h = on[1]
    target = ops.host_target(
        h.host,
        port or h.port,
        user or h.user,
        identity_file=identity_file or h.identity_file,
        known_hosts=known_hosts or h.known_hosts,
    )
    return target, vm or name, h.sudo_password_env


def _sudo_password(env_name: str | None) -> str | None:
    """The host's sudo password from ``$env_name``, else a prompt on a terminal (None: no variable)."""
    if env_name is None:
        return None
    import getpass
    import sys

    from agent.inventory import resolve_secret

    prompt = getpass.getpass if sys.stdin.isatty() else None
    return resolve_secret(env_name, what=f"sudo password on the host (${env_name})", env=os.environ,
                          prompt=prompt)  # fmt: skip


def _host_lines(lines: list[str]) -> None:
    from rich.markup import escape

    from agent.cli.emit import out

    for line in lines:
        word = line.split(" ", 1)[0]
        style = _STYLE.get(word) or ("bold red" if line.endswith(": REFUSED") else None)
        if style and word in _STYLE:
            out.print(f"[{style}]{word}[/{style}]{escape(line[len(word) :])}")
        elif style:
            out.print(f"[{style}]{escape(line)}[/{style}]")
        else:
            out.print(line, markup=False)


VERIFY_OPTS = {
    "guest": Opt("verify the disk of this inventory guest on its host (the guest's on:)", "g"),
    "inventory": Opt("inventory file for --guest (default ./inventory.yaml)", "i"),
    "host": Opt("the FreeBSD host to read the disk on instead (with --vm)", "H"),
    "vm": Opt("guest name on --host (vm-bhyve's vm_dir/<vm>/<vm>.conf)", "v"),
    **HOST_SSH_OPTS,
    "device": Opt("the host device to verify (default: the config's one custom /dev disk)", "D"),
    "fs": Opt("the filesystem format made (ext4, ext3, ext2, xfs; default: what the disk holds)", "f"),
    "label": Opt("the label format reported (with --fs)", "l"),
    "uuid": Opt("the UUID format reported (with --fs)", "U"),
    "skip_mount": Opt("do not try the read-only test mount", "s"),
    "stop": Opt("stop a running guest first (vm stop, then wait for vm list to say Stopped)", "S"),
    "stop_wait": Opt("with --stop: seconds to wait for the guest to stop (default 120)", "w", int),
    "accept_new_host_key": Opt("accept and record an unknown host key of --host (like accept-new)", "a"),
    **JSON_OPT,
}


@gda_task(VERIFY_OPTS)
def host_verify(
    c: Context,
    guest: str | None = None,
    inventory: str | None = None,
    host: str | None = None,
    vm: str | None = None,
    port: int | None = None,
    user: str | None = None,
    host_identity_file: Path | None = None,
    host_known_hosts: Path | None = None,
    device: str | None = None,
    fs: str | None = None,
    label: str | None = None,
    uuid: str | None = None,
    skip_mount: bool = False,
    stop: bool = False,
    stop_wait: int | None = None,
    accept_new_host_key: bool = False,
    json: bool = False,
) -> Result:
    """Verify on the FreeBSD host the filesystem format made on the guest's disk (the guest stopped):
    type, label and UUID from the superblock, the ext4 features FreeBSD mounts, a read-only test mount,
    the fstab line. Give what format reported with --fs/--label/--uuid (format --json prints them).

    Exit 0 verified, 1 refused (guest running, another filesystem, features FreeBSD cannot mount), 3 the
    read-only test mount failed, 4 the host is unreachable."""
    from agent.ops import host_verify_op as hv
    from agent.ops import host_verify_report as hvr
    from agent.ops import vm_check as ops
    from agent.ops.host_check import check_device_option
    from agent.transport.ssh import SshSession  # only the host needs SSH

    if sum(1 for given in (host, guest) if given) != 1:
        raise UsageError(f"give either {opt('guest')} NAME or {opt('host')} HOST {opt('vm')} NAME")
    expected = hvr.expected_from(fs, label, uuid)
    if stop_wait is not None and (not stop or stop_wait < 1):
        raise UsageError(f"{opt('stop_wait')} takes a number of seconds (1 or more) and needs {opt('stop')}")
    devices = [check_device_option(device)] if device else []
    sudo_env: str | None = None
    vm_command = "vm"
    ssh = HostSsh(port, user, host_identity_file, host_known_hosts)
    if guest:
        target, vm, sudo_env = ssh.guest_host(c, inventory, guest, vm)
        vm_command = _guest_vm_command(c, inventory, guest)
    else:
        assert host is not None
        if not vm:
            raise UsageError(f"{opt('host')} needs {opt('vm')} NAME")
        target = ssh.target(host)
    ops.check_vm_name(vm)
    session = SshSession(
        target,
        accept_new_host_key=accept_new_host_key,
        sudo_password=_sudo_password(sudo_env),
        sudo_password_env=sudo_env,
    )
    with session as s:
        read = hv.read_verify(
            s, vm, devices, mount_test=not skip_mount, root=sudo_env is not None, stop=stop,
            vm_command=vm_command, stop_wait=stop_wait or hv.STOP_WAIT,
        )  # fmt: skip
    dev, origin = hv.choose_device(read, device)
    report = hvr.decide(read, dev, origin, expected, vm_command)
    return Result(report.to_json(), lambda: _host_lines(hvr.lines(report)), exit_code=report.exit_code)


def _guest_vm_command(c: Context, inventory: str | None, guest: str) -> str:
    """How vm-bhyve's ``vm`` runs on ``guest``'s host (the host's vm_command), for hints."""
    from agent.cli.config import or_setting
    from agent.inventory import DEFAULT_INVENTORY, load_inventory

    inv = load_inventory(Path(str(or_setting(inventory, c.config, "inventory") or DEFAULT_INVENTORY)))
    on = inv.host_of(inv.choose(guest)[0])
    return on[1].vm_command if on is not None else "vm"
