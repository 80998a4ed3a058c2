# GENERATED from agent/core/host/glabel_status.py by `python -m agent.collection_build`: do not edit.
"""``glabel status -s`` and the GEOM names it ties together (pure).

Format (sbin/geom/core/geom.c, ``std_status``/``status_one_geom``): one line per label,
``printf("%*s  %*s  %s\\n", name_len, name, status_len, status, component)``, names right-aligned;
``-s`` drops the header and repeats the name on every component line. For the label class the status
is ``N/A`` and the component the provider the label sits on::

    diskid/DISK-Y39B70RTK7AS  N/A  nda0
     gptid/5c7d...-4a1b-...  N/A  diskid/DISK-Y39B70RTK7ASp4

:class:`GeomNames` resolves any of those names to one canonical provider: ``diskid/DISK-Y39B70RTK7AS``
→ ``nda0``; a partition of a label inherits its suffix (``diskid/DISK-Y39B70RTK7ASp4`` → ``nda0p4``),
because GEOM PART names partitions ``<geom name>p<index>`` (GPT) or ``<geom name>s<index>`` (MBR).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ansible_collections.gda.bhyve.plugins.module_utils.gda.core.guest_text import clean
from ansible_collections.gda.bhyve.plugins.module_utils.gda.core.marker import lines_of

_PART_SUFFIX_RE = re.compile(r"(?:p\d+|s\d+[a-h]?)+")
_LAYER_SUFFIXES = (".eli", ".nop", ".journal")


@dataclass(frozen=True)
class LabelEntry:
    name: str  # e.g. "diskid/DISK-Y39B70RTK7AS", "gpt/data0", "gptid/<uuid>"
    status: str
    component: str  # the provider under the label, e.g. "nda0"


def parse_glabel_status(text: str) -> tuple[LabelEntry, ...]:
    """``glabel status -s`` lines → entries (a header line, short or garbled lines are skipped)."""
    out: list[LabelEntry] = []
    for line in lines_of(text):
        parts = line.split()
        if len(parts) < 3 or (parts[0], parts[1]) == ("Name", "Status"):
            continue
        name, status = clean(parts[0]), clean(parts[1])
        component = clean(" ".join(parts[2:]))
        # a mirror-like class prints "ada0 (SYNCHRONIZING)"; keep the provider only
        component = component.split(" (", 1)[0]
        out.append(LabelEntry(name, status, component))
    return tuple(out)


def strip_dev(path: str) -> str:
    """``/dev/nda0p4`` → ``nda0p4`` (other strings unchanged)."""
    return path[5:] if path.startswith("/dev/") else path


def strip_layers(name: str) -> tuple[str, str]:
    """(name without a GELI/gnop/gjournal suffix, the suffix or ""): ``nda0p2.eli`` →
    (``nda0p2``, ``.eli``)."""
    for suffix in _LAYER_SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)], suffix
    return name, ""


@dataclass(frozen=True)
class GeomNames:
    """The label → provider map of one host, and the resolution of names through it."""

    labels: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_entries(cls, entries: tuple[LabelEntry, ...]) -> GeomNames:
        return cls({e.name: e.component for e in entries if e.name != e.component})

    def canonical(self, name: str) -> str:
        """The provider a name finally refers to: labels followed (at most 8 deep), a partition suffix
        carried over from a label's partition, ``/dev/`` and GELI-like suffixes dropped."""
        cur, _ = strip_layers(strip_dev(name.strip()))
        for _ in range(8):
            if cur in self.labels:
                cur = strip_layers(self.labels[cur])[0]
                continue
            split = self._label_prefix(cur)
            if split is None:
                break
            base, suffix = split
            cur = strip_layers(self.labels[base])[0] + suffix
        return cur

    def _label_prefix(self, name: str) -> tuple[str, str] | None:
        """(label, partition suffix) for ``<label><suffix>`` with the longest label that fits."""
        for i in range(len(name) - 1, 0, -1):
            base, suffix = name[:i], name[i:]
            if base in self.labels and _PART_SUFFIX_RE.fullmatch(suffix):
                return base, suffix
        return None

    def aliases(self, canonical: str) -> tuple[str, ...]:
        """Every label name that resolves to ``canonical`` (sorted), for messages."""
        return tuple(sorted(n for n in self.labels if self.canonical(n) == canonical))

    def same(self, a: str, b: str) -> bool:
        return self.canonical(a) == self.canonical(b)
