"""The ordered steps of ``gda attach`` as data (what ``--dry-run`` shows, what the task runs), their human
rendering, and the reading of vm-bhyve's ``vm list`` state the restart waits on. Pure.

The order is the seed's manual trial and error done right once: host checks (stop on any error); the
missing ``networkN_mac`` written first and the guest NIC pinned by MAC (``fix-netplan`` with the
``match_mac`` option) while SSH still works, since the new disk moves the NICs one slot on (enp0s5 →
enp0s6 for the seed); back up the config, add the disk (agent.core.vmbhyve.conf_edit), read it back and
check the slot plan (else restore the backup); stop the guest and start it again, each time waiting on
the state ``vm list`` reports, never a fixed sleep; wait for SSH; then ``format`` pinned by the serial
(``ser=``) and the size the host reported.

Why stop/start and not ``vm restart``: in vm-bhyve v1.6.2, ``core::restart`` (lib/vm-core) only touches
``<vm dir>/restart`` and stops the guest; ``vm::run`` (lib/vm-run) loads the config and builds the device
list once, before its ``while true`` loop, and ``vm::handle_exit`` then runs bhyve again with the same
devices: the new disk would not appear until the guest is really stopped and started.

``vm list`` (``core::list``): columns NAME DATASTORE LOADER CPU MEMORY VNC AUTO STATE through
``column -ts^``; STATE is ``Running (<pid>)``, ``Bootloader (<pid>)``, ``Stopped``, or ``Locked
(<host>)`` while ``run.lock`` is still there (vm-run is still cleaning up, or another host runs it).

Messages name options as ``{opt:name}`` (agent.hints): the front end renders them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from agent.core.vmbhyve.conf_edit import ConfEdit
from agent.core.vmbhyve.vmslots import GENERATED_MAC
from agent.hints import opt

Where = Literal["host", "guest", "local"]


@dataclass(frozen=True)
class AttachStep:
    key: str  # host-check, write-mac, pin-nic, backup, edit-conf, verify-conf, stop, wait-stopped, ...
    where: Where
    title: str
    commands: tuple[str, ...] = ()
    detail: str | None = None
    data: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "where": self.where,
            "title": self.title,
            "commands": list(self.commands),
            "detail": self.detail,
            "data": dict(self.data),
        }


@dataclass(frozen=True)
class AttachPlan:
    guest: str
    vm_name: str
    device: str
    index: int
    serial: str
    size_bytes: int | None
    diff: str
    steps: tuple[AttachStep, ...]

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(s.key for s in self.steps)

    def step(self, key: str) -> AttachStep | None:
        return next((s for s in self.steps if s.key == key), None)

    def to_json(self) -> dict[str, Any]:
        return {
            "guest": self.guest,
            "vm": self.vm_name,
            "device": self.device,
            "disk_index": self.index,
            "serial": self.serial,
            "size_bytes": self.size_bytes,
            "diff": self.diff,
            "steps": [s.to_json() for s in self.steps],
        }


def _q(word: str) -> str:
    """``word`` quoted for sh when it needs it."""
    return word if re.fullmatch(r"[A-Za-z0-9._/:@%+=-]+", word) else "'" + word.replace("'", "'\\''") + "'"


def plan_attach(
    edit: ConfEdit,
    *,
    guest: str,
    conf_path: str,
    size_bytes: int | None,
    vm_command: str = "vm",
    nic_macs: Mapping[int, str] | None = None,
) -> AttachPlan:
    """The steps of attaching ``edit.device`` to the guest ``guest`` (vm-bhyve name ``edit.vm_name``,
    config at ``conf_path`` on the host). ``nic_macs``: the MAC of every attached NIC (from the
    config or the guest), which the pin by MAC uses."""
    vm = edit.vm_name
    folder = conf_path.rsplit("/", 1)[0] if "/" in conf_path else "."
    bak_path = f"{folder}/{edit.backup_name}"
    backup_cmd = f"cp -p {_q(conf_path)} {_q(bak_path)}"
    steps: list[AttachStep] = [
        AttachStep(
            "host-check",
            "host",
            f"check {edit.device} on the host (the checks of check-vm-config); stop on any error",
            (
                "glabel status -s",
                "gpart show -p",
                "gpart list",
                f"diskinfo -v {_q(edit.device)}",
                "zpool status -P",
                "mount -p",
                "swapctl -l",
                f"fstyp -l -u {_q(edit.device)}",
            ),
            "a pool member, a mounted or swap partition, a freebsd-* or efi type, a whole partitioned "
            "disk: refused before anything changes",
            {"device": edit.device},
        )
    ]
    backed_up = False
    if edit.mac_lines:
        steps.append(
            AttachStep(
                "write-mac",
                "host",
                f"back up {edit.conf_name} to {edit.backup_name}, then write it with the missing MAC(s) "
                "after their NIC's lines, so the guest keeps its MAC across the restart",
                (backup_cmd,),
                "vm-bhyve would generate a new one at the next start (vm::generate_static_mac): the pin "
                "by MAC would then miss",
                {"lines": [ln.strip() for ln in edit.mac_lines], "diff": edit.mac_diff},
            )
        )
        backed_up = True
    macs = {n.index: n.mac for n in edit.after.nics if n.mac != GENERATED_MAC}
    macs.update(nic_macs or {})
    renamed = "; ".join(f"network{r.index} {r.before_name} → {r.after_name}" for r in edit.renames)
    if edit.after.nics:
        steps.append(
            AttachStep(
                "pin-nic",
                "guest",
                f"pin the guest's NIC(s) by MAC while SSH still works: fix-netplan {opt('match_mac')}",
                (f"fix-netplan {opt('guest')} {_q(guest)} {opt('match_mac')}",),
                (f"the new disk renames {renamed}" if renamed else "no NIC changes its name; pinned anyway")
                + ": matched by MAC, the name no longer matters",
                {
                    "renames": [
                        {"nic": r.index, "from": r.before_name, "to": r.after_name} for r in edit.renames
                    ],
                    "macs": {str(k): v for k, v in sorted(macs.items())},
                },
            )
        )
    if not backed_up:
        steps.append(
            AttachStep(
                "backup",
                "host",
                f"back up {edit.conf_name} to {edit.backup_name}",
                (backup_cmd,),
                data={"backup": bak_path},
            )
        )
    steps.append(
        AttachStep(
            "edit-conf",
            "host",
            f"add disk{edit.index} ({edit.type}, ser={edit.serial}) after the last disk line of "
            f"{edit.conf_name}",
            (),
            "the other lines stay byte for byte",
            {"lines": [ln.strip() for ln in edit.disk_lines], "diff": edit.disk_diff, "conf": conf_path},
        )
    )
    where = f"{edit.slot[0]}:{edit.slot[1]}"
    steps.append(
        AttachStep(
            "verify-conf",
            "host",
            f"read {edit.conf_name} back: vm-bhyve's slot plan must show disk{edit.index} {edit.type} "
            f"{edit.device} at slot {where}; otherwise restore {edit.backup_name} and stop",
            (f"cat {_q(conf_path)}",),
            data={"slot": where, "restore": f"cp -p {_q(bak_path)} {_q(conf_path)}"},
        )
    )
    steps.append(AttachStep("show-diff", "local", f"the change to {edit.conf_name}", (), edit.diff))
    steps += [
        AttachStep(
            "stop",
            "host",
            f"stop {vm} (ACPI shutdown)",
            (f"{vm_command} stop {_q(vm)}",),
            "not `vm restart`: vm-bhyve 1.6.2 would rerun bhyve with the devices it read at the last "
            "start, without the new disk",
        ),
        AttachStep(
            "wait-stopped",
            "host",
            f"wait until `{vm_command} list` shows {vm} Stopped",
            (f"{vm_command} list",),
            "Locked (<host>) means vm-run is still cleaning up: keep waiting",
            {"until": "Stopped"},
        ),
        AttachStep("start", "host", f"start {vm}", (f"{vm_command} start {_q(vm)}",)),
        AttachStep(
            "wait-running",
            "host",
            f"wait until `{vm_command} list` shows {vm} Running",
            (f"{vm_command} list",),
            data={"until": "Running"},
        ),
        AttachStep(
            "wait-ssh",
            "guest",
            f"wait for SSH to {guest}",
            detail="the NIC was pinned by MAC, so its new name keeps the address",
        ),
    ]
    size = f" and size {size_bytes} bytes" if size_bytes is not None else ""
    steps.append(
        AttachStep(
            "format",
            "guest",
            f"then format the disk pinned by serial {edit.serial}{size} (the size the host reported)",
            (f"format {opt('guest')} {_q(guest)} {opt('serial')} {edit.serial}",),
            "the guest sees it as /dev/disk/by-id/nvme-bhyve-NVMe_" + edit.serial
            if edit.type == "nvme"
            else None,
            {"serial": edit.serial, "size_bytes": size_bytes},
        )
    )
    return AttachPlan(guest, vm, edit.device, edit.index, edit.serial, size_bytes, edit.diff, tuple(steps))


def render_attach_plan(plan: AttachPlan) -> str:
    """The plan as numbered lines (``{opt:name}`` placeholders left for the front end to render)."""
    out = [f"attach {plan.device} to {plan.guest} as disk{plan.index} (serial {plan.serial}):"]
    for i, s in enumerate(plan.steps, 1):
        out.append(f"{i:2}. [{s.where}] {s.title}")
        out.extend(f"      $ {c}" for c in s.commands)
        if s.key == "show-diff" and s.detail:
            out.extend("      " + ln for ln in s.detail.rstrip("\n").split("\n"))
        elif s.detail:
            out.append(f"      {s.detail}")
    return "\n".join(out) + "\n"


def vm_list_state(output: str, name: str) -> str | None:
    """The STATE column of guest ``name`` in ``vm list`` (None: not listed)."""
    for line in output.split("\n"):
        parts = line.strip().split(None, 7)
        if len(parts) == 8 and parts[0] == name and parts[0] != "NAME":
            return parts[7].strip()
    return None


def state_reached(state: str | None, until: str) -> bool:
    """``Stopped`` exactly (``Locked (...)`` is not yet); ``Running`` as ``Running (<pid>)``."""
    if state is None:
        return False
    return state == "Stopped" if until == "Stopped" else state.split(" ", 1)[0] == until
