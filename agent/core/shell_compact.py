"""The project's shell scripts without their comment lines and blank lines (pure).

Over the serial console every byte of a staged script is typed at a shell (base64, in lines of at most
``MAX_LINE``), so the half of each script that is comments costs round trips. :func:`compact` drops a
line only where the shell would ignore it too: a line that is blank, or whose first word starts with
``#``, *at top level*: not inside a quoted string that spans lines, not inside a here-document's body
(a ``<<'JOB'`` body is a file's content, comments and all). Everything else is kept byte for byte,
indentation and trailing comments included, and so are ``# shellcheck`` directives (the tests check the
rendered scripts with shellcheck too).

The state at each line's start comes from a small lexer of POSIX sh: single and double quotes,
backslash escapes, ``$(...)``/`` `...` ``, ``${...}``, comments (a ``#`` that begins a word), and
here-documents (``<<WORD``, ``<<-WORD``, quoted delimiters, several on one line), and a line that goes on
after a backslash (kept: removing the next line would join two commands). A script the lexer
cannot follow (a quote or a here-document that never ends) raises :class:`ValueError`: the shipped
scripts are checked in the tests, so that is a bug found there, never on a guest.
"""

from __future__ import annotations

import re

#: comment lines that stay: shellcheck's directives (the rendered scripts are checked too)
KEPT_COMMENTS = ("# shellcheck ",)
#: characters after which a ``#`` begins a comment (the end of the previous word or operator)
_WORD_BREAK = frozenset(" \t;&|()<>")
#: the characters that can change the lexer's state, in double quotes and outside them
_IN_DOUBLE = re.compile(r'[\\"`$]')
_UNQUOTED = re.compile(r"[\\'\"`$()}<#]")
_HEREDOC = re.compile(r"<<(-?)[ \t]*(?:'([^']*)'|\"([^\"]*)\"|\\?([A-Za-z0-9_]+))")


class _Lexer:
    """Where the shell is at the start of each line: top level, or inside something that spans lines."""

    def __init__(self) -> None:
        self.stack: list[str] = []  # open constructs: "'", '"', "`", "$(", "${"
        self.heredocs: list[tuple[str, bool]] = []  # (delimiter, strip tabs) pending on this line
        self.body: list[tuple[str, bool]] = []  # here-document bodies being read, in order
        self.continued = False  # the last line ended with a backslash: this one goes on with its command

    @property
    def top_level(self) -> bool:
        return not self.stack and not self.body and not self.continued

    def feed(self, line: str) -> None:
        """Advance over one line (its newline included)."""
        if self.body:
            delimiter, tabs = self.body[0]
            text = line.rstrip("\n")
            if (text.lstrip("\t") if tabs else text) == delimiter:
                self.body.pop(0)
            return
        self.continued = False
        i, n = 0, len(line)
        while i < n:
            top = self.stack[-1] if self.stack else ""
            if top == "'":  # nothing is special in single quotes but the closing one
                j = line.find("'", i)
                if j < 0:
                    break
                self.stack.pop()
                i = j + 1
                continue
            found = (_IN_DOUBLE if top == '"' else _UNQUOTED).search(line, i)  # skip the plain characters
            if found is None:
                break
            i = found.start()
            ch = line[i]
            if ch == "\\":
                if line.startswith("\\\n", i):
                    self.continued = True
                i += 2
                continue
            if top == '"':
                if ch == '"':
                    self.stack.pop()
                elif ch == "`":
                    self.stack.append("`")
                elif line.startswith("$(", i) or line.startswith("${", i):
                    self.stack.append(line[i : i + 2])
                    i += 1
                i += 1
                continue
            # unquoted, or inside `...`, $(...) or ${...}
            if ch == "#" and (i == 0 or line[i - 1] in _WORD_BREAK) and top != "${":
                break  # a comment: the rest of the line
            if ch in "'\"":
                self.stack.append(ch)
            elif ch == "`":
                if top == "`":
                    self.stack.pop()
                else:
                    self.stack.append("`")
            elif line.startswith("$(", i) or line.startswith("${", i):
                self.stack.append(line[i : i + 2])
                i += 1
            elif ch == "(" and top == "$(":
                self.stack.append("(")
            elif (ch == ")" and top in ("$(", "(")) or (ch == "}" and top == "${"):
                self.stack.pop()
            elif line.startswith("<<", i) and top in ("", "`", "$("):  # not $((1 << 2))
                match = _HEREDOC.match(line, i)
                if match is None:
                    raise ValueError(f"a here-document without a delimiter: {line.strip()!r}")
                delimiter = next(g for g in match.groups()[1:] if g is not None)
                self.heredocs.append((delimiter, match.group(1) == "-"))
                i = match.end()
                continue
            i += 1
        if line.endswith("\n") and self.heredocs:  # their bodies start on the next line
            self.body.extend(self.heredocs)
            self.heredocs.clear()

    def check_ended(self) -> None:
        if self.stack or self.body or self.heredocs or self.continued:
            raise ValueError(f"the script ends inside {self.stack or self.body or self.heredocs}")


def compact(script: str) -> str:
    """``script`` without its top-level comment lines and blank lines; the rest byte for byte. A first
    line ``#!...`` stays. ValueError when the script's quotes or here-documents do not end."""
    lexer = _Lexer()
    kept: list[str] = []
    for number, line in enumerate(script.splitlines(keepends=True)):
        if lexer.top_level:
            stripped = line.strip()
            drop = not stripped or (
                stripped.startswith("#")
                and not stripped.startswith(KEPT_COMMENTS)
                and not (number == 0 and line.startswith("#!"))
            )
            if drop:
                continue
        kept.append(line)
        lexer.feed(line)
    lexer.check_ended()
    return "".join(kept)
