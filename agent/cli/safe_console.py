"""The rich console every human text goes through: control characters in any string it renders are
shown as visible escapes. Loaded only when something is printed for people (``--json`` runs never load
rich)."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.text import Text

from agent.core.guest_text import clean


class SafeConsole(Console):
    """A rich console that shows control characters in any string it renders as visible escapes
    (:func:`agent.core.guest_text.clean`, newlines kept): guest text never reaches the terminal raw,
    even where a caller forgot to clean it. Markup is still the caller's job (escape guest text)."""

    def render_str(self, text: str, **kwargs: Any) -> Text:
        return super().render_str(clean(text, multiline=True), **kwargs)


def stdout_console() -> SafeConsole:
    return SafeConsole(highlight=False, soft_wrap=True)


def stderr_console() -> SafeConsole:
    return SafeConsole(stderr=True, highlight=False, soft_wrap=True)
