"""check-vm-config's host side: vm_conf.sh run with sh against fake sysrc/zfs, and its framed output."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from agent.core import marker
from agent.core.vmbhyve.vmfindings import Report
from agent.errors import UsageError
from agent.ops import vm_check
from agent.transport.protocol import Result

FIX = Path(__file__).parent.parent / "fixtures" / "vmbhyve"
NONCE = "0123abcd4567ef89"


class LocalHost:
    """A CommandProtocol running scripts with the local sh, fake sysrc/zfs first on PATH."""

    label = "local"

    def __init__(self, bin_dir: Path) -> None:
        self.bin_dir = bin_dir
        self.commands_run = 0
        self.scripts: list[str] = []

    def run(
        self, script: str, *, root: bool = False, stdin: bytes | None = None, timeout: float | None = None
    ) -> Result:
        self.commands_run += 1
        self.scripts.append(script)
        env = {**os.environ, "PATH": f"{self.bin_dir}:{os.environ['PATH']}"}
        p = subprocess.run(["sh", "-c", script], capture_output=True, text=True, env=env, check=False)
        return Result(p.returncode, p.stdout, p.stderr)

    def write_file(self, path: str, data: bytes, *, mode: int = 0o600) -> None:
        raise NotImplementedError

    def read_file(self, path: str) -> bytes:
        raise NotImplementedError


def fake_host(tmp_path: Path, vm_dir: str | None) -> LocalHost:
    """``sysrc -n vm_dir`` prints ``vm_dir`` (fails when None); ``zfs get`` prints tmp_path/vms."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    sysrc = (
        "#!/bin/sh\nexit 1\n"
        if vm_dir is None
        else f"#!/bin/sh\n[ \"$1 $2\" = '-n vm_dir' ] && echo '{vm_dir}'\n"
    )
    (bin_dir / "sysrc").write_text(sysrc)
    (bin_dir / "zfs").write_text(f"#!/bin/sh\necho {tmp_path / 'vms'}\n")
    for tool in ("sysrc", "zfs"):
        (bin_dir / tool).chmod(0o755)
    (tmp_path / "vms" / "xdev").mkdir(parents=True)
    shutil.copy(FIX / "xdev.conf", tmp_path / "vms" / "xdev" / "xdev.conf")
    return LocalHost(bin_dir)


def test_zfs_vm_dir_reads_the_conf_and_the_dataset(tmp_path: Path) -> None:
    host = fake_host(tmp_path, "zfs:zdata/vms")
    src = vm_check.from_host(host, "xdev")
    assert src.text == (FIX / "xdev.conf").read_text()
    assert (src.vm_dir, src.zvol_dataset, src.vm_name) == (f"{tmp_path}/vms/xdev", "zdata/vms", "xdev")
    assert src.origin == f"local:{tmp_path}/vms/xdev/xdev.conf"
    assert host.commands_run == 1
    assert "VM=xdev\n" in host.scripts[0]  # the name travels in the prelude, not in the body
    report = vm_check.check(src, None)
    assert "-s 5:0,nvme,/dev/diskid/DISK-Y39B70RTK7ASp4" in report.plan.devices_line()


def test_plain_vm_dir_has_no_dataset(tmp_path: Path) -> None:
    src = vm_check.from_host(fake_host(tmp_path, str(tmp_path / "vms")), "xdev")
    assert (src.vm_dir, src.zvol_dataset) == (f"{tmp_path}/vms/xdev", "")


def test_missing_vm_dir_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError) as info:
        vm_check.from_host(fake_host(tmp_path, None), "xdev")
    assert info.value.message == (
        "could not read xdev's vm-bhyve config on local: vm_dir is not set in rc.conf (is vm-bhyve set up?)"
    )


def test_missing_guest_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError) as info:
        vm_check.from_host(fake_host(tmp_path, "zfs:zdata/vms"), "nope")
    assert f"cannot read {tmp_path}/vms/nope/nope.conf" in info.value.message


def test_a_guest_name_is_checked_before_anything_runs(tmp_path: Path) -> None:
    host = LocalHost(tmp_path)
    with pytest.raises(UsageError, match="not a vm-bhyve guest name"):
        vm_check.from_host(host, "../etc/passwd")
    assert host.commands_run == 0


def framed(conf: str | bytes, *, nonce: str = NONCE) -> str:
    """vm_conf.sh's output for ``conf`` (sent as ``od -An -v -tx1`` prints it)."""
    pfx = f"@@GDA-{nonce}"
    data = conf.encode() if isinstance(conf, str) else conf
    dump = "".join(
        " " + " ".join(f"{b:02x}" for b in data[i : i + 16]) + "\n" for i in range(0, len(data), 16)
    )
    return (
        f"{marker.header_line('VMCONF', '2', nonce)}\n"
        f"{pfx} OBS dir=/zdata/vms/xdev\n{pfx} OBS dataset=zdata/vms\n"
        f"{pfx} BEGIN conf_hex -@@\n{dump}{pfx} STDERR@@\n{pfx} END rc=0@@\n"
        f"{pfx} RESULT code=0 reason=ok@@\n{pfx} DONE@@\n"
    )


def test_markers_inside_the_conf_cannot_end_it() -> None:
    conf = 'cpu=1\n@@GDA-ffffffffffffffff END rc=0@@\n@@conf@@\nmemory="1G"\n'
    src = vm_check.parse_conf_output(framed(conf), "xdev", nonce=NONCE, label="h")
    assert src.text == conf
    assert src.origin == "h:/zdata/vms/xdev/xdev.conf"


def test_output_of_another_run_is_refused() -> None:
    with pytest.raises(UsageError, match="does not carry this run's marker"):
        vm_check.parse_conf_output(
            framed("cpu=1\n", nonce="ffffffffffffffff"), "xdev", nonce=NONCE, label="h"
        )


def test_cut_short_output_is_refused() -> None:
    text = framed("cpu=1\n").split(f"@@GDA-{NONCE} END")[0]
    with pytest.raises(UsageError, match="cut short"):
        vm_check.parse_conf_output(text, "xdev", nonce=NONCE, label="h")


def test_no_header_reports_what_the_host_said(tmp_path: Path) -> None:
    class Csh(LocalHost):
        def run(
            self, script: str, *, root: bool = False, stdin: bytes | None = None, timeout: float | None = None
        ) -> Result:
            return Result(127, "", "sh: not found\n")

    with pytest.raises(UsageError) as info:
        vm_check.from_host(Csh(tmp_path), "xdev")
    assert info.value.message == "could not read xdev's vm-bhyve config on local: sh: not found"


@pytest.mark.skipif(shutil.which("shellcheck") is None, reason="shellcheck not installed")
def test_the_script_passes_shellcheck(tmp_path: Path) -> None:
    from agent.core.script_render import body

    path = tmp_path / "vm_conf.sh"
    path.write_text(body("vm_conf.sh"))
    r = subprocess.run(["shellcheck", "-s", "sh", str(path)], capture_output=True, text=True, check=False)
    assert r.returncode == 0, r.stdout


def test_a_damaged_hex_dump_is_refused() -> None:
    text = framed("cpu=1\n").replace(" 63 70", " 6z 70")
    with pytest.raises(UsageError, match="hex dump is damaged"):
        vm_check.parse_conf_output(text, "xdev", nonce=NONCE, label="h")


def _crlf(conf: bytes) -> bytes:
    return conf.replace(b"\n", b"\r\n")


def _codes(report: Report) -> list[tuple[str, str, int | None]]:
    return [(f.code, f.severity, f.line) for f in report.findings]


@pytest.mark.parametrize("where", ["host", "file"])
def test_a_crlf_conf_is_read_as_vm_bhyve_reads_it(tmp_path: Path, where: str) -> None:
    """Before: the CR was normalised away (read_text, and the framing's line parser) and this was fine."""
    conf = tmp_path / "vms" / "xdev" / "xdev.conf"
    host = fake_host(tmp_path, "zfs:zdata/vms")
    conf.write_bytes(_crlf((FIX / "xdev.conf").read_bytes()))
    src = (
        vm_check.from_host(host, "xdev")
        if where == "host"
        else vm_check.from_file(str(conf), vm_dir=None, vm_name=None, zvol_dataset="zdata/vms")
    )
    assert src.text.encode() == conf.read_bytes()
    report = vm_check.check(src, None)
    crs = [line for code, sev, line in _codes(report) if code == "carriage-return" and sev == "error"]
    assert len(crs) == 19, "every setting line (not the two comment lines) ends in a CR"
    assert 12 in crs  # disk1_dev="custom"\r: vm-bhyve reads 'custom\r', a plain file


@pytest.mark.parametrize("where", ["host", "file"])
def test_a_non_utf8_byte_is_a_finding_not_a_traceback(tmp_path: Path, where: str) -> None:
    conf = tmp_path / "vms" / "xdev" / "xdev.conf"
    host = fake_host(tmp_path, "zfs:zdata/vms")
    text = (FIX / "xdev.conf").read_bytes()
    conf.write_bytes(text.replace(b'disk0_name="disk0"', b'disk0_name="d\xe9sk0"') + b"#caf\xe9\n")
    src = (
        vm_check.from_host(host, "xdev")
        if where == "host"
        else vm_check.from_file(str(conf), vm_dir=None, vm_name=None, zvol_dataset="zdata/vms")
    )
    report = vm_check.check(src, None)
    assert ("not-utf8", "warning", 8) in _codes(report)
    assert [c for c in _codes(report) if c[0] == "not-utf8"] == [("not-utf8", "warning", 8)]


def test_the_host_says_whether_bhyve_runs_the_guest() -> None:
    """vm_conf.sh's ``OBS running=`` (/dev/vmm/<vm> exists while bhyve runs it); older output has none."""
    pfx = f"@@GDA-{NONCE}"
    text = framed("cpu=1\n").replace(f"{pfx} RESULT", f"{pfx} OBS running=yes\n{pfx} RESULT")
    assert vm_check.parse_conf_output(text, "xdev", nonce=NONCE, label="h").running is True
    assert vm_check.parse_conf_output(framed("cpu=1\n"), "xdev", nonce=NONCE, label="h").running is None


def test_a_stopped_guest_reads_as_not_running(tmp_path: Path) -> None:
    src = vm_check.from_host(fake_host(tmp_path, "zfs:zdata/vms"), "xdev")
    assert src.running is False  # no /dev/vmm/xdev here


def test_the_conf_script_carries_the_host_facts_script_only_when_asked() -> None:
    plain = vm_check.conf_script("xdev", nonce=NONCE)
    assert "HOST_FACTS=" not in plain
    with_facts = vm_check.conf_script(
        "xdev", nonce=NONCE, host_facts="echo facts", devices=["/dev/a", "/dev/b"]
    )
    assert "HOST_FACTS='echo facts'\n" in with_facts and "HOST_DEVICES='/dev/a /dev/b'\n" in with_facts
