"""attach's ordered steps (agent.core.vmbhyve.attach_plan) for the seed's story, their rendering, and the
reading of ``vm list`` (vm-bhyve v1.6.2 lib/vm-core ``core::list``: NAME DATASTORE LOADER CPU MEMORY VNC
AUTO STATE through ``column -ts^``; STATE from ``vm::running_check`` in lib/vm-run)."""

from __future__ import annotations

from pathlib import Path

from agent.core.vmbhyve.attach_plan import plan_attach, render_attach_plan, state_reached, vm_list_state
from agent.core.vmbhyve.conf_edit import AttachRequest, plan_attach_edit
from agent.core.vmbhyve.vmslots import HostContext
from agent.hints import options_named, render_options

FIX = Path(__file__).parent.parent / "fixtures" / "vmbhyve"
CTX = HostContext(vm_dir="/zdata/vms/xdev", vm_name="xdev", zvol_dataset="zdata/vms")
P4 = "/dev/diskid/DISK-Y39B70RTK7ASp4"
CONF = "/zdata/vms/xdev/xdev.conf"
SIZE = 274877906944  # 256 GiB, the seed's p4


def seed_text(drop: tuple[str, ...] = ("disk1_",)) -> str:
    text = (FIX / "xdev.conf").read_text()
    return "".join(ln for ln in text.splitlines(keepends=True) if not ln.startswith(drop))


def test_seed_steps_in_order() -> None:
    edit = plan_attach_edit(seed_text(), AttachRequest(P4), CTX, stamp="20261202T021500Z")
    plan = plan_attach(edit, guest="xdev", conf_path=CONF, size_bytes=SIZE)  # MACs from the config
    assert plan.keys == (
        "host-check",
        "pin-nic",
        "backup",
        "edit-conf",
        "verify-conf",
        "show-diff",
        "stop",
        "wait-stopped",
        "start",
        "wait-running",
        "wait-ssh",
        "format",
    )
    pin = plan.step("pin-nic")
    assert pin is not None and options_named(pin.title) == ["match_mac"]
    assert pin.detail and "network0 enp0s5 → enp0s6" in pin.detail
    assert pin.data["renames"] == [{"nic": 0, "from": "enp0s5", "to": "enp0s6"}]
    assert pin.data["macs"] == {"0": "58:9c:fc:03:19:32"}
    backup = plan.step("backup")
    assert backup is not None
    assert backup.commands == (f"cp -p {CONF} /zdata/vms/xdev/xdev.conf.bak.20261202T021500Z",)
    verify = plan.step("verify-conf")
    assert verify is not None and "slot 5:0" in verify.title
    assert verify.data["restore"] == f"cp -p /zdata/vms/xdev/xdev.conf.bak.20261202T021500Z {CONF}"
    stop, start = plan.step("stop"), plan.step("start")
    assert (
        stop is not None and stop.commands == ("vm stop xdev",) and "not `vm restart`" in (stop.detail or "")
    )
    assert start is not None and start.commands == ("vm start xdev",)
    fmt = plan.step("format")
    assert fmt is not None and fmt.data == {"serial": "Y39B70RTK7ASp4", "size_bytes": SIZE}
    assert render_options(fmt.commands[0]) == "format --guest xdev --serial Y39B70RTK7ASp4"
    assert plan.to_json()["steps"][0]["key"] == "host-check"


def test_missing_mac_is_written_before_the_pin_and_backs_up_first() -> None:
    text = seed_text(("disk1_", "network0_mac"))
    mac = "58:9c:fc:03:19:32"
    edit = plan_attach_edit(text, AttachRequest(P4), CTX, stamp="20261202T021500Z", nic_macs={0: mac})
    plan = plan_attach(edit, guest="xdev", conf_path=CONF, size_bytes=None, vm_command="/usr/local/sbin/vm")
    assert plan.keys[:4] == ("host-check", "write-mac", "pin-nic", "edit-conf")  # one backup, taken first
    write = plan.step("write-mac")
    assert write is not None
    assert write.commands == (f"cp -p {CONF} /zdata/vms/xdev/xdev.conf.bak.20261202T021500Z",)
    assert write.data["lines"] == [f'network0_mac="{mac}"']  # written after network0's lines, not by sysrc
    assert write.data["diff"] == edit.mac_diff and f'+network0_mac="{mac}"' in edit.mac_diff
    assert plan.step("backup") is None
    stop = plan.step("stop")
    assert stop is not None and stop.commands == ("/usr/local/sbin/vm stop xdev",)


def test_rendering_names_options_and_shows_the_diff() -> None:
    edit = plan_attach_edit(seed_text(), AttachRequest(P4), CTX, stamp="20261202T021500Z")
    text = render_options(
        render_attach_plan(plan_attach(edit, guest="xdev", conf_path=CONF, size_bytes=SIZE))
    )
    assert text.startswith(f"attach {P4} to xdev as disk1 (serial Y39B70RTK7ASp4):\n")
    assert "$ fix-netplan --guest xdev --match-mac" in text
    assert f'      +disk1_name="{P4}"' in text
    assert "{opt:" not in text
    assert text.index("pin the guest's NIC") < text.index("back up xdev.conf") < text.index("stop xdev")


def test_vm_list_state() -> None:
    out = (
        "NAME  DATASTORE  LOADER  CPU  MEMORY  VNC           AUTO  STATE\n"
        "xdev  default    uefi    4    16G     0.0.0.0:5900  No    Running (2315)\n"
        "web   default    uefi    2    2G      -             No    Locked (bhyvehost)\n"
        "db    default    grub    2    4G      -             No    Stopped\n"
    )
    assert vm_list_state(out, "xdev") == "Running (2315)"
    assert state_reached(vm_list_state(out, "xdev"), "Running")
    assert not state_reached(vm_list_state(out, "web"), "Stopped")  # vm-run still cleaning up
    assert state_reached(vm_list_state(out, "db"), "Stopped")
    assert vm_list_state(out, "nope") is None and not state_reached(None, "Stopped")
