"""The one framing every remote script prints, and its parser (pure), after labgrid's ``util/marker.py``.

Every script starts with a header and frames what it reports with a random per-run nonce, so that
nothing a device or a user controls (a label, a mount source, a netplan comment) can forge a marker::

    @@GDA-<KIND> v<version> nonce=<N>[ key=value ...]@@
    @@GDA-<N> BEGIN <section> <arg>@@        arg: a disk or file name, "-" for none
    ...stdout...
    @@GDA-<N> STDERR@@                         optional
    ...stderr...
    @@GDA-<N> END rc=<exit status>@@
    @@GDA-<N> OBS <key>=<value>                an observation (value on one line)
    @@GDA-<N> RESULT code=<n> reason=<word>@@  the script's verdict (it exits with the same code)
    @@GDA-<N> DONE@@                           absent if the output was cut short

The shell side is ``agent/scripts/lib/marker.sh`` (``gda_header``, ``gda_run``, ``gda_begin``,
``gda_end``, ``gda_obs``, ``gda_result``, ``gda_done``). The STDERR and END markers may also end a
line whose text had no newline of its own (``gda_run`` passes a command's stdout straight through
instead of copying it): the text before the marker is that section's last line. Output is split on
``\\n`` only: lsblk and others print U+2028/U+0085 raw inside JSON strings, which ``str.splitlines``
would take for line ends.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from agent.errors import RemoteError

_NONCE_RE = re.compile(r"^[A-Za-z0-9]{8,64}$")


def new_nonce() -> str:
    """A fresh random nonce (16 hex characters)."""
    return secrets.token_hex(8)


def validate_nonce(nonce: str) -> str:
    """``nonce`` if it is 8-64 ASCII letters or digits (it is embedded in markers and regexes)."""
    if not _NONCE_RE.match(nonce):
        raise ValueError(f"invalid marker nonce {nonce!r}: need 8-64 letters or digits")
    return nonce


def lines_of(text: str) -> list[str]:
    """``text`` split on ``\\n`` only (a final ``\\r`` of each line dropped)."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line[:-1] if line.endswith("\r") else line for line in lines]


class MarkerError(RemoteError):
    """The output has no header of the expected kind: the script did not run, or something else answered."""


@dataclass(frozen=True)
class Section:
    """One ``BEGIN``/``END`` block."""

    name: str
    arg: str
    stdout: str
    stderr: str
    rc: int | None  # None when the END marker is missing (output cut short)

    @property
    def ok(self) -> bool:
        return self.rc == 0


@dataclass(frozen=True)
class Framed:
    """A script's output, split up."""

    kind: str
    version: str
    nonce: str
    attrs: Mapping[str, str]
    sections: tuple[Section, ...]
    observed: Mapping[str, str] = field(default_factory=dict)
    result: tuple[int, str] | None = None  # (code, reason) from the RESULT line
    complete: bool = False  # DONE seen
    before: tuple[str, ...] = ()  # lines before the header (a sudo lecture, a motd)

    def get(self, name: str, arg: str = "-") -> Section | None:
        for s in self.sections:
            if s.name == name and s.arg == arg:
                return s
        return None

    def all(self, name: str) -> tuple[Section, ...]:
        return tuple(s for s in self.sections if s.name == name)


def _header_re(kind: str) -> re.Pattern[str]:
    return re.compile(
        rf"^@@GDA-{re.escape(kind)} v(?P<version>\d+) nonce=(?P<nonce>[A-Za-z0-9]{{8,64}})"
        r"(?P<attrs>(?: [^\s=]+=\S*)*)@@$"
    )


def header_line(kind: str, version: str, nonce: str, **attrs: str) -> str:
    """The header the shell prints (for tests and fixtures)."""
    extra = "".join(f" {k}={v}" for k, v in attrs.items())
    return f"@@GDA-{kind} v{version} nonce={validate_nonce(nonce)}{extra}@@"


def has_header(text: str, kind: str) -> bool:
    pattern = _header_re(kind)
    return any(pattern.match(line.strip()) for line in lines_of(text))


def parse(text: str, kind: str, *, what: str = "the remote script") -> Framed:
    """Split ``text`` by the framing above. MarkerError when no ``kind`` header is found."""
    lines = lines_of(text)
    pattern = _header_re(kind)
    start = next((i for i, line in enumerate(lines) if pattern.match(line.strip())), None)
    if start is None:
        raise MarkerError(
            f"{what} produced no recognizable output",
            hint="first lines were: " + (" | ".join(lines[:3]) or "(nothing)"),
        )
    m = pattern.match(lines[start].strip())
    assert m is not None
    nonce = m["nonce"]
    attrs = dict(word.split("=", 1) for word in m["attrs"].split())
    pfx = f"@@GDA-{nonce} "
    begin_re = re.compile(rf"^{re.escape(pfx)}BEGIN (\S+) (.*)@@$")
    end_re = re.compile(rf"{re.escape(pfx)}END rc=(-?\d+)@@$")
    stderr_mark = f"{pfx}STDERR@@"
    result_re = re.compile(rf"^{re.escape(pfx)}RESULT code=(\d+) reason=(\S+)@@$")
    sections: list[Section] = []
    observed: dict[str, str] = {}
    result: tuple[int, str] | None = None
    complete = False
    cur: tuple[str, str] | None = None
    out: list[str] = []
    err: list[str] = []
    in_err = False
    for line in lines[start + 1 :]:
        if cur is None:
            if line == f"{pfx}DONE@@":
                complete = True
                break
            if bm := begin_re.match(line):
                cur, out, err, in_err = (bm[1], bm[2]), [], [], False
            elif line.startswith(f"{pfx}OBS "):
                key, _, value = line[len(pfx) + 4 :].partition("=")
                observed[key] = value
            elif rm := result_re.match(line):
                result = (int(rm[1]), rm[2])
            continue
        # a marker may end a line whose text had no newline of its own (gda_run passes a command's
        # stdout straight through): the text before it is the section's last line
        if line.endswith(stderr_mark) and not in_err:
            if line != stderr_mark:
                out.append(line[: -len(stderr_mark)])
            in_err = True
            continue
        if em := end_re.search(line):
            if em.start():
                (err if in_err else out).append(line[: em.start()])
            sections.append(Section(cur[0], cur[1], _join(out), _join(err), int(em[1])))
            cur = None
            continue
        (err if in_err else out).append(line)
    if cur is not None:
        sections.append(Section(cur[0], cur[1], _join(out), _join(err), None))
    return Framed(
        kind, m["version"], nonce, attrs, tuple(sections), observed, result, complete, tuple(lines[:start])
    )


def _join(lines: Sequence[str]) -> str:
    return "".join(line + "\n" for line in lines)
