"""Properties of reading an inventory file: whatever the file holds, ``load_inventory`` gives an
:class:`Inventory` or an :class:`InventoryError` (exit 2, with its location), never another exception
(the CLI would show a traceback). The text mixes inventory lines, YAML's odder bits and hostile text."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import example, given

from agent.inventory.loader import InventoryError, load_inventory
from agent.inventory.schema import Inventory
from tests.property.conftest import examples
from tests.property.hostile import YAML_ODDITIES, yaml_like_text

INVENTORY_BITS = (
    "guests:",
    "  xdev:",
    "    host: 127.0.0.1",
    "    port: 2222",
    "    port: !!int 0x",
    "    user: admin",
    "    sudo_password_env: XDEV_SUDO_PASSWORD",
    "    disk:",
    "      serial: Y39B70RTK7AS",
    "    console:",
    "      tcp: 127.0.0.1:4555",
    "groups:",
    "hosts:",
    *YAML_ODDITIES,
)


@given(yaml_like_text(INVENTORY_BITS))
@example("# guests:\n|- #\n")  # an AssertionError out of ruamel.yaml (found in a netplan file)
@example("guests: # \x85a\n\n  # \n")  # a NotImplementedError out of ruamel.yaml
@example("guests:\n  xdev:\n    port: !!int 0x\n")  # an IndexError out of ruamel.yaml
@example("guests: {" + "a: {" * 3000)  # a RecursionError
@example("? a guests:\n")  # a mapping as a key: was a TypeError (unhashable) in plain()
@examples(0.25)
def test_any_text_loads_as_an_inventory_or_is_an_inventory_error(text: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp, "inventory.yaml")
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        try:
            inventory = load_inventory(path)
        except InventoryError as exc:
            assert str(exc).strip(), "an inventory error says what is wrong"
            return
        assert isinstance(inventory, Inventory)
