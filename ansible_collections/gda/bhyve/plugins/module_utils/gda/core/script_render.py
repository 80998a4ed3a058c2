# GENERATED from agent/core/script_render.py by `python -m agent.collection_build`: do not edit.
"""The remote shell scripts, shipped as package files (``agent/scripts/*.sh``), made ready to run (pure).

A script is rendered as::

    #!/bin/sh
    # guest-disk-agent: <name>.sh
    N='<nonce>'                    the marker nonce (agent/core/marker.py)
    NAME='value' ...               the values, each shell-quoted
    EXIT_...=<n> ...               exit codes, from the one Python table the caller passes
    set -- 'argv' ...              an optional argument vector (e.g. the exact mkfs command)
    # guest-disk-agent: the shared part
    <agent/scripts/lib/marker.sh>  the framing functions
    <agent/scripts/lib/<lib>.sh>   shared functions the caller names (e.g. sysfs)
    <agent/scripts/<name>.sh>      the body

(the libraries and the body without their comment lines and blank lines: :mod:`agent.core.shell_compact`)

Nothing but the prelude carries values: a body never has Python text interpolated into it. So what
follows the line ``# guest-disk-agent: the shared part`` is the same text at every rendering
(:func:`split_shared`): the serial console stages it once per login and sources it. The body
files pass ``shellcheck -s sh`` (``./dev test`` runs it); each lists the prelude variables it uses.
"""

from __future__ import annotations

import functools
import re
import shlex
from collections.abc import Mapping, Sequence
from ansible_collections.gda.bhyve.plugins.module_utils.gda import _package_files as resources

from ansible_collections.gda.bhyve.plugins.module_utils.gda.core.marker import new_nonce, validate_nonce
from ansible_collections.gda.bhyve.plugins.module_utils.gda.core.shell_compact import compact

_NAME_RE = re.compile(r"^[A-Z_][A-Z0-9_]*$")
#: the line between a rendered script's values (its header and prelude) and its shared part (the
#: libraries and the body: the same text every time the script is rendered)
SHARED_MARK = "# guest-disk-agent: the shared part\n"
Value = str | int | bool


@functools.cache
def body(name: str) -> str:
    """The text of ``agent/scripts/<name>`` (``lib/marker.sh`` style names allowed)."""
    return resources.files("agent").joinpath("scripts", *name.split("/")).read_text(encoding="utf-8")


@functools.cache
def runs(name: str) -> str:
    """What of ``agent/scripts/<name>`` a rendered script holds: its text without the comment lines
    (compacted once per process)."""
    return compact(body(name))


def script_names() -> list[str]:
    """Every shipped script, ``lib/`` included (for tests and shellcheck)."""
    root = resources.files("agent").joinpath("scripts")
    names = [p.name for p in root.iterdir() if p.name.endswith(".sh")]
    names += ["lib/" + p.name for p in root.joinpath("lib").iterdir() if p.name.endswith(".sh")]
    return sorted(names)


def _word(value: Value) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    return shlex.quote(value)


def prelude(
    values: Mapping[str, Value],
    *,
    nonce: str,
    exit_codes: Mapping[str, int] | None = None,
    argv: Sequence[str] | None = None,
) -> str:
    lines = [f"N={shlex.quote(validate_nonce(nonce))}"]
    for key, value in {**values, **{k: int(v) for k, v in (exit_codes or {}).items()}}.items():
        if not _NAME_RE.match(key) or key == "N":
            raise ValueError(f"bad script variable name {key!r}")
        lines.append(f"{key}={_word(value)}")
    if argv is not None:
        lines.append("set -- " + " ".join(shlex.quote(a) for a in argv))
    return "\n".join(lines) + "\n"


def render(
    name: str,
    values: Mapping[str, Value] | None = None,
    *,
    nonce: str | None = None,
    exit_codes: Mapping[str, int] | None = None,
    argv: Sequence[str] | None = None,
    libs: Sequence[str] = (),
) -> str:
    """The runnable text of ``agent/scripts/<name>.sh`` with its prelude, the marker functions and the
    shared libraries ``libs`` (``agent/scripts/lib/<lib>.sh``) before the body, each without its comment
    lines (:func:`agent.core.shell_compact.compact`: half the bytes, which the console types)."""
    n = nonce if nonce is not None else new_nonce()
    return (
        f"#!/bin/sh\n# guest-disk-agent: {name}.sh\n"
        + prelude(values or {}, nonce=n, exit_codes=exit_codes, argv=argv)
        + SHARED_MARK
        + "".join(runs(f"lib/{lib}.sh") for lib in ("marker", *libs))
        + runs(f"{name}.sh")
    )


def split_shared(script: str) -> tuple[str, str] | None:
    """(the head: header and prelude, the shared part: libraries and body) of a script :func:`render`
    made; None for any other text. ``head + ". FILE"`` with the shared part in FILE runs the same. The
    last mark counts (no library or body holds one; a value in the prelude might). Pure."""
    head, mark, shared = script.rpartition("\n" + SHARED_MARK)
    if not mark or not head.startswith("#!/bin/sh\n# guest-disk-agent: "):
        return None
    return head + "\n", shared
