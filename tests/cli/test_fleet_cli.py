"""Fleet mode through the real ``gda`` (and ``invoke``), against an inventory of guests that are
unreachable (closed loopback ports: each gives exit 4 at once): JSON lines, the summary object, plain
lines and the summary table, the exit code, ``--limit``, repeated ``-g``, ``--batch`` with
``--max-fail-percentage``, the refusals, and single mode left as it was."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from agent.errors import ExitCode
from tests.cli.gda_run import gda, invoke, json_error
from tests.cli.test_gda_errors import closed_port

NAMES = ["lab1", "lab2", "lab3", "web1"]


@pytest.fixture(scope="module")
def inventory(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("fleet")
    key = tmp / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    lines = [
        "groups:",
        "  lab: {members: [lab1, lab2, lab3]}",
        "  all:",
        f"    vars: {{user: admin, identity_file: {key}, known_hosts: {tmp / 'known_hosts'}}}",
        "guests:",
    ]
    lines += [f"  {name}: {{host: 127.0.0.1, port: {closed_port()}}}" for name in NAMES]
    path = tmp / "inventory.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def json_lines(r: subprocess.CompletedProcess[str]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The per-guest objects and the final summary object of a ``--json`` fleet run (nothing else on
    stdout: every line is one JSON object)."""
    assert "Traceback" not in r.stderr, r.stderr
    objs = [json.loads(line) for line in r.stdout.splitlines()]
    *guests, summary = objs
    assert summary["summary"] is True and all("summary" not in g for g in guests)
    assert summary["guests"] == len(guests) and summary["exit_code"] == r.returncode
    assert summary["ok"] is (r.returncode == 0)
    assert set(summary) == {"summary", "ok", "guests", "results", "exit_code", "seconds"}
    return guests, summary


def test_json_lines_one_per_guest_then_the_summary(inventory: Path) -> None:
    r = gda("format", "--fs", "ext4", "-i", str(inventory), "--json")
    guests, summary = json_lines(r)
    assert r.returncode == ExitCode.UNREACHABLE
    assert sorted(g["guest"] for g in guests) == NAMES, "no selection: every guest"
    for g in guests:
        assert g["ok"] is False and isinstance(g["seconds"], float)
        assert set(g["error"]) == {"kind", "message", "hint", "exit_code"}
        assert g["error"]["kind"] == "unreachable" and g["error"]["exit_code"] == 4
        assert "cannot reach SSH on 127.0.0.1:" in g["error"]["message"]
    assert summary["results"] == {"unreachable": 4}
    assert "lab1: started" in r.stderr, "the progress still goes to stderr"


def test_limit_selects_by_pattern_and_plain_lines_name_each_guest(inventory: Path) -> None:
    r = gda("format", "--fs", "ext4", "-i", str(inventory), "--limit", "lab*:!lab3")
    assert r.returncode == ExitCode.UNREACHABLE and "Traceback" not in r.stderr
    for name in ("lab1", "lab2"):
        assert f"{name}: started\n" in r.stderr
        assert f"{name}: unreachable: cannot reach SSH on 127.0.0.1:" in r.stderr
        assert f"{name}: hint: is the guest up" in r.stdout
    assert "lab3" not in r.stderr + r.stdout and "web1" not in r.stderr + r.stdout
    header = next(line for line in r.stdout.splitlines() if "guest" in line)
    assert header.split() == ["guest", "result", "device", "UUID", "time"]
    rows = [line.split() for line in r.stdout.splitlines() if line.strip().startswith("lab")]
    assert [row[:2] for row in rows[:2]] == [["lab1", "unreachable"], ["lab2", "unreachable"]]
    assert "2 guests: 2 unreachable;" in r.stdout and "exit 4" in r.stdout


def test_guest_repeats(inventory: Path) -> None:
    r = gda("disks", "-i", str(inventory), "-g", "web1", "-g", "lab2", "--json")
    guests, summary = json_lines(r)
    assert sorted(g["guest"] for g in guests) == ["lab2", "web1"]
    assert summary["results"] == {"unreachable": 2}


def test_a_limit_of_one_guest_is_still_a_fleet_run(inventory: Path) -> None:
    r = gda("disks", "-i", str(inventory), "--limit", "lab1", "--json")
    guests, _ = json_lines(r)
    assert [g["guest"] for g in guests] == ["lab1"]


def test_max_fail_percentage_skips_the_rest(inventory: Path) -> None:
    r = gda("format", "--fs", "ext4", "-i", str(inventory), "--limit", "lab", "--batch", "1",
            "--max-fail-percentage", "0", "--json")  # fmt: skip
    guests, summary = json_lines(r)
    assert r.returncode == ExitCode.UNREACHABLE
    by = {g["guest"]: g for g in guests}
    assert by["lab1"]["error"]["kind"] == "unreachable"
    for name in ("lab2", "lab3"):
        assert by[name]["skipped"] is True and by[name]["error"]["kind"] == "skipped"
        assert by[name]["error"]["exit_code"] == 0 and by[name]["error"]["message"].startswith("not run:")
    assert summary["results"] == {"unreachable": 1, "skipped": 2}
    assert "lab2: skipped: not run:" in r.stderr


def test_single_mode_is_unchanged(inventory: Path) -> None:
    """One guest named and no fleet option: the single-guest output (one indented object), as before."""
    r = gda("format", "--fs", "ext4", "-i", str(inventory), "-g", "lab1", "--json")
    err = json_error(r)
    assert r.returncode == ExitCode.UNREACHABLE and err["kind"] == "unreachable"
    assert r.stdout.startswith("{\n"), "the indented single object, not JSON lines"
    assert "lab1:" not in r.stderr, "no fleet lines"


def test_force_without_yes_is_refused_before_anything_runs(inventory: Path) -> None:
    r = gda("format", "--fs", "ext4", "--force", "-i", str(inventory), "--limit", "lab")
    assert r.returncode == ExitCode.USAGE and r.stdout == ""
    assert "--force without --yes on several guests" in r.stderr and "started" not in r.stderr
    err = json_error(gda("format", "--fs", "ext4", "--force", "-i", str(inventory), "--json"))
    assert err["kind"] == "usage" and "add --yes" in str(err["hint"])


def test_one_transcript_file_for_several_guests_is_refused(inventory: Path, tmp_path: Path) -> None:
    r = gda("fix-netplan", "-i", str(inventory), "--transcript", str(tmp_path / "t.log"), "--json")
    err = json_error(r)
    assert r.returncode == ExitCode.USAGE
    assert "each guest needs its own transcript file" in str(err["message"])
    assert "{guest}" in str(err["hint"]) and not (tmp_path / "t.log").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--batch", "0%"], "--batch: '0%' is not a percent 1%..100%"),
        (["--batch", "x"], "--batch: 'x' (in 'x') is not a number of guests"),
        (["--forks", "0"], "--forks takes a number of guests at once, 1..100, not 0"),
        (["--forks", "many"], "--forks takes a number, not 'many'"),
        (["--max-fail-percentage", "120"], "--max-fail-percentage takes a percent 0..100, not '120'"),
        (["--limit", "nope"], "--limit: 'nope' matches no guest or group"),
        (["-g", "lab1", "-g", "lab"], "no guest 'lab' in the inventory (it is a group: use --limit)"),
    ],
)
def test_bad_fleet_options_exit_2(inventory: Path, args: list[str], message: str) -> None:
    r = gda("format", "--fs", "ext4", "-i", str(inventory), *args, "--json")
    err = json_error(r)
    assert r.returncode == ExitCode.USAGE and message in str(err["message"]), err


def test_the_help_shows_the_fleet_options() -> None:
    r = gda("format", "--help")
    for option in ("--limit", "--forks", "--batch", "--max-fail-percentage", "-g, --guest"):
        assert option in r.stdout, option


def test_invoke_runs_fleet_mode_too(inventory: Path) -> None:
    r = invoke("format", "--fs", "xfs", "-i", str(inventory), "--limit", "lab1,web1", "--forks", "2",
               "--json")  # fmt: skip
    guests, _ = json_lines(r)
    assert sorted(g["guest"] for g in guests) == ["lab1", "web1"] and r.returncode == 4
