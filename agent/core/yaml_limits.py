"""What ruamel.yaml raises, besides its own ``YAMLError``, on text it cannot read (the property tests
found each one).

- ``NotImplementedError("overlap in comment")``: a NEL (U+0085) in a comment;
- ``IndexError``: ``!!int 0x``;
- ``RecursionError``: very deep nesting;
- ``AssertionError``: a comment line before a block scalar whose header carries a comment
  (``# network:\\n|- #\\n``, in ``ScalarToken.add_pre_comments``);
- ``ValueError``, ``KeyError``, ``TypeError``, ``AttributeError``: the same kind of internal limit.

A reader turns these into its own usage error: the text is the user's, so a traceback is never the answer.
:func:`error_where` says where a YAML syntax error points, for the same messages.
"""

from __future__ import annotations

#: Exceptions out of ``YAML(typ="rt").load`` that mean "ruamel.yaml cannot read this text".
RUAMEL_LIMITS: tuple[type[BaseException], ...] = (
    NotImplementedError,
    RecursionError,
    AssertionError,
    ValueError,
    IndexError,
    KeyError,
    TypeError,
    AttributeError,
)

#: The hint every reader gives with a :data:`RUAMEL_LIMITS` failure.
LIMIT_HINT = (
    "look for unusual line breaks (NEL U+0085, U+2028, U+2029), comments in odd places or very deep nesting"
)


def error_where(path: object, exc: BaseException) -> str:
    """``path:line:column`` (1-based) where a YAML error points (its problem mark, else its context mark:
    ruamel.yaml's and PyYAML's errors carry the same marks), else ``path``."""
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    return f"{path}:{mark.line + 1}:{mark.column + 1}" if mark is not None else str(path)
