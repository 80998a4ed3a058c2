"""vm-bhyve's ``vm list`` output (agent.core.vmbhyve.vm_list), as data cases.

The format is churchers/vm-bhyve v1.6.2 ``lib/vm-core`` (``git show v1.6.2:lib/vm-core``): line 35
``_format="%s^%s^%s^%s^%s^%s^%s^%s\\n"``, line 58 the header (NAME DATASTORE LOADER CPU MEMORY VNC AUTO
STATE), line 128 one row per guest, line 131 ``} | column -ts^``; AUTO ``Yes [N]`` at lines 106-112,
``Locked (HOST)`` at lines 115-118, ``Running (PID)``/``Bootloader (PID)`` from lib/vm-run
``vm::running_check`` (lines 841-866). ``column -t`` (FreeBSD usr.bin/column) pads every column but the
last to its widest cell plus two blanks and splits on runs of the separator, so an empty CPU or MEMORY
cell (a conf without them) shifts the row's later cells one column left: the ``bare`` row below.
"""

from __future__ import annotations

import pytest

from agent.core.vmbhyve.vm_list import VmListError, parse_vm_list

LISTING = (
    "NAME       DATASTORE  LOADER     CPU  MEMORY  VNC           AUTO     STATE\n"
    "alpine     default    grub       1    512M    -             No       Stopped\n"
    "freebsd14  default    bhyveload  2    2G      -             Yes [1]  Running (2245)\n"
    "xdev       default    uefi       4    16G     0.0.0.0:5900  Yes [2]  Running (81234)\n"
    "web1       tank       uefi       2    4G      -             No       Locked (bhyve2.example.net)\n"
    "bare       default    none       -    No      Stopped\n"
)
# the stand-in's vm list of the seed (agent/lab/standin/stubs/vm_bhyve.py vm_list), xdev running
STANDIN = (
    "NAME  DATASTORE  LOADER  CPU  MEMORY  VNC           AUTO  STATE\n"
    "xdev  default    uefi    4    16G     0.0.0.0:5900  No    Running (4242)\n"
)


def test_every_column_of_a_full_row() -> None:
    rows = {r.name: r for r in parse_vm_list(LISTING).rows}
    x = rows["xdev"]
    assert (x.datastore, x.loader, x.cpu, x.memory, x.vnc, x.auto) == (
        "default", "uefi", "4", "16G", "0.0.0.0:5900", "Yes [2]",
    )  # fmt: skip
    assert x.state == "Running (81234)" and x.running is True and x.pid == 81234
    assert rows["freebsd14"].auto == "Yes [1]" and rows["freebsd14"].pid == 2245


@pytest.mark.parametrize(
    ("name", "state", "running"),
    [
        ("alpine", "Stopped", False),
        ("web1", "Locked (bhyve2.example.net)", False),
        ("freebsd14", "Running (2245)", True),
    ],
)
def test_states(name: str, state: str, running: bool) -> None:
    row = parse_vm_list(LISTING).row(name)
    assert row is not None and row.state == state and row.running is running


def test_a_row_with_merged_empty_cells_keeps_name_datastore_and_state() -> None:
    listing = parse_vm_list(LISTING)
    bare = listing.row("bare")
    assert bare is not None
    assert (bare.datastore, bare.state, bare.running) == ("default", "Stopped", False)
    assert bare.cpu is None and bare.memory is None and bare.note is not None
    assert listing.problems == ()
    assert listing.names() == ("alpine", "freebsd14", "xdev", "web1", "bare")


def test_bootloader_state_is_running() -> None:
    text = (
        "NAME  DATASTORE  LOADER  CPU  MEMORY  VNC  AUTO  STATE\n"
        "g1    default    grub    1    1G      -    No    Bootloader (77)\n"
    )
    (row,) = parse_vm_list(text).rows
    assert row.running is True and row.pid == 77


def test_the_stand_ins_listing() -> None:
    (row,) = parse_vm_list(STANDIN).rows
    assert (row.name, row.vnc, row.state, row.pid) == ("xdev", "0.0.0.0:5900", "Running (4242)", 4242)


def test_an_empty_datastore_lists_only_the_header() -> None:
    assert parse_vm_list("NAME  DATASTORE  LOADER  CPU  MEMORY  VNC  AUTO  STATE\n").rows == ()


def test_an_error_instead_of_a_listing() -> None:
    with pytest.raises(VmListError, match="no NAME DATASTORE"):
        parse_vm_list(
            "/usr/local/sbin/vm: ERROR: $vm_dir has not been configured or is not a valid directory\n"
        )


def test_control_characters_are_cleaned_and_misaligned_rows_reported() -> None:
    text = (
        "NAME  DATASTORE  LOADER  CPU  MEMORY  VNC  AUTO  STATE\n"
        "a\x1bb   default    none    1    1G      -    No    Stopped\n"
        "toolongname default none 1 1G - No Stopped\n"
    )
    listing = parse_vm_list(text)
    (row,) = listing.rows
    assert row.name == "a\\x1bb"
    ((line, why),) = listing.problems
    assert line == 3 and "do not line up" in why


def test_crlf_lines_are_read() -> None:
    (row,) = parse_vm_list(STANDIN.replace("\n", "\r\n")).rows
    assert row.state == "Running (4242)"
