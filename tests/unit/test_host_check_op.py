"""check-vm-config's host checks (agent.ops.host_check): one round trip reads the conf and the host facts.

The host's answers are host_facts.sh outputs of the data cases in tests/facts/host.check (FreeBSD's
formats, each case citing its sources), after vm_conf.sh's framed conf (tests/unit/test_vm_check_op.py).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from agent.core import marker
from agent.core.vmbhyve.vmconf import ser_option
from agent.errors import UsageError
from agent.hints import render_options
from agent.ops import host_check, vm_check
from agent.transport.protocol import Result
from tests.unit.test_vm_check_op import NONCE, fake_host, framed

REPO = Path(__file__).resolve().parents[2]
CASES = REPO / "tests" / "facts" / "host.check"
XDEV = REPO / "tests" / "fixtures" / "vmbhyve" / "xdev.conf"
SEED_NONCE = "5eed0b5e7a1c4f02"  # the nonce of every host.check case's output
P3 = "/dev/diskid/DISK-Y39B70RTK7ASp3"
P4 = "/dev/diskid/DISK-Y39B70RTK7ASp4"


def case_output(name: str) -> str:
    return str(json.loads((CASES / f"{name}.json").read_text())["output"])


class FakeHost:
    """A CommandProtocol answering every run with vm_conf.sh's framed ``conf`` then ``facts``."""

    label = "SSH admin@bhyvehost:22"

    def __init__(self, conf: str, facts: str) -> None:
        self.answer = framed(conf) + facts
        self.commands_run = 0
        self.runs: list[tuple[str, bool]] = []

    def run(
        self, script: str, *, root: bool = False, stdin: bytes | None = None, timeout: float | None = None
    ) -> Result:
        self.commands_run += 1
        self.runs.append((script, root))
        return Result(0, self.answer, "")

    def write_file(self, path: str, data: bytes, *, mode: int = 0o600) -> None:
        raise NotImplementedError

    def read_file(self, path: str) -> bytes:
        raise NotImplementedError


def seed_conf(device: str = P4, opts: str | None = None, disk_type: str = "nvme") -> str:
    conf = XDEV.read_text().replace(P4, device).replace('disk1_type="nvme"', f'disk1_type="{disk_type}"')
    return conf + (f'disk1_opts="{opts}"\n' if opts is not None else "")


def run_check(
    tmp_path: Path, conf: str, facts: str, devices: tuple[str, ...] = ()
) -> tuple[FakeHost, host_check.HostReport, int]:
    """The op as check-vm-config --guest runs it; the conf is its own "before" (no NIC rename)."""
    host = FakeHost(conf, facts)
    read = host_check.read_host(host, "xdev", devices, root=True, conf_nonce=NONCE, facts_nonce=SEED_NONCE)
    before = tmp_path / "before.conf"
    before.write_text(conf)
    report = vm_check.check(read.src, str(before))
    result = host_check.check_devices(read, report, devices)
    return host, result, max(report.exit_code, result.exit_code)


def test_seed_p4_is_accepted_with_the_size_and_serial_the_guest_will_see(tmp_path: Path) -> None:
    host, result, code = run_check(tmp_path, seed_conf(), case_output("seed_p4_accepted"))
    assert host.commands_run == 1 and host.runs[0][1] is True, "one round trip, as root"
    assert code == 0 and result.ok
    lines = result.lines()
    assert lines[0] == "host checks on SSH admin@bhyvehost:22 (as root): 1 device, 0 refused"
    assert lines[1] == (
        f"{P4} (disk1, nvme at 5:0): nda0p4, linux-data, 274877906944 bytes (256 GiB), "
        "guest serial NVME-5-0: ok"
    )
    assert "INFO    the guest will see 274877906944 bytes (256 GiB) with 512-byte sectors" in lines
    assert (
        "INFO    the guest will see NVMe serial NVME-5-0 (bhyve's default from PCI slot 5, function 0)"
        in lines
    )
    assert not [line for line in lines if line.startswith(("ERROR", "WARNING"))]
    data = result.to_json()
    device = data["devices"][0]
    assert (data["ok"], data["exit_code"], data["uid"]) == (True, 0, 0)
    assert (device["device"], device["provider"], device["partition_type"]) == (P4, "nda0p4", "linux-data")
    assert (device["size_bytes"], device["serial"], device["refusal"]) == (274877906944, "NVME-5-0", None)
    assert (device["from"], device["conf_disk"], device["slot"], device["function"]) == ("conf", 1, 5, 0)
    assert {f["code"] for f in device["findings"]} == {"guest-size", "guest-serial"}


def test_seed_p3_is_refused_naming_the_pool_and_suggesting_p4(tmp_path: Path) -> None:
    _, result, code = run_check(
        tmp_path, seed_conf(P3), case_output("seed_p3_refused_pool_named_p4_suggested")
    )
    assert code == 1 and result.exit_code == 1
    lines = result.lines()
    assert lines[0].endswith(": 1 device, 1 refused")
    assert lines[1].startswith(f"{P3} (disk1, nvme at 5:0): nda0p3, freebsd-zfs,") and lines[1].endswith(
        "REFUSED"
    )
    errors = [line for line in lines if line.startswith("ERROR")]
    assert any("in the imported ZFS pool zdata" in line for line in errors)
    assert any("type freebsd-zfs" in line for line in errors)
    assert f"        fix: use {P4} (nda0p4, linux-data, 256 GiB) instead" in lines
    device = result.to_json()["devices"][0]
    assert device["suggestion"] == P4
    assert "zdata" in device["refusal"]["message"] and P4 in device["refusal"]["message"]


def test_ser_in_the_disk_options_is_the_serial_the_guest_sees(tmp_path: Path) -> None:
    conf = seed_conf(opts="sectorsize=512,ser=Y39B70RTK7ASp4")
    _, result, code = run_check(tmp_path, conf, case_output("seed_p4_accepted"))
    assert code == 0
    assert result.checks[0].check.serial == "Y39B70RTK7ASp4"
    assert result.checks[0].device.serial == "Y39B70RTK7ASp4"


def test_bhyves_last_ser_wins() -> None:
    assert ser_option("ser=A,sectorsize=512,ser=B") == "B"
    assert ser_option("sectorsize=512") is None
    assert ser_option(None) is None


def test_a_virtio_disk_has_no_nvme_serial(tmp_path: Path) -> None:
    _, result, _ = run_check(tmp_path, seed_conf(disk_type="virtio-blk"), case_output("seed_p4_accepted"))
    check = result.checks[0].check
    assert check.serial is None and "guest-serial" not in {f.code for f in check.findings}
    assert check.ok


def test_device_option_adds_a_device_once(tmp_path: Path) -> None:
    host, result, _ = run_check(tmp_path, seed_conf(), case_output("seed_p4_accepted"), (P4,))
    assert [c.device.path for c in result.checks] == [P4]
    assert result.checks[0].device.disk == 1, "the conf's disk keeps its slot and serial"
    assert f"HOST_DEVICES={P4}\n" in host.runs[0][0]


def test_a_device_only_given_by_option_has_no_known_serial(tmp_path: Path) -> None:
    conf = seed_conf("disk1")  # no host device in the conf
    conf = conf.replace('disk1_dev="custom"', 'disk1_dev="file"')
    _, result, code = run_check(tmp_path, conf, case_output("seed_p4_accepted"), (P4,))
    assert code == 0
    [c] = result.checks
    assert (c.device.disk, c.to_json()["from"]) == (None, "option")
    assert c.check.serial is None
    assert result.lines()[1].startswith(f"{P4} (from --device): nda0p4, linux-data")


def test_a_device_the_host_did_not_gather_is_an_error(tmp_path: Path) -> None:
    # the conf names p4, but the facts are p3's: no diskinfo/fstyp/zdb of p4 were gathered
    _, result, code = run_check(tmp_path, seed_conf(), case_output("seed_p3_refused_pool_named_p4_suggested"))
    assert code == 1
    [finding] = result.checks[0].check.findings
    assert (finding.code, finding.severity) == ("unchecked", "error")
    assert "did not gather its facts" in finding.message


def test_no_facts_at_all_refuses_every_device(tmp_path: Path) -> None:
    _, result, code = run_check(tmp_path, seed_conf(), "")
    assert code == 1
    assert result.facts_error is not None and "printed nothing" in result.facts_error
    assert result.checks[0].check.findings[0].code == "unchecked"


def test_facts_of_another_run_are_refused(tmp_path: Path) -> None:
    other = case_output("seed_p4_accepted").replace(SEED_NONCE, "ffffffffffffffff")
    _, result, code = run_check(tmp_path, seed_conf(), other)
    assert code == 1 and result.facts_error == "the host facts output does not carry this run's marker"


def test_without_host_devices_there_is_nothing_to_check(tmp_path: Path) -> None:
    conf = seed_conf("disk1").replace('disk1_dev="custom"', 'disk1_dev="file"')
    _, result, code = run_check(tmp_path, conf, "")
    assert (code, result.checks, result.facts_error) == (0, (), None)
    assert result.lines() == [
        "host checks on SSH admin@bhyvehost:22: no disk of the config is a host device "
        "(check one with --device)"
    ]


@pytest.mark.parametrize("bad", ["sda", "/dev/x;rm -rf /", "/dev/../etc/passwd", "/dev/a b"])
def test_device_option_must_be_a_plain_dev_path(bad: str) -> None:
    with pytest.raises(UsageError) as info:
        host_check.check_device_option(bad)
    assert "give --device a /dev/... path" in render_options(str(info.value.hint))


def test_disk_path_strips_the_partition_as_the_script_does() -> None:
    assert host_check.disk_path(P4) == "/dev/diskid/DISK-Y39B70RTK7AS"
    assert host_check.disk_path("/dev/ada0s1a") == "/dev/ada0"
    assert host_check.disk_path("/dev/nda0") == "/dev/nda0"
    assert host_check.disk_path("/dev/gpt/data") == "/dev/gpt/data"


# ------------------------------------------------------------------------ the script itself, run by sh


def test_one_script_reads_the_conf_then_gathers_the_conf_and_option_devices(tmp_path: Path) -> None:
    """vm_conf.sh run with sh (fake sysrc/zfs; glabel, gpart ... are missing here, which host_facts.sh
    records per section): the facts follow the conf's DONE, under their own header and nonce."""
    host = fake_host(tmp_path, "zfs:zdata/vms")
    read = host_check.read_host(
        host, "xdev", ["/dev/nda1p1"], conf_nonce=NONCE, facts_nonce="abcdef0123456789"
    )
    assert host.commands_run == 1
    out = host.run(host.scripts[0]).stdout
    lines = marker.lines_of(out)
    done = lines.index(f"@@GDA-{NONCE} DONE@@")
    assert lines[done + 1].startswith("@@GDA-HOSTFACTS v1 nonce=abcdef0123456789 uid=")
    assert read.src.text == XDEV.read_text() and read.src.running is False
    assert read.facts is not None and read.facts_error is None
    assert set(read.facts.diskinfo) == {P4, "/dev/diskid/DISK-Y39B70RTK7AS", "/dev/nda1p1", "/dev/nda1"}
    assert set(read.facts.fstyp) == {P4, "/dev/nda1p1"}
    assert re.search(r"^N='abcdef0123456789'$", host.scripts[0], re.M) is None, "nested: quoted in HOST_FACTS"


def test_the_facts_do_not_run_without_a_device(tmp_path: Path) -> None:
    host = fake_host(tmp_path, "zfs:zdata/vms")
    conf = tmp_path / "vms" / "xdev" / "xdev.conf"
    conf.write_text(conf.read_text().replace("/dev/diskid/DISK-Y39B70RTK7ASp4", "disk1"))
    read = host_check.read_host(host, "xdev")
    assert read.facts is None and "HOSTFACTS" not in host.run(host.scripts[0]).stdout


def _two_names_facts(devices: list[str]) -> str:
    import sys

    sys.path.insert(0, str(REPO / "tests" / "tools"))
    from freebsd_host_outputs import base_state, render

    st = base_state()
    st["devices"] = devices
    return str(render(st))


def test_a_device_option_naming_a_conf_disk_by_another_name_is_checked_once(tmp_path: Path) -> None:
    facts = _two_names_facts([P4, "/dev/nda0p4"])
    _, result, _ = run_check(tmp_path, seed_conf(), facts, ("/dev/nda0p4",))
    assert [c.device.path for c in result.checks] == [P4]
    notes = [f.message for f in result.checks[0].check.findings if f.code == "same-provider"]
    assert notes == [f"/dev/nda0p4 is nda0p4, the same as disk1 ({P4})"]
    assert result.ok


def test_two_conf_disks_on_one_provider_are_refused(tmp_path: Path) -> None:
    conf = seed_conf() + 'disk2_name="/dev/nda0p4"\ndisk2_dev="custom"\ndisk2_type="nvme"\n'
    _, result, code = run_check(tmp_path, conf, _two_names_facts([P4, "/dev/nda0p4"]))
    assert code == 1 and not result.ok
    (err,) = [f for c in result.checks for f in c.check.findings if f.code == "same-provider"]
    assert err.severity == "error" and "disk2 (/dev/nda0p4) and disk1" in err.message
