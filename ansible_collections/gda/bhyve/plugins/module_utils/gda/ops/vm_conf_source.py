# GENERATED from agent/ops/vm_conf_source.py by `python -m agent.collection_build`: do not edit.
"""check-vm-config's config source: read a vm-bhyve guest config (a file, or from the FreeBSD host), check it.

On the host one script (``agent/scripts/vm_conf.sh``) finds where vm-bhyve keeps the guest (rc.conf's
``vm_dir``, which may be ``zfs:pool/dataset``) and prints the guest's conf, framed by agent.core.marker
(header kind ``VMCONF``; ``OBS dir=``/``OBS dataset=``; the conf as the section ``conf_hex``, an
``od -An -v -tx1`` hex dump, so that the bytes arrive as vm-bhyve reads them: the framing's line
parser drops a line's final ``\r``, and a CRLF conf is exactly what must be seen). Local files are
read as bytes too (:func:`agent.core.vmbhyve.vmconf.decode_conf`). The same script also says whether
bhyve runs the guest (``OBS running=``) and, for the host checks (agent.ops.host_check), runs
host_facts.sh after the conf in the same round trip.

Standard library only, like everything it imports: the Ansible module ``gda.bhyve.vm_config`` ships it
as module_utils (agent.collection_build). The CLI's facade, agent.ops.vm_check, re-exports it and adds
the SSH target of the host.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from ansible_collections.gda.bhyve.plugins.module_utils.gda.core import marker, script_render
from ansible_collections.gda.bhyve.plugins.module_utils.gda.core.vmbhyve.vmconf import decode_conf
from ansible_collections.gda.bhyve.plugins.module_utils.gda.core.vmbhyve.vmfindings import Report, check_vm_config_text
from ansible_collections.gda.bhyve.plugins.module_utils.gda.errors import UsageError
from ansible_collections.gda.bhyve.plugins.module_utils.gda.transport.protocol import CommandProtocol, Result

#: vm_conf.sh's exit codes (emitted into its prelude; the RESULT line carries the same)
SCRIPT_EXITS = {"EXIT_OK": 0, "EXIT_NO_VM_DIR": 3, "EXIT_NO_MOUNTPOINT": 4, "EXIT_NO_CONF": 5}
MARKER_KIND = "VMCONF"

# vm-bhyve's own rule for guest names (lib/vm-core vm::create: letters, digits, '.', '_' and '-')
_VM_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


@dataclass(frozen=True)
class ConfSource:
    text: str
    origin: str
    vm_dir: str
    vm_name: str
    zvol_dataset: str
    running: bool | None = None  # on the host: /dev/vmm/<vm> exists (bhyve runs it); None: not known


def _read(path: str) -> str:
    """The file as vm-bhyve reads it: bytes, no newline translation (a CRLF file keeps its ``\r``)."""
    try:
        return decode_conf(Path(path).read_bytes())
    except OSError as e:
        raise UsageError(f"cannot read {path}: {e.strerror or e}") from None


def from_file(conf: str, *, vm_dir: str | None, vm_name: str | None, zvol_dataset: str | None) -> ConfSource:
    """A local conf. Defaults follow vm-bhyve's layout: ``<vm_dir>/<name>/<name>.conf``."""
    p = Path(conf)
    name = vm_name or p.name.split(".conf")[0]
    vdir = vm_dir or str(p.resolve().parent)
    dataset = zvol_dataset or str(PurePosixPath(vdir).parent).lstrip("/")
    return ConfSource(_read(conf), conf, vdir, name, dataset)


def conf_script(vm: str, *, nonce: str, host_facts: str | None = None, devices: Sequence[str] = ()) -> str:
    """The script that prints ``vm``'s conf on the host (framed with ``nonce``); with ``host_facts`` (a
    rendered host_facts.sh without GDA_DEVICES) it then runs that for ``devices`` and the conf's
    ``/dev/...`` disks, in the same round trip (agent.ops.host_check)."""
    values: dict[str, str] = {"VM": vm}
    if host_facts is not None:
        values |= {"HOST_FACTS": host_facts, "HOST_DEVICES": " ".join(devices)}
    return script_render.render("vm_conf", values, nonce=nonce, exit_codes=SCRIPT_EXITS)


def parse_conf_output(stdout: str, vm: str, *, nonce: str, label: str) -> ConfSource:
    """The ConfSource in ``vm_conf.sh``'s output. UsageError when the conf could not be read."""

    def failed(detail: str) -> UsageError:
        return UsageError(f"could not read {vm}'s vm-bhyve config on {label}: {detail}")

    try:
        framed = marker.parse(stdout, MARKER_KIND, what=f"reading {vm}'s vm-bhyve config")
    except marker.MarkerError as e:
        raise failed(f"{e.message} ({e.hint})") from None
    if framed.nonce != nonce:
        raise failed("the output does not carry this run's marker")
    section = framed.get("conf_hex")
    if "error" in framed.observed:
        raise failed(framed.observed["error"])
    if section is None or section.rc != 0 or "dir" not in framed.observed:
        detail = section.stderr.strip() if section is not None else ""
        raise failed(detail or "the output was cut short")
    try:  # the conf travels as od's hex dump: every byte (a CR, a non-UTF-8 byte) arrives as it is
        data = bytes.fromhex("".join(section.stdout.split()))
    except ValueError:
        raise failed("the conf's hex dump is damaged") from None
    vm_dir = framed.observed["dir"]
    running = {"yes": True, "no": False}.get(framed.observed.get("running", ""))
    return ConfSource(
        decode_conf(data),
        f"{label}:{vm_dir}/{vm}.conf",
        vm_dir,
        vm,
        framed.observed.get("dataset", ""),
        running,
    )


def check_vm_name(vm: str) -> str:
    """``vm`` if it is a vm-bhyve guest name, else UsageError (checked before anything runs)."""
    if not _VM_NAME_RE.fullmatch(vm):
        raise UsageError(f"{vm!r} is not a vm-bhyve guest name (letters, digits, '.', '_' and '-')")
    return vm


def conf_from_result(r: Result, vm: str, *, nonce: str, label: str) -> ConfSource:
    """The ConfSource in what running :func:`conf_script` returned (UsageError when it is not there)."""
    if not marker.has_header(r.stdout, MARKER_KIND):
        detail = (r.stderr or r.stdout).strip() or f"exit status {r.status}"
        raise UsageError(f"could not read {vm}'s vm-bhyve config on {label}: {detail}")
    return parse_conf_output(r.stdout, vm, nonce=nonce, label=label)


def from_host(conn: CommandProtocol, vm: str) -> ConfSource:
    """``vm``'s conf as vm-bhyve keeps it on the host ``conn`` is connected to."""
    check_vm_name(vm)
    nonce = marker.new_nonce()
    r = conn.run(conf_script(vm, nonce=nonce))
    return conf_from_result(r, vm, nonce=nonce, label=conn.label)


def check(src: ConfSource, before: str | None) -> Report:
    return check_vm_config_text(
        src.text,
        vm_dir=src.vm_dir,
        vm_name=src.vm_name,
        zvol_dataset=src.zvol_dataset,
        before_text=_read(before) if before else None,
    )
