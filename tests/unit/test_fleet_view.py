"""The fleet views: plain lines (guest text cleaned of control characters), the live table's lines and
the summary table."""

from __future__ import annotations

import io

from rich.console import Console

from agent.cli.fleet_view import LiveView, PlainLines, summary_table
from agent.cli.safe_console import SafeConsole
from agent.errors import Unreachable
from agent.fleet.outcome import failed, skipped, succeeded, summary_row

UUID = "0b5c1f6e-2f4e-4b7a-9d0e-1c2b3a4d5e6f"
DONE = {"action": "formatted", "device": "nvme0n1", "uuid": UUID}


def console() -> tuple[Console, io.StringIO]:
    buf = io.StringIO()
    return SafeConsole(file=buf, width=120, highlight=False, soft_wrap=True, color_system=None), buf


def test_plain_lines_name_the_guest_on_every_line_and_show_control_characters() -> None:
    c, buf = console()
    view = PlainLines(c)
    view.started("lab1")
    view.progress("lab1", "mkfs.ext4 said:\n\x1b[31mred\x1b[0m\rdone")
    view.progress("lab2", "use {opt:force} to overwrite")
    view.finished(succeeded("lab1", DONE, 0, 3.21))
    view.finished(failed("lab2", Unreachable("cannot reach SSH on h:22"), 0.4))
    view.finished(skipped("lab3", "not run: interrupted (Ctrl-C)"))
    lines = buf.getvalue().splitlines()
    assert lines[0] == "lab1: started"
    assert lines[1] == "lab1: mkfs.ext4 said:"
    assert lines[2].startswith("lab1: ") and "\x1b" not in lines[2] and "\r" not in lines[2]
    assert "red" in lines[2] and "done" in lines[2]
    assert lines[3] == "lab2: use --force to overwrite"
    assert lines[4] == f"lab1: formatted nvme0n1 UUID {UUID} (3.2 s)"
    assert lines[5] == "lab2: unreachable: cannot reach SSH on h:22 (0.4 s)"
    assert lines[6] == "lab3: skipped: not run: interrupted (Ctrl-C)"


def test_the_live_view_has_one_line_per_guest_with_its_phase_and_result() -> None:
    c, buf = console()
    view = LiveView(["lab1", "lab2", "lab3"], console=c)
    view.started("lab1")
    view.progress("lab1", "discarding /dev/nvme0n1\nrunning mkfs.ext4")
    view.started("lab2")
    view.finished(failed("lab2", Unreachable("cannot reach SSH on h:22"), 0.4))
    c.print(view)
    lines = [line.split() for line in buf.getvalue().splitlines()]
    assert lines[0][:3] == ["lab1", "running", "mkfs.ext4"] and lines[0][-1].endswith("s")
    assert lines[1][0] == "lab2" and "unreachable" in lines[1] and "cannot" in lines[1]
    assert lines[2] == ["lab3", "waiting"]


def test_the_summary_table_has_the_columns_and_a_row_per_guest() -> None:
    c, buf = console()
    rows = [summary_row(succeeded("lab1", DONE, 0, 3.21)), summary_row(skipped("lab2", "not run"))]
    c.print(summary_table(rows))
    text = [line.split() for line in buf.getvalue().splitlines() if line.strip()]
    assert text[0] == ["guest", "result", "device", "UUID", "time"]
    assert ["lab1", "formatted", "nvme0n1", UUID, "3.2s"] in text
    assert ["lab2", "skipped"] in text
