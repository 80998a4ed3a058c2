"""The inventory's ``hosts:`` (the FreeBSD hypervisor hosts) and a guest's ``on:`` (issue 11)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from pydantic import ValidationError

from agent.inventory import Host, Inventory, InventoryError, SSHConsole, load_inventory

HOSTS = """
hosts:
  bhyvehost:
    host: 192.168.7.1
    port: 2200
    user: admin
    identity_file: keys/host_ed25519
    known_hosts: ~/.ssh/known_hosts
    sudo_password_env: BHYVE_SUDO_PASSWORD
guests:
  xdev:
    host: 192.168.7.200
    on: bhyvehost
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "inventory.yaml"
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def problems(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(InventoryError) as info:
        load_inventory(write(tmp_path, text))
    return [str(p).replace(str(tmp_path) + "/", "") for p in info.value.problems]


def test_a_host_and_a_guest_on_it(tmp_path: Path) -> None:
    inv = load_inventory(write(tmp_path, HOSTS))
    host = inv.hosts["bhyvehost"]
    assert (host.host, host.port, host.user, host.sudo_password_env) == (
        "192.168.7.1",
        2200,
        "admin",
        "BHYVE_SUDO_PASSWORD",
    )
    assert host.identity_file == tmp_path.resolve() / "keys/host_ed25519", "relative to the inventory"
    assert host.known_hosts == Path.home() / ".ssh/known_hosts"
    assert host.vm_command == "vm"
    assert inv.guests["xdev"].on == "bhyvehost"
    assert inv.host_of("xdev") == ("bhyvehost", host)


def test_a_guest_on_a_host_gets_vm_console_over_ssh_by_default(tmp_path: Path) -> None:
    inv = load_inventory(write(tmp_path, HOSTS))
    console = inv.guests["xdev"].console
    assert console is not None and console.transport == "ssh"
    host = inv.hosts["bhyvehost"]
    assert console.ssh == SSHConsole(
        host="192.168.7.1",
        command="vm console xdev",
        port=2200,
        user="admin",
        identity_file=host.identity_file,
        known_hosts=host.known_hosts,
    )
    assert (console.user, console.prompt_timeout) == ("root", 10.0), "the console's own defaults"


def test_vm_command_is_used_for_the_console(tmp_path: Path) -> None:
    text = HOSTS.replace("    sudo_password_env: BHYVE_SUDO_PASSWORD\n", "    vm_command: doas vm\n")
    console = load_inventory(write(tmp_path, text)).guests["xdev"].console
    assert console is not None and console.ssh is not None
    assert console.ssh.command == "doas vm console xdev"


def test_a_console_of_its_own_is_kept(tmp_path: Path) -> None:
    text = HOSTS + "    console: {tcp: 127.0.0.1:4555}\n"
    console = load_inventory(write(tmp_path, text)).guests["xdev"].console
    assert console is not None and console.transport == "tcp"


def test_a_guest_without_on_has_no_host_and_no_default_console(tmp_path: Path) -> None:
    inv = load_inventory(write(tmp_path, HOSTS + "  other:\n    host: 10.0.0.9\n"))
    assert inv.guests["other"].on is None and inv.guests["other"].console is None
    assert inv.host_of("other") is None


def test_hosts_are_optional_and_existing_inventories_stay_valid(tmp_path: Path) -> None:
    inv = load_inventory(write(tmp_path, "guests:\n  xdev:\n    host: h\n"))
    assert dict(inv.hosts) == {} and inv.guests["xdev"].on is None


def test_an_unknown_host_is_located_on_the_on_line_with_a_suggestion(tmp_path: Path) -> None:
    assert problems(tmp_path, HOSTS.replace("on: bhyvehost", "on: bhyvhost")) == [
        "inventory.yaml:12:9: guests.xdev.on: no host 'bhyvhost' under hosts: (did you mean 'bhyvehost'?); "
        "hosts: bhyvehost"
    ]


def test_on_without_any_hosts_says_what_to_add(tmp_path: Path) -> None:
    assert problems(tmp_path, "guests:\n  xdev:\n    host: h\n    on: bhyvehost\n") == [
        "inventory.yaml:4:9: guests.xdev.on: no host 'bhyvehost': the inventory has no hosts: mapping "
        "(add hosts: {bhyvehost: {host: ...}})"
    ]


def test_the_model_checks_on_without_the_loader() -> None:
    with pytest.raises(ValidationError, match=r"guests\.x\.on: no host 'nope'"):
        Inventory.model_validate(
            {"hosts": {"h1": {"host": "a"}}, "guests": {"x": {"host": "h", "on": "nope"}}}
        )


def test_host_keys_are_checked_like_a_guests(tmp_path: Path) -> None:
    text = "hosts:\n  b:\n    host: 1.2.3.4\n    prot: 22\n    password: x\nguests:\n  g:\n    host: h\n"
    found = problems(tmp_path, text)
    assert found[0].startswith("inventory.yaml:4:5: hosts.b.prot: unknown key 'prot' (did you mean 'port'?)")
    assert found[1].startswith("inventory.yaml:5:5: hosts.b.password:")


@pytest.mark.parametrize(
    ("host", "fragment"),
    [
        ("admin@1.2.3.4", "put the user name in user:"),
        ("1.2.3.4:22", "put the port number in port:"),
        ("-oProxyCommand=x", "is not a host name"),
    ],
)
def test_the_hosts_address_is_validated_like_a_guests(tmp_path: Path, host: str, fragment: str) -> None:
    [problem] = problems(tmp_path, f"hosts:\n  b:\n    host: '{host}'\nguests:\n  g:\n    host: h\n")
    assert problem.startswith("inventory.yaml:3:11: hosts.b.host:") and fragment in problem


def test_a_host_needs_its_address(tmp_path: Path) -> None:
    [problem] = problems(tmp_path, "hosts:\n  b:\n    user: admin\nguests:\n  g:\n    host: h\n")
    assert "hosts.b.host: required key 'host' is missing" in problem


def test_bad_host_name_and_bad_vm_command(tmp_path: Path) -> None:
    found = problems(
        tmp_path, 'hosts:\n  -b:\n    host: a\n    vm_command: "vm \'x"\nguests:\n  g:\n    host: h\n'
    )
    assert any("host name '-b' must start with a letter or digit" in p for p in found)
    assert any("hosts.-b.vm_command: cannot split command" in p for p in found)


def test_the_host_model_defaults() -> None:
    host = Host(host="bhyvehost")
    assert (host.port, host.user, host.sudo_password_env, host.vm_command) == (None, None, None, "vm")
    console = host.console_for("xdev")
    assert console.ssh is not None and (console.ssh.host, console.ssh.command) == (
        "bhyvehost",
        "vm console xdev",
    )
