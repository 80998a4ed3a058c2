# GENERATED from agent/hints.py by `python -m agent.collection_build`: do not edit.
"""Options named in messages, without spelling a command-line flag (pure).

The core writes ``f"add {opt('force')}"``; the CLI shows ``--force``, another front end (an Ansible
module) may show ``force: true``. A placeholder is ``{opt:name}`` with ``name`` in snake_case.
"""

from __future__ import annotations

import re
from collections.abc import Callable

_OPT_RE = re.compile(r"\{opt:([a-z][a-z0-9_]*)\}")


def opt(name: str) -> str:
    """A placeholder for the option ``name`` (snake_case, as the task's parameter is called)."""
    if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
        raise ValueError(f"bad option name {name!r}")
    return "{opt:" + name + "}"


def cli_flag(name: str) -> str:
    """How the command line spells the option ``name``: ``--match-mac``."""
    return "--" + name.replace("_", "-")


def render_options(text: str, style: Callable[[str], str] = cli_flag) -> str:
    """``text`` with every ``{opt:name}`` replaced by ``style(name)``."""
    return _OPT_RE.sub(lambda m: style(m[1]), text)


def options_named(text: str) -> list[str]:
    """The option names a message refers to, in order."""
    return _OPT_RE.findall(text)
