"""Inventory groups: the tree (depth, order, cycles), the merge's rules, and located errors from vars."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from agent.errors import UsageError
from agent.inventory import InventoryError, load_inventory
from agent.inventory.groups import Layer, build_tree, merge_layers
from agent.inventory.limit import evaluate, select_guests, split_pattern
from agent.inventory.loader import load_inventory_with_origins

REPO = Path(__file__).resolve().parents[2]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "inventory.yaml"
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def test_depth_and_merge_order() -> None:
    tree, issues = build_tree({"z": ["mid"], "mid": ["x"], "a": ["x"]}, ["x", "y"])
    assert issues == []
    assert (tree.depth("all"), tree.depth("z"), tree.depth("a"), tree.depth("mid")) == (0, 1, 1, 2)
    assert tree.groups_of("x") == ("a", "z", "mid")  # depth first, then name; deepest last (wins)
    assert tree.guests_of("z") == ("x",)
    assert tree.groups_of("y") == ()


def test_cycle_is_broken_and_reported_once() -> None:
    tree, issues = build_tree({"a": ["b"], "b": ["a", "x"]}, ["x"])
    assert [i.message for i in issues] == ["groups form a cycle: a → b → a"]
    assert issues[0].path == ("b", "members", 0)
    assert tree.guests_of("a") == ("x",)


def test_nested_mappings_merge_key_by_key_and_transport_replaces() -> None:
    low = Layer("all", {"console": {"tcp": "127.0.0.1:1", "user": "admin"}, "disk": {"model": "m"}}, ())
    high = Layer("guest", {"console": {"unix": "/run/c"}, "disk": {"serial": "S"}, "port": 2}, ())
    merged = merge_layers([low, high])
    assert merged.data == {
        "console": {"user": "admin", "unix": "/run/c"},
        "disk": {"model": "m", "serial": "S"},
        "port": 2,
    }
    assert merged.origin == {
        ("console", "user"): "all",
        ("console", "unix"): "guest",
        ("disk", "model"): "all",
        ("disk", "serial"): "guest",
        ("port",): "guest",
    }


def test_repository_inventory_and_fixture_load_as_before() -> None:
    for path in (REPO / "inventory.yaml", REPO / "tests" / "fixtures" / "inventory" / "full.yaml"):
        inventory, origins = load_inventory_with_origins(path)
        assert inventory == load_inventory(path)
        assert inventory.groups == {}
        assert {o for guest in origins.values() for o in guest.values()} <= {
            "guest",
            "default (on: bhyvehost)",
        }


def test_console_value_from_a_group_is_located_in_the_group(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        groups:
          lab:
            members: [x]
            vars:
              console:
                tcp: 127.0.0.1:4555
                prompt_timeout: -1
        guests:
          x: {host: h}
        """,
    )
    with pytest.raises(InventoryError) as info:
        load_inventory(path)
    (problem,) = info.value.problems
    assert (problem.line, problem.key_path) == (7, "groups.lab.vars.console.prompt_timeout")
    assert problem.message.endswith("(guest x)")


def test_on_from_all_gives_every_guest_the_host_console(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        hosts:
          h1: {host: 10.0.0.1, vm_command: doas vm}
        groups:
          all: {vars: {on: h1, console: {password_env: CONSOLE_PW}}}
        guests:
          a: {host: 10.0.0.2}
        """,
    )
    guest = load_inventory(path).guests["a"]
    assert guest.console is not None and guest.console.ssh is not None
    assert guest.console.ssh.command == "doas vm console a"
    assert guest.console.password_env == "CONSOLE_PW"


def test_split_pattern_keeps_subscripts() -> None:
    assert split_pattern("web[1:2]:db,!x , &y") == ["web[1:2]", "db", "!x", "&y"]


def test_empty_limit_and_dangling_operator_are_usage_errors(tmp_path: Path) -> None:
    inventory = load_inventory(write(tmp_path, "guests:\n  a: {host: h}\n"))
    from agent.inventory.limit import tree_of

    with pytest.raises(UsageError, match="names no guest"):
        evaluate(tree_of(inventory), " , ")
    with pytest.raises(UsageError, match="need a name after them"):
        select_guests(inventory, limit="a:!")
    assert [s.name for s in select_guests(inventory)] == ["a"]
