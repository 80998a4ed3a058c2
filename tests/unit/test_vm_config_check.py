"""agent.ops.vm_config_check, the vm_config module's flow: refusals, warnings and data from one round trip.

The host's answers are the host.check data cases' host_facts.sh outputs after vm_conf.sh's framed conf
(tests/unit/test_host_check_op.py's FakeHost).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.errors import UsageError
from agent.ops.vm_config_check import VmConfigCheck, check_vm, rendered
from tests.unit.test_host_check_op import P3, P4, SEED_NONCE, FakeHost, case_output, seed_conf
from tests.unit.test_vm_check_op import NONCE

MODULE_NAMES = {"device": "partition"}


def style(name: str) -> str:
    return MODULE_NAMES.get(name, "--" + name.replace("_", "-"))


def check(conf: str, case: str, devices: tuple[str, ...] = (), before: Path | None = None) -> VmConfigCheck:
    host = FakeHost(conf, case_output(case))
    found = check_vm(host, "xdev", devices, before=str(before) if before else None, conf_nonce=NONCE,
                     facts_nonce=SEED_NONCE)  # fmt: skip
    assert host.commands_run == 1, "one round trip"
    return found


def test_seed_p4_accepted_with_the_rename_as_a_warning() -> None:
    found = check(seed_conf(), "seed_p4_accepted")
    data = found.to_json(style)
    assert found.refusals == () and data["ok"] is True and data["refusals"] == []
    assert data["renames"] == [{"nic": 0, "old": "enp0s5", "new": "enp0s6"}]
    (warning,) = data["warnings"]
    assert warning.startswith("network0 moves from slot 5 to slot 6: enp0s5 → enp0s6")
    assert "--match-mac" in warning  # not an option of the module: gda's flag
    (dev,) = data["host"]["devices"]
    assert dev["device"] == P4 and dev["ok"] is True and dev["conf_disk"] == 1
    assert data["conf"]["counts"]["warning"] == 1 and data["origin"].endswith("/xdev.conf")


def test_no_rename_against_its_own_before(tmp_path: Path) -> None:
    before = tmp_path / "before.conf"
    before.write_text(seed_conf())
    found = check(seed_conf(), "seed_p4_accepted", before=before)
    assert found.warnings == () and found.refusals == () and found.to_json(style)["renames"] == []


def test_p3_refused_naming_the_pool_and_p4() -> None:
    found = check(seed_conf(P3), "seed_p3_refused_pool_named_p4_suggested")
    (refusal,) = found.refusals
    assert refusal.where == P3
    text = refusal.text(style)
    assert f"{P3} (nda0p3) must not be passed through" in text and "imported ZFS pool zdata" in text
    assert f"fix: use {P4}" in text
    assert found.to_json(style)["ok"] is False


def test_device_option_error_names_the_module_option() -> None:
    with pytest.raises(UsageError) as e:
        check(seed_conf(), "seed_p4_accepted", ("/dev/x;reboot",))
    assert e.value.hint is not None
    assert rendered(e.value.hint, style).startswith("give partition a /dev/... path")


def test_rendered_spells_options_in_nested_data() -> None:
    data = {"a": ["x {opt:device}", {"b": "{opt:match_mac}"}], "n": 3, "none": None}
    assert rendered(data, style) == {"a": ["x partition", {"b": "--match-mac"}], "n": 3, "none": None}
