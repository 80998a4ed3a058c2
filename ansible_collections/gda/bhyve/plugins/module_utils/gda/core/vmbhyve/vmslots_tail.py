# GENERATED from agent/core/vmbhyve/vmslots_tail.py by `python -m agent.collection_build`: do not edit.
"""The devices vm-bhyve adds after the disks and NICs: random, passthru, frame buffer, mouse, sound and
virtio consoles. Pure.

A port of churchers/vm-bhyve release v1.6.2 ``lib/vm-run``: ``vm::bhyve_device_rand``,
``vm::bhyve_device_passthru``, ``vm::bhyve_device_fbuf``, ``vm::bhyve_device_mouse``,
``vm::bhyve_device_sound`` and ``vm::bhyve_device_console``, called in that order by ``vm::run``; each
takes the next slot (function 0), passthru devices of one host slot share a guest slot.
tests/facts/vmbhyve.vmrun holds vm-bhyve's own output for these (tests/tools/vmbhyve_vmrun.py).
"""

from __future__ import annotations

from ansible_collections.gda.bhyve.plugins.module_utils.gda.core.vmbhyve.vmconf import VmConfig, is_yes
from ansible_collections.gda.bhyve.plugins.module_utils.gda.core.vmbhyve.vmslots_types import AUTO_PORT, HostContext, PciDevice


def int_or(value: str | None, default: int) -> int:
    try:
        return int(value) if value is not None else default
    except ValueError:
        return default


def tail_devices(conf: VmConfig, ctx: HostContext, uefi: bool, slot: int) -> list[PciDevice]:
    """The devices from ``vm::bhyve_device_rand`` on, starting at ``slot``."""
    devices: list[PciDevice] = []

    # vm::bhyve_device_rand
    if conf.yesno("virt_random"):
        devices.append(PciDevice(slot, 0, "virtio-rnd", "", "rnd"))
        slot += 1

    # vm::bhyve_device_passthru
    pnum = 0
    pfunc = 0
    last_orig: str | None = None
    while True:
        dev = conf.get(f"passthru{pnum}")
        if not dev:
            break
        if "=" in dev:
            # -s ${_dev##*=},passthru,${_dev%%=*}: the guest SLOT[:FUNC] is taken as written
            host = dev.split("=", 1)[0]
            guest = dev.rsplit("=", 1)[1]
            gslot, _, gfunc = guest.partition(":")
            devices.append(
                PciDevice(
                    int_or(gslot, -1),
                    int_or(gfunc, 0) if gfunc else None,
                    "passthru",
                    host,
                    "passthru",
                    where_text=guest,
                )
            )
        else:
            orig = dev.split("/", 1)[0]
            if last_orig is not None and last_orig != orig:
                slot += 1
                pfunc = 0
            devices.append(PciDevice(slot, pfunc, "passthru", dev, "passthru"))
            last_orig = orig
            pfunc += 1
        pnum += 1
    if pnum >= 1:
        slot += 1

    # vm::bhyve_device_fbuf (UEFI only)
    if uefi and conf.graphics:
        port = conf.get("graphics_port") or (str(ctx.free_vnc_port) if ctx.free_vnc_port else AUTO_PORT)
        listen = conf.get("graphics_listen") or "0.0.0.0"
        fb = f"tcp={listen}:{port}"
        res = conf.get("graphics_res")
        if res:
            fb += f",w={res.split('x', 1)[0]},h={res.rsplit('x', 1)[-1]}"
        vga = conf.get("graphics_vga")
        if vga:
            fb += f",vga={vga}"
        password = conf.get("vnc_password")
        if password:
            fb += f",password={password}"
        wait = conf.get("graphics_wait", "auto")
        if wait != "auto" and is_yes(wait):  # auto means "no" when not installing from an ISO
            fb += ",wait"
        devices.append(PciDevice(slot, 0, "fbuf", fb, "fbuf"))
        slot += 1

    # vm::bhyve_device_mouse
    if conf.yesno("xhci_mouse"):
        devices.append(PciDevice(slot, 0, "xhci", "tablet", "xhci"))
        slot += 1

    # vm::bhyve_device_sound: -s S:0,hda,play=${sound_play:-/dev/dsp0}[,rec=${sound_rec}]
    if conf.yesno("sound"):
        play = conf.get("sound_play")
        sound = "play=" + ("/dev/dsp0" if play is None else play)
        rec = conf.get("sound_rec")
        if rec:
            sound += f",rec={rec}"
        devices.append(PciDevice(slot, 0, "hda", sound, "sound"))
        slot += 1

    # vm::bhyve_device_console
    cons: list[str] = []
    cur = 0
    value = conf.get("virt_console0")
    while value and cur < 16:
        port = str(cur) if value.lower() in ("yes", "on", "1") else value
        cons.append(f"{port}={ctx.vm_dir.rstrip('/')}/vtcon.{port}")
        cur += 1
        value = conf.get(f"virt_console{cur}")
    if cons:
        devices.append(PciDevice(slot, 0, "virtio-console", ",".join(cons), "console"))
        slot += 1
    return devices
