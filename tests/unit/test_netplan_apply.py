"""fix-netplan's way back scripts (agent/scripts/netplan_wayback.sh), rendered and, where they need no
systemd or netplan, run here with the local ``sh``."""

from __future__ import annotations

import shlex
import stat
import subprocess
from pathlib import Path

import pytest

from agent.errors import RemoteError
from agent.ops.netplan_apply import BACKUP_FAILED, INSTALL_FAILED, INVALID, UNDO_FAILED, WayBack
from agent.transport.protocol import Result


def test_backup_copies_each_file_next_to_it(tmp_path: Path) -> None:
    a, b = tmp_path / "a.yaml", tmp_path / "b yaml"
    a.write_text("A\n")
    b.write_text("B\n")
    way = WayBack("gda-netplan-revert-x", {str(a): f"{a}.bak.1", str(b): f"{b}.bak.1"}, 150)
    r = subprocess.run(["sh", "-c", way.script("backup")], capture_output=True, text=True, check=False)
    assert r.returncode == 0, r.stderr
    assert Path(f"{a}.bak.1").read_text() == "A\n" and Path(f"{b}.bak.1").read_text() == "B\n"


def test_the_timer_gets_the_pairs_as_arguments_and_escapes_its_own_dollars() -> None:
    way = WayBack("gda-netplan-revert-x", {"/etc/netplan/50 x.yaml": "/etc/netplan/50 x.yaml.bak.1"}, 150)
    text = way.script("arm")
    assert "set -- '/etc/netplan/50 x.yaml' '/etc/netplan/50 x.yaml.bak.1'\n" in text
    assert "ACTION=arm\n" in text and "FIRES_IN=150\n" in text
    # the job is a file of its own: a command line with ";" does not survive netplan's daemon-reload
    assert '/bin/sh "$job" "$UNIT" "$UNIT_DIR" "$@"' in text and "<<'JOB'" in text


@pytest.mark.parametrize("name", ["$x.yaml", "a;b.yaml", "50%.yaml"])
def test_paths_systemd_would_mangle_are_refused(name: str) -> None:
    with pytest.raises(RemoteError, match="no revert timer"):
        WayBack("u", {f"/etc/netplan/{name}": f"/etc/netplan/{name}.bak"}, 10).script("arm")


# ---------------------------------------------------------------------------------- restore / boot unit


def _stubs(tmp_path: Path) -> tuple[dict[str, str], Path]:
    """systemctl, systemd-run and netplan stubs that log their arguments to ``calls``."""
    bin_dir, calls = tmp_path / "bin", tmp_path / "calls"
    bin_dir.mkdir()
    for tool in ("systemctl", "systemd-run", "netplan"):
        stub = bin_dir / tool
        stub.write_text(f'#!/bin/sh\necho "{tool} $*" >> {calls}\n')
        stub.chmod(0o755)
    calls.write_text("")
    return {"PATH": f"{bin_dir}:/usr/bin:/bin"}, calls


def _way(tmp_path: Path, backups: dict[str, str]) -> WayBack:
    units, state = tmp_path / "units", tmp_path / "state"
    units.mkdir(exist_ok=True)
    return WayBack("gda-netplan-revert-t", backups, 150, unit_dir=str(units), state_dir=str(state))


def _sh(way: WayBack, action: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["sh", "-c", way.script(action)], capture_output=True, text=True, env=env, check=False
    )


def test_a_failed_restore_keeps_the_timer_and_the_boot_unit(tmp_path: Path) -> None:
    env, calls = _stubs(tmp_path)
    cfg = tmp_path / "50.yaml"
    cfg.write_text("old\n")
    way = _way(tmp_path, {str(cfg): f"{cfg}.bak.1"})
    assert _sh(way, "backup", env).returncode == 0
    assert _sh(way, "arm", env).returncode == 0
    assert Path(way.boot_unit).is_file()
    Path(f"{cfg}.bak.1").unlink()  # the backup is gone: the restore cannot work
    cfg.write_text("new\n")
    r = _sh(way, "restore", env)
    assert r.returncode != 0 and "no backup" in r.stderr
    assert "systemctl stop" not in calls.read_text(), "the timer is not cancelled after a failed restore"
    assert Path(way.boot_unit).is_file(), "nor is the boot unit"


def _netplan_stub(env: dict[str, str], tmp_path: Path, body: str) -> None:
    """Replace the ``netplan`` stub (the generator arm-install validates with, when the guest has no
    generator binary: the case here) by one that runs ``body``."""
    stub = Path(env["PATH"].split(":")[0]) / "netplan"
    stub.write_text(f'#!/bin/sh\necho "netplan $*" >> {tmp_path / "calls"}\n{body}\n')


def _staged_change(tmp_path: Path, unit: str = "gda-netplan-revert-t") -> tuple[WayBack, Path]:
    """A netplan folder in a scratch root with 50.yaml (old), its new content staged next to it."""
    netplan = tmp_path / "root" / "etc" / "netplan"
    netplan.mkdir(parents=True, exist_ok=True)
    cfg = netplan / "50.yaml"
    cfg.write_text("old\n")
    units = tmp_path / "units"
    units.mkdir(exist_ok=True)
    way = WayBack(unit, {str(cfg): f"{cfg}.bak.1"}, 150, unit_dir=str(units),
                  state_dir=str(tmp_path / "state"), netplan_root=str(tmp_path / "root"))  # fmt: skip
    Path(way.staged(str(cfg))).write_text("new\n")
    return way, cfg


@pytest.mark.parametrize("gnu_cp", [True, False], ids=["cp --parents", "one cp per folder"])
def test_arm_install_backs_up_arms_installs_and_validates_in_one_run(tmp_path: Path, gnu_cp: bool) -> None:
    env, calls = _stubs(tmp_path)
    way, cfg = _staged_change(tmp_path)
    (tmp_path / "root" / "lib" / "netplan").mkdir(parents=True)
    (tmp_path / "root" / "lib" / "netplan" / "00.yaml").write_text("lib\n")
    # the generator sees the new file and /lib's in its scratch root
    _netplan_stub(env, tmp_path, '[ -f "$3/etc/netplan/50.yaml" ] && [ -f "$3/lib/netplan/00.yaml" ]')
    if not gnu_cp:  # a cp without --parents (busybox's, say)
        stub = Path(env["PATH"].split(":")[0]) / "cp"
        stub.write_text('#!/bin/sh\ncase " $* " in *" --parents "*) exit 1;; esac\nexec /bin/cp "$@"\n')
        stub.chmod(0o755)
    assert way.staged(str(cfg)) == str(cfg.parent / ".50.yaml.gda-netplan-revert-t.new")
    r = _sh(way, "arm-install", env)
    assert r.returncode == 0, r.stderr
    assert Path(f"{cfg}.bak.1").read_text() == "old\n" and cfg.read_text() == "new\n"
    assert not Path(way.staged(str(cfg))).exists() and Path(way.boot_unit).is_file()
    log = calls.read_text()
    assert "systemd-run --quiet --collect --service-type=oneshot --unit=gda-netplan-revert-t" in log
    assert "netplan generate --root-dir" in log  # validated, in a scratch root of its own
    assert "systemctl stop" not in log
    assert stat.S_IMODE(Path(way.boot_unit).stat().st_mode) == 0o644
    assert stat.S_IMODE((tmp_path / "state" / f"{way.unit}.sh").stat().st_mode) == 0o600
    assert [p.name for p in (tmp_path / "state").iterdir()] == [f"{way.unit}.sh"]  # the scratch root is gone


def test_arm_install_changes_nothing_and_arms_nothing_when_the_backup_fails(tmp_path: Path) -> None:
    env, calls = _stubs(tmp_path)
    way, cfg = _staged_change(tmp_path)
    (tmp_path / "sub").write_text("a file where the backup's folder would be")
    way = WayBack(way.unit, {str(cfg): str(tmp_path / "sub" / "50.yaml.bak")}, 150, unit_dir=way.unit_dir,
                  state_dir=way.state_dir, netplan_root=way.netplan_root)  # fmt: skip
    r = _sh(way, "arm-install", env)
    assert r.returncode == BACKUP_FAILED, (r.returncode, r.stderr)
    assert cfg.read_text() == "old\n" and not Path(way.staged(str(cfg))).exists()
    assert "systemd-run" not in calls.read_text() and not Path(way.boot_unit).exists()


def test_arm_install_changes_nothing_when_the_generator_rejects_the_configuration(tmp_path: Path) -> None:
    env, calls = _stubs(tmp_path)
    way, cfg = _staged_change(tmp_path)
    _netplan_stub(env, tmp_path, 'echo "Error in network definition: bad" >&2; exit 1')
    r = _sh(way, "arm-install", env)
    assert r.returncode == INVALID and "Error in network definition" in r.stderr
    assert cfg.read_text() == "old\n", "the file was never changed"
    assert not Path(way.staged(str(cfg))).exists(), "nor is anything left staged"
    assert "systemctl stop gda-netplan-revert-t.timer" in calls.read_text()
    assert not Path(way.boot_unit).exists(), "and the way back is removed"
    assert [p.name for p in (tmp_path / "state").iterdir()] == [], "no scratch root, no job left"


def _mv_stub(env: dict[str, str], body: str) -> None:
    stub = Path(env["PATH"].split(":")[0]) / "mv"
    stub.write_text(f"#!/bin/sh\n{body}\n")
    stub.chmod(0o755)


def test_arm_install_puts_the_old_file_back_when_the_new_one_cannot_be_put_in_place(tmp_path: Path) -> None:
    env, calls = _stubs(tmp_path)
    way, cfg = _staged_change(tmp_path)
    _mv_stub(env, f"/bin/mv \"$@\" && echo half-written > '{cfg}'; exit 1")  # it got there, half
    r = _sh(way, "arm-install", env)
    assert r.returncode == INSTALL_FAILED, (r.returncode, r.stderr)
    assert cfg.read_text() == "old\n", "the old file is back"
    assert "systemctl stop gda-netplan-revert-t.timer" in calls.read_text()
    assert not Path(way.boot_unit).exists(), "and the way back is removed"


def test_arm_install_keeps_the_way_back_when_the_undo_fails_too(tmp_path: Path) -> None:
    env, _calls = _stubs(tmp_path)
    way, cfg = _staged_change(tmp_path)
    _mv_stub(env, f"rm -f '{cfg}.bak.1'; exit 1")  # not put in place, and the backup is gone
    r = _sh(way, "arm-install", env)
    assert r.returncode == UNDO_FAILED and "no backup" in r.stderr
    assert Path(way.boot_unit).is_file(), "the timer and the boot unit still restore it"


def test_a_restore_that_works_removes_the_way_back(tmp_path: Path) -> None:
    env, calls = _stubs(tmp_path)
    cfg = tmp_path / "50.yaml"
    cfg.write_text("old\n")
    way = _way(tmp_path, {str(cfg): f"{cfg}.bak.1"})
    assert _sh(way, "backup", env).returncode == 0 and _sh(way, "arm", env).returncode == 0
    cfg.write_text("new\n")
    r = _sh(way, "restore", env)
    assert r.returncode == 0, r.stderr
    assert cfg.read_text() == "old\n"
    assert (
        "netplan generate" in calls.read_text()
        and "systemctl stop gda-netplan-revert-t.timer" in calls.read_text()
    )
    assert not list((tmp_path / "units").rglob("*.service")) and not list((tmp_path / "state").iterdir())


def test_restore_now_reports_a_failure_and_that_the_timer_still_restores() -> None:
    class FailingCmd:
        label = "fake"

        def __init__(self) -> None:
            self.scripts: list[str] = []

        def run(self, script: str, **_kw: object) -> Result:
            self.scripts.append(script)
            return Result(1, "cp: cannot stat\n")

    cmd = FailingCmd()
    way = WayBack("gda-netplan-revert-t", {"/etc/netplan/a.yaml": "/etc/netplan/a.yaml.bak.1"}, 150)
    with pytest.raises(RemoteError, match=r"still restores them") as e:
        way.restore_now(cmd)  # type: ignore[arg-type]
    assert "gda-netplan-revert-t-boot.service" in e.value.message
    assert len(cmd.scripts) == 1 and "ACTION=restore" in cmd.scripts[0]


def test_the_boot_unit_runs_the_job_and_the_job_removes_the_way_back(tmp_path: Path) -> None:
    """What the guest does at boot after a reboot in the window: ExecStart of the boot unit, run here."""
    env, calls = _stubs(tmp_path)
    cfg, pin = tmp_path / "50 x.yaml", tmp_path / "99-disable.cfg"
    cfg.write_text("old\n")
    way = _way(tmp_path, {str(cfg): f"{cfg}.bak.1", str(pin): f"{pin}.bak.1"})
    assert _sh(way, "backup", env).returncode == 0 and _sh(way, "arm", env).returncode == 0
    assert Path(f"{pin}.bak.1.absent").exists(), "the pin file did not exist: its way back removes it"
    unit = Path(way.boot_unit).read_text()
    wants = tmp_path / "units" / "multi-user.target.wants" / "gda-netplan-revert-t-boot.service"
    assert wants.is_symlink() and "WantedBy=multi-user.target" in unit
    cfg.write_text("new\n")
    pin.write_text("network: {config: disabled}\n")
    exec_start = next(line for line in unit.splitlines() if line.startswith("ExecStart="))
    argv = shlex.split(exec_start.removeprefix("ExecStart="))  # systemd's double quotes, as sh reads them
    r = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
    assert r.returncode == 0, r.stderr
    assert cfg.read_text() == "old\n" and not pin.exists()
    assert "netplan apply" in calls.read_text()
    assert not Path(way.boot_unit).exists() and not wants.is_symlink()
    assert not list((tmp_path / "state").iterdir()), "the job removed itself"


def test_cancel_fails_when_the_boot_unit_stays(tmp_path: Path) -> None:
    class Cmd:
        label = "fake"

        def run(self, script: str, **_kw: object) -> Result:
            return Result(1, "could not remove /etc/systemd/system/u-boot.service\n")

    with pytest.raises(RemoteError, match="could not be removed") as e:
        WayBack("u", {"/a": "/a.bak"}, 10).cancel(Cmd())  # type: ignore[arg-type]
    assert e.value.hint is not None and "next boot" in e.value.hint
