"""A rerun on a disk that already carries ext4 (issue 9, item 5): equal to the request → nothing to do;
another label, or the FreeBSD profile asked for on an ext4 with Linux defaults → refused, naming what
differs, with the force option as the way to recreate it."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.core.disk.candidates import AlreadyFormatted, FormatPlan, select_disk
from agent.core.disk.probe import parse_facts
from agent.core.disk.rerun import RequestedFs, rerun_differences
from agent.errors import ExitCode, Refused
from agent.hints import render_options
from agent.inventory import Guest
from agent.ops import format_disk as fmt
from agent.transport.protocol import Result
from tests.unit.disk_fixtures import fixture_text
from tests.unit.test_format_disk_op import FakeSession, guard_ok

N = "b91f1dc93b8fbd95"  # the nonce of the lab_ext4_nvme capture
UUID = "49429bbd-b3b2-4f44-8bbe-512112906655"
DUMPE2FS = Path(__file__).resolve().parents[1] / "fixtures" / "dumpe2fs"
LINUX_DEFAULTS = "ext4_orphan_file_csum_seed.txt"  # upstream e2fsprogs 1.47 defaults
FREEBSD_PROFILE = "ext4_freebsd_profile.txt"


def facts_text(dump: str | None) -> str:
    """The lab capture of nvme0n1 with ext4 (label "data"), with the facts script's ``dumpe2fs``
    section for it (None: no such section, as from a script that did not print it)."""
    text = fixture_text("lab_ext4_nvme")
    if dump is None:
        return text
    section = (
        f"@@GDA-{N} BEGIN dumpe2fs nvme0n1@@\n"
        + (DUMPE2FS / dump).read_text()
        + f"@@GDA-{N} STDERR@@\ndumpe2fs 1.47.0 (5-Feb-2023)\n@@GDA-{N} END rc=0@@\n"
    )
    anchor = f"@@GDA-{N} BEGIN rawsig nvme0n1@@\n"
    assert text.count(anchor) == 1
    return text.replace(anchor, section + anchor)


def found(dump: str | None) -> AlreadyFormatted:
    sel = select_disk(parse_facts(facts_text(dump)), "ext4")
    assert isinstance(sel, AlreadyFormatted) and sel.uuid == UUID and sel.label == "data"
    return sel


# ----------------------------------------------------------------------------------------- pure


def test_the_facts_parser_keeps_the_dumpe2fs_of_the_ext4_disk() -> None:
    sel = found(LINUX_DEFAULTS)
    assert sel.disk.dumpe2fs is not None and "orphan_file" in sel.disk.dumpe2fs
    assert found(None).disk.dumpe2fs is None


def test_the_same_request_is_equal() -> None:
    assert rerun_differences(found(LINUX_DEFAULTS), RequestedFs("ext4", "data")) == []
    assert rerun_differences(found(LINUX_DEFAULTS), RequestedFs("ext4")) == []  # no label asked: any
    assert rerun_differences(found(FREEBSD_PROFILE), RequestedFs("ext4", "data", "freebsd")) == []


def test_another_label_differs() -> None:
    diffs = rerun_differences(found(None), RequestedFs("ext4", "other"))
    assert [render_options(d) for d in diffs] == ["label: it has 'data', --label asks for 'other'"]


def test_freebsd_profile_on_linux_defaults_names_the_features() -> None:
    diffs = rerun_differences(found(LINUX_DEFAULTS), RequestedFs("ext4", "data", "freebsd"))
    assert len(diffs) == 1
    assert "orphan_file, metadata_csum_seed" in diffs[0] and "FreeBSD profile" in diffs[0]


def test_freebsd_profile_without_dumpe2fs_is_never_equal() -> None:
    diffs = rerun_differences(found(None), RequestedFs("ext4", "data", "freebsd"))
    assert len(diffs) == 1 and "could not be read" in diffs[0]


def test_freebsd_profile_on_a_dirty_filesystem_differs() -> None:
    diffs = rerun_differences(
        found("ext4_orphan_present_needs_recovery.txt"), RequestedFs("ext4", "data", "freebsd")
    )
    text = "\n".join(diffs)
    assert "orphan_file" in text and "needs_recovery" in text and "orphan_present" in text


# ------------------------------------------------------------------------------- the format task


def run(session: FakeSession, **opts: object) -> fmt.FormatOutcome:
    return fmt.run_format(
        session,
        "lab",
        Guest(host="127.0.0.1"),
        fmt.FormatOptions(fs="ext4", **opts),  # type: ignore[arg-type]
        log=lambda _m: None,
    )


def no_guard(_script: str) -> Result:
    raise AssertionError("the guard must not run")


def test_rerun_with_the_freebsd_profile_on_linux_defaults_is_refused() -> None:
    session = FakeSession(facts_text(LINUX_DEFAULTS), no_guard)
    with pytest.raises(Refused) as ei:
        run(session, label="data", host_compat="freebsd")
    e = ei.value
    assert e.exit_code == ExitCode.REFUSED
    text = render_options(str(e))
    assert "/dev/nvme0n1 already carries ext4 (UUID " + UUID in text
    assert "orphan_file, metadata_csum_seed" in text and "nothing was changed" in text
    assert "--force" in text and "nothing to do" not in text
    assert session.commands_run == 1


def test_rerun_with_another_label_is_refused() -> None:
    session = FakeSession(facts_text(None), no_guard)
    with pytest.raises(Refused, match="asks for 'other'"):
        run(session, label="other")


def test_the_same_request_is_nothing_to_do() -> None:
    outcome = run(FakeSession(facts_text(FREEBSD_PROFILE), no_guard), label="data", host_compat="freebsd")
    assert outcome.action == "nothing-to-do" and outcome.uuid == UUID
    outcome = run(FakeSession(facts_text(None), no_guard), label="data")
    assert outcome.action == "nothing-to-do"


def test_force_recreates_a_filesystem_that_differs() -> None:
    dump = (DUMPE2FS / FREEBSD_PROFILE).read_text()
    session = FakeSession(facts_text(LINUX_DEFAULTS), lambda _s: Result(0, guard_ok(dump), "", 1.0))
    outcome = run(session, label="data", host_compat="freebsd", force=True, yes=True)
    assert outcome.action == "formatted"
    assert outcome.overwrites and outcome.overwrites[0].startswith("ext4 (UUID " + UUID)
    guard_script = session.scripts[1]
    assert "EXP_SIGS=ext4" in guard_script and "mkfs.ext4 -F" in guard_script


def test_force_on_an_equal_filesystem_is_still_nothing_to_do() -> None:
    outcome = run(FakeSession(facts_text(None), no_guard), label="data", force=True, yes=True)
    assert outcome.action == "nothing-to-do"


def test_reuse_false_makes_the_existing_filesystem_a_signature() -> None:
    facts = parse_facts(facts_text(None))
    plan = select_disk(facts, "ext4", force=True, reuse=False)
    assert isinstance(plan, FormatPlan) and plan.expected_signatures == ("ext4",)
    with pytest.raises(Refused, match="force"):
        select_disk(facts, "ext4", reuse=False)
