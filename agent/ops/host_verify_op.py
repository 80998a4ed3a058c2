"""``host-verify``: read the guest's disk on the FreeBSD host, to decide whether the host sees the
filesystem ``format`` made (agent.ops.host_verify_report decides on what this module reads).

One SSH round trip (one :meth:`CommandProtocol.run`): ``vm_conf.sh`` prints the guest's conf (its
``VMCONF`` framing, and whether bhyve runs the guest) and then runs ``host_verify.sh`` (its own
``HOSTVERIFY`` header and nonce) for the conf's ``/dev/...`` disks and ``--device``: ``fstyp -l -u``, the
first 4096 bytes through ``od``, and with the test mount asked for an ext2fs device ``mount -t ext2fs -o
ro``, ``umount``, ``rmdir`` of a ``mktemp -d`` folder, each with its status. Nothing is written.

The device: ``--device``, else the conf's one disk with ``diskN_dev="custom"`` and a ``/dev`` name (two
or more: ``--device`` must choose). With ``--stop`` a running guest is stopped first (``<vm_command>
stop <guest>``, then vm-bhyve's state polled through ``vm list`` until "Stopped" and /dev/vmm/<guest>
gone, bounded) and left stopped. An unreachable host is the transport's Unreachable (exit 4).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from agent.core import marker, script_render
from agent.core.host.fstyp_output import Fstyp, parse_fstyp
from agent.core.host.host_verify import parse_od_hex
from agent.errors import UsageError
from agent.hints import opt
from agent.ops.host_check import check_device_option, host_devices
from agent.ops.vm_check import ConfSource, check, check_vm_name, conf_from_result, conf_script
from agent.transport.protocol import CommandProtocol

KIND = "HOSTVERIFY"
SCRIPT_EXITS = {"EXIT_OK": 0, "EXIT_NO_TEMP": 3}
STOP_WAIT = 120  # polls of `vm list`, one a second, after `vm stop`


def verify_script(
    vm: str,
    devices: Sequence[str],
    *,
    mount_test: bool,
    conf_nonce: str,
    nonce: str,
    stop: bool = False,
    vm_command: str = "vm",
    stop_wait: int = STOP_WAIT,
) -> str:
    """The one remote script: ``vm``'s conf, then host_verify.sh for ``devices`` and the conf's disks
    (with ``stop``: ``<vm_command> stop <vm>`` first, waiting at most ``stop_wait`` polls of vm list)."""
    values: dict[str, str | int | bool] = {
        "VM": vm,
        "MOUNT_TEST": mount_test,
        "STOP": stop,
        "VM_COMMAND": vm_command,
        "STOP_WAIT": stop_wait,
    }
    body = script_render.render("host_verify", values, nonce=nonce, exit_codes=SCRIPT_EXITS)
    return conf_script(vm, nonce=conf_nonce, host_facts=body, devices=devices)


@dataclass(frozen=True)
class Step:
    """One command of the test mount and its status."""

    command: str
    rc: int | None
    stderr: str

    def to_json(self) -> dict[str, Any]:
        return {"command": self.command, "rc": self.rc, "stderr": self.stderr}


@dataclass(frozen=True)
class Reading:
    """What the host script read of one device."""

    device: str
    fstyp: Fstyp
    dump: bytes | None
    steps: tuple[Step, ...]
    skipped: str | None  # why no test mount ran (None: it ran)


@dataclass(frozen=True)
class StopRun:
    """What ``--stop`` did: ``vm stop``'s status and output, the last vm list STATE, the polls."""

    command: str
    rc: int | None
    output: str
    state: str
    polls: int


@dataclass(frozen=True)
class VerifyRead:
    src: ConfSource
    label: str
    running: bool | None
    readings: dict[str, Reading]
    error: str | None = None  # the verify output could not be read
    stop: StopRun | None = None


def _dump(section: marker.Section | None) -> bytes | None:
    if section is None or section.rc != 0:
        return None
    try:
        return parse_od_hex(section.stdout)
    except ValueError:
        return None


def parse_readings(
    framed: marker.Framed, skipped: dict[str, str], mount_dirs: dict[str, str]
) -> dict[str, Reading]:
    """Every device's readings in host_verify.sh's output (``skipped``: device -> why no test mount;
    ``mount_dirs``: device -> its mount folder)."""
    out: dict[str, Reading] = {}
    for fs in framed.all("fstyp"):
        dev = fs.arg
        d = mount_dirs.get(dev, "<dir>")
        steps = []
        for name, cmd in (
            ("mount", f"mount -t ext2fs -o ro {dev} {d}"),
            ("umount", f"umount {d}"),
            ("rmdir", f"rmdir {d}"),
        ):
            s = framed.get(name, dev)
            if s is not None:
                steps.append(Step(cmd, s.rc, " ".join(s.stderr.split())))
        why = skipped.get(dev) if not steps else None
        out[dev] = Reading(dev, parse_fstyp(fs, dev), _dump(framed.get("sb", dev)), tuple(steps), why)
    return out


def read_verify(
    conn: CommandProtocol,
    vm: str,
    devices: Sequence[str] = (),
    *,
    mount_test: bool = True,
    root: bool = False,
    stop: bool = False,
    vm_command: str = "vm",
    stop_wait: int = STOP_WAIT,
) -> VerifyRead:
    """The conf and the readings of its disks and ``devices``, in one round trip."""
    check_vm_name(vm)
    for d in devices:
        check_device_option(d)
    cn, vn = marker.new_nonce(), marker.new_nonce()
    script = verify_script(
        vm, devices, mount_test=mount_test, conf_nonce=cn, nonce=vn, stop=stop, vm_command=vm_command,
        stop_wait=stop_wait,
    )  # fmt: skip
    r = conn.run(script, root=root)
    src = conf_from_result(r, vm, nonce=cn, label=conn.label)
    return parse_verify_output(r.stdout, src, conn.label, vn)


def parse_verify_output(stdout: str, src: ConfSource, label: str, nonce: str) -> VerifyRead:
    """host_verify.sh's part of the output (after the conf's framing)."""
    if not marker.has_header(stdout, KIND):
        return VerifyRead(src, label, src.running, {}, "the verify script did not run (no host device)")
    part = stdout[stdout.index(f"@@GDA-{KIND} ") :]
    try:
        framed = marker.parse(part, KIND, what="reading the device on the host")
    except marker.MarkerError as e:
        return VerifyRead(src, label, src.running, {}, e.message)
    if framed.nonce != nonce:
        return VerifyRead(src, label, src.running, {}, "the verify output does not carry this run's marker")
    # observations that occur once per device (``observed`` keeps only the last of a key)
    obs_prefix = f"@@GDA-{nonce} OBS "
    obs = [ln[len(obs_prefix) :].partition("=") for ln in marker.lines_of(part) if ln.startswith(obs_prefix)]
    skipped = dict(v.partition(" ")[::2] for k, _, v in obs if k == "mount_skipped")
    dirs = [v for k, _, v in obs if k == "mountdir"]
    mounted = [s.arg for s in framed.all("mount")]
    readings = parse_readings(framed, skipped, dict(zip(mounted, dirs, strict=False)))
    running = {"yes": True, "no": False}.get(framed.observed.get("running", ""), src.running)
    stop = _stop_run(framed, src.vm_name)
    if not framed.complete:
        return VerifyRead(src, label, running, readings, "the verify output was cut short", stop)
    return VerifyRead(src, label, running, readings, None, stop)


def _stop_run(framed: marker.Framed, vm: str) -> StopRun | None:
    s = framed.get("stop", vm)
    if s is None:
        return None
    polls = framed.observed.get("stop_polls", "")
    text = " ".join((s.stdout + " " + s.stderr).split())
    return StopRun(
        "stop", s.rc, text, framed.observed.get("stop_state", ""), int(polls) if polls.isdigit() else 0
    )


def choose_device(read: VerifyRead, device: str | None) -> tuple[str, str]:
    """The device to verify and where it came from (``option`` or ``disk<N>``); UsageError if none or
    several are possible."""
    if device:
        return device, "option"
    disks = [d for d in host_devices(check(read.src, None)) if d.disk is not None]
    if not disks:
        raise UsageError(
            f"no disk of {read.src.vm_name}'s config ({read.src.origin}) is a host device (custom, /dev/...)",
            hint=f"give the device with {opt('device')} /dev/...",
        )
    if len(disks) > 1:
        names = ", ".join(f"disk{d.disk} {d.path}" for d in disks)
        raise UsageError(
            f"{read.src.vm_name}'s config passes {len(disks)} host devices through: {names}",
            hint=f"choose one with {opt('device')}",
        )
    return disks[0].path, f"disk{disks[0].disk}"
