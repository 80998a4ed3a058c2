"""``agent.ops.format_disk`` with a fake guest session (the command protocol): the guard spec it builds
(per-namespace path and WWN, the FreeBSD ``dumpe2fs -h`` check folded into the guard), the refusal on an
unknown mke2fs version, and what a lost connection during the guard says."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import pytest

from agent.core.disk.candidates import FormatPlan, select_disk
from agent.core.disk.devices import Facts
from agent.core.disk.probe import parse_facts
from agent.errors import ChangeFailed, Refused, RemoteError, Unreachable
from agent.inventory import Guest
from agent.ops import format_disk as fmt
from agent.transport.protocol import CommandProtocol, Result
from agent.transport.sudo import SudoError
from tests.unit.disk_fixtures import fixture_text, load_facts

N = "0123456789abcdef"
NS_PATH = "/dev/disk/by-id/nvme-QEMU_NVMe_Ctrl_Y39B70RTK7AS_1"
WWN = "nvme.1b36-59333942373052544b374153-51454d55204e564d65204374726c-00000001"
DUMPE2FS = Path(__file__).resolve().parents[1] / "fixtures" / "dumpe2fs"


def guard_ok(dumpe2fs: str | None = None) -> str:
    lines = [
        f"@@GDA-GUARD v1 nonce={N}@@",
        f"@@GDA-{N} OBS device=/dev/nvme0n1",
        f"@@GDA-{N} OBS mkfs_argv=mkfs.ext4",
        f"@@GDA-{N} BEGIN mkfs -@@",
        "mke2fs 1.47.0 (5-Feb-2023)",
        f"@@GDA-{N} END rc=0@@",
        f"@@GDA-{N} BEGIN blkid -@@",
        "UUID=3bb5bece-0000-4000-8000-000000000000",
        "TYPE=ext4",
        f"@@GDA-{N} END rc=0@@",
    ]
    if dumpe2fs is not None:
        lines += [f"@@GDA-{N} BEGIN dumpe2fs -@@", *dumpe2fs.splitlines(), f"@@GDA-{N} END rc=0@@"]
    lines.append(f"@@GDA-{N} RESULT code=0 reason=ok@@")
    return "\n".join(lines) + "\n"


class FakeSession:
    """A :class:`CommandProtocol`: answers the facts script with a fixture and the guard script with
    ``guard`` (a result or a raise); both must be asked for as root."""

    label = "fake guest"

    def __init__(self, facts: str, guard: Callable[[str], Result]) -> None:
        self.facts = facts
        self.guard = guard
        self.commands_run = 0
        self.scripts: list[str] = []

    def run(
        self, script: str, *, root: bool = False, stdin: bytes | None = None, timeout: float | None = None
    ) -> Result:
        assert root, "the disk scripts run as root"
        self.commands_run += 1
        self.scripts.append(script)
        if "guest-disk-agent: disk_guard.sh" in script:
            return self.guard(script)
        assert "guest-disk-agent: disk_facts.sh" in script, "only the facts and guard scripts are expected"
        return Result(0, self.facts, "", 0.1)

    def write_file(self, path: str, data: bytes, *, mode: int = 0o600) -> None:
        raise AssertionError("the format task writes no files")

    def read_file(self, path: str) -> bytes:
        raise AssertionError("the format task reads no files")


def test_the_fake_is_a_command_protocol() -> None:
    assert isinstance(FakeSession("", lambda _s: Result(0, "")), CommandProtocol)


def run(session: FakeSession, compat: str | None = None) -> fmt.FormatOutcome:
    return fmt.run_format(
        session,
        "lab",
        Guest(host="127.0.0.1"),
        fmt.FormatOptions(fs="ext4", host_compat=compat),
        log=lambda _m: None,
    )


def blank() -> str:
    return fixture_text("lab_blank_nvme")


def plan_for(facts: Facts) -> FormatPlan:
    plan = select_disk(facts, "ext4")
    assert isinstance(plan, FormatPlan)
    return plan


# ------------------------------------------------------------------------------------ the guard spec


def test_spec_uses_the_namespace_link_and_its_wwn() -> None:
    facts = load_facts("lab_blank_nvme")
    spec, _, _ = fmt.plan_mkfs(plan_for(facts), facts, fmt.FormatOptions(fs="ext4"), None, lambda _m: None)
    assert spec.device_path == NS_PATH
    assert spec.expected_serial == "Y39B70RTK7AS"
    assert spec.expected_wwn == WWN  # lsblk WWN (sysfs wwid agrees in the capture)
    assert not spec.verify_dumpe2fs


def test_wwn_falls_back_to_sysfs_wwid_like_the_guard() -> None:
    text = blank().replace(f'"wwn": "{WWN}"', '"wwn": null')
    assert text != blank()
    facts = parse_facts(text)
    spec, _, _ = fmt.plan_mkfs(plan_for(facts), facts, fmt.FormatOptions(fs="ext4"), None, lambda _m: None)
    assert spec.expected_wwn == WWN  # from the sysfs section's wwid=


def test_freebsd_ext4_asks_the_guard_for_dumpe2fs_and_xfs_does_not() -> None:
    facts = load_facts("lab_blank_nvme")
    opts = fmt.FormatOptions(fs="ext4")
    spec, disabled, _ = fmt.plan_mkfs(plan_for(facts), facts, opts, "freebsd", lambda _m: None)
    assert spec.verify_dumpe2fs and disabled
    xplan = select_disk(facts, "xfs")
    assert isinstance(xplan, FormatPlan)
    xspec, _, warnings = fmt.plan_mkfs(xplan, facts, fmt.FormatOptions(fs="xfs"), "freebsd", lambda _m: None)
    assert not xspec.verify_dumpe2fs and warnings


def test_unknown_mke2fs_version_is_refused_before_mkfs_for_freebsd() -> None:
    facts = load_facts("lab_blank_nvme")
    facts = dataclasses.replace(facts, versions=dataclasses.replace(facts.versions, e2fsprogs=None))
    with pytest.raises(Refused) as ei:
        fmt.plan_mkfs(plan_for(facts), facts, fmt.FormatOptions(fs="ext4"), "freebsd", lambda _m: None)
    assert ei.value.message == (
        "the guest's mke2fs version is unknown, so the FreeBSD-safe feature set cannot be chosen; "
        "nothing was changed"
    )
    assert ei.value.hint == "check `mke2fs -V` on the guest"
    # without the FreeBSD profile the version does not matter
    spec, _, _ = fmt.plan_mkfs(plan_for(facts), facts, fmt.FormatOptions(fs="ext4"), None, lambda _m: None)
    assert spec.mkfs_argv[0] == "mkfs.ext4"


def test_unknown_mke2fs_version_never_reaches_the_guard() -> None:
    text = blank().replace("mke2fs 1.47.0 (5-Feb-2023)", "mke2fs: unrecognised output")

    def guard(_script: str) -> Result:
        raise AssertionError("the guard must not run")

    session = FakeSession(text, guard)
    with pytest.raises(Refused, match="mke2fs version is unknown"):
        run(session, "freebsd")
    assert session.commands_run == 1


# --------------------------------------------------------------------------- FreeBSD: 2 remote commands


def test_freebsd_format_is_two_remote_commands_checked_from_the_guards_dumpe2fs() -> None:
    dump = (DUMPE2FS / "ext4_freebsd_profile.txt").read_text()
    session = FakeSession(blank(), lambda _s: Result(0, guard_ok(dump), "", 1.0))
    outcome = run(session, "freebsd")
    assert outcome.action == "formatted" and outcome.uuid == "3bb5bece-0000-4000-8000-000000000000"
    assert outcome.remote_commands == 2 == session.commands_run
    guard_script = session.scripts[1]
    assert "VERIFY_DUMPE2FS=1" in guard_script and f"EXP_WWN={WWN}" in guard_script
    assert f"DEVICE_ARG={NS_PATH}" in guard_script


def test_freebsd_incompatible_features_in_the_guards_dumpe2fs_fail() -> None:
    dump = (DUMPE2FS / "ext4_orphan_file_csum_seed.txt").read_text()
    session = FakeSession(blank(), lambda _s: Result(0, guard_ok(dump), "", 1.0))
    with pytest.raises(ChangeFailed, match="FreeBSD cannot mount read-write"):
        run(session, "freebsd")
    assert session.commands_run == 2


def test_plain_format_does_not_ask_for_dumpe2fs() -> None:
    session = FakeSession(blank(), lambda _s: Result(0, guard_ok(), "", 1.0))
    outcome = run(session)
    assert outcome.remote_commands == 2
    assert "VERIFY_DUMPE2FS=0" in session.scripts[1]


# ----------------------------------------------------------------- the connection fails during the guard


@pytest.mark.parametrize(
    "error",
    [
        Unreachable("SSH connection to admin@guest lost: EOF"),
        RemoteError("remote command timed out after 3600s on admin@guest"),  # any RemoteError but sudo's
    ],
)
def test_lost_connection_during_the_guard_says_mkfs_may_have_started(error: RemoteError) -> None:
    def guard(_script: str) -> Result:
        raise error

    with pytest.raises(RemoteError) as ei:
        run(FakeSession(blank(), guard))
    assert ei.value.message.startswith(error.message)
    assert ei.value.message.endswith(f"; the guard may already have started mkfs on {NS_PATH}")
    assert f"sudo blkid -p {NS_PATH}" in (ei.value.hint or "")
    assert f"sudo wipefs {NS_PATH}" in (ei.value.hint or "")
    assert "before rerunning" in (ei.value.hint or "")


def test_sudo_refusal_during_the_guard_is_passed_through() -> None:
    err = SudoError("sudo: wrong password", hint="set XDEV_SUDO_PASSWORD")

    def guard(_script: str) -> Result:
        raise err

    with pytest.raises(SudoError) as ei:
        run(FakeSession(blank(), guard))
    assert ei.value is err and "may already have started" not in ei.value.message
