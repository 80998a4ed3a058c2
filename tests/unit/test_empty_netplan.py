"""No netplan configuration for any ethernet NIC (an empty 50-cloud-init.yaml after a power cut): its own
finding, repaired through the same write, validate and way back as any repair, or refused.

The plans and refusals themselves are data cases: tests/facts/net.repair/empty_*.json and neighbours.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from agent.core.net.empty_config import describe_file, minimal_config
from agent.core.net.interfaces import Interface
from agent.core.net.netfacts import NetFacts
from agent.core.net.netplan_model import parse_file
from agent.core.net.repair_plan import RepairPlan, plan_repair
from agent.errors import ChangeFailed, Refused, RemoteError, UsageError
from agent.inventory import load_inventory
from agent.ops.fix_netplan import FixOptions, decide
from agent.ops.netplan_apply import (
    ARM_FAILED,
    BACKUP_FAILED,
    INSTALL_FAILED,
    INVALID,
    UNDO_FAILED,
    NetplanApply,
)
from agent.transport.protocol import Result
from tests.unit.test_netplan_apply import _sh, _stubs, _way

CLOUD = "/etc/netplan/50-cloud-init.yaml"
MAC = "58:9c:fc:03:19:32"
NIC = Interface("enp0s5", mac=MAC, pci_slot="0000:00:05.0", driver="virtio_net", is_physical=True)
LO = Interface("lo", mac="00:00:00:00:00:00", kind="loopback")


def plan(files: dict[str, str], **kwargs: Any) -> RepairPlan:
    result = plan_repair(files, [LO, NIC], **kwargs)
    assert isinstance(result, RepairPlan), result
    return result


def test_the_written_config_is_what_cloud_init_writes_for_a_dhcp_nic() -> None:
    p = plan({CLOUD: ""}, pinned_mac=MAC)
    doc = YAML(typ="safe").load(p.files[CLOUD])
    assert doc == {
        "network": {
            "version": 2,
            "ethernets": {"enp0s5": {"match": {"macaddress": MAC}, "set-name": "enp0s5", "dhcp4": True}},
        }
    }
    (new,) = p.new_entries
    assert (new.path, new.entry_id, new.final_name, new.mac) == (CLOUD, "enp0s5", "enp0s5", MAC)
    assert p.renames == {} and p.repairs == () and p.pins == () and not p.has_bonds_or_bridges
    assert p.warnings[0].startswith(f"no netplan configuration for any ethernet NIC: {CLOUD} is empty")


def test_without_an_inventory_mac_the_entry_is_matched_by_name() -> None:
    doc = YAML(typ="safe").load(plan({CLOUD: ""}).files[CLOUD])
    assert doc == {"network": {"version": 2, "ethernets": {"enp0s5": {"dhcp4": True}}}}


def test_a_mac_that_yaml_1_1_would_read_as_a_number_stays_a_string() -> None:
    # netplan's libyaml and cloud-init's PyYAML are YAML 1.1: 00:11:22:33:44:55 unquoted is sexagesimal
    nic = Interface("enp0s5", mac="00:11:22:33:44:55", is_physical=True)
    yaml = YAML(typ="safe")
    yaml.version = (1, 1)
    doc = yaml.load(io.StringIO(minimal_config(nic, nic.mac)))
    assert doc["network"]["ethernets"]["enp0s5"]["match"]["macaddress"] == "00:11:22:33:44:55"


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("", "empty (0 bytes)"),
        ("\n  \n", "only whitespace (4 bytes)"),
        ("# header\n\n", "only comments (10 bytes)"),
        ("---\n", "only comments (4 bytes)"),
        ("network:\n  version: 2\n", "a network: with only version, no ethernets"),
        ("network: {}\n", "an empty network:, no ethernets"),
        ("network:\n  wifis: {wl0: {}}\n", "no ethernets; defines wifis"),
    ],
)
def test_what_a_file_without_ethernets_holds(text: str, said: str) -> None:
    assert describe_file(parse_file(CLOUD, text)) == said


def test_a_document_marker_is_replaced_comments_are_kept() -> None:
    assert plan({CLOUD: "---\n"}).files[CLOUD].startswith("# Written by guest-disk-agent")
    assert plan({CLOUD: "# kept\n"}).files[CLOUD].startswith("# kept\n# Written by guest-disk-agent")


def test_a_truncated_network_key_is_bad_input_not_rewritten() -> None:
    with pytest.raises(UsageError, match="`network:` must be a mapping"):
        plan_repair({CLOUD: "network:\n"}, [LO, NIC])


def test_only_a_virtual_nic_is_refused() -> None:
    bridge = Interface("br0", mac=MAC, kind="bridge")
    with pytest.raises(Refused, match="the guest has no physical NIC"):
        plan_repair({CLOUD: ""}, [LO, bridge])


def test_a_nic_name_that_is_not_plain_is_never_written_into_yaml() -> None:
    odd = Interface("en: x", mac=MAC, is_physical=True)
    with pytest.raises(Refused, match="not a plain interface name"):
        plan_repair({CLOUD: ""}, [LO, odd])


def test_fix_netplan_gives_the_inventorys_netplan_file(tmp_path: Path) -> None:
    other = "/etc/netplan/01-netcfg.yaml"
    inv = tmp_path / "inventory.yaml"
    inv.write_text(f"guests:\n  xdev:\n    host: 127.0.0.1\n    network:\n      netplan_file: {other}\n")
    _, guest = load_inventory(inv).choose("xdev")
    decision = decide(NetFacts({other: ""}, [LO, NIC]), guest, FixOptions())
    assert isinstance(decision, RepairPlan) and list(decision.files) == [other]
    with pytest.raises(Refused, match=f"network.netplan_file {other} \\(inventory\\) does not exist"):
        decide(NetFacts({}, [LO, NIC]), guest, FixOptions())


class RecordingCmd:
    """Every command succeeds; what ran and what was written, in order."""

    label = "fake"

    def __init__(self) -> None:
        self.events: list[str] = []
        self.writes: list[tuple[str, str, int]] = []

    def run(self, script: str, **_kw: Any) -> Result:
        action = next((a for a in ("arm-install", "backup", "arm") if f"ACTION={a}\n" in script), None)
        self.events.append(action or script.split()[0])
        return Result(0, "")

    def write_file(self, path: str, data: bytes, *, mode: int = 0o600) -> None:
        self.events.append(f"write {path}")
        self.writes.append((path, data.decode(), mode))


def test_the_empty_file_is_staged_then_backed_up_armed_installed_and_validated_in_one_run() -> None:
    p = plan({CLOUD: ""}, pinned_mac=MAC)
    cmd = RecordingCmd()
    apply = NetplanApply(cmd, None, 90, lambda _m: None)  # type: ignore[arg-type]
    way = apply.write(p, "20261202T160000Z", pin_cloud_init=False)
    assert way.backups == {CLOUD: f"{CLOUD}.bak.20261202T160000Z"}
    staged = way.staged(CLOUD)
    assert cmd.writes == [(staged, p.files[CLOUD], 0o600)]
    assert cmd.events == [f"write {staged}", "arm-install"]


def test_the_way_back_restores_the_empty_file(tmp_path: Path) -> None:
    env, _calls = _stubs(tmp_path)
    cfg = tmp_path / "50-cloud-init.yaml"
    cfg.write_bytes(b"")
    way = _way(tmp_path, {str(cfg): f"{cfg}.bak.1"})
    assert _sh(way, "backup", env).returncode == 0 and _sh(way, "arm", env).returncode == 0
    assert Path(f"{cfg}.bak.1").read_bytes() == b"", "an empty file is backed up as a file, not as absent"
    cfg.write_text(plan({CLOUD: ""}).files[CLOUD])
    r = _sh(way, "restore", env)
    assert r.returncode == 0, r.stderr
    assert cfg.read_bytes() == b""


class StatusCmd(RecordingCmd):
    """arm-install exits ``status``; a write fails when ``write_fails``."""

    def __init__(self, status: int, *, write_fails: bool = False) -> None:
        super().__init__()
        self.status, self.write_fails = status, write_fails

    def run(self, script: str, **kw: Any) -> Result:
        super().run(script, **kw)
        if "ACTION=restore\n" in script:
            self.events[-1] = "restore"
        return Result(self.status if self.events[-1] == "arm-install" else 0, "what the guest said\n")

    def write_file(self, path: str, data: bytes, *, mode: int = 0o600) -> None:
        if self.write_fails:
            raise RemoteError(f"could not write {path} on the guest")
        super().write_file(path, data, mode=mode)


@pytest.mark.parametrize(
    ("status", "error", "message", "undone_here"),
    [
        (BACKUP_FAILED, RemoteError, "could not back up .*nothing was changed", False),
        (ARM_FAILED, RemoteError, "could not arm the revert timer .*nothing was changed", False),
        (
            INVALID,
            ChangeFailed,
            "netplan generate rejected the new configuration; nothing was changed",
            False,
        ),
        (
            INSTALL_FAILED,
            ChangeFailed,
            "could not put the new files in place; the original is restored",
            False,
        ),
        (
            UNDO_FAILED,
            ChangeFailed,
            "could not be put in place.*back failed too.*timer still restores them",
            False,
        ),
        (9, ChangeFailed, r"writing the new configuration failed \(exit 9\)", True),
    ],
)
def test_each_arm_install_status_is_said_and_only_an_unknown_one_is_undone_from_here(
    status: int, error: type[Exception], message: str, undone_here: bool
) -> None:
    """The script undoes what it did for each of its own statuses; a status it never exits with means it
    stopped somewhere unknown: the controller puts the old files back itself."""
    cmd = StatusCmd(status)
    apply = NetplanApply(cmd, None, 90, lambda _m: None)  # type: ignore[arg-type]
    with pytest.raises(error, match=message):
        apply.write(plan({CLOUD: ""}, pinned_mac=MAC), "20261203T150000Z", pin_cloud_init=False)
    assert ("restore" in cmd.events) is undone_here, cmd.events


def test_a_failed_staging_removes_what_was_staged_and_never_runs_the_change() -> None:
    cmd = StatusCmd(0, write_fails=True)
    apply = NetplanApply(cmd, None, 90, lambda _m: None)  # type: ignore[arg-type]
    with pytest.raises(RemoteError, match="could not write"):
        apply.write(plan({CLOUD: ""}, pinned_mac=MAC), "20261203T150000Z", pin_cloud_init=False)
    assert cmd.events == ["rm"], cmd.events  # rm -f of the staged file; no arm-install, no restore
