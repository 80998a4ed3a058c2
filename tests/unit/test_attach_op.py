"""attach's imperative parts that need no guest (agent.ops.attach_op), on a local shell standing for the
host's transport (the same scripts, run by this machine's sh): the poll with its deadline, the backup
that refuses a config changed since it was read, the write and the restore of the original bytes after a
failure before ``vm start`` (and none after), the wait on ``vm list``."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from agent.errors import ChangeFailed, Refused, Unreachable
from agent.ops.attach_guest import GuestSide
from agent.ops.attach_op import AttachOptions, HostSide, _Attach, wait_until
from agent.ops.attach_report import backup_script
from agent.transport.file_transfer import decode_read, read_script, write_script
from agent.transport.protocol import Result
from agent.transport.ssh import SshUnreachable

ORIGINAL = 'loader="uefi"\ndisk0_name="disk0"\n'


class LocalShell:
    """CommandProtocol on this machine: every script through ``sh -c``, stdin as given."""

    label = "local sh"

    def __init__(self) -> None:
        self.commands_run = 0

    def run(
        self, script: str, *, root: bool = False, stdin: bytes | None = None, timeout: float | None = None
    ) -> Result:
        self.commands_run += 1
        p = subprocess.run(["sh", "-c", script], input=stdin or b"", capture_output=True,
                           timeout=timeout or 60, check=False)  # fmt: skip
        return Result(p.returncode, p.stdout.decode(), p.stderr.decode())

    def write_file(self, path: str, data: bytes, *, mode: int = 0o600) -> None:
        r = self.run(write_script(path, data, mode=mode), stdin=data)
        assert r.ok, r.output

    def read_file(self, path: str) -> bytes:
        return decode_read(self.run(read_script(path)).stdout, path)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, s: float) -> None:
        self.slept.append(s)
        self.now += s


def test_wait_until_backs_off_and_stops_when_reached() -> None:
    clock, seen = Clock(), iter([(False, "Running (4242)"), (False, "Locked (h)"), (True, "Stopped")])
    assert wait_until(lambda: next(seen), 10, clock=clock, sleep=clock.sleep) == (True, "Stopped", 3)
    assert clock.slept == [0.25, 0.5]


def test_wait_until_never_sleeps_past_the_deadline() -> None:
    clock = Clock()
    reached, seen, polls = wait_until(lambda: (False, "Running"), 5, clock=clock, sleep=clock.sleep)
    assert (reached, seen) == (False, "Running")
    assert clock.slept == [0.25, 0.5, 1.0, 2.0, 1.25] and polls == 6 and clock.now == 105.0


def attach_for(tmp_path: Path, shell: LocalShell, **host: object) -> _Attach:
    conf = tmp_path / "xdev.conf"
    conf.write_text(ORIGINAL)
    conf.chmod(0o640)
    side = HostSide(shell, "xdev", **host)  # type: ignore[arg-type]
    a = _Attach(side, "xdev", None, AttachOptions("/dev/diskid/DISK-Xp4"), log=lambda _: None,
                stamp="20261202T021500Z")  # fmt: skip
    a.out.conf_path, a.out.backup = str(conf), str(tmp_path / "xdev.conf.bak.20261202T021500Z")
    a.original = ORIGINAL.encode()
    return a


def test_backup_keeps_bytes_and_mode(tmp_path: Path) -> None:
    a = attach_for(tmp_path, LocalShell())
    a._backup()
    bak = Path(str(a.out.backup))
    assert bak.read_text() == ORIGINAL and bak.stat().st_mode & 0o777 == 0o640
    assert a.mode == 0o640
    with pytest.raises(Refused, match="exists already"):
        a._backup()


def test_backup_refuses_a_config_changed_since_it_was_read(tmp_path: Path) -> None:
    a = attach_for(tmp_path, LocalShell())
    Path(str(a.out.conf_path)).write_text(ORIGINAL + 'disk1_name="x"\n')
    with pytest.raises(Refused, match="changed since attach read it"):
        a._backup()
    assert not Path(str(a.out.backup)).exists()


def test_backup_script_quotes_paths(tmp_path: Path) -> None:
    odd = tmp_path / "a b;$(touch gotcha)"
    odd.mkdir()
    (odd / "x.conf").write_text("x")
    r = subprocess.run(["sh", "-c", backup_script(f"{odd}/x.conf", f"{odd}/x.bak")], input=b"x",
                       capture_output=True, check=False, cwd=tmp_path)  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert (odd / "x.bak").read_text() == "x" and not (tmp_path / "gotcha").exists()


def test_a_failure_after_the_write_restores_the_original(tmp_path: Path) -> None:
    a = attach_for(tmp_path, LocalShell())
    a._backup()
    a._write(ORIGINAL + 'disk1_type="nvme"\n')
    conf = Path(str(a.out.conf_path))
    assert conf.read_text().endswith('disk1_type="nvme"\n') and conf.stat().st_mode & 0o777 == 0o640
    e = a._after(ChangeFailed("xdev is not Stopped after 120s", "see vm list"))
    assert isinstance(e, ChangeFailed) and e.exit_code == 3
    assert e.message.endswith("was restored (nothing else of it changed)") and e.hint == "see vm list"
    assert conf.read_text() == ORIGINAL and a.out.conf_restored and a.out.action == "failed"
    assert a.out.steps[-1].key == "restore"


def test_after_the_start_the_conf_stays(tmp_path: Path) -> None:
    a = attach_for(tmp_path, LocalShell())
    a._write(ORIGINAL + 'disk1_type="nvme"\n')
    a.started = True
    e = ChangeFailed("xdev is not Running")
    assert a._after(e) is e
    assert Path(str(a.out.conf_path)).read_text().endswith('disk1_type="nvme"\n')
    assert not a.out.conf_restored


def test_a_refusal_before_any_write_changes_nothing(tmp_path: Path) -> None:
    a = attach_for(tmp_path, LocalShell())
    e = Refused("no")
    assert a._after(e) is e and a.out.action == "refused"


def fake_vm(tmp_path: Path, states: list[str]) -> str:
    """A ``vm`` whose ``list`` shows the next of ``states`` at each call (the last one stays)."""
    count = tmp_path / "count"
    count.write_text("0")
    rows = "\n".join(f"{i}) s='{st}' ;;" for i, st in enumerate(states))
    last = states[-1]
    script = tmp_path / "vm"
    script.write_text(
        "#!/bin/sh\n"
        f"n=$(cat {count}); echo $((n + 1)) > {count}\n"
        f"case $n in {rows} *) s='{last}' ;; esac\n"
        'echo "NAME  DATASTORE  LOADER  CPU  MEMORY  VNC  AUTO  STATE"\n'
        'echo "xdev  default    uefi    4    16G     -    No    $s"\n'
    )
    script.chmod(0o755)
    return str(script)


def test_wait_stopped_polls_vm_list_through_locked(tmp_path: Path) -> None:
    vm = fake_vm(tmp_path, ["Running (4242)", "Locked (host)", "Stopped"])
    a = attach_for(tmp_path, LocalShell(), vm_command=vm)
    seen = a._wait_state("Stopped")
    assert seen == "Stopped, /dev/vmm/xdev gone after 3 poll(s)"


def test_wait_stopped_gives_up_at_its_deadline(tmp_path: Path) -> None:
    vm = fake_vm(tmp_path, ["Running (4242)"])
    a = attach_for(tmp_path, LocalShell(), vm_command=vm)
    a.opts = AttachOptions("/dev/diskid/DISK-Xp4", stop_wait=0.6)
    want = r"xdev is not Stopped after 0.6s \(\d+ polls of .*Running \(4242\)"
    with pytest.raises(ChangeFailed, match=want):
        a._wait_state("Stopped")


class DownConnector:
    """A Connector whose guest never answers over SSH."""

    def ssh(self, **_: object) -> DownConnector:
        return self

    def open(self) -> None:
        raise SshUnreachable("cannot reach SSH on 127.0.0.1:9: Connection refused")

    def wait_for_ssh(self, deadline: float) -> None:
        self.open()


def test_no_inventory_guest_is_refused_when_the_guest_is_needed() -> None:
    with pytest.raises(Refused, match="there is no inventory guest"):
        GuestSide(None, log=lambda _: None).open()


def test_an_unreachable_guest_says_what_attach_needs_it_for() -> None:
    g = GuestSide(lambda: DownConnector(), log=lambda _: None)  # type: ignore[arg-type,return-value]
    with pytest.raises(Unreachable) as caught:
        g.open()
    assert caught.value.exit_code == 4 and "Connection refused" in caught.value.message
    assert "pins the guest's NIC by MAC over SSH before anything changes" in str(caught.value.hint)
    g.connector = DownConnector()  # type: ignore[assignment]
    with pytest.raises(Unreachable, match=r"did not come back within 2s of the start \(x\): cannot reach"):
        g.wait_back(2, why="of the start (x)", hint="look on the console")
