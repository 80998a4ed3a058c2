# GENERATED from agent/core/values.py by `python -m agent.collection_build`: do not edit.
"""One parser each for the values users write: sizes, host:port, MAC addresses (pure).

Every parser raises :class:`ValueError` with a message that says what to write instead; callers turn that
into their own error (the inventory: a located problem; the command line: a usage error, exit 2).

Sizes, the one rule: a bare number is bytes; ``K M G T P E`` with or without ``iB`` are powers of 1024
(``256G`` = ``256GiB``, as lsblk and fdisk print them), with ``B`` they are powers of 1000 (``500GB``, as
disk vendors print them); units are case-insensitive (``256g``); a fraction is allowed when the result
is a whole number of bytes (``1.5TiB``); ``256Gi`` is refused with a hint (write ``GiB``).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path

_SIZE_RE = re.compile(r"^(?P<num>\d+(?:\.\d+)?)\s*(?:(?P<unit>[KMGTPE])(?P<i>I)?)?(?P<b>B)?$", re.IGNORECASE)
_SIZE_EXPONENT = {"K": 1, "M": 2, "G": 3, "T": 4, "P": 5, "E": 6}
SIZE_EXAMPLES = "256GiB or 256G (binary), 500GB (decimal), or a number of bytes"


def parse_size(value: object) -> int:
    """Bytes for ``value`` (an int, or a string by the rule above). ValueError otherwise."""
    if isinstance(value, bool):
        raise ValueError(f"expected a size such as {SIZE_EXAMPLES}")
    if isinstance(value, int):
        if value <= 0:
            raise ValueError(f"size must be positive, got {value}")
        return value
    if not isinstance(value, str):
        raise ValueError(f"expected a size such as {SIZE_EXAMPLES}")
    text = value.strip()
    m = _SIZE_RE.match(text)
    if not m:
        raise ValueError(f"cannot read size {value!r}: use {SIZE_EXAMPLES}")
    unit, binary, b = m["unit"], m["i"], m["b"]
    if binary and not b:
        raise ValueError(f"cannot read size {value!r}: did you mean {m['num']}{unit.upper()}iB?")
    try:
        number = Decimal(m["num"])
    except InvalidOperation as exc:  # pragma: no cover - the regex only lets decimals through
        raise ValueError(f"cannot read size {value!r}") from exc
    if unit is None:
        if b and binary:  # pragma: no cover - "iB" without a unit does not match
            raise ValueError(f"cannot read size {value!r}")
        multiplier = 1
    else:
        base = 1000 if (b and not binary) else 1024
        multiplier = base ** _SIZE_EXPONENT[unit.upper()]
    total = number * multiplier
    if total != total.to_integral_value():
        raise ValueError(f"size {value!r} is not a whole number of bytes")
    if total <= 0:
        raise ValueError(f"size must be positive, got {value!r}")
    return int(total)


@dataclass(frozen=True)
class HostPort:
    host: str
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


_HOST_PORT_RE = re.compile(
    r"\[(?P<v6>[0-9A-Fa-f:.%\w]+)\]:(?P<port>\d+)|(?P<host>[^\s:\[\]]+):(?P<port2>\d+)"
)


def parse_host_port(value: object) -> HostPort:
    """``127.0.0.1:4555``, ``host:22`` or ``[::1]:4555``. ValueError otherwise."""
    if isinstance(value, HostPort):
        return value
    if not isinstance(value, str):
        raise ValueError("expected host:port, e.g. 127.0.0.1:4555 (quote it)")
    text = value.strip()
    m = _HOST_PORT_RE.fullmatch(text)
    if not m:
        if text.count(":") > 1 and not text.startswith("["):
            raise ValueError(f"cannot read {text!r}: write an IPv6 address in brackets, e.g. [::1]:4555")
        raise ValueError(f"cannot read {text!r}: expected host:port, e.g. 127.0.0.1:4555 or [::1]:4555")
    host = m["v6"] or m["host"]
    port = int(m["port"] or m["port2"])
    if not 1 <= port <= 65535:
        raise ValueError(f"port {port} is out of range 1..65535")
    return HostPort(host=host, port=port)


_MAC_RE = re.compile(r"[0-9a-f]{2}([:-])[0-9a-f]{2}(\1[0-9a-f]{2}){4}")


def parse_mac(value: object) -> str:
    """``58-9C-FC-03-19-32`` → ``58:9c:fc:03:19:32``. ValueError when it is not six hex pairs."""
    if not isinstance(value, str):
        raise ValueError("expected a MAC address such as 58:9c:fc:03:19:32 (quote it)")
    text = value.strip().lower()
    if not _MAC_RE.fullmatch(text):
        raise ValueError(
            f"{value.strip()!r} is not a MAC address: expected six hex pairs, e.g. 58:9c:fc:03:19:32"
        )
    return text.replace("-", ":")


def mac_or_none(value: object) -> str | None:
    """The normalised MAC, or None for anything that is not one (facts from the guest)."""
    try:
        return parse_mac(value)
    except ValueError:
        return None


def local_path(value: str, base_dir: str | os.PathLike[str] | None) -> Path:
    """``value`` as a path on this machine: ``~`` expanded, a relative path taken from ``base_dir`` (else
    the working directory), normalised. The inventory's rule for ``identity_file`` and ``known_hosts``."""
    path = Path(os.path.expanduser(value))
    if not path.is_absolute():
        path = Path(base_dir if base_dir is not None else Path.cwd()) / path
    return Path(os.path.normpath(path))
