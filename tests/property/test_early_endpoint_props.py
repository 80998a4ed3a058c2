"""Property: the SSH endpoint ``gda`` reads from the inventory before the program loads
(:func:`agent.cli.early.endpoint`) is the target the task gets from the validated inventory whenever the
inventory loads, and it is found for every guest the loader accepts (no groups, as generated here): the
early session is then the task's own, never a connection to somewhere else."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from agent.cli import early
from agent.errors import UsageError
from agent.inventory import load_inventory
from agent.ops.connect import ssh_target
from tests.property.conftest import examples


def mostly(valid: st.SearchStrategy[Any], other: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """``valid`` values three times in four, ``other`` (odd and invalid ones) otherwise."""
    return st.one_of(valid, valid, valid, other)


hosts = mostly(
    st.sampled_from(["127.0.0.1", "::1", "guest.lan", "my-vm", " padded ", "h\n"]),
    st.one_of(st.sampled_from(["", "two words", "-oX", "h\t"]), st.text(max_size=12), st.integers()),
)
ports = mostly(
    st.integers(1, 65535),
    st.one_of(st.none(), st.integers(-2, 70000), st.booleans(), st.sampled_from(["22", 22.0])),
)
users = mostly(
    st.sampled_from([None, "admin", "root"]),
    st.one_of(st.sampled_from(["a b", "", "-x", "ü"]), st.integers()),
)
paths = mostly(
    st.sampled_from(["id", "keys/../id", "~/.ssh/id", "/abs/kh", "./kh", "~", "a//b/", " x"]),
    st.one_of(st.sampled_from([None, " ", ""]), st.text(max_size=8), st.integers()),
)


@st.composite
def inventories(draw: st.DrawFn) -> tuple[dict[str, Any], str | None]:
    entry: dict[str, Any] = {"host": draw(hosts)}
    for key, values in (("port", ports), ("user", users), ("identity_file", paths), ("known_hosts", paths)):
        if draw(st.booleans()):
            entry[key] = draw(values)
    guests = {"g": entry}
    if draw(st.booleans()):
        guests["other"] = {"host": "10.0.0.9"}
    return {"guests": guests}, draw(st.sampled_from([None, "g"]))


@given(inventories())
@examples(0.5)
def test_the_early_endpoint_is_the_loaders_target(case: tuple[dict[str, Any], str | None]) -> None:
    root, name = case
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "sub" / "inventory.yaml"
        path.parent.mkdir()
        yaml = YAML(typ="safe", pure=True)
        with path.open("w", encoding="utf-8") as f:
            yaml.dump(root, f)
        try:
            parsed = YAML(typ="safe", pure=True).load(path.read_text(encoding="utf-8"))
        except YAMLError:
            return  # no early session (early.start reads nothing it cannot parse)
        ep = early.endpoint(parsed, path, name)
        try:
            guest = load_inventory(path).choose(name)[1]
        except UsageError:  # a bad inventory, or several guests and none named
            assert ep is None or name is not None or len(root["guests"]) == 1
            return  # the task stops before connecting; an early session is closed unused
    assert ep is not None, root
    assert ssh_target(guest) == ep
