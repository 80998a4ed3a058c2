# GENERATED from agent/core/host/fstyp_output.py by `python -m agent.collection_build`: do not edit.
"""``fstyp -l -u <device>``: the filesystem (or pool, or GELI) a device already carries (pure).

Format (usr.sbin/fstyp/fstyp.c, ``main``): on success one line, ``<type>`` or with ``-l`` and a label
``<type> <label>`` (the label passed through ``strsnvis(VIS_GLOB | VIS_NL)``), exit 0; otherwise
``fstyp: <device>: filesystem not recognized`` on stderr and exit 1. ``-u`` also reports what cannot
be mounted: ``apfs``, ``geli``, ``hammer``, ``hammer2``, ``zfs`` (whose label is the pool name). Types:
apfs befs cd9660 exfat ext2fs (ext2/3/4) geli hammer hammer2 hfs+ msdosfs ntfs ufs zfs.
"""

from __future__ import annotations

from dataclasses import dataclass

from ansible_collections.gda.bhyve.plugins.module_utils.gda.core.guest_text import clean
from ansible_collections.gda.bhyve.plugins.module_utils.gda.core.marker import Section, lines_of

KNOWN_TYPES = frozenset(
    [
        "apfs",
        "befs",
        "cd9660",
        "exfat",
        "ext2fs",
        "geli",
        "hammer",
        "hammer2",
        "hfs+",
        "msdosfs",
        "ntfs",
        "ufs",
        "zfs",
    ]
)


@dataclass(frozen=True)
class Fstyp:
    device: str
    type: str | None  # None: nothing recognised (or fstyp could not run: see ``error``)
    label: str | None
    error: str | None  # fstyp's complaint when it failed for another reason than "not recognized"

    @property
    def known(self) -> bool:
        return self.type in KNOWN_TYPES


def parse_fstyp(section: Section, device: str) -> Fstyp:
    """Interpret one fstyp section (its stdout, stderr and exit status)."""
    first = next((ln.strip() for ln in lines_of(section.stdout) if ln.strip()), "")
    if section.rc == 0 and first:
        typ, _, label = first.partition(" ")
        return Fstyp(device, clean(typ), clean(label.strip()) or None, None)
    err = " ".join(ln.strip() for ln in lines_of(section.stderr) if ln.strip())
    if "filesystem not recognized" in err:
        return Fstyp(device, None, None, None)
    rc = "cut short" if section.rc is None else f"exit {section.rc}"
    return Fstyp(device, None, None, clean(err) or f"fstyp gave no answer ({rc})")
