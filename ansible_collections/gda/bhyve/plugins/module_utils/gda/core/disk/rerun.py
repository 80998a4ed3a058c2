# GENERATED from agent/core/disk/rerun.py by `python -m agent.collection_build`: do not edit.
"""A rerun on a disk that already carries the requested filesystem: is it really what was asked for? (pure)

Like Ignition (``wipeFilesystem: false``), the existing filesystem is reused only when it matches the
request: the type (the selection already checked it), the label when one is asked for, and for ext4 with
the FreeBSD host profile its features, read from the ``dumpe2fs -h`` the facts script prints for an ext4
on a whole disk. Equal → nothing to do; different → a refusal naming what differs, with the force option
as the way to recreate it. Nothing here can say "nothing to do" without having seen what it compares.
"""

from __future__ import annotations

from dataclasses import dataclass

from ansible_collections.gda.bhyve.plugins.module_utils.gda.core.disk.candidates import AlreadyFormatted
from ansible_collections.gda.bhyve.plugins.module_utils.gda.core.disk.ext4_freebsd import (
    FREEBSD_EXT4_DISABLE,
    check_freebsd_compat,
    header_features,
    parse_dumpe2fs_header,
)
from ansible_collections.gda.bhyve.plugins.module_utils.gda.core.disk.mkfs import FsType
from ansible_collections.gda.bhyve.plugins.module_utils.gda.errors import Refused
from ansible_collections.gda.bhyve.plugins.module_utils.gda.hints import opt


@dataclass(frozen=True)
class RequestedFs:
    """What the format task was asked to make."""

    fs: FsType
    label: str | None = None  # None: any label will do
    host_compat: str | None = None  # "freebsd" | "linux" | None


def freebsd_differences(dumpe2fs: str | None) -> list[str]:
    """How an existing ext4 differs from what the FreeBSD profile makes ([] when it matches)."""
    if dumpe2fs is None:
        return [
            "its ext4 features could not be read (no `dumpe2fs -h` output in the facts), so it cannot be "
            "checked against the FreeBSD profile"
        ]
    features = header_features(parse_dumpe2fs_header(dumpe2fs))
    if not features:
        return ["`dumpe2fs -h` printed no feature list, so it cannot be checked against the FreeBSD profile"]
    present = [c.feature for c in FREEBSD_EXT4_DISABLE if c.feature in features]
    out = []
    if present:
        out.append(
            "has ext4 features the FreeBSD profile turns off: "
            + ", ".join(present)
            + " (made with Linux defaults?)"
        )
    out += [
        f"{p.message} (fix: {p.fix})"
        for p in check_freebsd_compat(dumpe2fs)
        if p.severity == "error" and p.feature not in present
    ]
    return out


def rerun_differences(found: AlreadyFormatted, req: RequestedFs) -> list[str]:
    """What differs between the filesystem on the disk and the request ([] → a rerun is a no-op)."""
    out: list[str] = []
    if req.label is not None and (found.label or "") != req.label:
        have = repr(found.label) if found.label else "no label"
        out.append(f"label: it has {have}, {opt('label')} asks for {req.label!r}")
    if req.host_compat == "freebsd" and req.fs == "ext4":
        out += freebsd_differences(found.disk.dumpe2fs)
    return out


def rerun_refusal(found: AlreadyFormatted, differences: list[str]) -> Refused:
    """The refusal for a disk that carries the requested type, but not as requested."""
    what = f"{found.fs}" + (f" (UUID {found.uuid})" if found.uuid else "")
    return Refused(
        f"{found.disk.path} already carries {what}, but not the one requested; nothing was changed:\n  "
        + "\n  ".join(differences),
        hint=f"to recreate it as requested (destroying its data) rerun with {opt('force')} "
        f"(needs {opt('yes')} or typing the device); to keep it, rerun with the options it was made with",
    )
