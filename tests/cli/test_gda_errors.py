"""Exit codes and JSON on failure: the same code with and without ``--json``, never a traceback."""

from __future__ import annotations

import json
import os
import socket
import subprocess
from pathlib import Path

import pytest

from agent.cli import program
from agent.errors import ExitCode
from tests.cli.gda_run import REPO, gda, json_error

XDEV = REPO / "tests" / "fixtures" / "vmbhyve" / "xdev.conf"


def closed_port() -> int:
    """A loopback port nobody listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def unreachable_inventory(tmp: Path) -> Path:
    key = tmp / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    inv = tmp / "inventory.yaml"
    inv.write_text(
        f"guests:\n  dead:\n    host: 127.0.0.1\n    port: {closed_port()}\n    user: admin\n"
        f"    identity_file: {key}\n    known_hosts: {tmp / 'known_hosts'}\n"
    )
    return inv


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["format", "--fs", "btrfs"], "--fs takes ext4 or xfs, not 'btrfs'"),
        (["format", "--fs", "ext4", "--host-compat", "windows"], "--host-compat takes freebsd or linux"),
        (["fix-netplan", "--via", "pigeon"], "--via takes auto or ssh or console, not 'pigeon'"),
        (["fix-netplan", "--deadline", "soon"], "--deadline takes a number, not 'soon'"),
        (["check-vm-config", "--conf", str(XDEV), "--port", "99999"], "--port is a TCP port"),
        (["lab.up", "--nic-slot", "40"], "--nic-slot is a PCI slot 3..31, not 40"),
        (["format", "--no-such-flag"], "No idea what '--no-such-flag' is!"),
        (["no-such-task"], "No idea what 'no-such-task' is!"),
        (["format"], "--fs ext4 or --fs xfs is required"),
        (["check-vm-config"], "give either --conf PATH or --host HOST --vm NAME"),
    ],
)
def test_bad_usage_exits_2_with_a_json_error(args: list[str], message: str, tmp_path: Path) -> None:
    inv = ["--inventory", str(unreachable_inventory(tmp_path))] if args[0] == "format" else []
    plain = gda(*args, *inv)
    assert plain.returncode == ExitCode.USAGE, plain.stdout + plain.stderr
    assert message in plain.stderr and "Traceback" not in plain.stderr
    assert plain.stdout == ""
    if args[0].startswith("lab."):
        return  # the lab tasks have no --json
    r = gda(*args, *inv, "--json")
    err = json_error(r)
    assert r.returncode == ExitCode.USAGE
    assert err["kind"] == "usage" and message in str(err["message"])


def test_a_bad_configuration_value_is_a_usage_error() -> None:
    env = {**os.environ, "GDA_FIX_NETPLAN_DEADLINE": "soon"}
    r = gda("check-vm-config", "--conf", str(XDEV), "--json", env=env)
    err = json_error(r)
    assert r.returncode == 2 and err["kind"] == "usage" and "bad configuration" in str(err["message"])


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        (".gda.yaml", "inventory: [1\n", ":2:1: not valid YAML: expected ',' or ']'"),
        (".gda.yaml", "- inventory\n", ": a gda config file must be a mapping of settings"),
        (
            ".gda.yml",
            "just words\n",
            ": a gda config file must be a mapping of settings (such as `inventory: PATH`), not str",
        ),
        (".gda.json", "{", ":1:2: not valid JSON: Expecting property name"),
        (".gda.py", "x = (", ": running it failed: SyntaxError: '(' was never closed"),
        (".gda.py", "x = 1 / 0", ": running it failed: ZeroDivisionError: division by zero"),
    ],
)
def test_a_broken_config_file_is_a_usage_error_naming_it(
    tmp_path: Path, name: str, text: str, message: str
) -> None:
    """invoke lets a config file's loader error through (PyYAML, json, the file's own Python): gda says
    which file and what is wrong, exit 2, where it reported a bug (exit 70)."""
    (tmp_path / name).write_text(text, encoding="utf-8")
    r = gda("check-vm-config", "--conf", str(XDEV), "--json", env={**os.environ, "HOME": str(tmp_path)})
    err = json_error(r)
    assert r.returncode == ExitCode.USAGE, r.stderr
    assert err["kind"] == "usage" and "Traceback" not in r.stderr
    assert str(err["message"]).startswith(f"{tmp_path / name}{message}")
    assert "~/.gda.yaml" in str(err["hint"])


def test_the_configuration_sets_defaults(tmp_path: Path) -> None:
    """``GDA_INVENTORY`` (gda's config prefix) replaces the default ./inventory.yaml."""
    env = {**os.environ, "GDA_INVENTORY": str(unreachable_inventory(tmp_path))}
    r = gda("disks", "--json", cwd=tmp_path, env=env)
    assert r.returncode == ExitCode.UNREACHABLE and json_error(r)["kind"] == "unreachable"


def test_short_json_flag_too() -> None:
    r = gda("format", "--fs", "btrfs", "-j")
    assert json_error(r)["kind"] == "usage"


def test_missing_inventory_exits_2(tmp_path: Path) -> None:
    for task in ("format", "disks", "fix-netplan"):
        args = [task, "--fs", "ext4"] if task == "format" else [task]
        r = gda(*args, "--json", cwd=tmp_path)  # no inventory.yaml in this folder
        err = json_error(r)
        assert r.returncode == 2 and err["kind"] == "usage"
        assert "inventory not found: inventory.yaml" in str(err["message"])
        assert gda(*args, cwd=tmp_path).returncode == 2


def test_unreachable_guest_exits_4_with_json(tmp_path: Path) -> None:
    inv = unreachable_inventory(tmp_path)
    r = gda("disks", "-i", str(inv), "--json")
    err = json_error(r)
    assert r.returncode == ExitCode.UNREACHABLE
    assert err["kind"] == "unreachable" and "cannot reach SSH on 127.0.0.1:" in str(err["message"])
    plain = gda("format", "--fs", "ext4", "-i", str(inv))
    assert plain.returncode == ExitCode.UNREACHABLE and plain.stdout == ""
    assert "error: cannot reach SSH" in plain.stderr and "Traceback" not in plain.stderr


def test_success_json_says_ok() -> None:
    r = gda("check-vm-config", "--conf", str(XDEV), "--vm-dir", "/zdata/vms/xdev", "--json")
    data = json.loads(r.stdout)
    assert "ok" in data and data["exit_code"] == r.returncode == 1  # a predicted rename is a warning
    assert "{opt:" not in r.stdout, "options are rendered as flags"


def test_an_unexpected_exception_is_one_line_naming_a_bug(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from agent.ops import vm_check

    def boom(*_a: object, **_k: object) -> None:
        raise RuntimeError("boom\nsecond line")

    monkeypatch.setattr(vm_check, "check", boom)
    for extra in ([], ["--json"]):
        with pytest.raises(SystemExit) as e:
            program.program.run(["gda", "check-vm-config", "--conf", str(XDEV), *extra])
        assert e.value.code == 70
        captured = capsys.readouterr()
        lines = captured.err.strip().splitlines()
        assert lines == ["bug in guest-disk-agent 0.1.0: RuntimeError: boom (please report it)"]
        if extra:
            data = json.loads(captured.out)
            assert data["ok"] is False and data["error"]["kind"] == "bug" and data["error"]["exit_code"] == 70
        else:
            assert captured.out == ""


def test_interrupt_exits_130(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from agent.ops import vm_check

    def interrupted(*_a: object, **_k: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(vm_check, "check", interrupted)
    with pytest.raises(SystemExit) as e:
        program.program.run(["gda", "check-vm-config", "--conf", str(XDEV), "--json"])
    assert e.value.code == ExitCode.INTERRUPTED
    assert json.loads(capsys.readouterr().out)["error"]["kind"] == "interrupted"


def test_lab_env_honours_state(tmp_path: Path) -> None:
    lines = "export XDEV_SUDO_PASSWORD='a1'\nexport XDEV_CONSOLE_PASSWORD='r1'\n"
    (tmp_path / "secrets.env").write_text(lines)
    r = gda("lab.env", "--state", str(tmp_path))
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["export XDEV_SUDO_PASSWORD='a1'", "export XDEV_CONSOLE_PASSWORD='r1'"]
    empty = tmp_path / "empty"
    empty.mkdir()
    r = gda("lab.env", "-s", str(empty))
    assert r.returncode == 2 and f"no lab passwords in {empty}" in r.stderr
    assert f"lab.up --state {empty}" in r.stderr


def test_lab_state_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``GDA_LAB_STATE`` (the gda config prefix) names the state folder as --state does."""
    (tmp_path / "secrets.env").write_text("export XDEV_SUDO_PASSWORD='a2'\n")
    monkeypatch.setenv("GDA_LAB_STATE", str(tmp_path))
    r = gda("lab.env")
    assert r.stdout.splitlines() == ["export XDEV_SUDO_PASSWORD='a2'"], r.stderr
