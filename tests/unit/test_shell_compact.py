"""agent/core/shell_compact.py: the scripts without their comment lines run the same (the console types
half the bytes). Each tricky case runs in dash as written and compacted, and must print the same."""

from __future__ import annotations

import difflib
import shutil
import subprocess

import pytest

from agent.core.script_render import body, script_names
from agent.core.shell_compact import compact

DASH = shutil.which("dash") or "sh"

CASES = {
    "comments and blank lines go": (
        "#!/bin/sh\n# a comment\n\n    # an indented one\necho one  # a trailing one stays\n\t\necho two\n",
        "#!/bin/sh\necho one  # a trailing one stays\necho two\n",
    ),
    "a single-quoted string over lines keeps its # lines": (
        "x='first\n# not a comment\n\nlast'\nprintf '%s|' \"$x\"\n",
        "x='first\n# not a comment\n\nlast'\nprintf '%s|' \"$x\"\n",
    ),
    "a double-quoted string over lines too, with an escaped quote": (
        'x="a \\" b\n# kept\n"\n# dropped\nprintf "%s|" "$x"\n',
        'x="a \\" b\n# kept\n"\nprintf "%s|" "$x"\n',
    ),
    "a here-document's body is content": (
        "cat <<'JOB'\n# the job's own comment\n\nJOB\n# dropped\ncat <<EOF\n# also kept $HOME\nEOF\n",
        "cat <<'JOB'\n# the job's own comment\n\nJOB\ncat <<EOF\n# also kept $HOME\nEOF\n",
    ),
    "<<- strips tabs from its delimiter line": (
        "if true; then\n\tcat <<-END\n\t# kept\n\tEND\nfi\n# dropped\n",
        "if true; then\n\tcat <<-END\n\t# kept\n\tEND\nfi\n",
    ),
    "two here-documents on one line": (
        "cat <<A; cat <<'B'\n# a\nA\n# b\nB\n# dropped\necho end\n",
        "cat <<A; cat <<'B'\n# a\nA\n# b\nB\necho end\n",
    ),
    "an apostrophe in a trailing comment opens nothing": (
        "echo one # don't\n# dropped\necho two\n",
        "echo one # don't\necho two\n",
    ),
    "# inside a word, $#, ${#x} and ${x#y} are not comments": (
        'set -- a b\nx=ab#c\necho $# ${#x} ${x#a} a#b\n# dropped\necho "${x%%#*}"\n',
        'set -- a b\nx=ab#c\necho $# ${#x} ${x#a} a#b\necho "${x%%#*}"\n',
    ),
    "a line after a backslash goes on with its command": (
        "echo one \\\n\\\n    two\n# dropped\necho three\n",
        "echo one \\\n\\\n    two\necho three\n",
    ),
    "arithmetic shifts are not here-documents": (
        "echo $((1 << 3))\n# dropped\necho $(( (2 << 1) ))\n",
        "echo $((1 << 3))\necho $(( (2 << 1) ))\n",
    ),
    "a command substitution over lines keeps what is inside": (
        "x=$(\n  # inside\n  echo 'a)b'\n)\necho \"$x\"\n# dropped\n",
        "x=$(\n  # inside\n  echo 'a)b'\n)\necho \"$x\"\n",
    ),
    "shellcheck's directives stay": (
        "# shellcheck shell=sh\n# prose\n# shellcheck disable=SC2086\necho $x\n",
        "# shellcheck shell=sh\n# shellcheck disable=SC2086\necho $x\n",
    ),
}


def run(script: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([DASH], input=script, capture_output=True, text=True, timeout=10, check=False)


@pytest.mark.parametrize(("script", "expected"), CASES.values(), ids=list(CASES))
def test_compact_drops_only_what_the_shell_ignores(script: str, expected: str) -> None:
    assert compact(script) == expected
    before, after = run(script), run(expected)
    assert before.returncode == 0, before.stderr
    assert (after.returncode, after.stdout, after.stderr) == (before.returncode, before.stdout, before.stderr)


@pytest.mark.parametrize(
    "script",
    ["echo 'never closed\n", 'echo "never closed\n', "cat <<EOF\nno end\n", "echo $(\n", "echo a \\\n"],
)
def test_a_script_the_lexer_cannot_follow_is_an_error(script: str) -> None:
    with pytest.raises(ValueError, match="ends inside"):
        compact(script)


@pytest.mark.parametrize("name", script_names())
def test_every_shipped_script_loses_only_comment_and_blank_lines(name: str) -> None:
    """Line by line, the compacted script is the source with lines deleted, each blank or a comment
    (here-document bodies keep theirs), and dash still parses it."""
    source = body(name)
    compacted = compact(source)
    src, out = source.splitlines(), compacted.splitlines()
    for tag, i1, i2, _j1, _j2 in difflib.SequenceMatcher(a=src, b=out, autojunk=False).get_opcodes():
        assert tag in ("equal", "delete"), f"{name}: lines {i1 + 1}-{i2} changed"
        if tag == "delete":
            dropped = [line for line in src[i1:i2] if line.strip() and not line.strip().startswith("#")]
            assert not dropped, f"{name}: dropped code {dropped}"
    assert len(compacted) < len(source) * 0.8, f"{name}: hardly smaller"
    check = subprocess.run([DASH, "-n"], input=compacted, capture_output=True, text=True, check=False)
    assert check.returncode == 0, check.stderr
