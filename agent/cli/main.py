"""The console script ``gda`` (``[project.scripts]``): the task's SSH connection begun first, while the
program (:mod:`agent.cli.program`) loads, and a quick exit. This module loads nothing heavy itself."""

from __future__ import annotations

import sys

from agent.cli import early
from agent.transport import early_open


def main() -> None:
    """The console script ``gda``: the task's SSH connection begun (:mod:`agent.cli.early`), the program,
    then a quick exit (:func:`exit_now`)."""
    early.start(sys.argv)
    from agent.cli.program import program

    code: object = 0
    try:
        program.run()
    except SystemExit as e:
        code = e.code
    finally:
        early_open.discard()
    exit_now(code)


def exit_now(code: object) -> None:
    """End the process with ``code`` (``sys.exit``'s meaning: None is 0, an int itself, anything else
    printed on stderr and 1), without the interpreter's teardown of every module (30-45 ms measured
    here, for nothing: every file the program opened is closed by then) when nothing else is running;
    with another thread still at work (an SSH probe being discarded), the ordinary exit, which waits."""
    import contextlib
    import os
    import threading

    if code is None:
        status = 0
    elif isinstance(code, int):
        status = code
    else:
        print(code, file=sys.stderr)
        status = 1
    others = [t for t in threading.enumerate() if t is not threading.main_thread() and not t.daemon]
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError):  # its reader went away (``gda ... | head``): nothing to tell
            stream.flush()
    if others:
        sys.exit(status)
    os._exit(status)


if __name__ == "__main__":
    main()
