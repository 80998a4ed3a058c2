"""Helpers shared by the disk tests: loading the captured/hand-made facts fixtures."""

from __future__ import annotations

from pathlib import Path

from agent.core import marker
from agent.core.disk.devices import Disk, Facts
from agent.core.disk.probe import parse_facts
from agent.core.marker import Section

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "disks"


def fixture_text(name: str) -> str:
    """The raw text of ``tests/fixtures/disks/<name>.txt``."""
    return (FIXTURES / f"{name}.txt").read_text()


def load_facts(name: str) -> Facts:
    """Parse a facts fixture."""
    return parse_facts(fixture_text(name))


def disk(facts: Facts, name: str) -> Disk:
    """The disk called ``name`` (its name, kernel name or path; fails the test if absent)."""
    found = [d for d in facts.disks if name in (d.name, d.kname, d.path)]
    assert found, f"{name} not in {[x.name for x in facts.disks]}"
    return found[0]


#: the content probes: the sections the facts script's root part prints
PROBE_SECTIONS = ("wipefs", "blkid", "dumpe2fs", "rawsig", "fdisk")


def framed_text(kind: str, nonce: str, attrs: dict[str, str], sections: list[Section]) -> str:
    """The text a script prints for ``sections`` (the framing of :mod:`agent.core.marker`)."""
    out = [marker.header_line(kind, "1", nonce, **attrs)]
    for s in sections:
        out.append(f"@@GDA-{nonce} BEGIN {s.name} {s.arg}@@")
        out += s.stdout.splitlines()
        out.append(f"@@GDA-{nonce} STDERR@@")
        out += s.stderr.splitlines()
        out.append(f"@@GDA-{nonce} END rc={s.rc}@@")
    out.append(f"@@GDA-{nonce} DONE@@")
    return "\n".join(out) + "\n"


def split_fixture(name: str) -> tuple[str, str]:
    """A one-run capture cut where the two parts cut it: (the user part's output, as uid 1000; the
    root part's: the content probes, uid 0, another nonce)."""
    one = marker.parse(fixture_text(name), "FACTS")
    user = [s for s in one.sections if s.name not in PROBE_SECTIONS]
    root = [s for s in one.sections if s.name in PROBE_SECTIONS]
    return (
        framed_text("FACTS", "a1b2c3d4e5f60708", {"uid": "1000", "part": "user"}, user),
        framed_text("FACTS", "0f1e2d3c4b5a6978", {"uid": "0", "part": "root"}, root),
    )
