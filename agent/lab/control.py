"""Start, stop and inspect the lab guest.

Boot waits on real signals only: ``login:`` in the console log (QEMU's chardev logfile records
everything the guest prints, whether or not a client is attached) and an ``SSH-2.0`` banner on the
forwarded port. A boot that does not come up in time fails with the last console lines; one whose
guest kernel failed is booted once more (:mod:`agent.lab.panic`).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from agent.core.values import parse_size
from agent.errors import AgentError, UsageError
from agent.hints import opt
from agent.lab import nocloud, panic
from agent.lab.build import image_paths
from agent.lab.defaults import DEFAULT_CONSOLE_PORT, DEFAULT_DISK1_SERIAL, DEFAULT_FLAVOUR, DEFAULT_SSH_PORT
from agent.lab.paths import ImagePaths, StatePaths
from agent.lab.qemu import LAB_MAC, LabMachine, NvmeDisk, expected_nic_names, qemu_argv
from agent.lab.recipe import Recipe, recipe_for

INSTALL_NIC_SLOT = 5
"""The NIC's slot when the guest was installed (no disk passed through yet): the names its netplan has."""

Log = Callable[[str], None]

# getty's prompt ends its line, or a kernel message is printed right after it on the same line
# ("xdev login: [   14.2] random: crng init done") when the guest is slow to settle.
LOGIN_PROMPT = re.compile(rb"login: ?(?:$|\[\s*\d+\.\d+\] )", re.MULTILINE)


@dataclass
class LabState:
    """What ``lab.up`` recorded about the running guest (``state.json``)."""

    pid: int
    ssh_port: int
    console_port: int
    nic_slot: int
    nic_name: str
    disks: list[dict[str, object]] = field(default_factory=list)
    image_key: str = ""
    started_at: float = 0.0
    flavour: str = DEFAULT_FLAVOUR
    nic_names: list[str] = field(default_factory=list)
    instance_id: str = ""

    @classmethod
    def load(cls, sp: StatePaths) -> LabState | None:
        try:
            return cls(**json.loads(sp.state_json.read_text()))
        except (OSError, ValueError, TypeError):
            return None


@dataclass(frozen=True)
class DiskSpec:
    """An NVMe disk to attach: ``--disk1`` (and ``--disk2`` for tests)."""

    n: int
    size: str = "4G"
    serial: str = DEFAULT_DISK1_SERIAL
    slot: int | None = None
    image: str | None = None  # an existing image file to attach as it is (never created, cut or removed)


def pid_alive(pid: int) -> bool:
    """True when ``pid`` runs and is a QEMU process (a reused pid is not ours)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return b"qemu-system" in cmdline


def running_state(sp: StatePaths) -> LabState | None:
    st = LabState.load(sp)
    if st and pid_alive(st.pid):
        return st
    return None


def _tail(path: Path, n: int = 20) -> str:
    try:
        data = path.read_bytes()[-8000:]
    except OSError:
        return "(no console output)"
    text = data.decode("utf-8", "replace").replace("\r", "")
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", text)
    return "\n".join(text.splitlines()[-n:])


def ssh_banner(port: int, host: str = "127.0.0.1", timeout: float = 2.0) -> str | None:
    """The SSH banner on ``host:port``, or None (QEMU's forwarder accepts before sshd is up)."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as s:
            s.settimeout(timeout)
            data = s.recv(256)
    except OSError:
        return None
    line = data.split(b"\n", 1)[0].decode("ascii", "replace").strip()
    return line if line.startswith("SSH-") else None


def wait_for(
    what: str,
    check: Callable[[], bool],
    *,
    deadline: float,
    console_log: Path,
    pid: int,
    interval: float = 0.2,
) -> None:
    """Poll ``check`` until true; fail with the last console lines when the deadline passes."""
    while not check():
        if not pid_alive(pid):
            raise AgentError(
                f"the lab guest exited while waiting for {what}.\nlast console lines:\n{_tail(console_log)}"
            )
        if time.monotonic() > deadline:
            raise AgentError(
                f"timed out waiting for {what}.\nlast console lines:\n{_tail(console_log)}",
                hint="the guest is left running: look with `invoke lab.console`, stop it with "
                "`invoke lab.down`",
            )
        time.sleep(interval)


def wait_for_boot(
    what: str, check: Callable[[], bool], *, deadline: float, console_log: Path, pid: int
) -> None:
    """:func:`wait_for` during a boot, where a kernel's report makes the failure the kernel's."""
    try:
        wait_for(what, check, deadline=deadline, console_log=console_log, pid=pid)
    except AgentError as e:
        raise panic.the_kernels_failure_or(e, console_log) from e


def _free_port(preferred: int) -> int:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as QEMU does: TIME_WAIT is fine
        try:
            s.bind(("127.0.0.1", preferred))
            return preferred
        except OSError:
            raise AgentError(
                f"port 127.0.0.1:{preferred} is in use",
                hint="another lab may be running: `invoke lab.status`, or pick other ports",
            ) from None


def prepare_ssh_dir(sp: StatePaths, img: ImagePaths, ssh_port: int) -> None:
    """Copy the lab key and write the known_hosts line for the guest's fixed host key."""
    sp.ssh_dir.mkdir(parents=True, exist_ok=True)
    sp.ssh_dir.chmod(0o700)
    for src, dst in (
        (img.ssh_key, sp.ssh_key),
        (img.ssh_key.with_suffix(".pub"), sp.ssh_key.with_suffix(".pub")),
    ):
        shutil.copyfile(src, dst)
    sp.ssh_key.chmod(0o600)
    keytype, keydata = img.host_key_pub.read_text().split()[:2]
    sp.known_hosts.write_text(f"[127.0.0.1]:{ssh_port} {keytype} {keydata}\n")
    secrets = json.loads(img.secrets.read_text())
    sp.secrets_env.write_text(
        f"export XDEV_SUDO_PASSWORD='{secrets['admin']}'\nexport XDEV_CONSOLE_PASSWORD='{secrets['root']}'\n"
    )
    sp.secrets_env.chmod(0o600)


def lab_secrets(img: ImagePaths | None = None, *, flavour: str | None = None) -> dict[str, str]:
    """The generated passwords of a flavour's image: ``admin`` (sudo) and ``root`` (console)."""
    img = img or image_paths(recipe_for(flavour))
    try:
        data: dict[str, str] = json.loads(img.secrets.read_text())
    except OSError:
        raise AgentError("the lab image is not built", hint="invoke lab.build") from None
    return data


def check_slots(nic_slot: int | None, disks: Sequence[DiskSpec]) -> None:
    """The PCI slots asked for are usable and distinct (slot 4 is the root disk's); UsageError (exit 2)
    naming the clash otherwise. Pure."""
    asked = [("--nic-slot", nic_slot)] + [(f"--disk{d.n}-slot", d.slot) for d in disks]
    seen: dict[int, str] = {4: "the root disk"}
    for what, slot in asked:
        if slot is None:
            continue
        if not 0 <= slot <= 31:
            raise UsageError(f"{what} {slot}: a PCI slot is 0 to 31")
        if slot in seen:
            raise UsageError(
                f"{what} {slot}: slot {slot} is taken by {seen[slot]}",
                hint="give each device a slot of its own (the root disk is at 4)",
            )
        seen[slot] = what


def boot_once(
    sp: StatePaths,
    *,
    disks: list[DiskSpec],
    nic_slot: int | None = None,
    ssh_port: int = DEFAULT_SSH_PORT,
    console_port: int = DEFAULT_CONSOLE_PORT,
    fresh: bool = False,
    flavour: str | None = None,
    nics: int = 1,
    new_instance: bool = False,
    timeout: float = 240.0,
    mac: str = LAB_MAC,
    cpus: int = 2,
    log: Log = print,
) -> LabState:
    """Boot the lab guest; return when it is up (login prompt; SSH too when the NIC keeps slot 5).

    ``flavour`` picks the image (:data:`agent.lab.recipe.FLAVOURS`); ``nics`` NICs are functions of one
    slot (the cloud-init flavour only: its seed names them as installed); ``new_instance`` gives
    cloud-init a new instance-id, so it writes its netplan file again at this boot. ``mac`` is the (first)
    NIC's MAC; a disk with ``image`` attaches that file as it is (the stand-in FreeBSD host's disks).
    ``cpus``: the guest's vCPUs (the fleet lab gives each of its guests one)."""
    check_slots(nic_slot, disks)
    recipe = recipe_for(flavour)
    img = image_paths(recipe)
    if nics > 1 and not recipe.cloud_init:
        raise UsageError(
            f"{nics} NICs need a flavour whose netplan names them: "
            f"{recipe.flavour} has one netplan entry, enp0s5",
            hint=f"use {opt('flavour')} trixie (cloud-init writes the netplan file for the NICs it is given)",
        )
    if new_instance and not recipe.cloud_init:
        raise UsageError(
            f"flavour {recipe.flavour} has no cloud-init: there is no instance to renew",
            hint=f"use {opt('flavour')} trixie",
        )
    if not img.done_marker.exists():
        raise AgentError(
            f"the lab image of flavour {recipe.flavour} is not built",
            hint=f"lab.build {opt('flavour')} {recipe.flavour} (needs root)",
        )
    if shutil.which("qemu-system-x86_64") is None:
        raise AgentError("qemu-system-x86_64 not found", hint="apt-get install qemu-system-x86")
    if st := running_state(sp):
        raise AgentError(f"the lab guest is already running (pid {st.pid})", hint="invoke lab.down first")
    sp.root.mkdir(parents=True, exist_ok=True)
    _free_port(ssh_port)
    _free_port(console_port)

    base_image_changed = (
        (sp.root / "image-key").read_text().strip() != img.root.name
        if (sp.root / "image-key").exists()
        else True
    )
    new_overlay = fresh or base_image_changed or not sp.overlay.exists()
    if new_overlay:
        sp.overlay.unlink(missing_ok=True)
        subprocess.run(
            ["qemu-img", "create", "-q", "-f", "qcow2", "-F", "raw", "-b", str(img.rootfs), str(sp.overlay)],
            check=True,
        )
        (sp.root / "image-key").write_text(img.root.name + "\n")
    instance_id = _seed(sp, recipe, nics, renew=new_overlay or new_instance)

    nvme: list[NvmeDisk] = []
    taken = {4} | ({nic_slot} if nic_slot is not None else set()) | {d.slot for d in disks if d.slot}
    next_slot = 5
    ordered = sorted(disks, key=lambda d: d.n)
    for d in ordered:
        if d.slot is not None:
            slot = d.slot
        else:
            while next_slot in taken:
                next_slot += 1
            slot = next_slot
            taken.add(slot)
        next_slot = max(next_slot, slot + 1)
        path = Path(d.image) if d.image else sp.disk(d.n)
        if fresh and not d.image:
            path.unlink(missing_ok=True)
        if not path.exists() and not d.image:
            with open(path, "wb") as f:
                f.truncate(parse_size(d.size))
        nvme.append(NvmeDisk(path, d.serial, slot))
    if nic_slot is None:
        while next_slot in taken:
            next_slot += 1
        nic_slot = next_slot
    prepare_ssh_dir(sp, img, ssh_port)
    sp.console_log.unlink(missing_ok=True)
    sp.pidfile.unlink(missing_ok=True)
    machine = LabMachine(
        kernel=img.kernel,
        initrd=img.initrd,
        root_overlay=sp.overlay,
        ssh_port=ssh_port,
        console_port=console_port,
        console_log=sp.console_log,
        pidfile=sp.pidfile,
        monitor=sp.monitor,
        nic_slot=nic_slot,
        mac=mac,
        nics=nics,
        disks=tuple(nvme),
        seed_iso=sp.seed_iso if recipe.cloud_init else None,
        cpus=cpus,
    )
    t0 = time.monotonic()
    proc = subprocess.run(qemu_argv(machine), capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise AgentError(f"qemu failed to start: {proc.stderr.strip()}")
    pid = int(sp.pidfile.read_text().strip())
    state = LabState(
        pid=pid,
        ssh_port=ssh_port,
        console_port=console_port,
        nic_slot=nic_slot,
        nic_name=expected_nic_names(nic_slot, nics)[0],
        nic_names=expected_nic_names(nic_slot, nics),
        flavour=recipe.flavour,
        instance_id=instance_id,
        disks=[
            {"n": d.n, "serial": d.serial, "size": d.size, "slot": n.slot, "image": str(n.image)}
            for d, n in zip(ordered, nvme, strict=True)
        ],
        image_key=img.root.name,
        started_at=time.time(),
    )
    sp.state_json.write_text(json.dumps(asdict(state), indent=2))
    log(
        f"lab guest ({recipe.flavour}) starting (pid {pid}, "
        f"NIC at slot {nic_slot} -> {', '.join(state.nic_names)}"
        + "".join(f", NVMe disk{d['n']} serial {d['serial']} at slot {d['slot']}" for d in state.disks)
        + ")"
    )
    deadline = time.monotonic() + timeout

    def login_seen() -> bool:
        try:
            console = sp.console_log.read_bytes().replace(b"\r", b"")
        except OSError:
            return False
        if panic.boot_fatal(console):
            raise panic.GuestKernelFailed(
                f"kernel failure at boot: {panic.kernel_report(console)}\n{_tail(sp.console_log, 4)}"
            )
        return LOGIN_PROMPT.search(console) is not None

    wait_for_boot(
        "the login prompt on the serial console",
        login_seen,
        deadline=deadline,
        console_log=sp.console_log,
        pid=pid,
    )
    log(f"  console login prompt after {time.monotonic() - t0:.1f}s")
    if nic_slot == INSTALL_NIC_SLOT:
        wait_for_boot(
            "the SSH banner",
            lambda: ssh_banner(ssh_port) is not None,
            deadline=deadline,
            console_log=sp.console_log,
            pid=pid,
        )
        log(f"  SSH up after {time.monotonic() - t0:.1f}s on 127.0.0.1:{ssh_port}")
    else:
        installed = ", ".join(expected_nic_names(INSTALL_NIC_SLOT, nics))
        log(
            f"  NIC moved to slot {nic_slot} ({', '.join(state.nic_names)}): "
            f"netplan still names {installed}, "
            "so SSH is expected to be unreachable (fix it with `gda fix-netplan`)"
        )
    return state


up = panic.booted_again_on_kernel_failure(boot_once, down=lambda sp: down(sp, log=lambda _m: None))
"""Boot the lab guest (:func:`boot_once`), booted once more after its kernel failed at boot."""


def _seed(sp: StatePaths, recipe: Recipe, nics: int, *, renew: bool) -> str:
    """Write the cloud-init seed ISO of this boot (cloud-init flavour); returns the instance-id ("" without).

    The seed's NICs are named as installed (slot 5). The instance-id is kept across reboots of one overlay
    and renewed with a new overlay or on request."""
    if not recipe.cloud_init:
        return ""
    old = sp.instance_id.read_text().strip() if sp.instance_id.exists() else ""
    instance_id = nocloud.new_instance_id(recipe.hostname) if renew or not old else old
    sp.instance_id.write_text(instance_id + "\n")
    nocloud.write_seed_iso(
        sp.seed_iso,
        nocloud.seed_files(instance_id, recipe.hostname, expected_nic_names(INSTALL_NIC_SLOT, nics)),
    )
    return instance_id


def down(sp: StatePaths, *, timeout: float = 30.0, log: Log = print) -> bool:
    """Stop the guest by the pid QEMU wrote (never by name). Returns False when it was not running."""
    st = LabState.load(sp)
    pid = st.pid if st else None
    if pid is None and sp.pidfile.exists():
        pid = int(sp.pidfile.read_text().strip() or 0) or None
    if pid is None or not pid_alive(pid):
        log("the lab guest is not running")
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if pid_alive(pid):
        os.kill(pid, signal.SIGKILL)
    sp.pidfile.unlink(missing_ok=True)
    log(f"lab guest stopped (pid {pid})")
    return True
