"""The stand-in's ``vm`` driving the lab's QEMU guest (a scenario with a ``lab`` key: scenario.py).

- ``vm start``: :func:`boot_plan` reads the guest's conf (the file ``vm list`` and check-vm-config read)
  with the project's own parser and slot plan (agent.core.vmbhyve: ``parse_vm_config`` + ``plan_slots``):
  disk0 must be the lab's root disk (virtio-blk at slot 4); every further disk must be an NVMe ``custom``
  disk whose ``/dev/...`` name the scenario's ``images`` maps to an image file: it becomes a lab NVMe disk
  at its planned slot, with the serial the guest will see (``ser=`` of ``diskN_opts``, else bhyve's
  ``NVME-<slot>-<func>``: the rule of agent.ops.attach_report.guest_serial), cut to the 20 bytes of the
  NVMe serial field; network0 is the lab's NIC at its planned slot with ``network0_mac`` (none in the conf:
  one is made and written into the conf, as vm-bhyve's ``vm::generate_static_mac`` does with
  ``config::set``). The boot runs in the background (``python -m <MODULE> WORKDIR boot``:
  agent.lab.control.up, which waits for the login prompt), so ``vm start`` returns at once as vm-bhyve
  does; ``vm list`` shows ``Running (<pid>)``: the booter's pid until QEMU wrote its own, then QEMU's.
- ``vm stop``: as bhyve's ACPI shutdown, in the background (``python -m <MODULE> WORKDIR stop``): the QEMU
  monitor's ``system_powerdown``, then at most :data:`POWERDOWN_WAIT` seconds for QEMU to exit, else
  ``quit`` (a power cut). ``vm-lab.json``'s ``last_stop`` says which (``powerdown`` or ``quit``) and after
  how long. ``vm list`` shows Running until QEMU is gone.
- A restart (vm-bhyve's restart flag, :mod:`vm_bhyve`): when QEMU is gone after the shutdown, the stopper
  finds the flag, removes it and boots QEMU again with the plan of the first start (vm-run's ``_devices``
  are built once): a conf edited since is not read. ``vm list`` says Running throughout.
- ``vm console``: ``socat PTY,link=<workdir>/tty<name>,raw,echo=0,user=uucp,perm=0600
  TCP:127.0.0.1:<port>`` bridges a pty to the lab's serial port, then the real ``cu -l /dev/pts/<N>`` (the
  link's target) runs on the caller's terminal (vm-bhyve runs ``cu -l /dev/nmdmNB``). Debian's cu (Taylor
  UUCP) switches to the user ``uucp`` before it opens the line, so the pty belongs to uucp. socat is ended
  (by its pid) when cu ends, also on SIGHUP/SIGTERM.

Everything is recorded in the stand-in's work folder (next to the scenario copy): ``vm-lab.json`` (the
plan, the booter's and stopper's pids, the last stop) and ``vm-lab.log`` (the background steps' output).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agent.lab.paths import StatePaths

# agent.lab and agent.core.vmbhyve are imported where they are used: every `vm` call of the stand-in (and
# every other stub) loads this module, and most of them never touch the lab.
Answer = tuple[str, str, int]
POWERDOWN_WAIT = 20.0  # seconds QEMU gets to exit after system_powerdown before `quit`
QUIT_WAIT = 10.0
BOOT_WAIT = 300.0  # seconds a stop waits for a boot under way to have a QEMU pid
NVME_SERIAL_MAX = 20
ROOT_SLOT = 4  # the lab's root disk: virtio-blk at slot 4 (agent/lab/qemu.py)
MODULE = "agent.lab.standin.stubs.vm_lab"  # the background boot and stop: ``python -m MODULE WORKDIR boot``


def linked(st: dict[str, Any], name: str) -> bool:
    """True when ``name`` is the scenario's lab guest (``lab.guest``, default xdev)."""
    lab = st.get("lab")
    return isinstance(lab, dict) and str(lab.get("guest", "xdev")) == name


def state_paths(st: dict[str, Any]) -> StatePaths:
    from agent.lab.paths import StatePaths

    return StatePaths(Path(st["lab"]["state"]))


# ------------------------------------------------------------------------------------------ the plan
def generated_mac(name: str, num: int, now: int) -> str:
    """vm::generate_static_mac: md5 of ``<name>:<num>:<time>:<int>``, its hex digits 1, 2-3, 4-5 after
    bhyve's OUI 58:9c:fc and a 0, skipping 0:00:00."""
    for i in range(100):
        h = hashlib.md5(f"{name}:{num}:{now}:{i}".encode()).hexdigest()
        part = f"{h[0]}:{h[1:3]}:{h[3:5]}"
        if part != "0:00:00":
            return f"58:9c:fc:0{part}"
    raise AssertionError("unreachable")


def boot_plan(
    conf_text: str, name: str, guest_dir: str, zvol_dataset: str, images: dict[str, str]
) -> dict[str, Any] | str:
    """What the lab boots for this conf (the keyword arguments of agent.lab.control.up), or why the lab
    cannot boot it. Pure."""
    from agent.core.vmbhyve.vmconf import (
        parse_vm_config,
        ser_option,  # the last ser= of diskN_opts, as check-vm-config reads it
    )
    from agent.core.vmbhyve.vmslots import HostContext, plan_slots

    conf = parse_vm_config(conf_text)
    plan = plan_slots(conf, HostContext(vm_dir=guest_dir, vm_name=name, zvol_dataset=zvol_dataset))
    if not plan.starts:
        return f"vm-bhyve/bhyve would not start it: {plan.refusal or plan.bhyve_error}"
    root = plan.disk(0)
    if root is None or (root.type, root.slot, root.func) != ("virtio-blk", ROOT_SLOT, 0):
        return f"disk0 must be the lab's root disk, virtio-blk at slot {ROOT_SLOT}: the plan has {root}"
    disks: list[dict[str, Any]] = []
    for p in plan.disks[1:]:
        image = images.get(p.path)
        if p.dev != "custom" or p.type != "nvme" or image is None:
            return (f"disk{p.index} ({p.type} {p.dev} {p.path}): the lab attaches only NVMe custom disks "
                    f"whose /dev name the scenario's images maps to an image file")  # fmt: skip
        if p.func != 0:
            return f"disk{p.index} is function {p.func} of slot {p.slot}: the lab puts one NVMe disk per slot"
        d = conf.disk(p.index)
        serial = (ser_option(d.opts if d else None) or f"NVME-{p.slot}-{p.func}")[:NVME_SERIAL_MAX]
        disks.append({"n": p.index, "serial": serial, "slot": p.slot, "image": image})
    if len(plan.nics) != 1 or plan.nics[0].func != 0:
        return f"the lab has one NIC (function 0 of its slot): the plan has {len(plan.nics)} NICs"
    nic = plan.nics[0]
    return {"disks": disks, "nic_slot": nic.slot, "mac": nic.mac, "devices": plan.devices_line()}


# ------------------------------------------------------------------------------------------ records
class Record:
    """``vm-lab.json`` in the stand-in's work folder."""

    def __init__(self, workdir: Path) -> None:
        self.path = workdir / "vm-lab.json"
        self.log = workdir / "vm-lab.log"

    def read(self) -> dict[str, Any]:
        try:
            return dict(json.loads(self.path.read_text()))
        except (OSError, ValueError):
            return {}

    def update(self, **changes: Any) -> None:
        """Written whole, by a rename: the booter it spawns reads the record while ``boot`` writes its
        pid (a write in place was read empty once, and that boot never started)."""
        raw = self.read()
        raw.update(changes)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}")
        tmp.write_text(json.dumps(raw, indent=2))
        os.replace(tmp, self.path)

    def say(self, text: str) -> None:
        with self.log.open("a") as f:
            f.write(f"{time.strftime('%H:%M:%S')} {text}\n")


def _alive(pid: object) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    try:  # a zombie (an exited child not yet reaped) is not running
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def qemu_pid(st: dict[str, Any]) -> int | None:
    from agent.lab import control

    lab = control.running_state(state_paths(st))
    return lab.pid if lab else None


def booting(workdir: Path) -> bool:
    return _alive(Record(workdir).read().get("booter"))


def running_pid(st: dict[str, Any], workdir: Path) -> int | None:
    """QEMU's pid while it runs, else the booter's while a boot is under way, else the stopper's while a
    shutdown (and the restart after it) is under way (vm-bhyve's ``vm _run`` holds its run.lock through
    both: ``vm list`` says Running), else None."""
    pid = qemu_pid(st)
    if pid is not None:
        return pid
    raw = Record(workdir).read()
    return next((p for p in (raw.get("booter"), raw.get("stopper")) if _alive(p)), None)


def _spawn(workdir: Path, *args: str) -> int:
    rec = Record(workdir)
    with rec.log.open("a") as log:
        # the agent package on the path, as the stub wrappers put it (agent/lab/standin/host.py)
        env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[4])}
        proc = subprocess.Popen([sys.executable, "-m", MODULE, str(workdir), *args], stdin=subprocess.DEVNULL,
                                stdout=log, stderr=log, env=env, start_new_session=True,
                                close_fds=True)  # fmt: skip
    return proc.pid


def _port_taken(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


# ------------------------------------------------------------------------------------------ commands
def start(st: dict[str, Any], workdir: Path, name: str, conf_path: Path, guest_dir: Path) -> str | None:
    """``vm start``: plan the boot and leave it to the booter; None, or why the lab cannot run it."""
    vm_dir = str(st.get("rc_conf", {}).get("vm_dir", ""))
    dataset = vm_dir[4:] if vm_dir.startswith("zfs:") else ""
    text = conf_path.read_text(errors="replace")
    plan = boot_plan(text, name, str(guest_dir), dataset, st["images"])
    from agent.core.vmbhyve.vmslots import GENERATED_MAC

    if isinstance(plan, dict) and plan["mac"] == GENERATED_MAC:
        mac = generated_mac(name, 0, int(time.time()))
        with conf_path.open("a") as f:  # config::set: sysrc -f appends the new key
            f.write(("" if text.endswith("\n") or not text else "\n") + f'network0_mac="{mac}"\n')
        plan = boot_plan(conf_path.read_text(errors="replace"), name, str(guest_dir), dataset, st["images"])
    if isinstance(plan, str):
        return plan
    for d in plan["disks"]:
        if not Path(d["image"]).is_file():
            return f"disk{d['n']}'s image {d['image']} (the scenario's images) is not a file"
    lab = st["lab"]
    # Right after a stop the old QEMU may still be letting go of its sockets: wait for them (bounded).
    deadline = time.monotonic() + 15
    for key in ("ssh_port", "console_port"):
        while _port_taken(int(lab[key])):
            if time.monotonic() > deadline:
                return f"the lab's {key} 127.0.0.1:{lab[key]} is in use (another lab guest?)"
            time.sleep(0.1)
    Record(workdir).update(plan=plan, lab=lab, name=name, console_file=str(guest_dir / "console"))
    boot(workdir)
    (guest_dir / "console").write_text(f"com1={workdir / f'tty{name}'}\n")  # vm::setup_console's file
    return None


def boot(workdir: Path) -> None:
    rec = Record(workdir)
    rec.say(f"booting the lab guest: {rec.read().get('plan')}")
    rec.update(booter=_spawn(workdir, "boot"))


def restart_same_devices(workdir: Path) -> None:
    """vm::run's loop after a restart: bhyve again with the devices of the first start."""
    Record(workdir).say("restart flag: booting again with the devices of the first start")
    boot(workdir)


def acpi_shutdown(st: dict[str, Any], workdir: Path) -> None:
    rec = Record(workdir)
    if _alive(rec.read().get("stopper")):
        return  # a shutdown is under way (vm-bhyve sends its signal again; nothing more happens)
    rec.update(stopper=_spawn(workdir, "stop"))


def forget_console(workdir: Path) -> None:
    """vm::unlock: the guest's console file goes when bhyve stopped."""
    f = Record(workdir).read().get("console_file")
    if f:
        Path(f).unlink(missing_ok=True)


@contextlib.contextmanager
def bridge(tty: Path, port: int) -> Iterator[subprocess.Popen[bytes]]:
    """socat between a pty (``tty``, owned by uucp for Debian's cu) and the lab's serial port; ended by
    its pid when the block ends, or on SIGHUP/SIGTERM (the SSH session gone)."""
    tty.unlink(missing_ok=True)
    argv = ["socat", f"PTY,link={tty},raw,echo=0,user=uucp,perm=0600", f"TCP:127.0.0.1:{port}"]
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)

    def end(*_sig: object) -> None:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        tty.unlink(missing_ok=True)

    def on_signal(signum: int, _frame: object) -> None:
        end()
        os._exit(128 + signum)

    old = {s: signal.signal(s, on_signal) for s in (signal.SIGHUP, signal.SIGTERM)}
    try:
        yield proc
    finally:
        end()
        for s, h in old.items():
            signal.signal(s, h)


def console(st: dict[str, Any], workdir: Path, name: str) -> Answer:
    """``vm console``: cu on the caller's terminal, through the socat bridge; cu's own status."""
    port = int(st["lab"]["console_port"])
    tty = workdir / f"tty{name}"
    with bridge(tty, port) as proc:
        deadline = time.monotonic() + 10
        while not tty.exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                return "", f"(stand-in: socat could not bridge a pty to 127.0.0.1:{port})\n", 1
            time.sleep(0.02)
        sys.stdout.flush()
        # cu gets the pty's own /dev/pts/N (as vm-bhyve's /dev/nmdmNB): the link's folder may be closed
        # to the user uucp, whom cu becomes before it opens the line
        rc = subprocess.run(["cu", "-l", os.path.realpath(tty)], check=False).returncode
    return "", "", rc


# ------------------------------------------------------------------------------------------ background
def _monitor(sp: StatePaths, command: str) -> str:
    """One HMP command on the lab's monitor socket; its reply up to the next ``(qemu)`` prompt."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(5)
        s.connect(str(sp.monitor))
        data = b""
        with contextlib.suppress(OSError):
            while b"(qemu)" not in data:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
            s.sendall(command.encode() + b"\n")
            data = b""
            while b"(qemu)" not in data:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
        return data.decode(errors="replace")


def _wait_gone(pid: int, seconds: float) -> bool:
    from agent.lab import control

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not control.pid_alive(pid):
            return True
        time.sleep(0.1)
    return not control.pid_alive(pid)


def run_boot(workdir: Path) -> int:
    from agent.lab import control
    from agent.lab.paths import StatePaths

    rec = Record(workdir)
    raw = rec.read()
    plan, lab = raw["plan"], raw["lab"]
    if lab.get("image_cache"):
        os.environ["GDA_IMAGE_CACHE"] = str(lab["image_cache"])  # the test's cache, not the session's
    disks = [control.DiskSpec(d["n"], serial=d["serial"], slot=d["slot"], image=d["image"])
             for d in plan["disks"]]  # fmt: skip
    try:
        state = control.up(StatePaths(Path(lab["state"])), disks=disks, nic_slot=plan["nic_slot"],
                           mac=plan["mac"], ssh_port=int(lab["ssh_port"]),
                           console_port=int(lab["console_port"]), flavour=lab.get("flavour"),
                           log=rec.say)  # fmt: skip
    except Exception as e:  # the background boot failed: in the log, and `vm list` says Stopped
        rec.say(f"the lab guest did not boot: {type(e).__name__}: {e}")
        return 1
    rec.say(f"the lab guest is up (QEMU pid {state.pid})")
    return 0


def run_stop(workdir: Path) -> int:
    rec = Record(workdir)
    st = {"lab": rec.read()["lab"]}
    sp = state_paths(st)
    deadline = time.monotonic() + BOOT_WAIT
    while (pid := qemu_pid(st)) is None and booting(workdir) and time.monotonic() < deadline:
        time.sleep(0.2)
    if pid is None:
        rec.say("stop: no QEMU runs")
        return 0
    t0 = time.monotonic()
    rec.say(f"stop: system_powerdown (QEMU pid {pid})")
    _monitor(sp, "system_powerdown")
    path = "powerdown"
    if not _wait_gone(pid, POWERDOWN_WAIT):
        rec.say(f"stop: QEMU still runs after {POWERDOWN_WAIT:.0f}s: quit (a power cut)")
        path = "quit"
        with contextlib.suppress(OSError):
            _monitor(sp, "quit")
        if not _wait_gone(pid, QUIT_WAIT):
            os.kill(pid, signal.SIGKILL)  # QEMU's own pid, from its pidfile
            path = "kill"
    took = round(time.monotonic() - t0, 1)
    rec.update(last_stop={"path": path, "seconds": took})
    rec.say(f"stop: QEMU gone by {path} after {took}s")
    flag = Path(rec.read()["console_file"]).parent / "restart"
    if flag.exists():  # vm::handle_exit: the restart flag turns bhyve's exit into another run of the loop
        flag.unlink()
        rec.say("restart flag: booting again with the devices of the first start")
        rec.update(booter=os.getpid(), stopper=None)  # a boot now: a later `vm stop` stops it
        return run_boot(workdir)
    return 0


if __name__ == "__main__":
    _workdir, _what = Path(sys.argv[1]), sys.argv[2]
    sys.exit(run_boot(_workdir) if _what == "boot" else run_stop(_workdir))
