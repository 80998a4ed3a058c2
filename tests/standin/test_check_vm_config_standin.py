"""``gda check-vm-config`` end to end against the stand-in FreeBSD host (a real sshd on loopback, FreeBSD's
commands as stubs answering from tests/standin/scenarios/*.json; no VM). Part of the normal suite."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from agent.core.host import host_facts as hf
from agent.transport.ssh import SshSession, SshTarget
from tests.cli.gda_run import gda
from tests.standin.host import TOOLS, StandinHost
from tests.standin.scenario import REPO, SCENARIOS

P3 = "/dev/diskid/DISK-Y39B70RTK7ASp3"
P4 = "/dev/diskid/DISK-Y39B70RTK7ASp4"
SEED_CONF = REPO / "tests" / "fixtures" / "vmbhyve" / "xdev.conf"
FACTS = REPO / "tests" / "facts" / "host.facts"
SEED_NONCE = "5eed0b5e7a1c4f02"  # the nonce of the host.facts cases' outputs


def check_json(host: StandinHost, tmp_path: Path, *extra: str) -> tuple[int, dict[str, Any]]:
    inv = host.inventory(tmp_path / "inventory.yaml")
    r = gda("check-vm-config", "--guest", "xdev", "--inventory", str(inv), "--json", *extra)
    assert "Traceback" not in r.stderr, r.stderr
    return r.returncode, json.loads(r.stdout)


def local_exit_code(conf: Path) -> int:
    """The exit code of the config's own findings (the same conf checked as a local file)."""
    r = gda("check-vm-config", "--conf", str(conf), "--json")
    return int(json.loads(r.stdout)["exit_code"])


def findings(device: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["code"]: f for f in device["findings"]}


def test_seed_p4_is_accepted(freebsd_host: StandinHost, tmp_path: Path) -> None:
    code, data = check_json(freebsd_host, tmp_path)
    host = data["host"]
    assert host["facts_error"] is None and host["ok"] is True and host["exit_code"] == 0
    assert host["uid"] == 0 and host["guest_running"] is False
    (dev,) = host["devices"]
    assert dev["device"] == P4 and dev["from"] == "conf" and dev["conf_disk"] == 1
    assert dev["ok"] is True and dev["refusal"] is None and dev["partition_type"] == "linux-data"
    assert not [f for f in dev["findings"] if f["severity"] != "info"], dev["findings"]
    f = findings(dev)
    assert f["guest-size"]["data"]["size_bytes"] == 274877906944
    assert f["guest-serial"]["data"] == {"serial": "NVME-5-0", "source": "slot"}
    # the exit code is the config's own (the seed conf moves the NIC: a warning), not a host error
    assert code == data["exit_code"] == local_exit_code(SEED_CONF)


def test_seed_p4_through_host_option(freebsd_host: StandinHost, tmp_path: Path) -> None:
    """``--host/--port/--user/--vm``, the key and known_hosts from ~/.ssh/config; the text output."""
    home = freebsd_host.ssh_config_home(tmp_path / "home")
    env = {**os.environ, "HOME": str(home)}
    args = ["--host", "127.0.0.1", "--port", str(freebsd_host.port), "--user", "root", "--vm", "xdev"]
    r = gda("check-vm-config", *args, env=env)
    assert "Traceback" not in r.stderr, r.stderr
    assert "1 device, 0 refused" in r.stdout, r.stdout
    line = next(x for x in r.stdout.splitlines() if x.startswith(P4))
    assert "linux-data" in line and "274877906944 bytes" in line and "guest serial NVME-5-0" in line
    assert line.endswith(": ok"), line
    assert "ERROR" not in r.stdout
    assert r.returncode == local_exit_code(SEED_CONF)


def test_seed_conf_passing_p3_is_refused(freebsd_host: StandinHost, tmp_path: Path) -> None:
    conf = SEED_CONF.read_text().replace(P4, P3)
    freebsd_host.write_file("/zdata/vms/xdev/xdev.conf", conf)
    code, data = check_json(freebsd_host, tmp_path)
    assert code == 1 and data["exit_code"] == 1 and data["host"]["ok"] is False
    (dev,) = data["host"]["devices"]
    assert dev["device"] == P3 and dev["ok"] is False and dev["partition_type"] == "freebsd-zfs"
    f = findings(dev)
    assert f["in-pool"]["severity"] == "error"
    assert "imported ZFS pool zdata" in f["in-pool"]["message"]
    assert dev["suggestion"] == P4
    assert "zdata" in dev["refusal"]["message"] and P4 in dev["refusal"]["hint"]


@pytest.mark.parametrize("freebsd_host", ["seed_p3_exported"], indirect=True)
def test_exported_pool_is_refused_through_zdb_labels(freebsd_host: StandinHost, tmp_path: Path) -> None:
    zpool = freebsd_host.run_stub("zpool", "status", "-P")
    assert P3 not in zpool.stdout  # zpool status does not show it: only zdb -l does
    code, data = check_json(freebsd_host, tmp_path)
    assert code == 1 and data["host"]["ok"] is False
    (dev,) = data["host"]["devices"]
    assert dev["device"] == P3 and dev["ok"] is False
    f = findings(dev)
    assert "in-pool" not in f
    assert f["pool-label"]["severity"] == "error"
    want = {"pool": "zdata", "pool_guid": "11793924510418463322", "state": "exported"}
    assert f["pool-label"]["data"] == want
    assert dev["suggestion"] == P4 and P4 in dev["refusal"]["hint"]


def test_running_guest_is_seen(freebsd_host: StandinHost, tmp_path: Path) -> None:
    freebsd_host.update(running=["xdev"])
    _, data = check_json(freebsd_host, tmp_path)
    assert data["host"]["guest_running"] is True


def test_device_option_checks_another_partition(freebsd_host: StandinHost, tmp_path: Path) -> None:
    code, data = check_json(freebsd_host, tmp_path, "--device", "/dev/diskid/DISK-Y39B70RTK7ASp2")
    assert code == 1
    by_path = {d["device"]: d for d in data["host"]["devices"]}
    assert by_path[P4]["ok"] is True
    swap = by_path["/dev/diskid/DISK-Y39B70RTK7ASp2"]
    assert swap["from"] == "option" and swap["ok"] is False and swap["partition_type"] == "freebsd-swap"


def test_host_with_sudo_password_env_runs_as_root(freebsd_host: StandinHost, tmp_path: Path) -> None:
    """A host with sudo_password_env: the checks run "as root" (the login user is root: no sudo needed)."""
    inv = freebsd_host.inventory(tmp_path / "inventory.yaml", sudo_password_env="GDA_STANDIN_SUDO")
    env = {**os.environ, "GDA_STANDIN_SUDO": "unused"}
    r = gda("check-vm-config", "--guest", "xdev", "--inventory", str(inv), "--json", env=env)
    host = json.loads(r.stdout)["host"]
    assert host["root"] is True and host["ok"] is True and host["facts_error"] is None


def test_whole_disk_is_refused(freebsd_host: StandinHost, tmp_path: Path) -> None:
    code, data = check_json(freebsd_host, tmp_path, "--device", "/dev/diskid/DISK-Y39B70RTK7AS")
    assert code == 1
    disk = next(d for d in data["host"]["devices"] if d["from"] == "option")
    assert disk["ok"] is False and disk["size_bytes"] == 2000398934016 and disk["suggestion"] == P4


def _listening(port: int) -> list[str]:
    """The local addresses listening on ``port`` (/proc/net/tcp and tcp6, state 0A)."""
    out = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            addr, _, hexport = local.partition(":")
            if state == "0A" and int(hexport, 16) == port:
                out.append(addr)
    return out


def test_sshd_listens_on_loopback_only(freebsd_host: StandinHost) -> None:
    assert _listening(freebsd_host.port) == ["0100007F"]  # 127.0.0.1, little-endian hex


# ------------------------------------------------------------------------------ one source of truth
def _sections(text: str) -> list[str]:
    """The output cut into its framed sections (each BEGIN .. END as one string)."""
    return re.findall(r"@@GDA-\w+ BEGIN .*?@@GDA-\w+ END rc=\d+@@\n", text, flags=re.S)


def test_host_facts_over_ssh_equal_the_seed_data_case(freebsd_host: StandinHost) -> None:
    """host_facts.sh run through the stand-in's sshd for p4 prints what the data case
    tests/facts/host.facts/seed_host.json holds (written by the same functions from the same state), but
    the ``tools`` section (the stubs' paths)."""
    case = json.loads((FACTS / "seed_host.json").read_text())
    h = freebsd_host
    target = SshTarget(h.host, h.port, "root", identity_file=h.identity_file, known_hosts=h.known_hosts)
    with SshSession(target) as s:
        r = s.run(hf.render_host_facts([P4], nonce=SEED_NONCE))
    assert r.status == 0, r.stderr
    got, want = _sections(r.stdout), _sections(case["output"])
    assert len(got) == len(want) > 10
    assert r.stdout.splitlines()[0] == case["output"].splitlines()[0]  # header: nonce, uid=0
    for g, w in zip(got, want, strict=True):
        if " BEGIN tools " in w:
            assert g.count(f"{freebsd_host.bin}/") == 8, g
            continue
        assert g == w
    facts = hf.parse_host_facts(r.stdout)
    assert facts.complete and set(facts.zdb) == {f"/dev/diskid/DISK-Y39B70RTK7ASp{i}" for i in range(1, 6)}


# ------------------------------------------------------------------------------ the stubs themselves
@pytest.mark.parametrize("tool", TOOLS)
def test_unknown_arguments_fail_visibly(freebsd_host: StandinHost, tool: str) -> None:
    r = freebsd_host.run_stub(tool, "--no-such-option")
    assert r.returncode == 1 and r.stdout == ""
    assert r.stderr.lower().startswith("usage:"), r.stderr


def test_vm_conf_commands(freebsd_host: StandinHost) -> None:
    assert freebsd_host.run_stub("sysrc", "-n", "vm_dir").stdout == "zfs:zdata/vms\n"
    r = freebsd_host.run_stub("sysrc", "-n", "no_such_var")
    assert r.returncode == 1 and r.stderr == "sysrc: unknown variable 'no_such_var'\n"
    mp = freebsd_host.run_stub("zfs", "get", "-H", "-o", "value", "mountpoint", "zdata/vms").stdout.strip()
    assert Path(mp, "xdev", "xdev.conf").read_bytes() == SEED_CONF.read_bytes()
    r = freebsd_host.run_stub("zfs", "get", "-H", "-o", "value", "mountpoint", "zdata/nope")
    assert r.returncode == 1 and r.stderr == "cannot open 'zdata/nope': dataset does not exist\n"
    assert freebsd_host.run_stub("uname", "-sr").stdout == "FreeBSD 15.0-RELEASE\n"
    assert freebsd_host.run_stub("kldstat", "-q", "-m", "vmm").returncode == 0
    assert freebsd_host.run_stub("kldstat", "-q", "-m", "nope").returncode == 1


def _mkfs(kind: str, image: Path, label: str) -> None:
    exe = shutil.which(f"mkfs.{kind}", path="/usr/sbin:/sbin:/usr/bin:/bin")
    if exe is None:
        pytest.fail(f"mkfs.{kind} is missing (run bash .ci/run, which installs it)")
    with image.open("wb") as f:
        f.truncate((320 if kind == "xfs" else 8) * 1024 * 1024)
    args = ["-q", "-F", "-L", label] if kind == "ext4" else ["-q", "-f", "-L", label]
    subprocess.run([exe, *args, str(image)], check=True, capture_output=True)


def test_fstyp_probes_images_like_freebsd(freebsd_host: StandinHost, tmp_path: Path) -> None:
    """fstyp.c: ``ext2fs <label>`` for ext2/3/4 with -l; no XFS probe: "filesystem not recognized", exit 1."""
    _mkfs("ext4", tmp_path / "ext4.img", "gdadata")
    _mkfs("xfs", tmp_path / "xfs.img", "gdaxfs")
    freebsd_host.update(images={P4: str(tmp_path / "ext4.img"), P3: str(tmp_path / "xfs.img")})
    r = freebsd_host.run_stub("fstyp", "-l", "-u", P4)
    assert (r.returncode, r.stdout) == (0, "ext2fs gdadata\n")
    assert freebsd_host.run_stub("fstyp", P4).stdout == "ext2fs\n"
    r = freebsd_host.run_stub("fstyp", "-l", "-u", P3)
    assert (r.returncode, r.stdout, r.stderr) == (1, "", f"fstyp: {P3}: filesystem not recognized\n")
    # through check-vm-config: p4 holding an ext4 is a warning (an existing filesystem), not a refusal
    _, data = check_json(freebsd_host, tmp_path)
    (dev,) = data["host"]["devices"]
    assert dev["ok"] is True
    assert [f["severity"] for f in dev["findings"] if "ext2fs" in f["message"]] == ["warning"], dev


def test_scenarios_cite_their_sources() -> None:
    for path in SCENARIOS.glob("*.json"):
        data = json.loads(path.read_text())
        assert data["source"] and data["description"], path
