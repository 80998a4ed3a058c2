"""Files to and from a guest as root, the same way on every transport (pure).

Writing runs ``agent/scripts/write_file.sh`` with the content on its stdin: a private temporary file
next to the target, checked against its sha256, chmod'ed, renamed over the target. Reading runs
``read_file.sh``: the content as base64 in one framed section and its sha256, checked here. Neither
puts file content on a command line.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import posixpath

from agent.core import marker
from agent.core.script_render import render
from agent.errors import RemoteError


def _check_path(path: str) -> str:
    if not path.startswith("/") or posixpath.basename(path) in ("", ".", ".."):
        raise RemoteError(f"{path!r} is not an absolute path to a file")
    return path


def write_script(path: str, data: bytes, *, mode: int) -> str:
    """The script that writes its stdin (``data``) to ``path`` with ``mode``."""
    return render(
        "write_file",
        {"TARGET": _check_path(path), "MODE": f"{mode:04o}", "SHA256": hashlib.sha256(data).hexdigest()},
    )


def read_script(path: str) -> str:
    return render("read_file", {"SOURCE": _check_path(path)})


def decode_read(output: str, path: str) -> bytes:
    """The content ``read_script`` printed, checked against its sha256. RemoteError otherwise."""
    framed = marker.parse(output, "FILE", what=f"reading {path}")
    if framed.result is not None:
        raise RemoteError(f"cannot read {path} on the guest: {framed.result[1].replace('-', ' ')}")
    section = framed.get("content")
    if section is None or not section.ok or not framed.complete:
        raise RemoteError(f"reading {path} on the guest failed: {output.strip()[-300:]}")
    try:
        data = base64.b64decode("".join(section.stdout.split()), validate=True)
    except (binascii.Error, ValueError):
        raise RemoteError(f"read {path}: damaged base64 from the guest") from None
    if hashlib.sha256(data).hexdigest() != framed.observed.get("sha256"):
        raise RemoteError(f"read {path}: the checksum does not match the content received")
    return data
