"""fix-netplan's ``--transcript FILE``: a new file of mode 0600 (it shows the console session), never an
existing one (a usage error, the file untouched)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from agent.cli.net_tasks import open_transcript
from agent.errors import UsageError
from tests.cli.gda_run import gda, json_error
from tests.cli.test_gda_errors import unreachable_inventory


def test_the_transcript_is_created_0600_even_with_a_lax_umask(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        with open_transcript(str(tmp_path / "t.txt")) as f:
            f.write("x\n")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "t.txt").stat().st_mode) == 0o600


def test_an_existing_file_or_symlink_is_refused_and_left_alone(tmp_path: Path) -> None:
    old = tmp_path / "old.txt"
    old.write_text("keep me\n")
    with pytest.raises(UsageError, match="exists already"):
        open_transcript(str(old))
    link = tmp_path / "link.txt"
    link.symlink_to(tmp_path / "elsewhere.txt")
    with pytest.raises(UsageError, match="exists already"):
        open_transcript(str(link))
    assert old.read_text() == "keep me\n" and not (tmp_path / "elsewhere.txt").exists()


def test_cli_refuses_an_existing_transcript_with_a_usage_error(tmp_path: Path) -> None:
    existing = tmp_path / "console.txt"
    existing.write_text("an earlier session\n")
    inv = unreachable_inventory(tmp_path)
    r = gda("fix-netplan", "--transcript", str(existing), "--inventory", str(inv), "--json")
    err = json_error(r)
    assert (
        r.returncode == 2
        and "exists already" in str(err["message"])
        and "--transcript" in str(err["message"])
    )
    assert existing.read_text() == "an earlier session\n"


def test_cli_creates_the_transcript_0600(tmp_path: Path) -> None:
    new = tmp_path / "console.txt"
    inv = unreachable_inventory(tmp_path)
    old = os.umask(0o022)
    try:
        r = gda("fix-netplan", "--via", "ssh", "--transcript", str(new), "--inventory", str(inv), "--json")
    finally:
        os.umask(old)
    assert r.returncode != 0 and "Traceback" not in r.stderr  # SSH is unreachable
    assert stat.S_IMODE(new.stat().st_mode) == 0o600
