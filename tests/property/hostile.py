"""Hypothesis strategies for text that comes from outside: labels, serials, models, mount sources, config
lines. Any characters, with the ones that have broken parsers before over-represented: line separators
that ``str.splitlines`` honours (U+2028, U+2029, U+0085, VT, FF, FS/GS/RS), CR, ESC sequences, NUL,
markup brackets, quotes, and marker lines with *other* nonces; plus arbitrary bytes decoded the way the
transports decode them (``replace``) or with ``surrogateescape``."""

from __future__ import annotations

from collections.abc import Sequence

from hypothesis import strategies as st

NASTY = (
    "\u2028",
    "\u2029",
    "\x85",
    "\x0b",
    "\x0c",
    "\x1c",
    "\x1d",
    "\x1e",
    "\r",
    "\r\n",
    "\n",
    "\x00",
    "\x1b[2J",
    "\x1b]0;title\x07",
    "\x9b31m",
    "\ufeff",
    "\ufffd",
    "\udcff",
    "\t",
    " ",
    '"',
    "'",
    "\\",
    "\\040",
    "\\n",
    "#",
    "=",
    ":",
    "[/]",
    "[bold]",
    "{",
    "}",
    "@@",
    "@@GDA-",
    "é",
    "—",
)

nonces = st.text(alphabet="0123456789abcdefABCDEFxyz", min_size=8, max_size=20)


@st.composite
def marker_lines(draw: st.DrawFn, kind: str = "FACTS") -> str:
    """A framing line of some other run (another nonce), or a header of this kind."""
    n = draw(nonces)
    name = draw(st.sampled_from(["sysfs", "lsblk", "mounts", "blkid", "wipefs", "byid", "x"]))
    arg = draw(st.sampled_from(["-", "nvme0n1", "vda", "nvme1n1"]))
    line = draw(
        st.sampled_from(
            [
                f"@@GDA-{n} BEGIN {name} {arg}@@",
                f"@@GDA-{n} END rc=0@@",
                f"@@GDA-{n} STDERR@@",
                f"@@GDA-{n} DONE@@",
                f"@@GDA-{n} RESULT code=0 reason=ok@@",
                f"@@GDA-{n} OBS k=v",
                f"@@GDA-{kind} v1 nonce={n} uid=0@@",
            ]
        )
    )
    return "\n" + line + "\n"


decoded_bytes = st.one_of(
    st.binary(max_size=24).map(lambda b: b.decode("utf-8", "replace")),
    st.binary(max_size=24).map(lambda b: b.decode("utf-8", "surrogateescape")),
)

hostile_text = st.lists(
    st.one_of(st.text(max_size=6), st.sampled_from(NASTY), marker_lines(), decoded_bytes),
    max_size=8,
).map("".join)


def one_line(text: str) -> str:
    """``text`` as a value the shell prints on one line (``read -r``: no newline; the shell drops NUL)."""
    return text.replace("\n", "").replace("\x00", "")


#: YAML's odder syntax, for text that must read as YAML or be refused (netplan files, the inventory):
#: anchors, aliases, a merge key, a complex key, bare indicators, unclosed flows and quotes, comments (one
#: with a NEL), document markers, directives, block scalars (one whose header has a comment)
YAML_ODDITIES = ("&a", "*a", "<<: *a", "? a", "- ", ": ", "{", "[", "'", '"\\x', "#", "# \x85", "---",
                 "...", "%YAML 1.1", "%TAG ! tag:x,2000:", "|-", "|- #", ">")  # fmt: skip


def yaml_like_text(lines: Sequence[str]) -> st.SearchStrategy[str]:
    """Up to 12 parts, each one of ``lines`` or :data:`hostile_text`, joined by a space and a newline in
    turn (so a part begins a line, or follows another on it)."""
    return st.lists(st.one_of(st.sampled_from(lines), hostile_text), max_size=12).map(
        lambda parts: "".join(p + ("\n" if i % 2 else " ") for i, p in enumerate(parts))
    )
