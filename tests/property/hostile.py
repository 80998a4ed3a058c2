"""Hypothesis strategies for text that comes from outside: labels, serials, models, mount sources, config
lines. Any characters, with the ones that have broken parsers before over-represented: line separators
that ``str.splitlines`` honours (U+2028, U+2029, U+0085, VT, FF, FS/GS/RS), CR, ESC sequences, NUL,
markup brackets, quotes, and marker lines with *other* nonces; plus arbitrary bytes decoded the way the
transports decode them (``replace``) or with ``surrogateescape``."""

from __future__ import annotations

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
