"""A stand-in FreeBSD host's state, read from one scenario file (tests/standin/scenarios/*.json).

The file holds the state in the shape :mod:`freebsd_host_outputs` (tests/tools) prints from, so the
stand-in's commands and the data cases in tests/facts/host.* are written by the same printf renderings:
``geom``/``disk``/``first``/``last``/``parts`` (index, start, sectors, type, label, mode, uuid),
``pools`` (imported: name -> vdev paths), ``exported`` (partition index -> pool name, only in zdb's
labels), ``mounts``, ``fstab``, ``swaps``, ``fstyp`` (partition index -> [type, label]), ``uname``,
``label_extra``. The stand-in adds:

- ``rc_conf``: rc.conf's values (``sysrc``), e.g. ``vm_dir: zfs:zdata/vms``;
- ``files``: path on the host -> ``{"repo_file": <path in this repository>}`` or ``{"text": ...}``,
  laid under the stand-in's root folder (``zfs get mountpoint`` answers the mountpoint under it);
- ``images``: device path -> a local image file (relative to the scenario) that ``fstyp`` probes;
- ``running``: guest names bhyve runs (``/dev/vmm/<name>`` exists in the session); ``vm start`` adds one,
  ``vm stop`` removes one after ``stop_polls`` (default 2) calls of ``vm list``, never for a name in
  ``stop_hangs``;
- ``kld``: loaded kernel modules (``kldstat``);
- ``lab``: ``{"state": <lab state folder>, "ssh_port": N, "console_port": N, "flavour": "bookworm",
  "guest": "xdev"}``: that guest's ``vm start|stop|restart|console`` drive the lab's QEMU guest
  (tests/standin/stubs/vm_lab.py; tests/standin/host.py LabLink sets it). Without it, ``vm start`` adds
  the name to ``running`` and ``vm restart`` keeps it there (stubs/vm_bhyve.py).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
SCENARIOS = HERE / "scenarios"
TOOLS = REPO / "tests" / "tools"


def scenario_path(name: str) -> Path:
    return SCENARIOS / f"{name}.json"


def load_state(path: Path) -> dict[str, Any]:
    """The scenario as freebsd_host_outputs' state dict (integer keys, tuples where it wants them)."""
    raw = json.loads(path.read_text(encoding="utf-8"))
    st: dict[str, Any] = {
        "uid": 0,
        "missing": [],
        "fail": {},
        "devices": [],
        "cut_after": None,
        "label_extra": {},
        "rc_conf": {},
        "files": {},
        "images": {},
        "running": [],
        "kld": ["kernel", "zfs.ko", "vmm.ko", "nvme.ko"],
        **raw,
    }
    st["fstyp"] = {int(k): (v[0], v[1]) for k, v in raw.get("fstyp", {}).items()}
    st["exported"] = {int(k): v for k, v in raw.get("exported", {}).items()}
    st["mounts"] = [tuple(m) for m in raw.get("mounts", [])]
    st["fstab"] = {k: tuple(v) for k, v in raw.get("fstab", {}).items()}
    st["swaps"] = [tuple(s) for s in raw.get("swaps", [])]
    st["images"] = {k: str((path.parent / v).resolve()) for k, v in raw.get("images", {}).items()}
    return st


def device_paths(st: dict[str, Any]) -> list[str]:
    """The /dev entries the session shows: the disk, its diskid name and partitions, the GPT labels."""
    out = [f"/dev/{st['disk']}", f"/dev/{st['geom']}"]
    for p in st["parts"]:
        out += [f"/dev/{st['disk']}p{p['i']}", f"/dev/{st['geom']}p{p['i']}"]
        if p["label"] != "(null)":
            out.append(f"/dev/gpt/{p['label']}")
    out += [f"/dev/vmm/{name}" for name in st["running"]]
    return sorted(set(out))


def file_bytes(spec: dict[str, str]) -> bytes:
    if "repo_file" in spec:
        return (REPO / spec["repo_file"]).read_bytes()
    return spec["text"].encode("utf-8")
