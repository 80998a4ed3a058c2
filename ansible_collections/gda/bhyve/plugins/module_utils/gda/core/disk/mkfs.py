# GENERATED from agent/core/disk/mkfs.py by `python -m agent.collection_build`: do not edit.
"""Build mkfs command lines for ext4 and XFS (pure).

The argv returned here has no device: the guard script appends the device it resolved and checked under
its lock (see :mod:`agent.core.disk.guard`), so the checked node and the formatted node are the same.
mkfs's own "is there a filesystem already?" check is not relied on (mke2fs only asks when it has a
terminal); the guard is the safety, and ``force=True`` (mke2fs ``-F``, mkfs.xfs ``-f``) is meant for the
guarded run only.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, get_args

from ansible_collections.gda.bhyve.plugins.module_utils.gda.errors import Refused, UsageError
from ansible_collections.gda.bhyve.plugins.module_utils.gda.hints import opt

FsType = Literal["ext4", "xfs"]
FS_TYPES: tuple[FsType, ...] = get_args(FsType)


@dataclass(frozen=True)
class MkfsTool:
    """How to make one filesystem type."""

    fs: FsType
    program: str  # mkfs program name, resolved through the guest's PATH (+ sbin dirs)
    package: str  # Debian/Ubuntu package that provides it
    label_max_bytes: int
    force_flag: str
    no_discard: tuple[str, ...]


MKFS_TOOLS: Mapping[FsType, MkfsTool] = {
    "ext4": MkfsTool("ext4", "mkfs.ext4", "e2fsprogs", 16, "-F", ("-E", "nodiscard")),
    "xfs": MkfsTool("xfs", "mkfs.xfs", "xfsprogs", 12, "-f", ("-K",)),
}


def parse_fs(text: str) -> FsType:
    """Validate an ``fs`` option value (case-insensitive); UsageError listing the choices otherwise."""
    value = text.strip().lower()
    for fs in FS_TYPES:
        if value == fs:
            return fs
    raise UsageError(f"unsupported filesystem {text!r}", hint=f"choose one of: {', '.join(FS_TYPES)}")


def validate_label(fs: FsType, label: str) -> str:
    """Return ``label`` if the filesystem accepts it, else raise UsageError.

    Limits: ext4 16 bytes, XFS 12 bytes (UTF-8 bytes, not characters). Whitespace, control characters and
    a leading ``-`` are refused: they make fstab entries and shell use error-prone.
    """
    tool = MKFS_TOOLS[fs]
    if not label:
        raise UsageError("empty filesystem label", hint=f"omit {opt('label')} for no label")
    size = len(label.encode("utf-8"))
    if size > tool.label_max_bytes:
        raise UsageError(
            f"label {label!r} is {size} bytes; {fs} allows at most {tool.label_max_bytes}",
            hint="choose a shorter label",
        )
    bad = [c for c in label if c.isspace() or unicodedata.category(c).startswith("C")]
    if bad:
        raise UsageError(
            f"label {label!r} contains whitespace or control characters", hint="use e.g. host-data"
        )
    if label.startswith("-"):
        raise UsageError(f"label {label!r} starts with '-'", hint="start the label with a letter or digit")
    return label


def _merge_ext4_extended(extra: Sequence[str], add: str) -> tuple[str, ...]:
    """Fold ``add`` into the caller's ``-E`` option: mke2fs keeps only the last ``-E`` it is given."""
    out = list(extra)
    for i, arg in enumerate(out):
        if arg == "-E" and i + 1 < len(out):
            out[i + 1] = f"{out[i + 1]},{add}"
            return tuple(out)
        if arg.startswith("-E") and len(arg) > 2:
            out[i] = f"{arg},{add}"
            return tuple(out)
    return (*out, "-E", add)


def build_mkfs_argv(
    fs: FsType,
    *,
    label: str | None = None,
    no_discard: bool = False,
    force: bool = False,
    extra_args: Sequence[str] = (),
) -> tuple[str, ...]:
    """Return the mkfs argv WITHOUT the device (append it last).

    ``extra_args`` (e.g. a host-compatibility profile: ``-O ^orphan_file`` or ``-m bigtime=0``) are passed
    through after validation that they are plain strings without NUL or newline. ``force`` adds the
    program's force flag; use it only in the guarded run.
    """
    tool = MKFS_TOOLS[fs]
    for a in extra_args:
        if not isinstance(a, str) or "\0" in a or "\n" in a:
            raise UsageError(f"invalid mkfs argument {a!r}")
    argv: list[str] = [tool.program]
    if force:
        argv.append(tool.force_flag)
    if label is not None:
        argv += ["-L", validate_label(fs, label)]
    extra: tuple[str, ...] = tuple(extra_args)
    if no_discard:
        if fs == "ext4":
            extra = _merge_ext4_extended(extra, "nodiscard")
        else:
            argv += list(tool.no_discard)
    argv += extra
    return tuple(argv)


def with_device(argv: Sequence[str], device: str) -> tuple[str, ...]:
    """The full argv with ``device`` appended (for the dry-run display)."""
    return (*argv, device)


def missing_mkfs_error(fs: FsType, guest: str | None = None) -> Refused:
    """The error for a guest without the mkfs program, naming the package that provides it."""
    tool = MKFS_TOOLS[fs]
    where = f" on {guest}" if guest else ""
    return Refused(
        f"{tool.program} is not installed{where} (package {tool.package})",
        hint=f"install it on the guest: sudo apt-get install {tool.package}",
    )


def require_mkfs(tool_paths: Mapping[str, str], fs: FsType, guest: str | None = None) -> str:
    """Return the guest path of the mkfs program from the facts' tool map, or raise the missing error."""
    path = tool_paths.get(MKFS_TOOLS[fs].program)
    if not path:
        raise missing_mkfs_error(fs, guest)
    return path
