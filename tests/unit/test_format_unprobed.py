"""The format flow over a transport that reads the facts in two parts (SSH): a plan made from the part
that needs no root goes straight to the guard when that part shows a disk whose contents are unknown;
what the guard finds on it sends the flow back to the content probes, which decide (the rerun's no-op,
the refusal that names what is there). A fake session stands for the guest: it answers the user part,
the root part and the guard from captured outputs (tests/fixtures/disks) and records what it was asked."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable

import pytest

from agent.core import marker
from agent.core.disk.guard_codes import GuardExit
from agent.errors import Refused
from agent.inventory import Guest
from agent.ops import format_disk as fmt
from agent.transport.protocol import BeginsRoot, CommandProtocol, Result
from agent.transport.ssh import SshUnreachable
from agent.transport.ssh_types import with_partial
from agent.transport.sudo import SudoError
from tests.unit.disk_fixtures import framed_text, split_fixture
from tests.unit.test_format_disk_op import N, guard_ok

Guard = Callable[[str], Result]


def formats(_script: str) -> Result:
    return Result(0, guard_ok(), "", 0.1)


def guard_refused(code: GuardExit, reason: str, **obs: str) -> Guard:
    lines = [f"@@GDA-GUARD v1 nonce={N}@@", *(f"@@GDA-{N} OBS {k}={v}" for k, v in obs.items())]
    text = "\n".join([*lines, f"@@GDA-{N} RESULT code={int(code)} reason={reason}@@"]) + "\n"
    return lambda _s: Result(int(code), text, "", 0.1)


class SplitSession:
    """A :class:`CommandProtocol` that starts its root shell in the background (:class:`BeginsRoot`)."""

    label = "fake SSH guest"

    def __init__(self, user: str, root: str, guard: Guard) -> None:
        self.user, self.root, self.guard = user, root, guard
        self.commands_run = 0
        self.asked: list[str] = []  # "begin", "user", "root", "guard"

    def begin_root(self) -> None:
        self.asked.append("begin")

    def run(
        self, script: str, *, root: bool = False, stdin: bytes | None = None, timeout: float | None = None
    ) -> Result:
        self.commands_run += 1
        if "guest-disk-agent: disk_guard.sh" in script:
            assert root and self.asked[:1] == ["begin"]
            self.asked.append("guard")
            return self.guard(script)
        assert "guest-disk-agent: disk_facts.sh" in script
        if "GDA_PART=user\n" in script:
            assert not root, "the user part runs as the login user"
            self.asked.append("user")
            return Result(0, self.user, "", 0.1)
        disks = script.split("\nGDA_DISKS=", 1)[1].split("\n", 1)[0].strip("'").split()
        assert root and "GDA_PART=root\n" in script and "nvme0n1" in disks
        self.asked.append("root")
        return Result(0, self.root, "", 0.1)

    def write_file(self, path: str, data: bytes, *, mode: int = 0o600) -> None:
        raise AssertionError("the format task writes no files")

    def read_file(self, path: str) -> bytes:
        raise AssertionError("the format task reads no files")


def format_on(session: SplitSession, **opts: object) -> tuple[fmt.FormatOutcome, list[str]]:
    said: list[str] = []
    outcome = fmt.run_format(
        session,
        "lab",
        Guest(host="127.0.0.1"),
        fmt.FormatOptions(fs="ext4", **opts),
        log=said.append,  # type: ignore[arg-type]
    )
    return outcome, said


def test_the_fake_reads_in_two_parts() -> None:
    s = SplitSession("", "", formats)
    assert isinstance(s, CommandProtocol) and isinstance(s, BeginsRoot)


def test_a_disk_the_user_part_knows_nothing_on_goes_straight_to_the_guard() -> None:
    user, root = split_fixture("lab_blank_nvme")
    seen: list[str] = []

    def guard(script: str) -> Result:
        seen.append(script)
        return formats(script)

    s = SplitSession(user, root, guard)
    outcome, said = format_on(s)
    assert s.asked == ["begin", "user", "guard"] and outcome.remote_commands == 2
    assert outcome.action == "formatted" and outcome.uuid == "3bb5bece-0000-4000-8000-000000000000"
    # the guard is told to expect no signature at all: it probes under the lock and refuses any
    assert "EXP_SIGS=''\n" in seen[0] and "EXP_SIG_KEYS=''\n" in seen[0]
    assert "EXP_SERIAL=Y39B70RTK7AS\n" in seen[0]
    assert any("probed under the lock first" in line for line in said), said
    assert any("QEMU NVMe Ctrl" in line and "serial Y39B70RTK7AS" in line for line in said), said
    assert outcome.fdisk is None  # fdisk -l is one of the content probes


def test_what_the_guard_finds_sends_the_flow_to_the_probes_which_decide() -> None:
    # udev's database knows nothing on the disk, the disk carries ext4 made as asked: a rerun's no-op
    user, _ = split_fixture("lab_blank_nvme")
    _, root = split_fixture("lab_ext4_nvme")
    s = SplitSession(user, root, guard_refused(GuardExit.SIGNATURE, "signature", signatures="ext4"))
    outcome, said = format_on(s)
    assert s.asked == ["begin", "user", "guard", "root"]
    assert outcome.action == "nothing-to-do" and outcome.uuid
    assert any("is not empty (nothing was written): reading what it carries" in line for line in said)


@pytest.mark.parametrize(
    ("code", "reason"),
    [(GuardExit.PARTITION_TABLE, "partition-table"), (GuardExit.SIGNATURE_ID, "signature-id")],
)
def test_a_refusal_for_contents_of_another_kind_is_decided_on_the_probes_too(
    code: GuardExit, reason: str
) -> None:
    user, _ = split_fixture("lab_blank_nvme")
    _, root = split_fixture("lab_ext4_nvme")
    s = SplitSession(user, root, guard_refused(code, reason))
    with pytest.raises(Refused) as e:
        format_on(s, label="other")  # the ext4 there has no label "other": the rerun refuses, naming it
    assert s.asked == ["begin", "user", "guard", "root"]
    assert "ext4" in e.value.message


def test_any_other_refusal_of_the_guard_is_the_answer() -> None:
    user, root = split_fixture("lab_blank_nvme")
    s = SplitSession(user, root, guard_refused(GuardExit.MOUNTED, "mounted", mounted="/mnt"))
    with pytest.raises(Refused) as e:
        format_on(s)
    assert s.asked == ["begin", "user", "guard"]
    assert "nothing was changed" in e.value.message


def test_what_udev_knows_is_probed_before_any_guard() -> None:
    user, root = split_fixture("lab_ext4_nvme")  # lsblk (udev's database) shows the ext4
    s = SplitSession(user, root, formats)
    outcome, _ = format_on(s)
    assert s.asked == ["begin", "user", "root"] and outcome.action == "nothing-to-do"


@pytest.mark.parametrize("opts", [{"dry_run": True}, {"force": True, "yes": True}])
def test_a_dry_run_and_a_forced_format_are_planned_on_the_probes(opts: dict[str, object]) -> None:
    user, root = split_fixture("lab_blank_nvme")
    s = SplitSession(user, root, formats)
    outcome, _ = format_on(s, **opts)
    assert s.asked[:3] == ["begin", "user", "root"]
    assert outcome.fdisk  # the plan shows fdisk -l of the disk


def test_a_sudo_refusal_at_the_guard_is_sudo_s() -> None:
    user, root = split_fixture("lab_blank_nvme")

    def refuse(_s: str) -> Result:
        raise SudoError("sudo: wrong password", hint="set XDEV_SUDO_PASSWORD")

    s = SplitSession(user, root, refuse)
    with pytest.raises(SudoError):
        format_on(s)
    assert s.asked == ["begin", "user", "guard"]


def _with_lsblk_fstype(user: str, kname: str, fstype: str) -> str:
    """The user part's output with lsblk (udev's database) showing ``fstype`` on ``kname``."""
    raw = marker.parse(user, "FACTS")
    sections = []
    for sec in raw.sections:
        if sec.name == "lsblk":
            data = json.loads(sec.stdout)
            for node in data["blockdevices"]:
                if node.get("kname", node.get("name")) == kname:
                    node["fstype"] = fstype
            sec = dataclasses.replace(sec, stdout=json.dumps(data) + "\n")
        sections.append(sec)
    return framed_text("FACTS", raw.nonce, dict(raw.attrs), sections)


def test_a_second_disk_udev_shows_a_filesystem_on_is_left_to_the_probes() -> None:
    # two NVMe disks, no pin: udev's database (maybe stale) says the second carries xfs; the choice of the
    # first rests on it, so the probes decide, and they find both blank: refusing to guess
    user, root = split_fixture("bhyve_two_nvme")
    s = SplitSession(_with_lsblk_fstype(user, "nvme1n1", "xfs"), root, formats)
    with pytest.raises(Refused) as e:
        format_on(s)
    assert s.asked == ["begin", "user", "root"]
    assert "refusing to guess" in e.value.message


def test_a_connection_lost_after_a_refusal_for_contents_says_nothing_was_written() -> None:
    user, root = split_fixture("lab_blank_nvme")
    refusal = guard_refused(GuardExit.SIGNATURE, "signature", signatures="ext4")("").stdout

    def lost(_s: str) -> Result:
        raise with_partial(SshUnreachable("SSH connection to lab lost"), refusal.encode())

    s = SplitSession(user, root, lost)
    with pytest.raises(SshUnreachable) as e:
        format_on(s)
    assert s.asked == ["begin", "user", "guard"]
    assert "not empty; nothing was written" in e.value.message and "rerun the same command" in str(
        e.value.hint
    )
