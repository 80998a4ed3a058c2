"""The guard's builtin paths and its reads at once (issue 13), for real against loop devices (root +
losetup) and as shell functions: which tools it runs on the success path, that a builtin answer falls
back to the tool whenever it cannot tell, and that the reads run side by side yet are all collected
before a decision.

Every tool is run through a logging stand-in on PATH (it runs the real one), so the tests see each exec
with its start and end time; udevadm is a stand-in that only sleeps (no udev here)."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.core import script_render
from agent.core.disk import guard as g
from agent.core.disk.guard_codes import GuardExit
from agent.core.disk.mkfs import build_mkfs_argv
from tests.unit.test_disk_guard_loop import SIZE, blkid, loop

ROOT = pytest.mark.skipif(os.geteuid() != 0 or shutil.which("losetup") is None, reason="needs root, losetup")
TOOLS = (
    "readlink",
    "flock",
    "stat",
    "lsblk",
    "losetup",
    "wipefs",
    "od",
    "blkid",
    "dd",
    "sleep",
    "mkfs.ext4",
)

pytestmark = [pytest.mark.timeout(300)]

SLEEP = shutil.which("sleep") or "/bin/sleep"  # the stand-ins' own delays, not the logged sleep


def shell_function(name: str) -> str:
    m = re.search(rf"^{name}\(\) {{\n.*?^}}\n", script_render.body("disk_guard.sh"), re.S | re.M)
    assert m, name
    return m[0]


def stand_ins(
    bindir: Path, log: Path, slow: str = "", udev_rc: tuple[int, int, int] = (0, 0, 0), hang: str = ""
) -> None:
    """A logging stand-in for each of TOOLS (``slow``: one that takes 0.5 s more) and a udevadm that
    sleeps 0.5 s per call and exits ``udev_rc`` (trigger --settle, trigger, settle); one whose first two
    arguments are ``hang`` never ends (it becomes ``sleep 3600``)."""
    bindir.mkdir()
    for tool in TOOLS:
        real = shutil.which(tool)
        if real is None:
            continue
        delay = f"{SLEEP} 0.5\n" if tool == slow else ""
        if tool == "sleep":  # the watchdog's: its pid must be the sleep itself (it is killed)
            (bindir / tool).write_text(
                f'#!/bin/sh\necho "sleep start $(date +%s.%N) $*" >>{log}\nexec "{real}" "$@"\n'
            )
            continue
        (bindir / tool).write_text(
            f'#!/bin/sh\necho "{tool} start $(date +%s.%N) $*" >>{log}\n{delay}"{real}" "$@"\nrc=$?\n'
            f'echo "{tool} end $(date +%s.%N)" >>{log}\nexit $rc\n'
        )
    settle, trigger, queue = udev_rc
    (bindir / "udevadm").write_text(
        f'#!/bin/sh\necho "udevadm start $(date +%s.%N) $*" >>{log}\n'
        f'[ "$1 $2" = "{hang}" ] && exec {SLEEP} 3600\n{SLEEP} 0.5\n'
        f'case "$1 $2" in "trigger --settle") rc={settle} ;; trigger*) rc={trigger} ;; *) rc={queue} ;;'
        " esac\n"
        f'echo "udevadm end $(date +%s.%N)" >>{log}\nexit $rc\n'
    )
    for p in bindir.iterdir():
        p.chmod(0o755)


def execs(log: Path) -> list[tuple[str, str, float, str]]:
    """(tool, "start" or "end", when, its arguments) per line of the stand-ins' log."""
    out = []
    for line in log.read_text().splitlines():
        tool, what, when, *args = line.split()
        out.append((tool, what, float(when), " ".join(args)))
    return out


def run(
    device_path: str, bindir: Path, fs: g.FsType = "ext4"
) -> tuple[subprocess.CompletedProcess[str], g.GuardSpec]:
    spec = g.GuardSpec(
        device_path=device_path,
        fs=fs,
        mkfs_argv=build_mkfs_argv(fs, label="gda-forks", no_discard=True, force=True),
        expected_size_bytes=SIZE,
        expected_serial=None,
    )
    env = {**os.environ, "PATH": f"{bindir}:{os.environ['PATH']}"}
    proc = subprocess.run(
        ["sh", "-s"], input=g.render_guard_script(spec), capture_output=True, text=True, env=env,
        check=False, timeout=200,
    )  # fmt: skip
    return proc, spec


def obs(stdout: str) -> dict[str, str]:
    return dict(re.findall(r"^@@GDA-[0-9a-f]+ OBS ([a-z_0-9]+)=(.*)$", stdout, re.M))


@contextlib.contextmanager
def udev_links(dev: str) -> Iterator[tuple[str, str]]:
    """What udev makes for ``dev``: /dev/block/MAJ:MIN → ../<kname> (made here only where udev does not
    run) and a by-id style link in a private /dev directory; yields (that link, MAJ:MIN)."""
    kname = dev.removeprefix("/dev/")
    majmin = Path(f"/sys/class/block/{kname}/dev").read_text().strip()
    block = Path("/dev/block")
    link = block / majmin
    made = False
    if Path("/run/udev/control").exists() and shutil.which("udevadm"):
        subprocess.run(["udevadm", "settle", "-t", "10"], check=False)
    elif not os.path.lexists(link):
        block.mkdir(exist_ok=True)
        link.symlink_to(f"../{kname}")
        made = True
    if os.path.realpath(link) != dev:
        pytest.skip(f"{link} does not lead to {dev}")
    byid = Path(subprocess.run(["mktemp", "-d", "/dev/gda-test.XXXXXX"], capture_output=True, text=True,
                               check=True).stdout.strip())  # fmt: skip
    try:
        (byid / "nvme-gda-forks").symlink_to(f"../{kname}")
        yield str(byid / "nvme-gda-forks"), majmin
    finally:
        shutil.rmtree(byid, ignore_errors=True)
        if made:
            link.unlink(missing_ok=True)
            with contextlib.suppress(OSError):
                block.rmdir()  # only when empty: never where udev keeps its links


# ------------------------------------------------------------------ for real: the tools on the success path


@ROOT
def test_the_success_path_runs_only_the_tools_no_builtin_can_replace(tmp_path: Path) -> None:
    log = tmp_path / "execs.log"
    stand_ins(tmp_path / "bin", log)
    with loop(tmp_path) as (dev, _), udev_links(dev) as (byid, majmin):
        proc, spec = run(byid, tmp_path / "bin")
        assert proc.returncode == 0, proc.stdout + proc.stderr
        res = g.interpret_guard(proc.stdout, 0, spec)
        assert res.device == dev and blkid(dev)["UUID"] == res.uuid
    seen = obs(proc.stdout)
    assert seen["device"] == dev
    for key in ("identity", "identity_before", "identity_after"):  # the node, the lock and sysfs agree
        assert seen[key] == f"node={majmin} fd={majmin} sysfs={majmin} serial= wwid="
    assert seen["udev_settle"] == "0"
    # the link resolved and the identity read without readlink or stat; no lsblk for a serial nobody
    # checks; losetup only because loop devices are bound here (the device itself is one). A stat of a
    # loop device's backing file that is a block device (another test's, maybe) is the loop check's.
    started = sorted(t for t, what, _, args in execs(log) if what == "start" and "/proc/" not in args)
    started = [t for t in started if t != "stat"]
    assert started == sorted(
        ["flock", "wipefs", "od", "od", "losetup", "mkfs.ext4", "blkid", "sleep", "udevadm"]
    ), started
    assert not [a for t, what, _, a in execs(log) if t == "stat" and "/proc/" in a and what == "start"]


@ROOT
def test_the_lock_taken_in_a_subshell_is_held_through_the_reads_and_mkfs(tmp_path: Path) -> None:
    # flock runs in a command substitution (beside the serial's read): the lock is on the open file the
    # guard's shell keeps, so another opener cannot take even a shared lock while wipefs, od and mkfs run
    log = tmp_path / "execs.log"
    stand_ins(tmp_path / "bin", log)
    flock = shutil.which("flock") or "flock"
    for tool in ("wipefs", "mkfs.ext4", "od"):
        path = tmp_path / "bin" / tool
        body = path.read_text().split("\n", 1)[1]
        path.write_text(
            f'#!/bin/sh\nfor a; do d=$a; done\n{flock} -n -s "$d" true; echo "{tool} free $(date +%s.%N) $?"'
            f" >>{log}\n{body}"
        )
    with loop(tmp_path) as (dev, _):
        proc, spec = run(dev, tmp_path / "bin")
        assert proc.returncode == 0, proc.stdout + proc.stderr
        g.interpret_guard(proc.stdout, 0, spec)
    free = [(t, a) for t, what, _, a in execs(log) if what == "free"]
    assert {t for t, _ in free} == {"wipefs", "mkfs.ext4", "od"}, free
    assert all(a == "1" for _, a in free), f"the device was not locked during a read or mkfs: {free}"


@ROOT
def test_the_reads_run_side_by_side_and_udev_settles_beside_the_verification(tmp_path: Path) -> None:
    log = tmp_path / "execs.log"
    stand_ins(tmp_path / "bin", log, slow="wipefs")
    with loop(tmp_path) as (dev, _):
        proc, spec = run(dev, tmp_path / "bin")
        assert proc.returncode == 0, proc.stdout + proc.stderr
        g.interpret_guard(proc.stdout, 0, spec)
    spans = _spans(execs(log))
    span = {t: (a, b) for t, a, b in spans if t in ("wipefs", "blkid", "udevadm", "mkfs.ext4")}
    ods = [a for t, a, _ in spans if t == "od"]
    assert len(ods) == 2  # the last sector is read again after mkfs only where GEOM metadata was cleared
    wipefs, mkfs, udev = span["wipefs"], span["mkfs.ext4"], span["udevadm"]
    # one after the other, each would start once the other has ended
    assert all(a < wipefs[1] for a in ods[:2]), "the od reads run while wipefs does"
    assert wipefs[1] < mkfs[0] < mkfs[1] < udev[0]
    assert span["blkid"][0] < udev[1], "blkid verifies while udev settles"
    seen = obs(proc.stdout)
    assert seen["udev_settle"] == "0"
    assert float(seen["t_mkfs_end"]) <= float(seen["t_verified"]) <= float(seen["t_settled"])
    assert set(g.guard_phases(seen)) == {"checks", "mkfs", "verify", "settle"}
    assert g.guard_phases(seen)["settle"] >= 0.2  # the wait for udev beyond the verification


def _spans(ex: list[tuple[str, str, float, str]]) -> list[tuple[str, float, float]]:
    """(tool, start, end) per exec, each start paired with the next end of the same tool."""
    out: list[tuple[str, float, float]] = []
    open_: dict[str, list[float]] = {}
    for tool, what, t, _ in ex:
        if what == "start":
            open_.setdefault(tool, []).append(t)
        else:
            out.append((tool, open_[tool].pop(0), t))
    return sorted(out, key=lambda s: s[1])


@ROOT
def test_the_settle_status_is_the_real_one_and_does_not_decide(tmp_path: Path) -> None:
    log = tmp_path / "execs.log"
    stand_ins(tmp_path / "bin", log, udev_rc=(1, 0, 3))  # no trigger --settle, then settle times out
    with loop(tmp_path) as (dev, _):
        proc, spec = run(dev, tmp_path / "bin")
        assert proc.returncode == 0, proc.stdout + proc.stderr
        g.interpret_guard(proc.stdout, 0, spec)
    assert obs(proc.stdout)["udev_settle"] == "3"
    udev = [(what, args) for t, what, _, args in execs(log) if t == "udevadm"]
    assert [a for what, a in udev if what == "start"] == [
        f"trigger --settle --action=change -- {dev}",
        f"trigger --action=change -- {dev}",
        "settle --timeout=30",
    ]
    assert [what for what, _ in udev] == ["start", "end"] * 3


@ROOT
def test_a_settle_that_never_ends_is_ended_after_its_wait(tmp_path: Path) -> None:
    log = tmp_path / "execs.log"
    stand_ins(tmp_path / "bin", log, hang="trigger --settle")
    with loop(tmp_path) as (dev, _):
        spec = g.GuardSpec(
            device_path=dev,
            fs="ext4",
            mkfs_argv=build_mkfs_argv("ext4", label="gda-forks", no_discard=True, force=True),
            expected_size_bytes=SIZE,
            expected_serial=None,
            settle_timeout_s=2,
        )
        env = {**os.environ, "PATH": f"{tmp_path / 'bin'}:{os.environ['PATH']}"}
        t0 = time.monotonic()
        proc = subprocess.run(
            ["sh", "-s"], input=g.render_guard_script(spec), capture_output=True, text=True, env=env,
            check=False, timeout=200,
        )  # fmt: skip
        waited = time.monotonic() - t0
        g.interpret_guard(proc.stdout, proc.returncode, spec)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert waited < 20  # bounded by the wait (2 s) and the fallback, not the hung trigger
    udev = [args for t, what, _, args in execs(log) if t == "udevadm" and what == "start"]
    assert udev == [f"trigger --settle --action=change -- {dev}", f"trigger --action=change -- {dev}",
                    "settle --timeout=2"]  # fmt: skip
    assert obs(proc.stdout)["udev_settle"] == "0"  # the fallback's status
    left = subprocess.run(["pgrep", "-f", "sleep (3600|2)$"], capture_output=True, text=True, check=False)
    assert left.stdout == "", "the hung trigger and the watchdog's sleep are gone"


@ROOT
def test_a_failed_verification_still_waits_for_udev(tmp_path: Path) -> None:
    log = tmp_path / "execs.log"
    stand_ins(tmp_path / "bin", log)
    with loop(tmp_path) as (dev, _):
        spec = g.GuardSpec(
            dev, "ext4", ("mkfs.ext4", "-q", "-F", "-E", "nodiscard", "-U", "clear"), SIZE, None
        )
        env = {**os.environ, "PATH": f"{tmp_path / 'bin'}:{os.environ['PATH']}"}
        proc = subprocess.run(
            ["sh", "-s"], input=g.render_guard_script(spec), capture_output=True, text=True, env=env,
            check=False, timeout=200,
        )  # fmt: skip
    assert proc.returncode == GuardExit.VERIFY_FAILED, proc.stdout + proc.stderr
    assert obs(proc.stdout)["udev_settle"] == "0"
    assert "udevadm end" in log.read_text()


# ------------------------------------------------------------------ the builtin answers and their fallbacks


@pytest.mark.parametrize(
    ("link", "fd", "want"),
    [
        ("dev", "dev", "node=7:5 fd=7:5 sysfs=7:5"),  # both builtins agree: no stat (it would say 0:0)
        ("other", "dev", "node=0:0 fd=0:0 sysfs=7:5"),  # udev's link leads elsewhere: stat decides
        ("dev", "other", "node=0:0 fd=0:0 sysfs=7:5"),  # the lock is on another file: stat decides
        (None, "dev", "node=0:0 fd=0:0 sysfs=7:5"),  # no link (no udev): stat decides
    ],
)
def test_identity_trusts_test_ef_only_when_both_files_agree(
    tmp_path: Path, link: str | None, fd: str, want: str
) -> None:
    # regular files stand in for the nodes: stat reads their major:minor as 0:0, the builtins none
    sysfs, block = tmp_path / "sys", tmp_path / "block"
    sysfs.mkdir()
    block.mkdir()
    (sysfs / "dev").write_text("7:5\n")
    (tmp_path / "dev").write_text("")
    (tmp_path / "other").write_text("")
    if link is not None:
        (block / "7:5").symlink_to(tmp_path / link)
    fn = shell_function("identity")
    assert fn.count('"/dev/block/$_sd"') == 1
    fn = fn.replace('"/dev/block/$_sd"', f'"{block}/$_sd"')
    lib = script_render.body("lib/sysfs.sh")
    prog = f'{lib}{fn}dev={tmp_path}/dev; S={sysfs}; exec 9<{tmp_path}/{fd}; identity; printf %s "$id"'
    r = subprocess.run(["sh", "-c", prog], capture_output=True, text=True, check=False)
    assert r.stdout == want + " serial= wwid=", r.stderr


def test_the_reads_beside_each_other_are_read_back_whole_or_refused() -> None:
    fns = "nl='\n'\n" + "".join(shell_function(f) for f in ("beside", "split_beside", "raw_fields"))
    prog = fns + (
        'bg() { sleep 0.2; printf "raw 0 %s\\n" "${1:--}"; }\n'
        'out=$(bg "$1" & beside sh -c "$2")\n'
        'split_beside "$out" raw || { echo split-failed; exit; }\n'
        "raw_fields ${bl#raw } || { echo fields-failed; exit; }\n"
        'printf "%s|%s|%s|%s" "$xrc" "$lastraw" "$crc" "$cout"'
    )

    def go(last: str, cmd: str) -> str:
        return subprocess.run(["sh", "-c", prog, "sh", last, cmd], capture_output=True, text=True).stdout

    assert go("00ff", "printf 'TYPE=ext4\\nUUID=u\\n'; exit 3") == "0|00ff|3|TYPE=ext4\nUUID=u"
    assert go("", "true") == "0||0|"  # no output, an empty value: both still there
    assert go("00", "echo 'rc=9'; echo raw 1 2") == "0|00|0|rc=9\nraw 1 2"  # CMD's text is only output
    missing = fns + 'out=$(beside sh -c "echo x"); split_beside "$out" raw || echo refused'
    assert subprocess.run(["sh", "-c", missing], capture_output=True, text=True).stdout == "refused\n"
    assert subprocess.run(["sh", "-c", fns + "raw_fields 1 2 3 || echo refused"], capture_output=True,
                          text=True).stdout == "refused\n"  # fmt: skip


@ROOT
def test_a_link_to_a_node_outside_dev_is_resolved_by_readlink(tmp_path: Path) -> None:
    """A private node (not /dev/<kname>'s file) behind a link: no /dev node is that file, readlink says."""
    log = tmp_path / "execs.log"
    stand_ins(tmp_path / "bin", log)
    with loop(tmp_path) as (dev, _):
        kname = dev.removeprefix("/dev/")
        majmin = Path(f"/sys/class/block/{kname}/dev").read_text().strip().split(":")
        d = Path(subprocess.run(["mktemp", "-d", "/dev/gda-test.XXXXXX"], capture_output=True, text=True,
                                check=True).stdout.strip())  # fmt: skip
        try:
            node = d / kname
            subprocess.run(["mknod", str(node), "b", *majmin], check=True)
            (d / "by-id").symlink_to(kname)
            proc, _ = run(str(d / "by-id"), tmp_path / "bin")
        finally:
            shutil.rmtree(d, ignore_errors=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert obs(proc.stdout)["device"] == str(node)
    started = [t for t, what, *_ in execs(log) if what == "start"]
    assert "readlink" in started and "stat" in started  # the private node has no /dev/block link
