"""The console transcript and tail: what was read and sent, with secrets redacted (pure I/O on a file).

A :class:`Recorder` is the pexpect spawn's ``logfile_read``: it keeps the last part of the console for
error messages and writes a transcript line by line (a secret split across two reads is still
redacted); sent text is written as ``>>> ...`` lines, already redacted by the session. A file payload
read back (a run of base64 lines: ``read_file``, the netplan files of the network facts) is written as its
length and SHA-256 only: it may decode to a Wi-Fi PSK or an 802.1x password.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Callable
from typing import IO

from agent.core.guest_text import clean

REDACTED = "********"
_TAIL_CHARS = 16384
_ANSI_RE = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|[@-Z\\-_])")
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_B64_LINE_RE = re.compile(r"[A-Za-z0-9+/]+={0,2}\n")
#: a base64 run shorter than this stays as it is (a word of output; at most 8 bytes of a file)
_B64_MIN_CHARS = 12


def payload_summary(data: bytes, what: str = "file payload") -> str:
    """How a file payload shows in the transcript: its length and SHA-256, never its bytes."""
    return f"<{what}: {len(data)} bytes, sha256 {hashlib.sha256(data).hexdigest()}>"


def _b64_run_summary(lines: list[str]) -> str:
    text = "".join(line.rstrip("\n") for line in lines)
    try:
        return payload_summary(base64.b64decode(text, validate=True), "base64 payload withheld") + "\n"
    except (binascii.Error, ValueError):
        return payload_summary(text.encode(), "base64-like output withheld") + "\n"


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
        self._b64_run: list[str] = []

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
        out = []
        for line in re.findall(r"[^\n]*\n|[^\n]+", text):  # \n only: U+2028 is no line end
            if _B64_LINE_RE.fullmatch(line):
                self._b64_run.append(line)
                continue
            out.append(self._flush_b64_run())
            out.append(line)
        written = "".join(out)
        if written:
            self._transcript.write(written)
            self._transcript.flush()
            self._at_line_start = written.endswith("\n")

    def _flush_b64_run(self) -> str:
        """The pending run of base64 lines as transcript text: its summary, or the lines if short."""
        run, self._b64_run = self._b64_run, []
        if sum(len(line) - 1 for line in run) < _B64_MIN_CHARS:
            return "".join(run)
        return _b64_run_summary(run)

    def finish_line(self) -> None:
        self._emit(self._pending)
        self._pending = ""
        if self._transcript is not None and self._b64_run:
            self._transcript.write(self._flush_b64_run())
            self._transcript.flush()
            self._at_line_start = True

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
            clean(_CONTROL_RE.sub("", line.rsplit("\r", 1)[-1] if line.rstrip("\r") else line))
            for line in text.split("\n")
        ]
        while lines and not lines[-1].strip():
            lines.pop()
        return lines[-count:]
