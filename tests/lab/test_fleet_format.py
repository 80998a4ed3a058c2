"""Fleet mode against three real lab guests (issue 12): ``gda format --limit 'lab*' --forks 3`` formats
them side by side; JSON lines (one object per guest, then the summary), a no-op rerun on all, the plain
output (per-guest lines on stderr, the summary table on stdout), and one guest refused (its disk has a
partition table) while the others are still formatted, exit 1; a guest pinned by the inventory to a
serial it does not have is a usage error on that guest (exit 2), the others still formatted.

Three bookworm guests boot in parallel (ports 2501-2503 / 4801-4803, state folders of their own).
"""

from __future__ import annotations

import shlex
from collections.abc import Iterator

import pytest

from tests.lab.fleet_lab import SERIAL, FleetLab, fleet_lab, split_results

N = 3
MISSING_SERIAL = "GDANOSUCHDISK"


@pytest.fixture(scope="module")
def fleet(lab_image: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FleetLab]:
    with fleet_lab(tmp_path_factory.mktemp("fleet"), N) as f:
        for name in f.names:
            assert f.blkid_uuid_or_empty(name) == "", f"a fresh boot of {name} has an empty disk1"
        yield f


def _format(
    fleet: FleetLab, *extra: str, inventory_extra: dict[str, str] | None = None
) -> tuple[int, str, str]:
    name = "inventory-extra.yaml" if inventory_extra else "inventory.yaml"
    inv = fleet.inventory(inventory_extra, name=name)
    r = fleet.gda("format", "--fs", "ext4", *extra, inventory=inv)
    return r.returncode, r.stdout, r.stderr


def test_json_lines_one_per_guest_then_the_summary(fleet: FleetLab) -> None:
    code, out, err = _format(fleet, "--limit", "lab*", "--forks", str(N), "--json")
    assert code == 0, out + err
    by_guest, summary = split_results(out)
    assert sorted(by_guest) == fleet.names
    for name, obj in by_guest.items():
        assert obj["ok"] is True, obj
        assert obj["action"] == "formatted" and obj["fs"] == "ext4", obj
        assert obj["device"] == fleet.nvme_path(name), obj
        assert obj["seconds"] > 0
        # the guest's own view of its disk agrees with what gda reported
        assert fleet.blkid_uuid(name, fleet.nvme_path(name)) == obj["uuid"], (name, obj)
    assert len({o["uuid"] for o in by_guest.values()}) == N
    assert summary["ok"] is True and summary["exit_code"] == 0
    assert summary["guests"] == N and summary["results"] == {"formatted": N}
    assert summary["seconds"] > 0


def test_a_rerun_is_a_no_op_on_every_guest(fleet: FleetLab) -> None:
    uuids = {name: fleet.blkid_uuid(name, fleet.nvme_path(name)) for name in fleet.names}
    assert all(uuids.values()), "the first test formatted every disk"
    code, out, err = _format(fleet, "--limit", "lab*", "--forks", str(N), "--json")
    assert code == 0, out + err
    by_guest, summary = split_results(out)
    assert {n: o["action"] for n, o in by_guest.items()} == dict.fromkeys(fleet.names, "nothing-to-do")
    assert {n: o["uuid"] for n, o in by_guest.items()} == uuids
    assert summary["results"] == {"nothing-to-do": N} and summary["exit_code"] == 0
    assert {name: fleet.blkid_uuid(name, fleet.nvme_path(name)) for name in fleet.names} == uuids


def test_plain_output_has_per_guest_lines_and_the_summary_table(fleet: FleetLab) -> None:
    uuids = {name: fleet.blkid_uuid(name, fleet.nvme_path(name)) for name in fleet.names}
    code, out, err = _format(fleet, "--limit", "fleet", "--forks", str(N))
    assert code == 0, out + err
    assert "\x1b" not in err, "not a terminal: plain lines, no live view"
    ends = [line for line in err.splitlines() if "nothing-to-do" in line]
    assert sorted(line.split(":", 1)[0] for line in ends) == fleet.names, err
    rows = [line for line in out.splitlines() if any(name in line for name in fleet.names)]
    assert len(rows) == N, out
    for name in fleet.names:
        row = next(line for line in rows if name in line)
        assert uuids[name] in row and "nvme0n1" in row, row
        assert "nothing-to-do" in row, f"the result word is cut in the table: {row!r}"
    assert f"{N} guests: {N} nothing-to-do" in out, out


def test_one_guest_refused_the_others_still_formatted_exit_1(fleet: FleetLab) -> None:
    fleet.wipe_all()
    refused = fleet.names[-1]
    dev = shlex.quote(fleet.nvme_path(refused))
    fleet.root_run(refused, f"echo 'label: gpt' | sfdisk -q {dev} && sync")
    code, out, err = _format(fleet, "--limit", "lab*", "--forks", str(N), "--json")
    assert code == 1, out + err
    by_guest, summary = split_results(out)
    bad = by_guest[refused]
    assert bad["ok"] is False and bad["error"]["kind"] == "refused" and bad["error"]["exit_code"] == 1, bad
    assert "partition table" in bad["error"]["message"], bad
    pttype = fleet.root_run(refused, f"blkid -p -s PTTYPE -o value {dev}").strip()
    assert pttype == "gpt", "the refused guest's partition table is left alone"
    assert fleet.blkid_uuid_or_empty(refused) == ""
    for name in fleet.names[:-1]:
        assert by_guest[name]["action"] == "formatted", by_guest[name]
        assert fleet.blkid_uuid(name, fleet.nvme_path(name)) == by_guest[name]["uuid"]
    assert summary["ok"] is False and summary["exit_code"] == 1
    assert summary["results"] == {"formatted": N - 1, "refused": 1}


def test_a_pin_that_matches_no_disk_is_a_usage_error_on_that_guest_only(fleet: FleetLab) -> None:
    fleet.wipe_all()
    pinned = fleet.names[-1]
    code, out, err = _format(
        fleet,
        "--limit",
        "fleet",
        "--forks",
        str(N),
        "--json",
        inventory_extra={pinned: f"    disk: {{serial: {MISSING_SERIAL}}}\n"},
    )
    assert code == 2, out + err
    by_guest, summary = split_results(out)
    bad = by_guest[pinned]
    assert bad["ok"] is False and bad["error"]["kind"] == "usage" and bad["error"]["exit_code"] == 2, bad
    assert MISSING_SERIAL in bad["error"]["message"] and SERIAL in bad["error"]["message"], bad
    assert fleet.blkid_uuid_or_empty(pinned) == "", "the pinned guest's disk is left alone"
    for name in fleet.names[:-1]:
        assert by_guest[name]["action"] == "formatted", by_guest[name]
    assert summary["exit_code"] == 2 and summary["results"] == {"formatted": N - 1, "usage": 1}
