"""``gda inventory --list``: the resolved guests, where each value came from, --limit, repeated --guest."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

from tests.cli.gda_run import gda, json_error

FLEET = """
hosts:
  bhyve1: {host: 192.168.7.1}
groups:
  all: {vars: {user: admin}}
  lab: {members: [lab1, lab2], vars: {port: 2222}}
guests:
  lab1: {host: 127.0.0.1, console: {tcp: 127.0.0.1:4555}}
  lab2: {host: 127.0.0.2, port: 22, on: bhyve1}
  other: {host: 10.0.0.9, user: root}
"""


def _inventory(tmp_path: Path) -> str:
    path = tmp_path / "inventory.yaml"
    path.write_text(textwrap.dedent(FLEET).lstrip("\n"), encoding="utf-8")
    return str(path)


def test_list_json_shows_origins(tmp_path: Path) -> None:
    r = gda("inventory", "--list", "-i", _inventory(tmp_path), "--limit", "lab*", "--json")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["ok"] is True
    lab1, lab2 = data["guests"]
    assert (lab1["name"], lab1["groups"]) == ("lab1", ["lab"])
    assert lab1["settings"]["port"] == {"value": 2222, "from": "group lab"}
    assert lab1["settings"]["user"] == {"value": "admin", "from": "all"}
    assert lab1["settings"]["console.prompt_timeout"] == {"value": 10.0, "from": "default"}
    assert lab2["settings"]["port"] == {"value": 22, "from": "guest"}
    assert lab2["settings"]["console.ssh.command"]["from"] == "default (on: bhyve1)"
    assert data["groups"]["lab"]["guests"] == ["lab1", "lab2"]


def test_list_human_table_and_repeated_guest(tmp_path: Path) -> None:
    r = gda("inventory", "--list", "-i", _inventory(tmp_path), "-g", "other", "-g", "lab1")
    assert r.returncode == 0, r.stderr
    assert "lab1  (groups: lab)" in r.stdout and "other  (groups: none)" in r.stdout
    assert "lab2" not in r.stdout
    assert "group lab" in r.stdout


def test_limit_matching_nothing_is_usage_with_closest_name(tmp_path: Path) -> None:
    r = gda("inventory", "--list", "-i", _inventory(tmp_path), "--limit", "lba", "--json")
    assert r.returncode == 2
    err = json_error(r)
    assert "'lba' matches no guest or group (did you mean 'lab'?)" in err["message"]


def test_without_list_is_usage(tmp_path: Path) -> None:
    r = gda("inventory", "-i", _inventory(tmp_path))
    assert r.returncode == 2
    assert "--list" in r.stderr and "Traceback" not in r.stderr


def test_bad_group_inventory_is_located(tmp_path: Path) -> None:
    path = tmp_path / "inventory.yaml"
    path.write_text("groups:\n  lab: {members: [nope]}\nguests:\n  a: {host: h}\n", encoding="utf-8")
    r = gda("inventory", "--list", "-i", str(path))
    assert r.returncode == 2
    assert f"{path}:2:19: groups.lab.members.0: no guest or group 'nope'" in r.stderr


def test_yaml_that_ruamel_cannot_read_is_a_usage_error_not_a_traceback(tmp_path: Path) -> None:
    """ruamel.yaml fails on some texts with its own AssertionError (a comment before a block scalar whose
    header has a comment); the inventory is the user's, so that is exit 2 with what to look for."""
    path = tmp_path / "inventory.yaml"
    path.write_text("# guests:\n|- #\n", encoding="utf-8")
    r = gda("inventory", "--list", "-i", str(path), "--json")
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr
    err = json_error(r)
    assert err["message"] == f"{path}: YAML that ruamel.yaml cannot read (AssertionError)"
    assert "comments in odd places" in err["hint"]
