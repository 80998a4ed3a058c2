"""A stand-in FreeBSD host's state, read from one scenario file (``scenarios/*.json`` next to this module,
package data; the tests keep theirs in tests/standin/scenarios/).

The file holds the state in the shape :mod:`agent.lab.standin.freebsd_outputs` prints from, so the
stand-in's commands and the data cases in tests/facts/host.* are written by the same printf renderings:
``geom``/``disk``/``first``/``last``/``parts`` (index, start, sectors, type, label, mode, uuid),
``pools`` (imported: name -> vdev paths), ``exported`` (partition index -> pool name, only in zdb's
labels), ``mounts``, ``fstab``, ``swaps``, ``fstyp`` (partition index -> [type, label]), ``uname``,
``label_extra``. The stand-in adds:

- ``rc_conf``: rc.conf's values (``sysrc``), e.g. ``vm_dir: zfs:zdata/vms``;
- ``files``: path on the host -> ``{"package_file": <path in the agent package>}``, ``{"repo_file":
  <path in the checkout holding the scenario file: the nearest folder above it with a pyproject.toml>}``
  or ``{"text": ...}``, laid under the stand-in's root folder (``zfs get mountpoint`` answers the
  mountpoint under it);
- ``images``: device path -> a local image file (relative to the scenario) that ``fstyp`` probes;
- ``running``: guest names bhyve runs (``/dev/vmm/<name>`` exists in the session); ``vm start`` adds one,
  ``vm stop`` removes one after ``stop_polls`` (default 2) calls of ``vm list``, never for a name in
  ``stop_hangs``;
- ``kld``: loaded kernel modules (``kldstat``);
- ``lab``: ``{"state": <lab state folder>, "ssh_port": N, "console_port": N, "flavour": "bookworm",
  "guest": "xdev"}``: that guest's ``vm start|stop|restart|console`` drive the lab's QEMU guest
  (stubs/vm_lab.py; host.py's LabLink sets it). Without it, ``vm start`` adds the name to ``running``
  and ``vm restart`` keeps it there (stubs/vm_bhyve.py);
- ``extends``: ``"package:<name>"`` (a scenario of this package) or a path relative to the file: that
  scenario, with this file's top-level keys replacing its own (:func:`read_scenario`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SCENARIOS = HERE / "scenarios"
PACKAGE = HERE.parents[1]  # the agent package (package_file is relative to it)
SEED = "seed"


def scenario_path(name: str) -> Path:
    """The package's scenario ``name`` (``seed``: the seed's host)."""
    return SCENARIOS / f"{name}.json"


def _checkout_of(path: Path) -> Path:
    for folder in path.resolve().parents:
        if (folder / "pyproject.toml").is_file():
            return folder
    raise FileNotFoundError(f"{path} names a repo_file but lies in no checkout (no pyproject.toml above it)")


def read_scenario(path: Path) -> dict[str, Any]:
    """The scenario file as one mapping: ``extends`` resolved, ``images`` and ``repo_file`` made absolute
    (relative to the file that names them)."""
    raw: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    base: dict[str, Any] = {}
    parent = raw.pop("extends", None)
    if parent is not None:
        ref = str(parent)
        base_path = scenario_path(ref[8:]) if ref.startswith("package:") else path.parent / ref
        base = read_scenario(base_path)
    if "images" in raw:
        raw["images"] = {k: str((path.parent / v).resolve()) for k, v in raw["images"].items()}
    if "files" in raw:
        raw["files"] = {k: _absolute(spec, path) for k, spec in raw["files"].items()}
    return {**base, **raw}


def _absolute(spec: dict[str, str], scenario: Path) -> dict[str, str]:
    if "repo_file" in spec:
        return {"path": str(_checkout_of(scenario) / spec["repo_file"])}
    return dict(spec)


def load_state(path: Path) -> dict[str, Any]:
    """The scenario as freebsd_outputs' state dict (integer keys, tuples where it wants them)."""
    raw = read_scenario(path)
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
    """A ``files`` entry's bytes (as :func:`read_scenario` gives it: ``path``, ``package_file``, ``text``)."""
    if "path" in spec:
        return Path(spec["path"]).read_bytes()
    if "package_file" in spec:
        return (PACKAGE / spec["package_file"]).read_bytes()
    return spec["text"].encode("utf-8")
