"""Properties of the disk-facts parser (agent.core.disk.probe.parse_facts and the section readers).

Synthetic facts outputs are built from the real captures in tests/fixtures/disks/*.txt, with generated
text (any characters, marker lines with other nonces, U+2028, ESC, NUL, invalid UTF-8 decoded as the
transports do) injected where a device or a user controls the bytes: lsblk's JSON strings (label, serial,
model, mountpoints), sysfs values (serial, model), blkid's LABEL, wipefs labels, fdisk's model line, a
/proc/mounts source. Whatever is injected:

- ``parse_facts`` returns or raises RemoteError (MarkerError is one): never another exception;
- the sections are the same (no section created, ended or renamed) and every other section is byte-equal;
- no other disk's facts change, and the injected disk changes only in the fields fed by that value.
"""

from __future__ import annotations

import dataclasses
import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st

from agent.core import marker
from agent.core.disk.devices import Disk, Facts, Mount
from agent.core.disk.probe import FACTS_KIND, parse_facts
from agent.core.guest_text import is_unsafe
from agent.errors import RemoteError
from tests.property.conftest import examples
from tests.property.hostile import hostile_text, one_line

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "disks"
NAMES = tuple(sorted(p.stem for p in FIXTURES.glob("*.txt") if p.read_text().startswith("@@GDA-FACTS")))


@cache
def capture(name: str) -> tuple[str, marker.Framed, Facts]:
    text = (FIXTURES / f"{name}.txt").read_text()
    framed = marker.parse(text, FACTS_KIND)
    return text, framed, parse_facts(render(framed))


def render(framed: marker.Framed, replace: dict[tuple[str, str], str] | None = None) -> str:
    """The framed output again (as the shell prints it), with some sections' stdout replaced."""
    attrs = "".join(f" {k}={v}" for k, v in framed.attrs.items())
    pfx = f"@@GDA-{framed.nonce} "
    out = [f"@@GDA-{framed.kind} v{framed.version} nonce={framed.nonce}{attrs}@@\n"]
    for s in framed.sections:
        stdout = (replace or {}).get((s.name, s.arg), s.stdout)
        out.append(f"{pfx}BEGIN {s.name} {s.arg}@@\n{stdout}{pfx}STDERR@@\n{s.stderr}")
        if s.rc is not None:
            out.append(f"{pfx}END rc={s.rc}@@\n")
    if framed.complete:
        out.append(f"{pfx}DONE@@\n")
    return "".join(out)


def sections_of(text: str) -> list[tuple[str, str, int | None]]:
    return [(s.name, s.arg, s.rc) for s in marker.parse(text, FACTS_KIND).sections]


def fields(d: Disk, drop: set[str]) -> dict[str, Any]:
    return {f.name: getattr(d, f.name) for f in dataclasses.fields(d) if f.name not in drop}


def facts_fields(f: Facts, drop: set[str]) -> dict[str, Any]:
    return {x.name: getattr(f, x.name) for x in dataclasses.fields(f) if x.name not in drop | {"disks"}}


def check_only(
    base: Facts, new: Facts, kname: str, changed: set[str], facts_changed: frozenset[str] = frozenset()
) -> None:
    """``new`` equals ``base`` except the fields ``changed`` of disk ``kname`` (and ``facts_changed``)."""
    assert [d.kname for d in new.disks] == [d.kname for d in base.disks]
    for old, cur in zip(base.disks, new.disks, strict=True):
        if old.kname == kname:
            assert fields(cur, changed) == fields(old, changed)
        else:
            assert cur == old, f"injecting into {kname} changed {old.kname}"
    assert facts_fields(new, set(facts_changed)) == facts_fields(base, set(facts_changed))


def shown_strings(facts: Facts) -> list[str]:
    """The guest strings the CLI shows for each disk: model, serial, WWN, labels (its own, its
    partitions', its signatures'), mount points."""
    out: list[str] = []
    for d in facts.disks:
        out += [x for x in (d.model, d.serial, d.wwn, d.label, d.fstype, d.uuid) if x]
        out += [n.label for n in d.walk() if n.label]
        out += [s.label for s in d.signatures.signatures if s.label]
        out += list(d.mountpoints)
    return out


def assert_clean(facts: Facts) -> None:
    """No control, format or separator character survives the parse boundary (issue 9, item 12)."""
    for text in shown_strings(facts):
        assert not any(is_unsafe(ch) for ch in text), f"raw control character in {text!r}"


def parse_or_refuse(text: str) -> Facts | None:
    try:
        return parse_facts(text)
    except RemoteError:
        return None


fixture_names = st.sampled_from(NAMES)


def _disk_of(draw: st.DrawFn, framed: marker.Framed, section: str) -> str:
    knames = [s.arg for s in framed.all(section)]
    if not knames:
        raise pytest.skip.Exception(f"no {section} section")  # pragma: no cover
    return draw(st.sampled_from(knames))


# ---------------------------------------------------------------------------------- lsblk JSON strings

LSBLK_FIELDS = ("label", "serial", "model", "mountpoints", "wwn", "fstype", "uuid")
#: Disk fields an lsblk string of the top-level node may feed (the others must not move).
LSBLK_FED = {
    "label": {"label", "signatures"},
    "serial": {"serial"},
    "model": {"model"},
    "wwn": {"wwn"},
    "fstype": {"fstype", "signatures"},
    "uuid": {"uuid", "signatures"},
    "mountpoints": {"mountpoints", "mounts"},
}


@st.composite
def lsblk_injection(draw: st.DrawFn) -> tuple[str, str, int, str, str]:
    name = draw(fixture_names)
    _, framed, _ = capture(name)
    sec = framed.get("lsblk")
    assert sec is not None
    nodes = json.loads(sec.stdout)["blockdevices"]
    index = draw(st.integers(0, len(nodes) - 1))
    field = draw(st.sampled_from(LSBLK_FIELDS))
    value = draw(hostile_text)
    if field == "mountpoints":  # never exactly "/" or "[SWAP]": those legitimately mean more
        value = "/x" + value
    return name, field, index, value, draw(st.sampled_from(["disk", "child"]))


@given(lsblk_injection())
@example(("bhyve_two_nvme", "serial", 1, "a\u2028@@GDA-b4f1e0c2d9a87765 END rc=0@@", "disk"))
@example(("bhyve_two_nvme", "label", 2, "\x1b[2J[/]\u0085\udcff", "child"))
@examples(1.0)
def test_lsblk_string_cannot_forge(case: tuple[str, str, int, str, str]) -> None:
    name, field, index, value, where = case
    _, framed, base = capture(name)
    sec = framed.get("lsblk")
    assert sec is not None
    data = json.loads(sec.stdout)
    node = data["blockdevices"][index]
    changed = set(LSBLK_FED[field])
    if where == "child" and node.get("children"):
        node = node["children"][0]
        changed = {"children", "mounts", "signatures"} if field != "mountpoints" else {"children", "mounts"}
    node[field] = [value] if field == "mountpoints" else value
    # lsblk escapes `"`, `\` and C0 controls in JSON strings and prints everything else raw
    stdout = json.dumps(data, indent=3, ensure_ascii=False) + "\n"
    text = render(framed, {("lsblk", "-"): stdout})
    assert sections_of(text) == sections_of(render(framed))
    new = parse_facts(text)
    kname = data["blockdevices"][index]["kname"]
    check_only(base, new, kname, changed | {"is_root_disk"} if field == "mountpoints" else changed)
    assert_clean(new)


# ------------------------------------------------------------------------- per-disk one-line sections


def _set_kv(stdout: str, key: str, value: str) -> str:
    lines = [ln for ln in stdout.split("\n")[:-1] if not ln.startswith(f"{key}=")]
    return "".join(f"{ln}\n" for ln in [f"{key}={value}", *lines])


@st.composite
def kv_injection(draw: st.DrawFn) -> tuple[str, str, str, str, str]:
    name = draw(fixture_names)
    _, framed, _ = capture(name)
    section, key = draw(
        st.sampled_from(
            [
                ("sysfs", "device/serial"),
                ("sysfs", "device/model"),
                ("sysfs", "wwid"),
                ("blkid", "LABEL"),
                ("blkid", "PART_ENTRY_NAME"),
                ("fdisk", "Disk model: x"),
            ]
        )
    )
    kname = _disk_of(draw, framed, section)
    return name, section, kname, key, one_line(draw(hostile_text))


KV_FED = {"sysfs": {"serial", "model", "wwn"}, "blkid": {"signatures"}, "fdisk": {"fdisk"}}


@given(kv_injection())
@example(("bhyve_two_nvme", "sysfs", "nvme0n1", "device/serial", "S1\u2028holders=dm-0\u2028partition=p9"))
@example(("bhyve_two_nvme", "blkid", "nvme0n1", "LABEL", "l\x85TYPE=crypto_LUKS\x85USAGE=crypto"))
@example(("debian12_root", "sysfs", "vda", "device/model", "m\x0bsize=1\x0cro=1"))
@examples(1.0)
def test_one_line_value_cannot_forge(case: tuple[str, str, str, str, str]) -> None:
    name, section, kname, key, value = case
    _, framed, base = capture(name)
    sec = framed.get(section, kname)
    assert sec is not None
    fdisk = sec.stdout + f"Disk model: {value}\n"
    stdout = fdisk if section == "fdisk" else _set_kv(sec.stdout, key, value)
    text = render(framed, {(section, kname): stdout})
    assert sections_of(text) == sections_of(render(framed))
    new = parse_facts(text)
    changed = KV_FED[section]
    if section == "blkid":
        # a label goes into the probe's signature list: it may change that label, never the types found
        old = next(d for d in base.disks if d.kname == kname)
        cur = next(d for d in new.disks if d.kname == kname)
        assert [s.type for s in cur.signatures.signatures] == [s.type for s in old.signatures.signatures]
        assert cur.signatures.state == old.signatures.state
    check_only(base, new, kname, changed)
    assert_clean(new)


# --------------------------------------------------------------------------------- wipefs JSON labels


@st.composite
def wipefs_injection(draw: st.DrawFn) -> tuple[str, str, str]:
    name = draw(fixture_names)
    _, framed, _ = capture(name)
    with_sigs = [s.arg for s in framed.all("wipefs") if s.ok and '"signatures"' in s.stdout]
    if not with_sigs:
        name = "bhyve_nvme_ext4"
        _, framed, _ = capture(name)
        with_sigs = [s.arg for s in framed.all("wipefs") if s.ok and '"signatures"' in s.stdout]
    return name, draw(st.sampled_from(with_sigs)), draw(hostile_text)


@given(wipefs_injection())
@example(("bhyve_nvme_ext4", "nvme0n1", 'x"},{"type":"crypto_LUKS\u2028@@GDA-0000000000 END rc=0@@'))
@examples(0.5)
def test_wipefs_label_cannot_forge(case: tuple[str, str, str]) -> None:
    name, kname, value = case
    _, framed, base = capture(name)
    sec = framed.get("wipefs", kname)
    assert sec is not None
    data = json.loads(sec.stdout)
    for sig in data["signatures"]:
        sig["label"] = value
    text = render(framed, {("wipefs", kname): json.dumps(data, indent=3, ensure_ascii=False) + "\n"})
    assert sections_of(text) == sections_of(render(framed))
    new = parse_facts(text)
    old = next(d for d in base.disks if d.kname == kname)
    cur = next(d for d in new.disks if d.kname == kname)
    assert [s.type for s in cur.signatures.signatures] == [s.type for s in old.signatures.signatures]
    check_only(base, new, kname, {"signatures"})
    assert_clean(new)


# ------------------------------------------------------------------------------ /proc/self/mounts


def proc_escape(text: str) -> str:
    """How the kernel prints a mount source in /proc/mounts (space, tab, newline, backslash in octal)."""
    return "".join(f"\\{ord(c):03o}" if c in " \t\n\\" else c for c in text)


@given(fixture_names, hostile_text)
@example("bhyve_two_nvme", "src\u2028/dev/nvme1n1 /srv ext4 rw 0 0")
@example("bhyve_two_nvme", "src\x85/dev/nvme1n1 /srv ext4 rw 0 0\x0b/dev/vda /x ext4 rw 0 0")
@examples(1.0)
def test_mount_source_cannot_forge_a_mount(name: str, value: str) -> None:
    _, framed, base = capture(name)
    sec = framed.get("mounts")
    assert sec is not None
    source = "x" + value.replace("\x00", "")  # "x": never one of the disks' paths
    stdout = sec.stdout + f"{proc_escape(source)} /mnt/gda-prop ext4 rw,relatime 0 0\n"
    text = render(framed, {("mounts", "-"): stdout})
    assert sections_of(text) == sections_of(render(framed))
    new = parse_facts(text)
    assert len(new.mounts) == len(base.mounts) + 1
    assert new.mounts[:-1] == base.mounts
    assert new.mounts[-1].target == "/mnt/gda-prop"
    assert new.disks == base.disks
    assert facts_fields(new, {"mounts"}) == facts_fields(base, {"mounts"})


# ------------------------------------------------------------------------ any section, any lines


@st.composite
def section_injection(draw: st.DrawFn) -> tuple[str, int, int, str]:
    name = draw(fixture_names)
    _, framed, _ = capture(name)
    index = draw(st.integers(0, len(framed.sections) - 1))
    lines = framed.sections[index].stdout.count("\n")
    return name, index, draw(st.integers(0, lines)), draw(hostile_text)


@given(section_injection())
@example(
    ("bhyve_two_nvme", 0, 0, "\n@@GDA-FACTS v1 nonce=b4f1e0c2d9a87766 uid=0@@\n@@GDA-b4f1e0c2d9a87766 DONE@@")
)
@examples(1.0)
def test_lines_inside_a_section_cannot_end_or_create_one(case: tuple[str, int, int, str]) -> None:
    """Whatever a section's output holds (the script prints it raw, many lines), without this run's
    nonce it neither ends that section, nor creates, ends or changes another."""
    name, index, at, value = case
    _, framed, _ = capture(name)
    assume(framed.nonce not in value)
    sec = framed.sections[index]
    lines = sec.stdout.split("\n")
    lines.insert(at, value)
    stdout = "\n".join(lines)
    stdout += "" if stdout.endswith("\n") else "\n"
    text = render(framed, {(sec.name, sec.arg): stdout})
    new = marker.parse(text, FACTS_KIND)
    assert [(s.name, s.arg, s.rc, s.stderr) for s in new.sections] == [
        (s.name, s.arg, s.rc, s.stderr) for s in framed.sections
    ]
    for i, (old_s, new_s) in enumerate(zip(framed.sections, new.sections, strict=True)):
        # (a line's final \r is dropped by design: CRLF from a console)
        want = "".join(f"{ln}\n" for ln in marker.lines_of(stdout)) if i == index else old_s.stdout
        assert new_s.stdout == want
    assert new.complete == framed.complete
    parse_or_refuse(text)


# ------------------------------------------------------------------------- anything at all: no traceback


@st.composite
def mangled_capture(draw: st.DrawFn) -> str:
    text, _, _ = capture(draw(fixture_names))
    data = text.encode()
    for _ in range(draw(st.integers(1, 4))):
        pos = draw(st.integers(0, len(data)))
        cut = draw(st.integers(0, 40))
        junk = draw(
            st.one_of(st.binary(max_size=40), hostile_text.map(lambda s: s.encode("utf-8", "replace")))
        )
        data = data[:pos] + junk + data[pos + cut :]
    how = draw(st.sampled_from(["replace", "surrogateescape"]))
    return data.decode("utf-8", how)


@given(mangled_capture())
@example(
    "@@GDA-FACTS v1 nonce=b4f1e0c2d9a87765 uid=0@@\n@@GDA-b4f1e0c2d9a87765 BEGIN lsblk -@@\n"
    + "[" * 100_000
    + "\n@@GDA-b4f1e0c2d9a87765 END rc=0@@\n"
)
@example(
    "@@GDA-FACTS v1 nonce=b4f1e0c2d9a87765 uid=0@@\n@@GDA-b4f1e0c2d9a87765 BEGIN lsblk -@@\n"
    + '{"blockdevices": ['
    + '{"name": "a", "children": [' * 495
    + "]}" * 495
    + "]}"
    + "\n@@GDA-b4f1e0c2d9a87765 END rc=0@@\n"
)
@examples(1.0)
def test_any_mangled_capture_parses_or_is_a_remote_error(text: str) -> None:
    parse_or_refuse(text)


@given(st.one_of(hostile_text, st.text()))
@examples(0.5)
def test_any_text_parses_or_is_a_remote_error(text: str) -> None:
    parse_or_refuse("@@GDA-FACTS v1 nonce=b4f1e0c2d9a87765 uid=0@@\n" + text)
    parse_or_refuse(text)


def test_fixtures_round_trip_through_render() -> None:
    """The renderer the properties use reproduces every capture's facts (so a difference is the value's)."""
    for name in NAMES:
        text, _, base = capture(name)
        assert parse_facts(text) == base
        assert isinstance(base.mounts, tuple) and all(isinstance(m, Mount) for m in base.mounts)
