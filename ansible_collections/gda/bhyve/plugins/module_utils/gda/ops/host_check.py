# GENERATED from agent/ops/host_check.py by `python -m agent.collection_build`: do not edit.
"""check-vm-config's host checks: may the host devices the conf passes through be given to the guest?

One SSH round trip (one :meth:`CommandProtocol.run`): ``vm_conf.sh`` prints the guest's conf (its
``VMCONF`` framing) and then runs ``host_facts.sh`` (its own ``HOSTFACTS`` header, nonce and framing)
for the ``/dev/...`` disk names of that conf and the ``--device`` paths
(agent.ops.vm_conf_source.conf_script). Each output is parsed by its own parser; the facts must carry
this run's nonce.

The devices checked (:func:`host_devices`): every ``diskN`` with ``diskN_dev="custom"`` and a
``/dev/...`` ``diskN_name``, and each ``--device``. For an NVMe disk the serial the guest will see is
``ser=`` in ``diskN_opts`` (bhyve's last ``ser=`` wins), else bhyve's ``NVME-<slot>-<func>`` from the
slot plan. :func:`agent.core.host.host_checks.check_host_device` decides; a device the host script did
not gather (no ``diskinfo`` section for its path: the conf line was not read as a plain ``/dev`` path
there) is an error, never a silent pass. Any host error makes the exit 1; warnings and infos do not.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ansible_collections.gda.bhyve.plugins.module_utils.gda.core import marker, script_render
from ansible_collections.gda.bhyve.plugins.module_utils.gda.core.host import host_facts as hf
from ansible_collections.gda.bhyve.plugins.module_utils.gda.core.host.host_checks import check_host_device, human
from ansible_collections.gda.bhyve.plugins.module_utils.gda.core.host.host_finding import HostCheck, HostFinding, refusal_text
from ansible_collections.gda.bhyve.plugins.module_utils.gda.core.vmbhyve.vmconf import ser_option
from ansible_collections.gda.bhyve.plugins.module_utils.gda.core.vmbhyve.vmfindings import Report
from ansible_collections.gda.bhyve.plugins.module_utils.gda.errors import UsageError
from ansible_collections.gda.bhyve.plugins.module_utils.gda.hints import opt, render_options
from ansible_collections.gda.bhyve.plugins.module_utils.gda.ops.vm_conf_source import ConfSource, check_vm_name, conf_from_result, conf_script
from ansible_collections.gda.bhyve.plugins.module_utils.gda.transport.protocol import CommandProtocol


@dataclass(frozen=True)
class HostDevice:
    """A device to check: a disk of the conf backed by a host device, or one given with ``--device``."""

    path: str
    disk: int | None = None  # the conf's diskN (None: only given with --device)
    disk_type: str | None = None  # diskN_type: nvme, virtio-blk, ahci-hd, ...
    serial: str | None = None  # ser= in diskN_opts
    slot: int | None = None  # the slot plan's PCI slot and function of the disk
    func: int = 0

    @property
    def nvme(self) -> bool:
        return self.disk_type == "nvme"


def check_device_option(path: str) -> str:
    """``path`` if the host check can take it (a ``/dev/...`` path, no shell syntax), else UsageError."""
    try:
        hf.render_host_facts([path], nonce=marker.new_nonce())
    except ValueError:
        raise UsageError(
            f"{path!r} is not a device path the host check can take",
            hint=f"give {opt('device')} a /dev/... path, e.g. /dev/diskid/DISK-Y39B70RTK7ASp4 "
            "(`glabel status -s` on the host lists the names)",
        ) from None
    return path


def host_devices(report: Report, extra: Sequence[str] = ()) -> tuple[HostDevice, ...]:
    """The conf's disks backed by a host device (``custom`` with a ``/dev/...`` name), then ``extra``
    paths not among them."""
    out: list[HostDevice] = []
    for d in report.conf.disks:
        if (d.dev or "") != "custom" or not (d.name or "").startswith("/dev/"):
            continue
        assert d.name is not None
        p = report.plan.disk(d.index)
        out.append(
            HostDevice(
                d.name,
                d.index,
                d.type,
                ser_option(d.opts),
                p.slot if p is not None else None,
                p.func if p is not None else 0,
            )
        )
    seen = {h.path for h in out}
    for path in extra:
        if path not in seen:
            seen.add(path)
            out.append(HostDevice(path))
    return tuple(out)


def host_script(vm: str, devices: Sequence[str], *, conf_nonce: str, facts_nonce: str) -> str:
    """The one remote script: the conf (``conf_nonce``), then the facts (``facts_nonce``) of
    ``devices`` and of the conf's ``/dev`` disks."""
    facts = script_render.render("host_facts", {"GDA_VERSION": str(hf.VERSION)}, nonce=facts_nonce)
    return conf_script(vm, nonce=conf_nonce, host_facts=facts, devices=devices)


@dataclass(frozen=True)
class HostRead:
    """What the round trip brought: the conf, and the host facts or why there are none."""

    src: ConfSource
    label: str
    root: bool
    facts: hf.HostFacts | None
    facts_error: str | None = None


def _facts(stdout: str, stderr: str, nonce: str) -> tuple[hf.HostFacts | None, str | None]:
    if not marker.has_header(stdout, hf.KIND):
        detail = " ".join(stderr.split())[:300]
        return None, "the host facts script printed nothing it could be read from" + (
            f" ({detail})" if detail else ""
        )
    try:
        if marker.parse(stdout, hf.KIND).nonce != nonce:
            return None, "the host facts output does not carry this run's marker"
        return hf.parse_host_facts(stdout), None
    except marker.MarkerError as e:
        return None, e.message


def read_host(
    conn: CommandProtocol,
    vm: str,
    devices: Sequence[str] = (),
    *,
    root: bool = False,
    conf_nonce: str | None = None,
    facts_nonce: str | None = None,
) -> HostRead:
    """``vm``'s conf and the host facts, in one :meth:`~CommandProtocol.run` (as root with ``root``).
    UsageError when the conf cannot be read; facts that cannot be read are :attr:`HostRead.facts_error`."""
    check_vm_name(vm)
    for d in devices:
        check_device_option(d)
    cn = conf_nonce or marker.new_nonce()
    fn = facts_nonce or marker.new_nonce()
    r = conn.run(host_script(vm, devices, conf_nonce=cn, facts_nonce=fn), root=root)
    src = conf_from_result(r, vm, nonce=cn, label=conn.label)
    facts, error = _facts(r.stdout, r.stderr, fn)
    return HostRead(src, conn.label, root, facts, error)


@dataclass(frozen=True)
class DeviceCheck:
    device: HostDevice
    check: HostCheck

    def to_json(self) -> dict[str, Any]:
        refusal = refusal_text(self.check)
        return {
            **self.check.to_json(),
            "from": "conf" if self.device.disk is not None else "option",
            "conf_disk": self.device.disk,
            "disk_type": self.device.disk_type,
            "slot": self.device.slot,
            "function": self.device.func if self.device.slot is not None else None,
            "refusal": {"message": refusal[0], "hint": refusal[1]} if refusal else None,
        }


def _unchecked(device: str, why: str, fix: str) -> HostCheck:
    finding = HostFinding("unchecked", "error", f"{device} was not checked: {why}", fix)
    return HostCheck(device, device, None, None, None, None, None, None, (finding,))


def _gathered(facts: hf.HostFacts, path: str) -> bool:
    return path in facts.diskinfo


_PART_SUFFIX_RE = re.compile(r"(p[0-9]+|s[0-9]{1,2}[a-h]?)$")


def disk_path(path: str) -> str:
    """``path`` without its partition suffix (``pN``, or an MBR ``sN``/``sNa``), as host_facts.sh's
    ``gda_parent`` strips it."""
    stripped = _PART_SUFFIX_RE.sub("", path)
    return stripped if stripped and stripped != "/dev/" else path


def _facts_for(facts: hf.HostFacts, path: str) -> hf.HostFacts:
    """``facts`` with the per-device problems of devices on other disks left out: one run gathers several
    devices, and a failed ``diskinfo`` of another disk says nothing about this one."""
    disk = disk_path(path)
    kept = tuple(p for p in facts.problems if p.device is None or disk_path(p.device) == disk)
    return facts if len(kept) == len(facts.problems) else dataclasses.replace(facts, problems=kept)


def _check_one(read: HostRead, dev: HostDevice) -> HostCheck:
    if read.facts is None:
        return _unchecked(
            dev.path,
            read.facts_error or "no host facts",
            "run `sh -x` of the check by hand on the host, or check the SSH user's rights, then check again",
        )
    facts = _facts_for(read.facts, dev.path)
    if not _gathered(facts, dev.path):
        return _unchecked(
            dev.path,
            "the host script did not gather its facts (diskinfo, fstyp, zdb -l): the host read the conf's "
            "line differently, or the path holds characters the check does not take",
            "write the disk's name as a plain /dev/... path in the conf, then check again",
        )
    nvme = dev.nvme or dev.disk is None
    check = check_host_device(
        facts,
        dev.path,
        serial=dev.serial if nvme else None,
        slot=dev.slot if nvme else None,
        func=dev.func,
        guest_running=bool(read.src.running),
    )
    if not nvme:  # the NVMe serial means nothing for virtio-blk or ahci
        kept = tuple(f for f in check.findings if f.code != "guest-serial")
        check = dataclasses.replace(check, findings=kept, serial=None)
    return check


@dataclass(frozen=True)
class HostReport:
    """The host checks of one check-vm-config run."""

    label: str
    root: bool
    uid: int | None
    running: bool | None
    checks: tuple[DeviceCheck, ...]
    facts_error: str | None = None

    @property
    def ok(self) -> bool:
        return all(c.check.ok for c in self.checks)

    @property
    def exit_code(self) -> int:
        """1 when any device must not be passed through (nothing may be done), else 0."""
        return 0 if self.ok else 1

    def to_json(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "root": self.root,
            "uid": self.uid,
            "guest_running": self.running,
            "ok": self.ok,
            "exit_code": self.exit_code,
            "facts_error": self.facts_error,
            "devices": [c.to_json() for c in self.checks],
        }

    def lines(self) -> list[str]:
        """Plain lines for a terminal: a heading, then one block per device (severity first)."""
        who = "as root" if self.uid == 0 else f"as uid {self.uid}" if self.uid is not None else ""
        refused = sum(1 for c in self.checks if not c.check.ok)
        count = f"{len(self.checks)} device{'s' if len(self.checks) != 1 else ''}"
        head = f"host checks on {self.label}" + (f" ({who})" if who else "")
        if not self.checks:
            flag = render_options(opt("device"))
            return [f"{head}: no disk of the config is a host device (check one with {flag})"]
        lines = [f"{head}: {count}, {refused} refused"]
        if self.uid not in (0, None):
            lines.append(
                "  not root: some commands may have failed for lack of rights (name sudo_password_env "
                "for the host in the inventory, or log in as root)"
            )
        for c in self.checks:
            lines += _device_lines(c)
        return lines


def _device_lines(c: DeviceCheck) -> list[str]:
    d, k = c.device, c.check
    where = []
    if d.disk is not None:
        where.append(f"disk{d.disk}" + (f", {d.disk_type}" if d.disk_type else ""))
        if d.slot is not None:
            where.append(f"at {d.slot}:{d.func}")
    else:
        where.append(f"from {render_options(opt('device'))}")
    facts = [k.provider]
    if k.partition_type:
        facts.append(k.partition_type)
    if k.size_bytes is not None:
        facts.append(f"{k.size_bytes} bytes ({human(k.size_bytes)})")
    if k.serial:
        facts.append(f"guest serial {k.serial}")
    verdict = "REFUSED" if not k.ok else "ok"
    lines = [f"{d.path} ({' '.join(where)}): {', '.join(facts)}: {verdict}"]
    for f in k.findings:
        lines.append(f"{f.severity.upper():7} {render_options(f.message)}")
        if f.fix:
            lines.append(f"        fix: {render_options(f.fix)}")
    return lines


def _one_provider_once(checks: Sequence[DeviceCheck]) -> tuple[DeviceCheck, ...]:
    """One partition under two names (``/dev/diskid/...p4`` and ``/dev/nda0p4``): a ``--device`` that is
    a disk of the conf is folded into that disk's check as a note; two disks of the conf on one provider
    are an error (the guest would get the same partition twice)."""
    first: dict[str, int] = {}
    out: list[DeviceCheck] = []
    for c in checks:
        prov = c.check.provider
        if not prov or prov not in first:
            if prov:
                first[prov] = len(out)
            out.append(c)
            continue
        i = first[prov]
        was = out[i]
        where = (
            f"disk{was.device.disk} ({was.device.path})" if was.device.disk is not None else was.device.path
        )
        if c.device.disk is None:
            note = HostFinding("same-provider", "info", f"{c.device.path} is {prov}, the same as {where}")
            out[i] = dataclasses.replace(
                was, check=dataclasses.replace(was.check, findings=(*was.check.findings, note))
            )
            continue
        error = HostFinding(
            "same-provider",
            "error",
            f"disk{c.device.disk} ({c.device.path}) and {where} are one provider, {prov}: the guest "
            "would get the same partition twice, and two filesystems' writes would meet on it",
            f"remove disk{c.device.disk} from the config",
        )
        out.append(
            dataclasses.replace(c, check=dataclasses.replace(c.check, findings=(*c.check.findings, error)))
        )
    return tuple(out)


def check_devices(read: HostRead, report: Report, extra: Sequence[str] = ()) -> HostReport:
    """Check every host device of the conf and ``extra`` against the facts ``read`` brought."""
    checks = _one_provider_once(
        [DeviceCheck(dev, _check_one(read, dev)) for dev in host_devices(report, extra)]
    )
    uid = read.facts.uid if read.facts is not None else None
    error = read.facts_error if checks else None  # without a device the host script does not run
    return HostReport(read.label, read.root, uid, read.src.running, checks, error)
