# GENERATED from agent/core/guest_text.py by `python -m agent.collection_build`: do not edit.
r"""Guest text made safe to show: control and invisible characters become visible escapes (pure).

Every string read from a guest (lsblk, blkid and wipefs fields, interface names, console output) can
hold bytes a terminal acts on: ESC sequences that erase a line or move the cursor (so a refusal or the
``--force`` prompt could hide what is being destroyed), bells, bidi overrides that reorder what is
shown. :func:`clean` is applied where such strings enter the model, and again by the CLI's consoles
for whatever reaches the terminal.

What is escaped, and how:

* C0 controls (U+0000-U+001F), DEL (U+007F) and C1 controls (U+0080-U+009F) become ``\xHH``
  (``\x1b[2K`` for ESC[2K), tab included; with ``multiline=True`` a ``\n`` is kept;
* format characters (Unicode category Cf: bidi overrides and isolates, zero-width spaces and
  joiners, the BOM, soft hyphen), the line and paragraph separators U+2028/U+2029 and lone
  surrogates (from undecodable bytes) become ``\uHHHH``;
* everything else, ``[``, ``]`` and backslash included, is kept as is: rich markup is escaped where
  text is rendered, not here. So ``clean`` is idempotent (``clean(clean(s)) == clean(s)``), and a
  literal ``\x1b`` typed into a label looks the same as an escaped ESC: the output is for reading,
  not for round trips.
"""

from __future__ import annotations

import unicodedata

_ESCAPED_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs"})


def _visible(ch: str) -> str:
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def is_unsafe(ch: str) -> bool:
    """True for a character :func:`clean` escapes (``\\n`` included)."""
    return unicodedata.category(ch) in _ESCAPED_CATEGORIES


def clean(text: str, *, multiline: bool = False) -> str:
    """``text`` with every control or invisible character shown as an escape (see the module doc)."""
    if text.isprintable():
        return text  # the common case (no Cc, Cf, Cs, Zl, Zp character): nothing to do
    return "".join(ch if not is_unsafe(ch) or (multiline and ch == "\n") else _visible(ch) for ch in text)


def clean_opt(text: str | None) -> str | None:
    """:func:`clean` for an optional value."""
    return None if text is None else clean(text)
