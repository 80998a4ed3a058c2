"""Hostile guest strings: control characters shown as escapes, markup never interpreted (issue 9, 12)."""

from __future__ import annotations

import io
import json

import pytest

from agent.cli import emit, render
from agent.cli.safe_console import SafeConsole
from agent.core.disk.probe import parse_facts
from agent.core.guest_text import clean
from agent.core.net.interfaces import parse_ip_link
from agent.errors import Refused
from agent.inventory import Guest
from agent.ops import format_disk as fmt
from agent.transport.protocol import Result
from tests.unit.disk_fixtures import fixture_text
from tests.unit.test_format_disk_op import FakeSession

ESC_LABEL = "\x1b[2K\x1b[1Ghostdata"
SHOWN_LABEL = "\\x1b[2K\\x1b[1Ghostdata"


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("plain [/] text", "plain [/] text"),
        ("\x1b[2Kx", "\\x1b[2Kx"),
        ("a\tb\x00c\x7f", "a\\x09b\\x00c\\x7f"),
        ("c1 \x9b2K", "c1 \\x9b2K"),  # the one-byte CSI
        ("bidi \u202egnp.exe", "bidi \\u202egnp.exe"),
        ("zero\u200bwidth \ufeff", "zero\\u200bwidth \\ufeff"),
        ("line\u2028sep", "line\\u2028sep"),
        ("surrogate \udcff", "surrogate \\udcff"),
        ("Grüße €", "Grüße €"),
    ],
)
def test_clean(raw: str, shown: str) -> None:
    assert clean(raw) == shown
    assert clean(shown) == shown, "idempotent"
    assert clean(shown).isprintable()


def test_clean_multiline_keeps_newlines_only() -> None:
    assert clean("a\nb\r\n", multiline=True) == "a\nb\\x0d\n"
    assert clean("a\nb") == "a\\x0ab"


def hostile_facts() -> str:
    """The bhyve ext4 capture with the NVMe disk's serial "[/]" and its label ESC[2K ESC[1G hostdata."""
    text = fixture_text("bhyve_nvme_ext4")
    text = text.replace('"serial": "Y39B70RTK7AS"', '"serial": "[/]"')
    text = text.replace("device/serial=Y39B70RTK7AS", "device/serial=[/]")
    text = text.replace('"label": "hostdata"', '"label": ' + json.dumps(ESC_LABEL))
    text = text.replace("LABEL=hostdata", "LABEL=" + ESC_LABEL)
    assert text.count("[/]") == 2 and text.count("\\u001b[2K") == 2 and text.count("\x1b[2K") == 1
    return text


def test_the_parse_boundary_cleans_guest_strings() -> None:
    facts = parse_facts(hostile_facts())
    nvme = next(d for d in facts.disks if d.name == "nvme0n1")
    assert nvme.serial == "[/]"
    assert nvme.label == SHOWN_LABEL
    assert {s.label for s in nvme.signatures.signatures if s.label} == {SHOWN_LABEL}
    assert all("\x1b" not in repr(d) for d in facts.disks)


def _capture(monkeypatch: pytest.MonkeyPatch) -> io.StringIO:
    buf = io.StringIO()
    console = SafeConsole(file=buf, highlight=False, soft_wrap=True, width=200)
    monkeypatch.setattr(emit, "out", console)
    monkeypatch.setattr(emit, "err", console)
    return buf


def _session() -> FakeSession:
    return FakeSession(hostile_facts(), lambda _s: Result(1, "", "the guard must not run"))


def test_disks_table_with_hostile_strings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Before: rich.errors.MarkupError on the serial "[/]" (a traceback)."""
    buf = _capture(monkeypatch)
    facts, verdicts, pins = fmt.list_disks(_session(), Guest(host="127.0.0.1"), "xfs", lambda _m: None)
    render.disks_table("lab", facts, verdicts, pins)
    shown = buf.getvalue()
    assert "[/]" in shown and "nvme0n1" in shown
    assert "\x1b" not in shown


def test_force_refusal_and_prompt_show_no_raw_escape(monkeypatch: pytest.MonkeyPatch) -> None:
    buf = _capture(monkeypatch)
    opts = fmt.FormatOptions(fs="xfs", force=True)
    with pytest.raises(Refused) as info:
        fmt.run_format(_session(), "lab", Guest(host="127.0.0.1"), opts, log=lambda _m: None)
    assert SHOWN_LABEL in str(info.value) and "\x1b" not in str(info.value)
    assert emit.report_failure(info.value, json=False) == 1
    assert "\x1b" not in buf.getvalue() and SHOWN_LABEL in buf.getvalue()
    prompts: list[str] = []

    def ask(prompt: str) -> str:
        prompts.append(prompt)
        return "no"

    with pytest.raises(Refused, match="not confirmed"):
        fmt.run_format(_session(), "lab", Guest(host="127.0.0.1"), opts, log=lambda _m: None, ask=ask)
    assert len(prompts) == 1 and SHOWN_LABEL in prompts[0] and "\x1b" not in prompts[0]


def test_the_console_escapes_what_a_caller_forgot() -> None:
    buf = io.StringIO()
    SafeConsole(file=buf).print("raw \x1b]0;title\x07 \x9b31m\nnext", markup=False)
    assert buf.getvalue() == "raw \\x1b]0;title\\x07 \\x9b31m\nnext\n"


def test_interface_names_are_cleaned() -> None:
    link = json.dumps(
        [
            {
                "ifname": "en\x1b[8m0",
                "link_type": "ether",
                "address": "58:9c:fc:03:19:32",
                "altnames": ["a\x07"],
            }
        ]
    )
    (iface,) = parse_ip_link(link)
    assert iface.name == "en\\x1b[8m0" and iface.altnames == ("a\\x07",)
