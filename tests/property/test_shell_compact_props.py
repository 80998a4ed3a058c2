"""Properties of agent/core/shell_compact.py over generated shell-like text: compacting either refuses
(ValueError: a quote or here-document that does not end) or keeps the lines it keeps byte for byte, in
order, drops only blank and comment lines, and is idempotent."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from agent.core.shell_compact import compact
from tests.property.conftest import examples

BITS = (
    "echo a",
    "# c",
    "  # c",
    "",
    "'",
    '"',
    "\\",
    "$(",
    ")",
    "${x#y}",
    "`",
    "<<EOF",
    "<<-'E'",
    "EOF",
    "E",
    "\tE",
    "$((1 << 2))",
    "x=a#b",
    "# shellcheck disable=SC2086",
    "case $x in a) ;; esac",
    "}",
)


@given(st.lists(st.lists(st.sampled_from(BITS), max_size=4).map(" ".join), max_size=14).map("\n".join))
@examples(0.5)
def test_compact_keeps_lines_in_order_drops_only_comments_and_is_idempotent(text: str) -> None:
    try:
        out = compact(text + "\n")
    except ValueError:
        return
    source = iter((text + "\n").splitlines(keepends=True))
    for line in out.splitlines(keepends=True):
        for candidate in source:  # each kept line is the next source line, or a later one
            if candidate == line:
                break
            assert not candidate.strip() or candidate.strip().startswith("#"), f"dropped code {candidate!r}"
        else:
            raise AssertionError(f"{line!r} is not a source line in order")
    assert compact(out) == out
