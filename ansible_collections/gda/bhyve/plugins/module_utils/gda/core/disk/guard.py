# GENERATED from agent/core/disk/guard.py by `python -m agent.collection_build`: do not edit.
"""The guarded mkfs: the one remote script run as root (``agent/scripts/disk_guard.sh``) and the reading
of its result (pure).

The script (POSIX sh, no pty) does, in order:

1. checks it is root and that the needed tools and the mkfs program exist;
2. resolves the stable path (``/dev/disk/by-id/...``) to the kernel node once (the ``/dev/<kname>`` node
   that is the very file the link leads to, ``test -ef``; ``readlink -f`` when none is), and from then on
   uses only that node, so the checked device and the formatted device are the same;
3. takes an exclusive BSD lock (``flock``) on the node — the convention udev honours, so udev does not
   probe the device while mkfs writes it;
4. re-checks, immediately before mkfs: serial (the raw bytes of its sysfs file as hex, read as the facts
   script reads them, so a non-ASCII serial compares equal; lsblk's text only without a sysfs serial),
   WWN (the NVMe namespace's own identity: lsblk's WWN, else sysfs ``wwid`` — the same source order as
   discovery) and size in bytes (still the chosen disk),
   writable, not mounted, not swap, no holders, no partitions, no partition table (wipefs/blkid plus a
   raw look for a protective MBR and primary/backup ``EFI PART`` headers), not backing a loop device
   (``/sys/block/loop*/loop/backing_file``, and ``losetup -j`` when any loop device is bound), and
   signatures (wipefs/blkid plus FreeBSD GEOM metadata, ``GEOM::<class>`` in the last sector) — none,
   or, with the force option, exactly the ones discovery saw and the user confirmed: same types
   (``expected_signatures``) and same ``type,offset,uuid`` (``expected_signature_keys``);
   the device node, the locked descriptor and sysfs must name one major:minor (the node is the locked
   file and udev's ``/dev/block/MAJ:MIN`` leads to it, by ``test -ef``; else by ``stat``), with the serial
   and wwid unchanged, after locking, right before mkfs and right after it (a change after mkfs:
   ChangeFailed); the reads (wipefs beside the ``od`` reads) are all collected before the first decision;
5. runs mkfs with stdin from /dev/null and output captured, timed by ``/proc/uptime``;
6. releases the lock, asks udev to re-read the device (``udevadm trigger --action=change`` + ``settle``)
   in the background, and meanwhile verifies on the disk itself with ``blkid -p`` (TYPE is the requested
   fs, a non-empty UUID, and no PTTYPE) and the last sector; it waits for udev before it reports;
7. with ``verify_dumpe2fs`` (the FreeBSD ext4 profile), prints ``dumpe2fs -h`` of the new filesystem, so
   the caller can check its features without another round trip.

It never runs a partitioner and never writes anything but the mkfs — and, when GEOM metadata was
confirmed for overwriting (the force option) and mkfs left it in the last sector (beyond the new
filesystem's last block), one zeroed last sector, so the FreeBSD host no longer tastes the old provider;
verification fails if ``GEOM::`` is still there.

Output: the common framing (:mod:`agent.core.marker`), kind ``GUARD``: ``OBS key=value`` lines (what
was observed), sections ``wipefs``, ``blkid-before``, ``mkfs``, ``blkid``, ``dumpe2fs`` (arg ``-``,
stderr folded into stdout) and a ``RESULT`` line; the script exits with the same code (the table:
:mod:`agent.core.disk.guard_codes`). The ``mkfs_argv`` observation is printed immediately before mkfs
starts: output without a RESULT line tells from it whether mkfs may have run.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from ansible_collections.gda.bhyve.plugins.module_utils.gda.core import marker, script_render
from ansible_collections.gda.bhyve.plugins.module_utils.gda.core.disk.guard_codes import GUARD_CODES, GuardExit, exit_code_variables
from ansible_collections.gda.bhyve.plugins.module_utils.gda.core.disk.mkfs import MKFS_TOOLS, FsType
from ansible_collections.gda.bhyve.plugins.module_utils.gda.errors import ChangeFailed, Refused, RemoteError

GUARD_KIND = "GUARD"
GUARD_FORMAT_VERSION = "1"

#: Tools the guard script needs besides mkfs.
GUARD_TOOLS: tuple[str, ...] = (
    "flock",
    "lsblk",
    "wipefs",
    "blkid",
    "dd",
    "od",
    "readlink",
    "stat",
)


@dataclass(frozen=True)
class GuardSpec:
    """What the guard must find before it runs mkfs."""

    device_path: str  # /dev/disk/by-id/... (or /dev/<kname> when the guest has no by-id links)
    fs: FsType
    mkfs_argv: tuple[str, ...]  # from build_mkfs_argv (no device)
    expected_size_bytes: int
    expected_serial: str | None  # None: skip the serial check (devices without serial, e.g. loop)
    expected_signatures: tuple[str, ...] = ()  # non-partition-table signature types force may overwrite
    # ``type,offset,uuid`` of those very signatures (Signature.key): another fs of the same type is refused
    expected_signature_keys: tuple[str, ...] = ()
    # lsblk WWN, else sysfs wwid (Disk.wwn); None: skip the check (devices without one, e.g. loop)
    expected_wwn: str | None = None
    verify_dumpe2fs: bool = False  # print ``dumpe2fs -h`` of the new filesystem (ext4 only)
    # the serial's sysfs bytes as hex (Disk.serial_hex); when set, compared instead of expected_serial,
    # whose text lsblk's JSON and plain output encode differently for non-ASCII bytes
    expected_serial_hex: str | None = None
    lock_timeout_s: int = 10
    settle_timeout_s: int = 30

    def __post_init__(self) -> None:
        if not self.device_path.startswith("/dev/") or any(c in self.device_path for c in "\0\n"):
            raise ValueError(f"device path must be an absolute /dev path: {self.device_path!r}")
        if not self.mkfs_argv or self.mkfs_argv[0] != MKFS_TOOLS[self.fs].program:
            raise ValueError(f"mkfs argv must start with {MKFS_TOOLS[self.fs].program}: {self.mkfs_argv!r}")
        if self.expected_size_bytes <= 0:
            raise ValueError("expected size must be positive")
        if self.verify_dumpe2fs and self.fs != "ext4":
            raise ValueError("dumpe2fs verification is for ext4 only")
        for v in (
            *self.mkfs_argv,
            *self.expected_signatures,
            self.expected_serial or "",
            self.expected_wwn or "",
        ):
            if "\0" in v or "\n" in v:
                raise ValueError(f"invalid value {v!r}")
        hexed = self.expected_serial_hex
        if hexed is not None and not re.fullmatch(r"(?:[0-9a-f]{2})+", hexed):
            raise ValueError(f"invalid serial hex {self.expected_serial_hex!r}")
        if any(not s or any(c.isspace() for c in s) for s in self.expected_signatures):
            raise ValueError(f"invalid signature types {self.expected_signatures!r}")
        keys = self.expected_signature_keys
        if any(not k or k.count(",") != 2 or any(c.isspace() or c in "\0" for c in k) for k in keys):
            raise ValueError(f"invalid signature keys {keys!r}")
        # no keys with types: allowed, but the guard then refuses (what it finds is not what was confirmed)
        if keys and {k.split(",", 1)[0] for k in keys} != set(self.expected_signatures):
            raise ValueError(f"signature keys {keys!r} do not match the types {self.expected_signatures!r}")


def render_guard_script(spec: GuardSpec, nonce: str | None = None) -> str:
    """The guard+mkfs script for ``spec``: every value in the (shell-quoted) prelude."""
    tools = GUARD_TOOLS + (("dumpe2fs",) if spec.verify_dumpe2fs else ())
    return script_render.render(
        "disk_guard",
        {
            "GDA_VERSION": GUARD_FORMAT_VERSION,
            "DEVICE_ARG": spec.device_path,
            "FS": spec.fs,
            "MKFS_PROG": spec.mkfs_argv[0],
            "EXP_SIZE": int(spec.expected_size_bytes),
            "CHECK_SERIAL": spec.expected_serial is not None,
            "EXP_SERIAL": spec.expected_serial or "",
            "CHECK_SERIAL_HEX": spec.expected_serial_hex is not None,
            "EXP_SERIAL_HEX": spec.expected_serial_hex or "",
            "CHECK_WWN": spec.expected_wwn is not None,
            "EXP_WWN": spec.expected_wwn or "",
            "EXP_SIGS": " ".join(sorted(set(spec.expected_signatures))),
            "EXP_SIG_KEYS": " ".join(sorted(set(spec.expected_signature_keys))),
            "VERIFY_DUMPE2FS": spec.verify_dumpe2fs,
            "LOCK_WAIT": int(spec.lock_timeout_s),
            "SETTLE_WAIT": int(spec.settle_timeout_s),
            "GUARD_TOOLS": " ".join(tools),
        },
        nonce=nonce,
        libs=("sysfs",),
        exit_codes=exit_code_variables(),
        argv=spec.mkfs_argv,
    )


@dataclass(frozen=True)
class GuardResult:
    """A successful guarded mkfs."""

    device: str  # kernel node that was formatted (e.g. /dev/nvme0n1)
    fs: str
    uuid: str | None
    label: str | None
    mkfs_seconds: float | None
    dumpe2fs: str | None = None  # ``dumpe2fs -h`` of the new filesystem (only with verify_dumpe2fs)
    #: seconds by the guard's own clock: checks (start to mkfs), mkfs, settle (udev), verify (the rest)
    phases: Mapping[str, float] = field(default_factory=dict)


def parse_guard_output(stdout: str) -> marker.Framed:
    """The guard's stdout split up; MarkerError (a RemoteError) if there is no guard header."""
    return marker.parse(stdout, GUARD_KIND, what="the guard script")


def _block(out: marker.Framed, name: str) -> tuple[int | None, str]:
    s = out.get(name)
    return (s.rc, s.stdout + s.stderr) if s is not None else (None, "")


def _kv(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in marker.lines_of(text):
        k, sep, v = line.partition("=")
        if sep:
            out[k.strip()] = v.strip()
    return out


def _uptime(obs: Mapping[str, str], key: str) -> float | None:
    try:
        return float(obs.get(key, ""))
    except ValueError:
        return None


def guard_phases(obs: Mapping[str, str]) -> dict[str, float]:
    """The guard's phases from its /proc/uptime stamps (``t_start``, ``t_mkfs``, ``t_mkfs_end``, ...,
    ``t_end``; pure): checks, mkfs, settle, verify. A guard that verifies while udev settles stamps
    ``t_verified``: verify runs from mkfs's end to it, settle from it to the end (the wait for udev beyond
    the verification); an older one settled first (settle up to ``t_settled``, verify the rest). Phases
    whose stamps are missing are left out (an older guard still printed none)."""
    names, keys = ("checks", "mkfs", "settle", "verify"), ("t_mkfs_end", "t_settled", "t_end")
    if "t_verified" in obs:
        names, keys = ("checks", "mkfs", "verify", "settle"), ("t_mkfs_end", "t_verified", "t_end")
    t = [_uptime(obs, k) for k in ("t_start", "t_mkfs", *keys)]
    out: dict[str, float] = {}
    for name, a, b in zip(names, t, t[1:], strict=False):
        if a is not None and b is not None and b >= a:
            out[name] = round(b - a, 3)
    return out


def _duration(obs: Mapping[str, str]) -> float | None:
    if "mkfs" in (phases := guard_phases(obs)):
        return phases["mkfs"]
    start, end = obs.get("mkfs_start_ns", ""), obs.get("mkfs_end_ns", "")  # guards before the stamps
    if start.isdigit() and end.isdigit() and len(start) > 10:
        return (int(end) - int(start)) / 1e9
    if start[:10].isdigit() and end[:10].isdigit():  # date without %N support: whole seconds
        return float(int(end[:10]) - int(start[:10]))
    return None


def _found_text(code: int, spec: GuardSpec, obs: Mapping[str, str]) -> str:
    """What the guard found, for the refusal message."""
    found: Mapping[int, str] = {
        GuardExit.NO_DEVICE: f"{spec.device_path} resolves to {obs.get('device') or 'nothing'}",
        GuardExit.NOT_WHOLE_DISK: f"{obs.get('device')} is a partition",
        GuardExit.SERIAL: f"serial is {obs.get('serial')!r}, expected {spec.expected_serial!r}"
        + (
            f"; sysfs bytes {obs.get('serial_hex') or '(none)'}, expected {spec.expected_serial_hex}"
            if spec.expected_serial_hex is not None
            else ""
        ),
        GuardExit.WWN: f"WWN is {obs.get('wwn')!r}, expected {spec.expected_wwn!r}",
        GuardExit.SIZE: f"size is {obs.get('size_bytes')} bytes, expected {spec.expected_size_bytes}",
        GuardExit.READ_ONLY: "the kernel reports it read-only",
        GuardExit.MOUNTED: f"mounted at {obs.get('mounted')}",
        GuardExit.SWAP: f"swap on {obs.get('swap')}",
        GuardExit.HOLDERS: f"held by {obs.get('holders')}",
        GuardExit.PARTITIONS: f"partitions {obs.get('partitions')}",
        GuardExit.PARTITION_TABLE: f"partition table traces: {obs.get('partition_table')}",
        GuardExit.SIGNATURE: (
            f"signatures [{obs.get('signatures', '')}], expected [{obs.get('expected_signatures', '')}]"
        ),
        GuardExit.MKFS_MISSING: f"{obs.get('mkfs_program', spec.mkfs_argv[0])} not found",
        GuardExit.LOOP: "backs " + ", ".join(f"/dev/{n}" for n in obs.get("loop_devices", "").split()),
        GuardExit.SIGNATURE_ID: (
            f"found {_keys_text(obs.get('signature_keys', ''))}, "
            f"confirmed {_keys_text(obs.get('expected_signature_keys', ''))}"
        ),
        GuardExit.IDENTITY: (
            f"after locking: {obs.get('identity')}; right before mkfs: {obs.get('identity_before', '-')}"
        ),
        GuardExit.IDENTITY_AFTER: (
            f"before mkfs: {obs.get('identity_before')}; after: {obs.get('identity_after')}"
        ),
        GuardExit.TOOL_MISSING: f"missing: {obs.get('missing_tool') or obs.get('error', '?')}",
    }
    return found.get(code, "")


def _keys_text(keys: str) -> str:
    """``ext4,0x438,UUID`` words → ``[ext4 (UUID u, at offset 0x438)]``."""
    out = []
    for key in keys.split():
        typ, _, rest = key.partition(",")
        offset, _, uuid = rest.partition(",")
        extra = [f"UUID {uuid}"] if uuid else []
        extra += [f"at offset {offset}"] if offset else []
        out.append(f"{typ} ({', '.join(extra)})" if extra else typ)
    return "[" + "; ".join(out) + "]"


INSPECT_HINT = "inspect {path} with `sudo blkid -p {path}` and `sudo wipefs {path}` before rerunning"


def _mkfs_progress(out: marker.Framed) -> str:
    """Whether mkfs had started, from the markers the output got to (for results without a RESULT line)."""
    argv = out.observed.get("mkfs_argv")
    if argv is None:
        return "the output ends before mkfs was started (no mkfs marker), so mkfs most likely did not run"
    mkfs = out.get("mkfs")
    if mkfs is not None:  # the block is printed once mkfs has exited
        how = f"exited {mkfs.rc}" if mkfs.rc is not None else "finished (its output is cut off)"
        return f"mkfs ({argv}) had run and {how}; the device has changed"
    return f"mkfs ({argv}) had started; the device may be partly written"


def _success(out: marker.Framed, dev: str, spec: GuardSpec) -> GuardResult:
    blk = _kv(_block(out, "blkid")[1])
    dumpe2fs: str | None = None
    if spec.verify_dumpe2fs:
        drc, dumpe2fs = _block(out, "dumpe2fs")
        if drc != 0:
            raise ChangeFailed(
                f"{dev}: {blk.get('TYPE', spec.fs)} was created (UUID {blk.get('UUID')}) but "
                f"dumpe2fs -h {'failed (rc ' + str(drc) + ')' if drc is not None else 'printed nothing'}"
                + (f":\n{dumpe2fs.strip()}" if dumpe2fs.strip() else ""),
                hint=f"check it by hand: sudo dumpe2fs -h {dev}",
            )
    return GuardResult(
        device=dev,
        fs=blk.get("TYPE", spec.fs),
        uuid=blk.get("UUID"),
        label=blk.get("LABEL"),
        mkfs_seconds=_duration(out.observed),
        dumpe2fs=dumpe2fs,
        phases=guard_phases(out.observed),
    )


def interpret_guard(stdout: str, exit_code: int, spec: GuardSpec) -> GuardResult:
    """Turn the guard's stdout and exit status into a GuardResult, or raise.

    Refused (nothing was written) for every refusal code; ChangeFailed when mkfs failed, verification
    failed or the output stops after mkfs started (the device may have changed); RemoteError when the
    output is not the guard's (sudo failure etc.) or stops before mkfs.
    """
    out = parse_guard_output(stdout)
    dev = out.observed.get("device") or spec.device_path
    if out.result is None:
        error = ChangeFailed if "mkfs_argv" in out.observed else RemoteError
        raise error(
            f"the guard script on {dev} exited {exit_code} without a result line; " + _mkfs_progress(out),
            hint=INSPECT_HINT.format(path=dev) if "mkfs_argv" in out.observed else None,
        )
    code = out.result[0]
    if code != exit_code:
        raise RemoteError(f"guard reported code {code} but exited {exit_code}; output is inconsistent")
    info = GUARD_CODES.get(code)
    if info is None:
        raise RemoteError(
            f"the guard script on {dev} reported an unknown code {code}; " + _mkfs_progress(out)
        )
    if code == GuardExit.OK:
        return _success(out, dev, spec)
    found = _found_text(code, spec, out.observed)
    message = f"{dev}: {info.summary}" + (f" ({found})" if found else "")
    if info.device_changed:
        detail = _block(out, "mkfs" if code == GuardExit.MKFS_FAILED else "blkid")[1].strip()
        raise ChangeFailed(message + (f"\n{detail}" if detail else ""), hint=info.hint)
    if code == GuardExit.MKFS_MISSING:
        tool = MKFS_TOOLS[spec.fs]
        raise Refused(
            f"{tool.program} is not installed on the guest (package {tool.package}); nothing was changed",
            hint=f"sudo apt-get install {tool.package}",
        )
    raise Refused(message + "; nothing was changed", hint=info.hint)
