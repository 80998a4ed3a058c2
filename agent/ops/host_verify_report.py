"""``host-verify``'s verdict on what the host read (agent.ops.host_verify_op), and its report (pure).

agent.core.host.host_verify decides type, label, UUID and FreeBSD's ext4 features; here around it: the
expectation (``--fs``/``--label``/``--uuid``, what ``format`` reported, optional: without ``--fs`` the
type is the one the superblock shows, without a label or UUID that is not compared), the running guest
(refused; after ``--stop`` an info saying how to start it again), the test mount's outcome, and one
policy: a ro_compat feature FreeBSD does not know (the core's warning: a read-only mount only) refuses
here, as the fstab line reported mounts it read-write.

Exit codes: 0 verified; 1 refused (guest running, wrong type/label/UUID, features FreeBSD's ext2fs cannot
mount; a failed test mount the features explain is a warning then); 3 the read-only test mount (or its
umount) failed on a filesystem that should mount.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from agent.core.host.host_finding import HostFinding
from agent.core.host.host_verify import EXT_FAMILY, Expected, HostVerify, parse_superblock, verify_host_fs
from agent.errors import ExitCode, UsageError
from agent.hints import opt, render_options
from agent.ops.host_verify_op import Reading, Step, VerifyRead

KNOWN_FS = (*EXT_FAMILY, "xfs")


@dataclass(frozen=True)
class VerifyReport:
    label: str
    vm: str
    device: str
    origin: str
    running: bool | None
    expected: Expected | None
    result: HostVerify | None
    extra: tuple[HostFinding, ...]  # running guest, mount test failures, unreadable output
    mount: str  # ok, failed, skipped, not-run
    mount_detail: str
    steps: tuple[Step, ...]
    stopped: bool = False  # --stop stopped the guest

    @property
    def findings(self) -> tuple[HostFinding, ...]:
        return (*self.extra, *(self.result.findings if self.result else ()))

    @property
    def verified(self) -> bool:
        return not any(f.severity == "error" for f in self.findings)

    @property
    def exit_code(self) -> int:
        if self.verified:
            return int(ExitCode.OK)
        if any(f.code in ("mount-failed", "umount-failed") for f in self.findings) and not any(
            f.severity == "error" and f.code not in ("mount-failed", "umount-failed") for f in self.findings
        ):
            return int(ExitCode.CHANGE_FAILED)
        return int(ExitCode.REFUSED)

    def to_json(self) -> dict[str, Any]:
        v = self.result
        return {
            "ok": self.verified,
            "verified": self.verified,
            "exit_code": self.exit_code,
            "host": self.label,
            "vm": self.vm,
            "device": self.device,
            "from": self.origin,
            "guest_running": self.running,
            "stopped": self.stopped,
            "expected": dataclasses.asdict(self.expected) if self.expected else None,
            "superblock": v.superblock.to_json() if v and v.superblock else None,
            "findings": [f.to_json() for f in self.findings],
            "mount_test": {
                "outcome": self.mount,
                "detail": self.mount_detail,
                "steps": [s.to_json() for s in self.steps],
                "plan": list(v.test_mount.commands) if v else [],
                "note": v.test_mount.note if v else None,
            },
            "fstab": v.fstab_line if v else None,
            "glabel_path": v.glabel_path if v else None,
        }


def expected_from(fs: str | None, label: str | None, uuid: str | None) -> Expected | None:
    if fs is None:
        if label is not None or uuid is not None:
            raise UsageError(
                f"{opt('label')} and {opt('uuid')} need {opt('fs')}",
                hint=f"give what format reported: {opt('fs')} ext4 {opt('label')} L {opt('uuid')} U",
            )
        return None
    if fs not in KNOWN_FS:
        raise UsageError(f"{fs!r} is not a filesystem format makes", hint=f"give {opt('fs')} ext4 or xfs")
    return Expected(fs, label, uuid)


def _mount_outcome(reading: Reading, result: HostVerify) -> tuple[str, str, list[HostFinding]]:
    steps = {s.command.split(" ", 1)[0]: s for s in reading.steps}
    if "mount" not in steps:
        why = reading.skipped or "not run"
        if not result.test_mount.supported:
            why = result.test_mount.note
        return "skipped", why, []
    m = steps["mount"]
    if m.rc != 0:
        f = HostFinding(
            "mount-failed",
            "error",
            f"the read-only test mount failed (exit {m.rc}): {m.stderr or 'no message'}",
            "look at `dmesg` on the host (FreeBSD's ext2fs prints why it denies a mount there)",
            {"command": m.command, "rc": m.rc},
        )
        return "failed", m.stderr, [f]
    u = steps.get("umount")
    if u is not None and u.rc != 0:
        f = HostFinding(
            "umount-failed",
            "error",
            f"the test mount worked but `{u.command}` failed (exit {u.rc}): {u.stderr}",
            f"unmount it by hand on the host: {u.command}",
        )
        return "ok", "mounted read-only; the umount failed", [f]
    return "ok", "mounted read-only and unmounted", []


def decide(
    read: VerifyRead, device: str, origin: str, expected: Expected | None, vm_command: str = "vm"
) -> VerifyReport:
    """The verdict on ``device`` from what the round trip read (pure)."""
    extra = _stop_findings(read, vm_command)
    reading = read.readings.get(device)
    if reading is None:
        why = read.error or "the host script did not read it"
        extra.append(
            HostFinding(
                "unread", "error", f"{device} was not read on the host: {why}", "check the device path"
            )
        )
        return VerifyReport(
            read.label, read.src.vm_name, device, origin, read.running, expected, None, tuple(extra),
            "not-run", why, (), _stopped(read),
        )  # fmt: skip
    exp = _fill(expected, reading)
    result = verify_host_fs(device, reading.fstyp, reading.dump, exp)
    if expected is None and result.superblock is not None and result.superblock.kind == "xfs":
        result = dataclasses.replace(result, fstab_line=None)
    result = dataclasses.replace(result, findings=tuple(_rw_needed(f) for f in result.findings))
    outcome, detail, mount_findings = _mount_outcome(reading, result)
    if outcome == "failed" and not result.verified:
        mount_findings = [dataclasses.replace(f, severity="warning") for f in mount_findings]
    return VerifyReport(
        read.label, read.src.vm_name, device, origin, read.running, expected, result,
        (*extra, *mount_findings), outcome, detail, reading.steps, _stopped(read),
    )  # fmt: skip


def _stopped(read: VerifyRead) -> bool:
    return read.stop is not None and read.running is False


def _stop_findings(read: VerifyRead, vm_command: str) -> list[HostFinding]:
    vm, st = read.src.vm_name, read.stop
    stop = f"`{vm_command} stop {vm}`"
    if read.running and st is not None:
        said = f" ({st.output})" if st.output else ""
        return [
            HostFinding(
                "guest-running",
                "error",
                f"{stop} (exit {st.rc}{said}) did not stop {vm}: after {st.polls} polls of `{vm_command} "
                f"list` its state is {st.state or 'unknown'} and /dev/vmm/{vm} still exists",
                f"wait for the guest to shut down (or `{vm_command} poweroff {vm}`), then verify again",
                {"state": st.state, "polls": st.polls, "rc": st.rc},
            )
        ]
    if read.running:
        return [
            HostFinding(
                "guest-running",
                "error",
                f"bhyve runs {vm} (/dev/vmm/{vm} exists): its writes may not be on the disk yet, and the "
                "host must not mount a disk the guest uses",
                f"stop it with {stop} (or give {opt('stop')}), then verify again",
            )
        ]
    if st is not None:
        return [
            HostFinding(
                "guest-stopped",
                "info",
                f"host-verify stopped {vm} ({stop}; `{vm_command} list`: {st.state} after {st.polls} polls)",
                f"start it again with `{vm_command} start {vm}`",
                {"state": st.state, "polls": st.polls},
            )
        ]
    return []


def _rw_needed(f: HostFinding) -> HostFinding:
    """A feature that leaves FreeBSD a read-only mount only refuses here: the fstab line mounts it rw."""
    if f.code != "freebsd-ro-compat":
        return f
    return dataclasses.replace(
        f, severity="error", message=f.message + "; the host's fstab line mounts it read-write"
    )


def _fill(expected: Expected | None, reading: Reading) -> Expected:
    """What the core compares: the given expectation, the superblock's values where none was given."""
    sb = parse_superblock(reading.dump) if reading.dump is not None else None
    if expected is None:
        return Expected(sb.flavour if sb else "none", sb.label if sb else None, None)
    label = expected.label if expected.label is not None else (sb.label if sb else None)
    return Expected(expected.fs, label, expected.uuid)


def lines(rep: VerifyReport) -> list[str]:
    """Plain lines for a terminal."""
    sb = rep.result.superblock if rep.result else None
    head = f"{rep.device} ({rep.origin}) on {rep.label}, guest {rep.vm}"
    out = [f"{head}: {'verified' if rep.verified else 'NOT verified'}"]
    if sb is not None:
        out.append(f"  found: {sb.flavour}, label {sb.label!r}, UUID {sb.uuid}")
    if rep.expected is not None:
        e = rep.expected
        out.append(f"  expected: {e.fs}, label {e.label!r}, UUID {e.uuid or '(not given)'}")
    for f in rep.findings:
        out.append(f"{f.severity.upper():7} {render_options(f.message)}")
        if f.fix:
            out.append(f"        fix: {render_options(f.fix)}")
    out.append(f"  test mount: {rep.mount} ({rep.mount_detail})")
    if rep.result and rep.result.fstab_line:
        out.append(f"  fstab: {rep.result.fstab_line}")
    return out
