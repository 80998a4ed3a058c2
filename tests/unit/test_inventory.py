"""Inventory model and loader: schema, located errors, secrets, guest choice, the repo's inventory.yaml."""

from __future__ import annotations

import textwrap
from pathlib import Path, PurePosixPath

import pytest
from pydantic import ValidationError

from agent.errors import UsageError
from agent.hints import render_options
from agent.inventory import (
    ConsoleSettings,
    DiskPins,
    DiskSize,
    Guest,
    HostPort,
    Inventory,
    InventoryError,
    NetworkSettings,
    load_inventory,
    parse_disk_size,
    resolve_secret,
)
from agent.inventory.inventory_secrets import SECRETS_MESSAGE

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures" / "inventory"


def write(tmp_path: Path, text: str, name: str = "inventory.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def load_error(tmp_path: Path, text: str) -> InventoryError:
    path = write(tmp_path, text)
    with pytest.raises(InventoryError) as info:
        load_inventory(path)
    assert info.value.exit_code == 2
    return info.value


# ---------------------------------------------------------------------------------------------------------
# Valid inventories


def test_full_inventory(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)  # relative paths must not depend on the current directory
    inv = load_inventory(FIXTURES / "full.yaml")

    assert sorted(inv.guests) == ["lab", "xdev"]
    xdev = inv.guests["xdev"]
    assert xdev.host == "192.168.7.200"
    assert xdev.port == 22
    assert xdev.user == "admin"
    assert xdev.identity_file == tmp_path / "home" / ".ssh" / "id_ed25519"
    assert xdev.known_hosts == FIXTURES / "keys" / "known_hosts"
    assert xdev.sudo_password_env == "XDEV_SUDO_PASSWORD"

    assert xdev.disk == DiskPins(
        serial="Y39B70RTK7AS",
        model="bhyve-NVMe",
        size=DiskSize("256GiB", 256 * 1024**3),
        host_path=PurePosixPath("/dev/diskid/DISK-Y39B70RTK7ASp4"),
        host_os="freebsd",
    )
    assert xdev.disk.size is not None and xdev.disk.size.bytes == 274877906944
    assert str(xdev.disk.size) == "256GiB"

    assert xdev.network.mac == "58:9c:fc:03:19:32"
    assert xdev.network.netplan_file == PurePosixPath("/etc/netplan/50-cloud-init.yaml")

    console = xdev.console
    assert console is not None
    assert console.transport == "ssh"
    assert console.user == "root"
    assert console.password_env == "XDEV_CONSOLE_PASSWORD"
    assert console.ssh is not None
    assert console.ssh.host == "bhyvehost"
    assert console.ssh.command == "sudo vm console xdev"
    assert console.ssh.port == 2022
    assert console.ssh.user == "me"
    assert console.ssh.identity_file == tmp_path / "home" / ".ssh" / "bhyve_ed25519"
    assert console.ssh.known_hosts == FIXTURES / "keys" / "bhyve_known_hosts"

    lab = inv.guests["lab"]
    assert lab.console is not None
    assert lab.console.transport == "tcp"
    assert lab.console.tcp == HostPort("::1", 4555)
    assert str(lab.console.tcp) == "[::1]:4555"
    assert lab.console.user == "root"


def test_minimal_inventory_only_host(tmp_path: Path) -> None:
    inv = load_inventory(write(tmp_path, "guests:\n  xdev:\n    host: xdev-alias\n"))
    name, guest = inv.choose(None)
    assert name == "xdev"
    assert guest == Guest(host="xdev-alias")
    assert guest.port is None and guest.user is None
    assert guest.identity_file is None and guest.known_hosts is None
    assert guest.sudo_password_env is None
    assert guest.disk == DiskPins()
    assert guest.network == NetworkSettings()
    assert guest.console is None


def test_null_disk_and_network_mean_no_pins(tmp_path: Path) -> None:
    inv = load_inventory(write(tmp_path, "guests:\n  xdev:\n    host: h\n    disk:\n    network:\n"))
    assert inv.guests["xdev"].disk == DiskPins()
    assert inv.guests["xdev"].network == NetworkSettings()


def test_models_are_frozen(tmp_path: Path) -> None:
    inv = load_inventory(write(tmp_path, "guests:\n  xdev:\n    host: h\n    disk: {serial: S1}\n"))
    guest = inv.guests["xdev"]
    with pytest.raises(ValidationError):
        setattr(guest, "host", "other")  # noqa: B010 - the point is the runtime check
    with pytest.raises(ValidationError):
        setattr(guest.disk, "serial", "S2")  # noqa: B010
    assert guest.host == "h" and guest.disk.serial == "S1"


def test_relative_identity_file_resolved_against_inventory_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    inv_dir = tmp_path / "conf"
    inv_dir.mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    path = write(
        inv_dir,
        """
        guests:
          xdev:
            host: h
            identity_file: keys/id_ed25519
            known_hosts: ../kh
            console: {unix: run/console.sock}
        """,
    )
    guest = load_inventory(Path("..") / "conf" / path.name).guests["xdev"]
    assert guest.identity_file == inv_dir / "keys" / "id_ed25519"
    assert guest.known_hosts == tmp_path / "kh"
    assert guest.console is not None and guest.console.unix == inv_dir / "run" / "console.sock"


def test_tilde_expanded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", "/home/someone")
    guest = load_inventory(
        write(tmp_path, "guests:\n  x:\n    host: h\n    identity_file: ~/.ssh/k\n    known_hosts: ~/kh\n")
    ).guests["x"]
    assert guest.identity_file == Path("/home/someone/.ssh/k")
    assert guest.known_hosts == Path("/home/someone/kh")


@pytest.mark.parametrize(
    ("console", "transport", "attr", "value"),
    [
        ("{tcp: 127.0.0.1:4555}", "tcp", "tcp", HostPort("127.0.0.1", 4555)),
        ("{tcp: 'localhost:23'}", "tcp", "tcp", HostPort("localhost", 23)),
        ("{unix: /var/run/xdev.console}", "unix", "unix", Path("/var/run/xdev.console")),
        ("{command: virsh console xdev}", "command", "command", "virsh console xdev"),
    ],
)
def test_console_transports(tmp_path: Path, console: str, transport: str, attr: str, value: object) -> None:
    guest = load_inventory(write(tmp_path, f"guests:\n  x:\n    host: h\n    console: {console}\n")).guests[
        "x"
    ]
    assert guest.console is not None
    assert guest.console.transport == transport
    assert getattr(guest.console, attr) == value
    assert guest.console.user == "root"


# ---------------------------------------------------------------------------------------------------------
# Unknown keys: named, located, with a hint


@pytest.mark.parametrize(
    ("text", "key_path", "line", "col", "suggestion"),
    [
        ("guest:\n  x:\n    host: h\n", "guest", 1, 1, "guests"),
        ("guests:\n  x:\n    hots: h\n", "guests.x.hots", 3, 5, "host"),
        (
            "guests:\n  xdev:\n    host: h\n    disk:\n      serail: S\n",
            "guests.xdev.disk.serail",
            5,
            7,
            "serial",
        ),
        (
            "guests:\n  x:\n    host: h\n    network:\n      mca: 58:9c:fc:03:19:32\n",
            "guests.x.network.mca",
            5,
            7,
            "mac",
        ),
        (
            "guests:\n  x:\n    host: h\n    console:\n      tcp: a:1\n      pasword_env: P\n",
            "guests.x.console.pasword_env",
            6,
            7,
            "password_env",
        ),
        (
            "guests:\n  x:\n    host: h\n    console:\n      ssh: {host: b, comand: vm console x}\n",
            "guests.x.console.ssh.comand",
            5,
            22,
            "command",
        ),
        ("guests:\n  x:\n    host: h\n    Port: 22\n", "guests.x.Port", 4, 5, "port"),
    ],
)
def test_unknown_key_is_located_with_did_you_mean(
    tmp_path: Path, text: str, key_path: str, line: int, col: int, suggestion: str
) -> None:
    err = load_error(tmp_path, text)
    assert len(err.problems) == 1
    problem = err.problems[0]
    assert (problem.line, problem.column, problem.key_path) == (line, col, key_path)
    unknown = key_path.rsplit(".", 1)[-1]
    assert f"unknown key {unknown!r}" in problem.message
    assert f"did you mean {suggestion!r}?" in problem.message
    path = tmp_path / "inventory.yaml"
    assert f"{path}:{line}:{col}: {key_path}: unknown key {unknown!r} (did you mean {suggestion!r}?)" in str(
        err
    )


def test_unknown_key_without_close_match_lists_allowed_keys(tmp_path: Path) -> None:
    err = load_error(tmp_path, "guests:\n  x:\n    host: h\n    disk:\n      colour: blue\n")
    (problem,) = err.problems
    assert "did you mean" not in problem.message
    assert "allowed here: serial, model, size, host_path, host_os" in problem.message


def test_all_problems_reported_at_once(tmp_path: Path) -> None:
    err = load_error(
        tmp_path,
        """
        guests:
          x:
            host: h
            prot: 22
            disk: {size: lots}
          y:
            user: admin
        """,
    )
    summary = [(p.line, p.key_path) for p in err.problems]
    assert summary == [(4, "guests.x.prot"), (5, "guests.x.disk.size"), (7, "guests.y.host")]
    assert "3 problems" in err.message
    assert "required key 'host' is missing" in err.problems[2].message


# ---------------------------------------------------------------------------------------------------------
# File-level errors


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"
    with pytest.raises(UsageError) as info:
        load_inventory(path)
    assert render_options(info.value.message) == f"inventory not found: {path} (use --inventory PATH)"
    assert info.value.exit_code == 2


def test_yaml_syntax_error_has_line_and_column(tmp_path: Path) -> None:
    err = load_error(tmp_path, "guests:\n  xdev:\n    host: h\n    console: {tcp: a:1\n")
    path = tmp_path / "inventory.yaml"
    assert err.message.startswith(f"{path}:5:1: YAML syntax error: ")
    assert "expected ',' or '}'" in err.message


def test_yaml_bad_indentation_error(tmp_path: Path) -> None:
    err = load_error(tmp_path, "guests:\n  xdev:\n    host: h\n   port: 22\n")
    assert err.message.startswith(f"{tmp_path / 'inventory.yaml'}:4:")
    assert "YAML syntax error" in err.message


def test_duplicate_key_is_an_error(tmp_path: Path) -> None:
    err = load_error(tmp_path, "guests:\n  x:\n    host: a\n    host: b\n")
    assert err.message.startswith(f"{tmp_path / 'inventory.yaml'}:4:5: YAML syntax error: ")
    assert 'duplicate key "host"' in err.message


def test_a_mapping_as_a_key_is_a_located_problem(tmp_path: Path) -> None:
    """``? a guests:`` makes a mapping the key: reported where it is, not a crash building plain data."""
    err = load_error(tmp_path, "? a guests:\n")
    assert f"{tmp_path / 'inventory.yaml'}:1:3: {{'a guests': None}}: keys must be names, got a mapping" in (
        err.message
    )


@pytest.mark.parametrize("text", ["", "# only a comment\n", "---\n"])
def test_empty_file(tmp_path: Path, text: str) -> None:
    err = load_error(tmp_path, text)
    assert err.message == f"inventory is empty: {tmp_path / 'inventory.yaml'}"


@pytest.mark.parametrize("text", ["guests:\n", "guests: {}\n"])
def test_no_guests(tmp_path: Path, text: str) -> None:
    err = load_error(tmp_path, text)
    (problem,) = err.problems
    assert problem.key_path == "guests"
    assert "no guests defined" in problem.message


def test_top_level_must_be_a_mapping(tmp_path: Path) -> None:
    err = load_error(tmp_path, "- xdev\n")
    assert "must be a mapping with a guests: key" in err.message


def test_guest_must_be_a_mapping(tmp_path: Path) -> None:
    err = load_error(tmp_path, "guests:\n  x: 192.168.7.200\n")
    (problem,) = err.problems
    assert (problem.line, problem.column, problem.key_path) == (2, 6, "guests.x")
    assert problem.message == "expected a mapping of keys, got a string"


def test_bad_guest_name(tmp_path: Path) -> None:
    err = load_error(tmp_path, "guests:\n  -bad:\n    host: h\n")
    (problem,) = err.problems
    assert (problem.line, problem.column, problem.key_path) == (2, 3, "guests.-bad")
    assert "guest name '-bad'" in problem.message


# ---------------------------------------------------------------------------------------------------------
# Field validation


def test_console_with_two_transports_is_an_error(tmp_path: Path) -> None:
    err = load_error(
        tmp_path, "guests:\n  x:\n    host: h\n    console:\n      tcp: 127.0.0.1:4555\n      unix: /run/c\n"
    )
    (problem,) = err.problems
    assert (problem.line, problem.column, problem.key_path) == (4, 5, "guests.x.console")
    assert problem.message == "needs exactly one transport of tcp, unix, command, ssh (found tcp and unix)"


def test_console_without_transport_is_an_error(tmp_path: Path) -> None:
    err = load_error(
        tmp_path, "guests:\n  x:\n    host: h\n    console:\n      user: root\n      password_env: P\n"
    )
    (problem,) = err.problems
    assert problem.key_path == "guests.x.console"
    assert "needs exactly one transport" in problem.message
    assert "(found none)" in problem.message


def test_console_model_enforces_one_transport_directly() -> None:
    with pytest.raises(ValidationError, match="found none"):
        ConsoleSettings(user="root")


@pytest.mark.parametrize(
    ("tcp", "fragment"),
    [
        ("'::1:4555'", "IPv6 address in brackets"),
        ("'127.0.0.1'", "expected host:port"),
        ("'127.0.0.1:0'", "out of range"),
        ("'127.0.0.1:70000'", "out of range"),
    ],
)
def test_console_tcp_address_validated(tmp_path: Path, tcp: str, fragment: str) -> None:
    err = load_error(tmp_path, f"guests:\n  x:\n    host: h\n    console:\n      tcp: {tcp}\n")
    (problem,) = err.problems
    assert (problem.line, problem.column, problem.key_path) == (5, 12, "guests.x.console.tcp")
    assert fragment in problem.message


def test_console_ssh_needs_host_and_command(tmp_path: Path) -> None:
    err = load_error(tmp_path, "guests:\n  x:\n    host: h\n    console:\n      ssh: {host: bhyvehost}\n")
    (problem,) = err.problems
    assert problem.key_path == "guests.x.console.ssh.command"
    assert problem.message == "required key 'command' is missing"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("274877906944", 274877906944),
        ("256GiB", 256 * 2**30),
        ("256G", 256 * 2**30),
        ("4TiB", 4 * 2**40),
        ("4T", 4 * 2**40),
        ("500GB", 500 * 10**9),
        ("1.5KiB", 1536),
        ("512M", 512 * 2**20),
        ("16k", 16 * 1024),
        ("100MB", 100 * 10**6),
        ("4096B", 4096),
        ("2 GiB", 2 * 2**30),
    ],
)
def test_size_parsing(text: str, expected: int) -> None:
    size = parse_disk_size(text)
    assert size.bytes == expected
    assert size.text == text


def test_size_from_yaml_integer_and_text(tmp_path: Path) -> None:
    text = (
        "guests:\n  a:\n    host: h\n    disk: {size: 274877906944}\n"
        "  b:\n    host: h\n    disk: {size: 500GB}\n"
    )
    inv = load_inventory(write(tmp_path, text))
    assert inv.guests["a"].disk.size == DiskSize("274877906944", 274877906944)
    assert inv.guests["b"].disk.size == DiskSize("500GB", 500_000_000_000)


@pytest.mark.parametrize("text", ["lots", "256GiBs", "256Gi", "-5G", "0", "0GiB", "1.3B", "256 XB", ""])
def test_size_rejected(text: str) -> None:
    with pytest.raises(ValueError):
        parse_disk_size(text)


@pytest.mark.parametrize("value", [True, 0, -1, 1.5, None])
def test_size_rejects_non_text_values(value: object) -> None:
    with pytest.raises(ValueError):
        parse_disk_size(value)


def test_bad_size_located_on_its_value(tmp_path: Path) -> None:
    err = load_error(tmp_path, "guests:\n  x:\n    host: h\n    disk:\n      size: 256XB\n")
    (problem,) = err.problems
    assert (problem.line, problem.column, problem.key_path) == (5, 13, "guests.x.disk.size")
    assert "cannot read size '256XB'" in problem.message


@pytest.mark.parametrize(
    ("mac", "normalised"),
    [
        ("58:9c:fc:03:19:32", "58:9c:fc:03:19:32"),
        ("58:9C:FC:03:19:32", "58:9c:fc:03:19:32"),
        ("58-9C-FC-03-19-32", "58:9c:fc:03:19:32"),
        ("'  58:9c:fc:03:19:32 '", "58:9c:fc:03:19:32"),
    ],
)
def test_mac_normalised(tmp_path: Path, mac: str, normalised: str) -> None:
    inv = load_inventory(write(tmp_path, f"guests:\n  x:\n    host: h\n    network:\n      mac: {mac}\n"))
    assert inv.guests["x"].network.mac == normalised


@pytest.mark.parametrize(
    "mac",
    ["58:9c:fc:03:19", "58:9c:fc:03:19:3g", "589cfc031932", "58:9c-fc:03:19:32", "58:9c:fc:03:19:32:00"],
)
def test_mac_invalid(tmp_path: Path, mac: str) -> None:
    err = load_error(tmp_path, f"guests:\n  x:\n    host: h\n    network:\n      mac: '{mac}'\n")
    (problem,) = err.problems
    assert problem.key_path == "guests.x.network.mac"
    assert "is not a MAC address" in problem.message


@pytest.mark.parametrize(
    ("netplan_file", "fragment"),
    [
        ("50-cloud-init.yaml", "must be an absolute path"),
        ("/etc/netplan/50.yml", "only files ending in .yaml"),
    ],
)
def test_netplan_file_validated(tmp_path: Path, netplan_file: str, fragment: str) -> None:
    err = load_error(tmp_path, f"guests:\n  x:\n    host: h\n    network: {{netplan_file: {netplan_file}}}\n")
    (problem,) = err.problems
    assert problem.key_path == "guests.x.network.netplan_file"
    assert fragment in problem.message


@pytest.mark.parametrize(
    ("port", "fragment"),
    [
        ("0", "greater than or equal to 1"),
        ("65536", "less than or equal to 65535"),
        ("'22'", "expected a whole"),
    ],
)
def test_port_validated(tmp_path: Path, port: str, fragment: str) -> None:
    err = load_error(tmp_path, f"guests:\n  x:\n    host: h\n    port: {port}\n")
    (problem,) = err.problems
    assert (problem.line, problem.column, problem.key_path) == (4, 11, "guests.x.port")
    assert fragment in problem.message


def test_host_os_choices(tmp_path: Path) -> None:
    err = load_error(tmp_path, "guests:\n  x:\n    host: h\n    disk: {host_os: windows}\n")
    (problem,) = err.problems
    assert problem.key_path == "guests.x.disk.host_os"
    assert "'linux' or 'freebsd'" in problem.message


def test_host_os_written_the_issue_5_way_points_to_disk_host_os(tmp_path: Path) -> None:
    err = load_error(tmp_path, "guests:\n  x:\n    host: {os: freebsd}\n")
    (problem,) = err.problems
    assert problem.key_path == "guests.x.host"
    assert "disk.host_os: freebsd" in problem.message


@pytest.mark.parametrize(
    ("host", "fragment"),
    [("admin@h", "user:"), ("h:22", "port:"), ("'-oProxyCommand=x'", "not a host name"), ("''", "empty")],
)
def test_host_validated(tmp_path: Path, host: str, fragment: str) -> None:
    err = load_error(tmp_path, f"guests:\n  x:\n    host: {host}\n")
    (problem,) = err.problems
    assert problem.key_path == "guests.x.host"
    assert fragment in problem.message


def test_ipv6_host_accepted(tmp_path: Path) -> None:
    inv = load_inventory(write(tmp_path, "guests:\n  x:\n    host: 'fe80::1'\n  y:\n    host: '[::1]'\n"))
    assert inv.guests["x"].host == "fe80::1"
    assert inv.guests["y"].host == "::1"


def test_number_where_text_expected_says_quote_it(tmp_path: Path) -> None:
    err = load_error(tmp_path, "guests:\n  x:\n    host: h\n    disk: {serial: 123456}\n")
    (problem,) = err.problems
    assert problem.key_path == "guests.x.disk.serial"
    assert problem.message == "expected a string, got a number (quote it so YAML keeps it as text)"


@pytest.mark.parametrize("name", ["XDEV_SUDO_PASSWORD", "_x", "lower_case1"])
def test_env_var_names_accepted(tmp_path: Path, name: str) -> None:
    text = (
        f"guests:\n  x:\n    host: h\n    sudo_password_env: {name}\n"
        f"    console: {{tcp: a:1, password_env: {name}}}\n"
    )
    guest = load_inventory(write(tmp_path, text)).guests["x"]
    assert guest.sudo_password_env == name
    assert guest.console is not None and guest.console.password_env == name


@pytest.mark.parametrize("value", ["hunter2 secret", "1PASSWORD", "$XDEV_SUDO_PASSWORD", "S3cr3t!"])
@pytest.mark.parametrize("where", ["sudo_password_env: {v}", "console: {{tcp: 'a:1', password_env: '{v}'}}"])
def test_env_var_names_rejected_without_echoing_the_value(tmp_path: Path, value: str, where: str) -> None:
    line = where.format(v=value)
    if line.startswith("sudo"):
        line = f"sudo_password_env: '{value}'"
    err = load_error(tmp_path, f"guests:\n  x:\n    host: h\n    {line}\n")
    (problem,) = err.problems
    assert problem.key_path.endswith("password_env")
    assert "must be the NAME of an environment variable" in problem.message
    assert value not in str(err)


# ---------------------------------------------------------------------------------------------------------
# Secrets


@pytest.mark.parametrize(
    ("text", "key_path"),
    [
        ("guests:\n  x:\n    host: h\n    sudo_password: hunter2\n", "guests.x.sudo_password"),
        ("guests:\n  x:\n    host: h\n    password: hunter2\n", "guests.x.password"),
        (
            "guests:\n  x:\n    host: h\n    console: {tcp: 'a:1', password: hunter2}\n",
            "guests.x.console.password",
        ),
        (
            "guests:\n  x:\n    host: h\n    console:\n"
            "      ssh: {host: b, command: c, passphrase: hunter2}\n",
            "guests.x.console.ssh.passphrase",
        ),
        ("guests:\n  x:\n    host: h\n    disk: {serial: S, Password: hunter2}\n", "guests.x.disk.Password"),
        ("password: hunter2\nguests:\n  x:\n    host: h\n", "password"),
    ],
)
def test_secrets_rejected(tmp_path: Path, text: str, key_path: str) -> None:
    err = load_error(tmp_path, text)
    (problem,) = err.problems
    assert problem.key_path == key_path
    assert problem.message == SECRETS_MESSAGE
    assert "secrets do not belong in inventory.yaml" in str(err)
    assert "hunter2" not in str(err)


def test_secret_nested_under_a_plain_value_is_rejected(tmp_path: Path) -> None:
    err = load_error(tmp_path, "guests:\n  x:\n    host: h\n    user: {name: admin, password: hunter2}\n")
    messages = {p.key_path: p.message for p in err.problems}
    assert messages["guests.x.user.password"] == SECRETS_MESSAGE
    assert "hunter2" not in str(err)


# ---------------------------------------------------------------------------------------------------------
# Choosing a guest


def _two_guests() -> Inventory:
    return Inventory(guests={"xdev": Guest(host="a"), "lab": Guest(host="b")})


def test_choose_the_only_guest() -> None:
    inv = Inventory(guests={"xdev": Guest(host="a")})
    assert inv.choose(None) == ("xdev", Guest(host="a"))
    assert inv.choose("xdev") == ("xdev", Guest(host="a"))


def test_choose_by_name() -> None:
    assert _two_guests().choose("lab") == ("lab", Guest(host="b"))


def test_choose_none_with_several_guests_lists_them() -> None:
    with pytest.raises(UsageError) as info:
        _two_guests().choose(None)
    assert info.value.message == "the inventory has 2 guests: lab, xdev"
    assert info.value.hint is not None
    assert render_options(info.value.hint) == "choose one with --guest NAME"
    assert info.value.exit_code == 2


def test_choose_unknown_name_suggests() -> None:
    with pytest.raises(UsageError) as info:
        _two_guests().choose("xdv")
    assert info.value.message == "no guest 'xdv' in the inventory (did you mean 'xdev'?); guests: lab, xdev"


def test_choose_unknown_name_without_close_match() -> None:
    with pytest.raises(UsageError) as info:
        _two_guests().choose("zzzzzz")
    assert info.value.message == "no guest 'zzzzzz' in the inventory; guests: lab, xdev"


def test_inventory_model_needs_a_guest() -> None:
    with pytest.raises(ValidationError, match="no guests defined"):
        Inventory(guests={})


# ---------------------------------------------------------------------------------------------------------
# resolve_secret


def test_resolve_secret_from_env() -> None:
    def prompt(text: str) -> str:
        raise AssertionError("must not prompt when the env var is set")

    value = resolve_secret("SUDO_PW", what="sudo password", env={"SUDO_PW": "s3cret"}, prompt=prompt)
    assert value == "s3cret"


def test_resolve_secret_prompts_when_unset() -> None:
    asked: list[str] = []

    def prompt(text: str) -> str:
        asked.append(text)
        return "typed"

    assert resolve_secret("SUDO_PW", what="sudo password for admin@xdev", env={}, prompt=prompt) == "typed"
    assert asked == ["sudo password for admin@xdev: "]


def test_resolve_secret_empty_env_counts_as_unset() -> None:
    assert resolve_secret("PW", what="x", env={"PW": ""}, prompt=lambda _: "typed") == "typed"
    assert resolve_secret("PW", what="x", env={"PW": ""}, prompt=None) is None


def test_resolve_secret_none_without_env_or_prompt() -> None:
    assert resolve_secret("PW", what="console password", env={"OTHER": "x"}, prompt=None) is None
    assert resolve_secret(None, what="console password", env={"PW": "x"}, prompt=None) is None


def test_resolve_secret_no_env_name_prompts() -> None:
    assert resolve_secret(None, what="console password", env={}, prompt=lambda _: "typed") == "typed"


def test_resolve_secret_eof_at_prompt_gives_none() -> None:
    def prompt(text: str) -> str:
        raise EOFError

    assert resolve_secret("PW", what="x", env={}, prompt=prompt) is None


def test_resolve_secret_never_logs_the_value(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG")
    resolve_secret("PW", what="sudo password", env={"PW": "s3cret-value"}, prompt=None)
    resolve_secret("PW2", what="sudo password", env={}, prompt=lambda _: "typed-value")
    assert "s3cret-value" not in caplog.text
    assert "typed-value" not in caplog.text


# ---------------------------------------------------------------------------------------------------------
# The repository's inventory.yaml


def test_repository_inventory_describes_the_lab() -> None:
    inv = load_inventory(REPO / "inventory.yaml")
    name, guest = inv.choose(None)
    assert name == "xdev"
    assert (guest.host, guest.port, guest.user) == ("127.0.0.1", 2222, "admin")
    home = Path.home()
    assert guest.identity_file == home / ".cache/guest-disk-agent/lab/ssh/id_ed25519"
    assert guest.known_hosts == home / ".cache/guest-disk-agent/lab/ssh/known_hosts"
    assert guest.sudo_password_env == "XDEV_SUDO_PASSWORD"
    assert guest.disk == DiskPins(serial="Y39B70RTK7AS")
    assert guest.network == NetworkSettings(
        mac="58:9c:fc:03:19:32", netplan_file=PurePosixPath("/etc/netplan/50-cloud-init.yaml")
    )
    assert guest.console is not None
    assert guest.console.tcp == HostPort("127.0.0.1", 4555)
    assert (guest.console.user, guest.console.password_env) == ("root", "XDEV_CONSOLE_PASSWORD")


def test_repository_inventory_bhyve_example_loads_when_uncommented(tmp_path: Path) -> None:
    lines = (REPO / "inventory.yaml").read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("#   xdev-bhyve:"))
    block = lines[start:]
    assert all(line.startswith("# ") for line in block)
    uncommented = lines[:start] + [line[2:] for line in block]
    path = tmp_path / "inventory.yaml"
    path.write_text("\n".join(uncommented) + "\n", encoding="utf-8")

    inv = load_inventory(path)
    assert sorted(inv.guests) == ["xdev", "xdev-bhyve"]
    _, guest = inv.choose("xdev-bhyve")
    assert (guest.host, guest.port, guest.user) == ("192.168.7.200", 22, "admin")
    assert guest.identity_file == Path.home() / ".ssh/id_ed25519"
    assert guest.disk == DiskPins(
        serial="Y39B70RTK7AS",
        model="bhyve-NVMe",
        size=DiskSize("256GiB", 256 * 2**30),
        host_path=PurePosixPath("/dev/diskid/DISK-Y39B70RTK7ASp4"),
        host_os="freebsd",
    )
    assert guest.network.mac == "58:9c:fc:03:19:32"
    assert guest.console is not None and guest.console.ssh is not None
    assert guest.console.transport == "ssh"
    assert (guest.console.ssh.host, guest.console.ssh.command) == ("bhyvehost", "sudo vm console xdev")
    assert guest.console.password_env == "XDEV_CONSOLE_PASSWORD"


# ---------------------------------------------------------------------------------------------------------
# Console prompts and timeouts (issue 9, item 18)


def test_console_prompts_and_timeouts(tmp_path: Path) -> None:
    from agent.console.login_states import ConsoleState
    from agent.ops.connect import console_session_options

    guest = load_inventory(
        write(
            tmp_path,
            """
            guests:
              x:
                host: h
                console:
                  tcp: a:1
                  password_prompt: '(?i)kennwort bitte>'
                  login_incorrect: [Nein, 'Zugang verweigert']
                  shell_prompt: ['\\]\\$ ']
                  prompt_timeout: 20
                  command_timeout: 600.5
                  login_timeout: 90
            """,
        )
    ).guests["x"]
    console = guest.console
    assert console is not None
    assert console.password_prompt == ("(?i)kennwort bitte>",)
    assert console.login_incorrect == ("Nein", "Zugang verweigert")
    assert console.shell_prompt == ("\\]\\$ ",)
    assert (console.prompt_timeout, console.command_timeout, console.login_timeout) == (20, 600.5, 90)
    options = console_session_options(console)
    timeouts = (options["prompt_timeout"], options["command_timeout"], options["login_timeout"])
    assert timeouts == (20, 600.5, 90)
    table = options["prompts"].patterns()
    assert [s for s, p in table if p.search("KENNWORT BITTE> ")] == [ConsoleState.PASSWORD]
    assert ConsoleState.LOGIN_INCORRECT in [s for s, p in table if p.search("\nZugang verweigert\n")]
    assert [s for s, p in table if p.search("[me@x ~]$ ")][-1] is ConsoleState.SHELL


def test_console_timeouts_default_to_todays_values() -> None:
    console = ConsoleSettings.model_validate({"tcp": "a:1"})
    assert (console.prompt_timeout, console.command_timeout, console.login_timeout) == (10, 120, None)
    assert console.login_prompt == console.password_prompt == console.shell_prompt == ()


@pytest.mark.parametrize(
    ("setting", "problem"),
    [
        ("password_prompt: '(unclosed'", "is not a valid regular expression"),
        ("shell_prompt: ['.*']", "matches an empty text"),
        ("login_prompt: ['']", "must not be empty"),
        ("login_incorrect: 42", "a regular expression or a list of them"),
        ("prompt_timeout: 0", "greater than 0"),
        ("command_timeout: lots", "valid number"),
        ("login_timeout: true", "valid number"),
    ],
)
def test_console_prompt_and_timeout_validation(tmp_path: Path, setting: str, problem: str) -> None:
    err = load_error(tmp_path, f"guests:\n  x:\n    host: h\n    console:\n      tcp: a:1\n      {setting}\n")
    assert len(err.problems) == 1
    assert problem in err.problems[0].message
    assert err.problems[0].line == 6
