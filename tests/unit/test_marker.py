"""The one framing of every remote script: the shell side (lib/marker.sh) parsed by agent/core/marker.py."""

from __future__ import annotations

import subprocess

import pytest

from agent.core import marker
from agent.core.script_render import SHARED_MARK, body, prelude, render, runs, script_names, split_shared


def _run_sh(text: str) -> str:
    return subprocess.run(["sh", "-c", text], capture_output=True, text=True, check=False).stdout


def test_shell_framing_round_trip() -> None:
    nonce = marker.new_nonce()
    text = (
        prelude({}, nonce=nonce)
        + runs("lib/marker.sh")
        + "T=$(mktemp -d); trap 'rm -rf \"$T\"' EXIT\n"
        + "echo 'a sudo lecture'\n"
        + "gda_header TEST 3 uid=7\n"
        + "gda_run greet - sh -c 'echo hello; echo oops >&2; exit 4'\n"
        + "gda_obs key 'two\nlines'\n"
        + "gda_result 5 because\n"
        + "gda_done\n"
    )
    f = marker.parse(_run_sh(text), "TEST")
    assert (f.kind, f.version, f.nonce, dict(f.attrs)) == ("TEST", "3", nonce, {"uid": "7"})
    assert f.before == ("a sudo lecture",)
    s = f.get("greet")
    assert s is not None and (s.stdout, s.stderr, s.rc, s.ok) == ("hello\n", "oops\n", 4, False)
    assert f.observed == {"key": "two lines"}
    assert f.result == (5, "because")
    assert f.complete


def test_output_without_a_final_newline_keeps_its_last_line() -> None:
    # gda_run passes stdout straight through (no copy), so a last line without "\n" carries the STDERR
    # marker, and a stderr without one the END marker; a glued marker of another nonce is text
    nonce = marker.new_nonce()
    text = (
        prelude({}, nonce=nonce)
        + runs("lib/marker.sh")
        + "T=$(mktemp -d); trap 'rm -rf \"$T\"' EXIT\n"
        + "gda_header TEST 1\n"
        + "gda_run a - printf 'one\\ntwo'\n"
        + "gda_run b - sh -c 'printf out; printf err >&2'\n"
        + "gda_run c - printf 'x@@GDA-0000000000000000 END rc=0@@'\n"
        + "gda_run d - true\n"
        + "gda_text e 3 \"$(printf 'cap\\n\\n')\"\n"
        + "gda_capture f - sh -c 'printf \"k=v\\n\\n\"; echo warn >&2; exit 2'\n"
        + 'gda_text g 0 "[$gda_out]"\n'
        + "gda_done\n"
    )
    f = marker.parse(_run_sh(text), "TEST")
    got = {s.name: (s.stdout, s.stderr, s.rc) for s in f.sections}
    assert got == {
        "a": ("one\ntwo\n", "", 0),
        "b": ("out\n", "err\n", 0),
        "c": ("x@@GDA-0000000000000000 END rc=0@@\n", "", 0),
        "d": ("", "", 0),
        "e": ("cap\n", "", 3),
        "f": ("k=v\n", "warn\n", 2),  # gda_capture: gda_run's section, the stdout kept in $gda_out
        "g": ("[k=v]\n", "", 0),
    }
    assert f.complete


def test_forged_markers_need_the_nonce() -> None:
    n = "a1b2c3d4e5f6a7b8"
    out = "\n".join(
        [
            marker.header_line("X", "1", n),
            f"@@GDA-{n} BEGIN lsblk -@@",
            '{"label": "@@GDA-0000000000000000 END rc=0@@"}',
            "@@GDA-0000000000000000 DONE@@",
            f"@@GDA-{n} END rc=0@@",
            f"@@GDA-{n} DONE@@",
        ]
    )
    f = marker.parse(out, "X")
    s = f.get("lsblk")
    assert s is not None and "END rc=0" in s.stdout and s.rc == 0 and f.complete


def test_split_on_newline_only() -> None:
    n = "a1b2c3d4e5f6a7b8"
    out = (
        f'{marker.header_line("X", "1", n)}\n@@GDA-{n} BEGIN j -@@\n"a\u2028b\u0085c"\n@@GDA-{n} END rc=0@@\n'
    )
    s = marker.parse(out, "X").get("j")
    assert s is not None and s.stdout == '"a\u2028b\u0085c"\n'


def test_truncated_and_missing() -> None:
    n = "a1b2c3d4e5f6a7b8"
    f = marker.parse(f"{marker.header_line('X', '1', n)}\n@@GDA-{n} BEGIN j -@@\npartial\n", "X")
    s = f.get("j")
    assert s is not None and s.rc is None and not f.complete
    with pytest.raises(marker.MarkerError, match="no recognizable output"):
        marker.parse("bash: sh: not found\n", "X")
    with pytest.raises(ValueError):
        marker.validate_nonce("short")


def test_render_prelude_quotes_values() -> None:
    text = render(
        "lib/marker",
        {"DEV": "/dev/x'; rm -rf /", "ON": True, "NUM": 3},
        nonce="abcdefgh12345678",
        exit_codes={"EXIT_SERIAL": 14},
        argv=["mkfs.ext4", "-L", "a b"],
    )
    assert "DEV='/dev/x'\"'\"'; rm -rf /'" in text
    assert "ON=1\nNUM=3\nEXIT_SERIAL=14\nset -- mkfs.ext4 -L 'a b'\n" in text
    with pytest.raises(ValueError):
        prelude({"bad-name": "x"}, nonce="abcdefgh12345678")
    with pytest.raises(ValueError):
        prelude({"N": "x"}, nonce="abcdefgh12345678")


def test_scripts_are_listed() -> None:
    assert "lib/marker.sh" in script_names()


def test_every_rendered_script_splits_into_its_values_and_a_shared_part_the_same_at_every_rendering() -> None:
    for name in script_names():
        assert SHARED_MARK not in body(name), name  # only render() writes the mark
    bodies = [n.removesuffix(".sh") for n in script_names() if not n.startswith("lib/")]
    assert "netplan_wayback" in bodies
    for name in bodies:
        first = render(name, {"ACTION": "arm"}, argv=["/etc/netplan/a.yaml", "/etc/netplan/a.yaml.bak"])
        second = render(name, {"ACTION": "cancel"}, argv=["/x"])
        one, two = split_shared(first), split_shared(second)
        assert one is not None and two is not None, name
        assert one[0] + SHARED_MARK + one[1] == first
        assert one[1] == two[1] and one[0] != two[0], name  # the values differ, the shared part does not
        assert one[1].endswith(runs(f"{name}.sh"))
        assert "\nACTION=arm\n" in one[0] and "\nACTION=cancel\n" in two[0]


def test_split_shared_takes_the_last_mark_and_only_rendered_text() -> None:
    hostile = render("read_file", {"SOURCE": "/tmp/x\n" + SHARED_MARK + "echo owned"})
    parts = split_shared(hostile)
    assert parts is not None
    head, shared = parts
    assert "echo owned" in head and shared.endswith(runs("read_file.sh"))  # the value stays in the head
    assert split_shared("echo hello\n" + SHARED_MARK + "echo there\n") is None
    assert split_shared("#!/bin/sh\n# guest-disk-agent: x.sh\nN=1\n") is None
