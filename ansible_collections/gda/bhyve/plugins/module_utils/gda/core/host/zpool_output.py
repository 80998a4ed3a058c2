# GENERATED from agent/core/host/zpool_output.py by `python -m agent.collection_build`: do not edit.
"""``zpool status -P`` (imported pools) and ``zdb -l <device>`` (any pool's on-disk label) (pure).

``zpool status -P`` (sys/contrib/openzfs/cmd/zpool/zpool_main.c, ``status_callback`` and
``print_status_config``): per pool ``  pool: <name>``, `` state: <state>``, ``config:``, a header
``\\tNAME  STATE  READ WRITE CKSUM``, then one line per vdev, ``\\t<indent><name>  <state> ...``, the
pool itself first, leaves by full path with ``-P`` (``/dev/diskid/DISK-...p3``, ``/dev/gpt/zfs0``,
``/dev/ada0p3.eli``), groups as ``mirror-0``, ``raidz1-0``, ``logs``, ``cache``, ``spares``; then
``errors: ...``. No pool at all: ``no pools available``.

``zdb -l`` (sys/contrib/openzfs/cmd/zdb/zdb.c, ``dump_label``): a ``LABEL <n>`` banner between dashed
lines, then the label's nvlist (``dump_nvlist``, top level indented four spaces: ``name: '<pool>'``,
``state: <n>``, ``pool_guid: <n>``, ``hostname: '<h>'``, nested ``vdev_tree:`` with ``path: '...'``);
``failed to unpack label <n>`` where there is none. Exit 0 when a label was found, 2 when none.
Pool states (include/sys/fs/zfs.h, ``pool_state_t``): 0 active, 1 exported, 2 destroyed, 3 spare,
4 l2cache.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ansible_collections.gda.bhyve.plugins.module_utils.gda.core.guest_text import clean
from ansible_collections.gda.bhyve.plugins.module_utils.gda.core.marker import Section, lines_of

POOL_STATES = {0: "active", 1: "exported", 2: "destroyed", 3: "spare", 4: "l2cache"}
_GROUP_RE = re.compile(r"^(mirror|raidz\d?|draid\d?[:\w]*|spare|replacing|indirect)-\d+$")
_GROUP_WORDS = frozenset({"logs", "cache", "spares", "special", "dedup"})


@dataclass(frozen=True)
class PoolStatus:
    name: str
    state: str | None
    vdevs: tuple[str, ...]  # leaf vdev names as printed (full paths with -P)


def parse_zpool_status(text: str) -> tuple[PoolStatus, ...]:
    """Every pool of ``zpool status -P`` with its leaf vdevs."""
    pools: list[PoolStatus] = []
    name: str | None = None
    state: str | None = None
    vdevs: list[str] = []
    in_config = False

    def flush() -> None:
        if name is not None:
            pools.append(PoolStatus(name, state, tuple(vdevs)))

    for line in lines_of(text):
        stripped = line.strip()
        if stripped.startswith("pool: "):
            flush()
            name, state, vdevs, in_config = clean(stripped[6:].strip()), None, [], False
            continue
        if name is None:
            continue
        if stripped.startswith("state: ") and not in_config:
            state = clean(stripped[7:].strip())
        elif stripped == "config:":
            in_config = True
        elif stripped.startswith("errors:"):
            in_config = False
        elif in_config and stripped:
            word = clean(stripped.split()[0])
            if word in ("NAME", name) or word in _GROUP_WORDS or _GROUP_RE.match(word):
                continue
            vdevs.append(word)
    flush()
    return tuple(pools)


@dataclass(frozen=True)
class ZdbLabel:
    device: str
    found: bool
    pool: str | None
    pool_guid: str | None
    state: int | None
    hostname: str | None
    paths: tuple[str, ...]
    error: str | None = None  # zdb could not read the device (not "no label")

    @property
    def state_name(self) -> str | None:
        return None if self.state is None else POOL_STATES.get(self.state, f"state {self.state}")


def _unquote(value: str) -> str:
    v = value.strip()
    if len(v) >= 2 and v[0] == v[-1] == "'":
        v = v[1:-1]
    return clean(v)


def parse_zdb_label(section: Section, device: str) -> ZdbLabel:
    """The first label's pool name, guid, state and hostname, and every vdev path named in it."""
    top: dict[str, str] = {}
    paths: list[str] = []
    for line in lines_of(section.stdout):
        m = re.match(r"^( +)([A-Za-z_][\w.:-]*): ?(.*)$", line)
        if m is None:
            continue
        indent, key, value = len(m[1]), m[2], m[3]
        if indent == 4:
            top.setdefault(key, value)
        if key == "path" and value.strip():
            p = _unquote(value)
            if p not in paths:
                paths.append(p)
    found = "name" in top or "pool_guid" in top or "state" in top
    state = top.get("state", "").strip()
    error = None
    if not found and section.rc is None:
        error = "cut short"
    elif not found and section.rc not in (0, 2):
        err = " ".join(ln.strip() for ln in lines_of(section.stderr + section.stdout) if ln.strip())
        error = clean(err)[:300] or f"exit {section.rc}"
    return ZdbLabel(
        device=device,
        found=found,
        pool=_unquote(top["name"]) if "name" in top else None,
        pool_guid=top.get("pool_guid", "").strip() or None,
        state=int(state) if state.isdigit() else None,
        hostname=_unquote(top["hostname"]) if "hostname" in top else None,
        paths=tuple(paths),
        error=error,
    )
