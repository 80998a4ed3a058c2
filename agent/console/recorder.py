"""The console transcript and tail: what was read and sent, with secrets redacted (pure I/O on a file).

A :class:`Recorder` is the pexpect spawn's ``logfile_read``: it keeps the last part of the console for
error messages and writes a transcript line by line (a secret split across two reads is still
redacted); sent text is written as ``>>> ...`` lines, already redacted by the session.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import IO

REDACTED = "********"
_TAIL_CHARS = 16384
_ANSI_RE = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|[@-Z\\-_])")
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def visible(text: str) -> str:
    """A sent string as a transcript line: the final CR dropped, control characters as ^X."""
    if text.endswith("\r"):
        text = text[:-1]
    return "".join(f"^{chr(ord(c) + 64)}" if ord(c) < 0x20 else c for c in text) or "<enter>"


class Recorder:
    """pexpect ``logfile_read`` target: keeps the console tail for errors and writes the transcript.

    Read text is written line by line (a secret split across two reads is still redacted); sent text is
    written as ``>>> ...`` lines, already redacted by the session.
    """

    def __init__(self, transcript: IO[str] | None, redact: Callable[[str], str]) -> None:
        self._transcript = transcript
        self._redact = redact
        self._pending = ""
        self._tail = ""
        self._at_line_start = True

    def write(self, data: str) -> int:
        self._tail = (self._tail + data)[-_TAIL_CHARS:]
        if self._transcript is not None:
            self._pending += data
            cut = self._pending.rfind("\n") + 1
            if cut:
                self._emit(self._pending[:cut])
                self._pending = self._pending[cut:]
        return len(data)

    def flush(self) -> None:
        """pexpect flushes after every read; the partial line is kept until it is complete."""

    def _emit(self, text: str) -> None:
        if self._transcript is None or not text:
            return
        text = self._redact(text).replace("\r\n", "\n")
        self._transcript.write(text)
        self._transcript.flush()
        self._at_line_start = text.endswith("\n")

    def finish_line(self) -> None:
        self._emit(self._pending)
        self._pending = ""

    def sent(self, shown: str) -> None:
        if self._transcript is None:
            return
        self.finish_line()
        prefix = "" if self._at_line_start else "\n"
        self._transcript.write(f"{prefix}>>> {shown}\n")
        self._transcript.flush()
        self._at_line_start = True

    def last_lines(self, count: int) -> list[str]:
        text = _ANSI_RE.sub("", self._redact(self._tail))
        text = re.sub(r"\r+\n", "\n", text)
        lines = [
            _CONTROL_RE.sub("", line.rsplit("\r", 1)[-1] if line.rstrip("\r") else line)
            for line in text.split("\n")
        ]
        while lines and not lines[-1].strip():
            lines.pop()
        return lines[-count:]
