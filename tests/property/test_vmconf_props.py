"""Properties of the vm-bhyve config reader (agent.core.vmbhyve.vmconf) and check (vmfindings, vmreport).

Any text, and any bytes decoded as the transports decode them, either alone or as lines mixed into the
real configs of tests/fixtures/vmbhyve/ (disk and network keys with hostile values, CRLF, comments,
quotes): parsing, checking (with and without a "before" config), and rendering the report as text and
JSON never raise. The bytes reader (``vmconf.decode_conf``) is held to the same, and keeps every
``\\n`` and ``\\r`` (vm-bhyve's grep/awk/sed see them).
"""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import example, given
from hypothesis import strategies as st

from agent.core.vmbhyve import vmconf
from agent.core.vmbhyve.vmconf import parse_vm_config
from agent.core.vmbhyve.vmfindings import check_vm_config_text
from agent.core.vmbhyve.vmreport import render_report, report_to_json
from tests.property.conftest import examples
from tests.property.hostile import hostile_text

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "vmbhyve"
CONFS = tuple(p.read_text() for p in sorted(FIXTURES.iterdir()) if p.is_file())

KEYS = (
    "loader",
    "cpu",
    "memory",
    "disk0_type",
    "disk0_name",
    "disk0_dev",
    "disk1_type",
    "disk1_name",
    "disk1_dev",
    "disk1_opts",
    "disk2_slot",
    "disk12_name",
    "network0_type",
    "network0_switch",
    "network0_mac",
    "network0_slot",
    "network1_device",
    "passthru0",
    "uuid",
    "graphics",
    "Disk1_name",
    " disk1_name",
    "#disk1_name",
    "disk1_name ",
)


@st.composite
def conf_line(draw: st.DrawFn) -> str:
    key = draw(st.sampled_from(KEYS))
    value = draw(
        st.one_of(
            hostile_text,
            st.sampled_from(
                [
                    "custom",
                    "/dev/diskid/DISK-X\r",
                    '"nvme"',
                    "'virtio-blk'",
                    "disk1.img # comment",
                    '"a#b"',
                    "4",
                    "99999999999999999999",
                    "-1",
                    "0x10",
                    "4:0:0",
                    "yes",
                    "sparse-zvol",
                    "",
                ]
            ),
        )
    )
    sep = draw(st.sampled_from(["=", " = ", "="]))
    return f"{key}{sep}{value}"


@st.composite
def vm_conf(draw: st.DrawFn) -> str:
    lines = draw(st.sampled_from(CONFS)).split("\n")
    for _ in range(draw(st.integers(0, 6))):
        lines.insert(draw(st.integers(0, len(lines))), draw(conf_line()))
    newline = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    return newline.join(lines)


decoded = st.binary(max_size=300).map(lambda b: b.decode("utf-8", "replace")) | st.binary(max_size=300).map(
    lambda b: b.decode("utf-8", "surrogateescape")
)


def check(text: str, before: str | None) -> None:
    conf = parse_vm_config(text)
    assert isinstance(conf.entries, tuple)
    report = check_vm_config_text(
        text, vm_dir="/zdata/vms/xdev", vm_name="xdev", zvol_dataset="zdata/vms", before_text=before
    )
    assert all(isinstance(line, str) for line in render_report(report))
    json.dumps(report_to_json(report))


@given(st.one_of(vm_conf(), hostile_text, st.text(), decoded), st.none() | vm_conf())
@example("disk0_type=nvme\ndisk0_dev=custom\r\ndisk0_name=/dev/diskid/DISK-X\r\n", None)
@example("disk99999999999999999999_name=x\ndisk99999999999999999999_type=nvme\n", None)
@example("network0_slot=99999999999999999999\ndisk0_slot=4:99:0\ndisk0_type=nvme\ndisk0_name=a\n", None)
@example("\udcff\x00\u2028disk0_name=\x1b[2J\n", "\x85")
@examples(0.5)
def test_any_config_text_is_checked_without_a_traceback(text: str, before: str | None) -> None:
    check(text, before)


@given(st.binary(max_size=400) | vm_conf().map(lambda s: s.encode("utf-8", "surrogateescape")))
@examples(0.25)
def test_any_config_bytes_are_read_without_a_traceback(data: bytes) -> None:
    decode_conf = getattr(vmconf, "decode_conf", None)  # the bytes reader (issue 9, item 15)
    if decode_conf is not None:
        text = decode_conf(data)
        assert isinstance(text, str)
        assert text.count("\n") == data.count(b"\n")  # nothing normalised: lines stay vm-bhyve's lines
        assert text.count("\r") == data.count(b"\r")
        check(text, None)
    check(data.decode("utf-8", "replace"), None)
    check(data.decode("utf-8", "surrogateescape"), None)
