"""The stand-in FreeBSD host's ``vm`` (vm-bhyve v1.6.2): ``list``, ``start``, ``stop``, ``restart`` and
``console``, answering from the scenario (agent/lab/standin/scenario.py) and, with a ``lab`` key in it,
driving the lab's QEMU guest (stubs/vm_lab.py).

The words and exit codes are vm-bhyve's own (lib/vm-core at tag v1.6.2, ``git show v1.6.2:lib/vm-core``):

- ``core::__start`` prints ``Starting <name>``, then ``  * found guest in $VM_DS_PATH/<name>``, then
  ``  * booting...`` and leaves ``vm _run`` in the background (it returns at once). A guest whose
  ``/dev/vmm/<name>`` exists gets ``  ! guest appears to be running already`` (``vm::confirm_stopped``'s
  own warning goes to /dev/null), an unknown name ``  ! <name> does not seem to be a valid virtual
  machine``, a conf without cpu or memory ``  ! incomplete virtual machine configuration``. All of
  these on stdout, and ``vm start`` exits **0** even then: ``core::start``'s ``while`` loop ends with
  ``_done="1"``, whose status is the loop's, the function's and the script's. Between several names it
  prints ``Waiting ${vm_delay} second(s)`` (the stand-in does not sleep).
- ``core::stop``: no ``/dev/vmm/<name>``: ``util::warn "<name> doesn't appear to be a running virtual
  machine"`` (stderr, ``/usr/local/sbin/vm: WARNING: ...``), else ``Sending ACPI shutdown to <name>``;
  exit 0 either way.
- ``core::restart``: ``util::err "unable to locate specified guest"`` (exit 1) for an unknown name,
  else ``Setting guest restart flag`` (it touches ``$VM_DS_PATH/<name>/restart``) and ``core::stop``.
  When bhyve then exits after the shutdown (status 1 or 2), ``vm::handle_exit`` finds the flag, removes
  it and ``vm::run`` loops: bhyve starts again **with the devices it built at the first start**
  (``_devices`` is computed once, before the loop): a conf edited since is not read. The flag left by a
  restart of a stopped guest turns its next ``vm stop`` into a restart too, as in vm-bhyve.
- ``core::console``: ``util::err "<name> doesn't appear to be a running virtual machine"`` (exit 1)
  without ``/dev/vmm/<name>``, else ``cu -l <the com1 device>`` (lab mode only: vm_lab.console).

State mode (no ``lab`` in the scenario): a guest runs while its name is in the stand-in's ``running``
file (the session's ``/dev/vmm/<name>`` entries are made from it); ``vm start`` adds it, ``vm stop``
removes it after ``stop_polls`` calls of ``vm list`` (never for a name in ``stop_hangs``); ``vm list``
shows ``Running (<pid>)``, the pid changing at every (re)start of bhyve (``vm-boots.json``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from agent.lab.standin.stubs import vm_lab

Answer = tuple[str, str, int]

VM = "/usr/local/sbin/vm"  # vm-bhyve's $0 in its messages (lib/vm-util util::warn: "${0}: WARNING: $1")
USAGE = (
    "Usage: vm ...\n       vm list\n       vm start <name> ...\n       vm stop <name> ...\n"
    "       vm restart <name>\n       vm console <name> [com1|com2]\n"
)
IN_SESSION = "GDA_STANDIN_SESSION"  # set by the stand-in's session: its /dev is the private overlay


def usage(args: list[str]) -> Answer:
    why = f"(stand-in FreeBSD host: vm {' '.join(args)!r} is not in its repertoire)\n"
    return "", USAGE + why, 1


def warn(text: str) -> str:
    return f"{VM}: WARNING: {text}\n"


def error(text: str) -> Answer:
    return "", f"{VM}: ERROR: {text}\n", 1


def read_conf(path: Path) -> dict[str, str]:
    """The conf's values as vm-bhyve's config::load reads them (first assignment wins; sysrc-style)."""
    out: dict[str, str] = {}
    for line in path.read_text(errors="replace").splitlines():
        key, sep, value = line.partition("=")
        if sep and not key.lstrip().startswith("#"):
            out.setdefault(key.strip(), value.strip().strip("\"'"))
    return out


class VmState:
    """What bhyve runs: the stand-in's ``running`` file (next to the scenario copy) and the scenario's
    ``running``; ``vm-stopping.json``: guests ``vm stop`` was sent to, with the ``vm list`` calls left
    that still show them running (-1: never); ``vm-boots.json``: how often bhyve was started per guest."""

    def __init__(self, scenario: str) -> None:
        self.scenario = Path(scenario)
        self.workdir = self.scenario.parent
        self.running_file = self.workdir / "running"
        self.stopping_file = self.workdir / "vm-stopping.json"
        self.boots_file = self.workdir / "vm-boots.json"

    def _names(self) -> list[str]:
        try:
            return self.running_file.read_text().split()
        except OSError:
            return []

    def running(self, name: str) -> bool:
        return name in self._names()

    def _json(self, path: Path) -> dict[str, int]:
        try:
            return {str(k): int(v) for k, v in json.loads(path.read_text()).items()}
        except (OSError, ValueError, AttributeError):
            return {}

    def stopping(self) -> dict[str, int]:
        return self._json(self.stopping_file)

    def set_stopping(self, value: dict[str, int]) -> None:
        self.stopping_file.write_text(json.dumps(value))

    def boots(self, name: str) -> int:
        return self._json(self.boots_file).get(name, 0)

    def pid(self, name: str, index: int) -> int:
        """The state mode's bhyve pid: one per guest and boot, as a new bhyve process gets a new pid."""
        return 4242 + index + 100 * self.boots(name)

    def _set_scenario_running(self, names: list[str]) -> None:
        raw = json.loads(self.scenario.read_text())
        raw["running"] = names
        self.scenario.write_text(json.dumps(raw, indent=2))

    def started(self, name: str) -> None:
        """bhyve created the vmm device: in /dev/vmm (the session's own), and for later sessions."""
        names = self._names()
        if name not in names:
            names.append(name)
        self.running_file.write_text("".join(f"{n}\n" for n in names))
        self._set_scenario_running(names)
        boots = self._json(self.boots_file)
        boots[name] = boots.get(name, 0) + 1
        self.boots_file.write_text(json.dumps(boots))
        if os.environ.get(IN_SESSION) == "1":
            Path("/dev/vmm").mkdir(exist_ok=True)
            Path("/dev/vmm", name).touch()

    def stopped(self, name: str) -> None:
        """bhyve exited and vm-bhyve destroyed the vmm device: gone from /dev/vmm, and for later sessions."""
        listed = self._names()
        if name in listed and os.environ.get(IN_SESSION) == "1":
            Path("/dev/vmm", name).unlink(missing_ok=True)
        names = [n for n in listed if n != name]
        self.running_file.write_text("".join(f"{n}\n" for n in names))
        self._set_scenario_running(names)


class Guests:
    """The guests of the datastore (``$vm_dir``): a folder with ``<name>.conf`` in it."""

    def __init__(self, folder: Path | None) -> None:
        self.folder = folder

    def names(self) -> list[str]:
        if self.folder is None or not self.folder.is_dir():
            return []
        return sorted(p.name for p in self.folder.iterdir() if (p / f"{p.name}.conf").is_file())

    def path(self, name: str) -> Path | None:
        """``datastore::get_guest``: the guest's folder, or None."""
        if self.folder is None or "/" in name or name in ("", ".", ".."):
            return None
        p = self.folder / name
        return p if (p / f"{name}.conf").is_file() else None

    def conf(self, name: str) -> dict[str, str]:
        p = self.path(name)
        return read_conf(p / f"{name}.conf") if p else {}


def restart_flag(guests: Guests, name: str) -> Path | None:
    p = guests.path(name)
    return p / "restart" if p else None


def bhyve_exited(st: dict[str, Any], guests: Guests, state: VmState, name: str) -> bool:
    """bhyve exited after an ACPI shutdown: vm::handle_exit restarts it when the restart flag is there
    (True: still running), else the guest is stopped."""
    flag = restart_flag(guests, name)
    lab = vm_lab.linked(st, name)
    if flag is not None and flag.exists():
        flag.unlink()
        if lab:
            vm_lab.restart_same_devices(state.workdir)
        state.started(name)
        return True
    state.stopped(name)
    if lab:
        vm_lab.forget_console(state.workdir)
    return False


def sync_lab(st: dict[str, Any], guests: Guests, state: VmState) -> None:
    """The lab guest runs while its QEMU (or the boot that makes it) does: bring the stand-in's state in
    line before a command (QEMU gone: bhyve exited; a QEMU already running: it runs)."""
    name = str(st["lab"].get("guest", "xdev"))
    pid = vm_lab.running_pid(st, state.workdir)
    if pid is not None and not state.running(name):
        state.started(name)
    elif pid is None and state.running(name):
        bhyve_exited(st, guests, state, name)


# ------------------------------------------------------------------------------------------ commands
def vm_list(st: dict[str, Any], guests: Guests, state: VmState) -> Answer:
    """vm-bhyve v1.6.2 lib/vm-core core::list: ``printf "%s^%s^..."`` rows piped to ``column -ts^``
    (each column but the last padded to its widest cell plus two blanks); STATE ``Running (<pid>)`` or
    ``Stopped``; VNC the graphics address while running (else ``-``); AUTO ``No`` (no vm_list)."""
    rows = [["NAME", "DATASTORE", "LOADER", "CPU", "MEMORY", "VNC", "AUTO", "STATE"]]
    stopping = state.stopping()
    for n, name in enumerate(guests.names()):
        conf = guests.conf(name)
        if vm_lab.linked(st, name):
            pid = vm_lab.running_pid(st, state.workdir)
        else:
            if state.running(name) and name in stopping:
                if stopping[name] == 0:
                    del stopping[name]
                    bhyve_exited(st, guests, state, name)
                elif stopping[name] > 0:
                    stopping[name] -= 1
            pid = state.pid(name, n) if state.running(name) else None
        vnc = "-"
        if pid is not None and conf.get("graphics") == "yes":
            vnc = f"{conf.get('graphics_listen', '0.0.0.0')}:{conf.get('graphics_port', '5900')}"
        status = f"Running ({pid})" if pid is not None else "Stopped"
        rows.append([name, "default", conf.get("loader", "none"), conf.get("cpu", ""), conf.get("memory", ""),
                     vnc, "No", status])  # fmt: skip
    state.set_stopping(stopping)
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    text = "".join("".join(c.ljust(widths[i] + 2) for i, c in enumerate(r[:-1])) + r[-1] + "\n" for r in rows)
    return text, "", 0


def vm_start(st: dict[str, Any], guests: Guests, state: VmState, names: list[str]) -> Answer:
    out, err = "", ""
    for k, name in enumerate(names):
        if k:
            out += "Waiting 2 second(s)\n"  # vm_delay's default; the stand-in does not sleep
        out += f"Starting {name}\n"
        folder = guests.path(name)
        if folder is None:
            out += f"  ! {name} does not seem to be a valid virtual machine\n"
            continue
        out += f"  * found guest in {folder}\n"
        if state.running(name):
            out += "  ! guest appears to be running already\n"
            continue
        conf = guests.conf(name)
        if not conf.get("cpu") or not conf.get("memory"):
            out += "  ! incomplete virtual machine configuration\n"
            continue
        if vm_lab.linked(st, name):
            why = vm_lab.start(st, state.workdir, name, folder / f"{name}.conf", folder)
            if why:  # the stand-in cannot run this conf on the lab: say so (vm-bhyve would log it)
                out += "  * booting...\n"
                return out, err + f"(stand-in: {name} not started on the lab: {why})\n", 1
        out += "  * booting...\n"
        state.started(name)
    return out, err, 0


def vm_stop(st: dict[str, Any], guests: Guests, state: VmState, names: list[str]) -> Answer:
    out, err = "", ""
    stopping = state.stopping()
    for name in names:
        if not state.running(name):
            err += warn(f"{name} doesn't appear to be a running virtual machine")
            continue
        out += f"Sending ACPI shutdown to {name}\n"
        if vm_lab.linked(st, name):
            vm_lab.acpi_shutdown(st, state.workdir)
            continue
        stopping[name] = -1 if name in st.get("stop_hangs", []) else int(st.get("stop_polls", 2))
    state.set_stopping(stopping)
    return out, err, 0


def vm(st: dict[str, Any], scenario: str, vm_dir: Path | None, args: list[str]) -> Answer:
    """``vm list|start|stop|restart|console`` (see the module's docstring)."""
    state = VmState(scenario)
    guests = Guests(vm_dir)
    names = args[1:]
    if any(a.startswith("-") for a in names):
        return usage(args)
    if st.get("lab"):
        sync_lab(st, guests, state)
    if args == ["list"]:
        return vm_list(st, guests, state)
    if args[:1] == ["start"] and names:
        return vm_start(st, guests, state, names)
    if args[:1] == ["stop"] and names:
        return vm_stop(st, guests, state, names)
    if args[:1] == ["restart"] and len(names) == 1:
        flag = restart_flag(guests, names[0])
        if flag is None:
            return error("unable to locate specified guest")
        flag.touch()
        out, err, rc = vm_stop(st, guests, state, names)
        return "Setting guest restart flag\n" + out, err, rc
    if args[:1] == ["console"] and len(names) in (1, 2):
        name = names[0]
        if guests.path(name) is None:
            return error(f"{name} doesn't appear to be a valid virtual machine")
        if not state.running(name):
            return error(f"{name} doesn't appear to be a running virtual machine")
        if not vm_lab.linked(st, name) or names[1:] not in ([], ["com1"]):
            return error("unable to locate console device for this virtual machine")
        return vm_lab.console(st, state.workdir, name)
    return usage(args)
