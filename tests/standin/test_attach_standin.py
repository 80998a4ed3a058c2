"""``gda attach`` against the stand-in FreeBSD host (a real sshd on loopback, FreeBSD's commands as stubs
answering from tests/standin/scenarios/seed.json; no VM): the refusals and the dry run, where nothing
may change on the host. The full run (the pin by MAC needs a real guest) is a lab test."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from agent.ops.attach_op import AttachFailure, AttachOptions, HostSide, _Attach
from agent.transport.ssh import SshSession, SshTarget
from tests.cli.gda_run import gda
from tests.standin.host import StandinHost, free_port
from tests.standin.scenario import REPO

P3 = "/dev/diskid/DISK-Y39B70RTK7ASp3"
P4 = "/dev/diskid/DISK-Y39B70RTK7ASp4"
CONF = "/zdata/vms/xdev/xdev.conf"
SEED = (REPO / "tests" / "fixtures" / "vmbhyve" / "xdev.conf").read_text()
NO_DISK1 = "".join(ln for ln in SEED.splitlines(keepends=True) if not ln.startswith("disk1_"))


def conf_file(host: StandinHost) -> Path:
    return host.root / CONF.lstrip("/")


def backups(host: StandinHost) -> list[str]:
    return sorted(p.name for p in conf_file(host).parent.iterdir() if ".bak." in p.name)


def inventory(host: StandinHost, tmp_path: Path, *, guest_port: int | None = None) -> Path:
    """The stand-in as the guest's host; the guest itself at 192.0.2.10 (never reached by these tests)
    or, with ``guest_port``, at a loopback port where nothing listens."""
    inv = host.inventory(tmp_path / "inventory.yaml")
    if guest_port is not None:
        where = f"    host: 127.0.0.1\n    port: {guest_port}\n"
        inv.write_text(inv.read_text().replace("    host: 192.0.2.10\n", where))
    return inv


def attach(host: StandinHost, tmp_path: Path, *args: str, inv: Path | None = None) -> tuple[int, Any, str]:
    inv = inv or inventory(host, tmp_path)
    r = gda("attach", "--guest", "xdev", "--inventory", str(inv), *args, timeout=120)
    assert "Traceback" not in r.stderr, r.stderr
    data = json.loads(r.stdout) if "--json" in args else None
    return r.returncode, data, r.stdout + r.stderr


def test_p3_is_refused_naming_the_pool_and_p4(freebsd_host: StandinHost, tmp_path: Path) -> None:
    freebsd_host.write_file(CONF, NO_DISK1)
    code, data, _ = attach(freebsd_host, tmp_path, "--device", P3, "--json")
    assert code == 1 and data["ok"] is False
    err = data["error"]
    assert err["kind"] == "refused" and err["exit_code"] == 1
    assert "zdata" in err["message"] and P4 in err["hint"], err
    assert data["action"] == "refused"
    assert [(s["key"], s["status"]) for s in data["steps_done"]] == [("host-check", "failed")]
    (dev,) = [d for d in data["host"]["devices"] if d["device"] == P3]
    assert dev["ok"] is False and dev["suggestion"] == P4
    assert conf_file(freebsd_host).read_text() == NO_DISK1 and backups(freebsd_host) == []


def test_p3_refusal_in_text(freebsd_host: StandinHost, tmp_path: Path) -> None:
    freebsd_host.write_file(CONF, NO_DISK1)
    code, _, out = attach(freebsd_host, tmp_path, "--device", P3)
    assert code == 1
    assert f"{P3} (from --device)" in out and "REFUSED" in out
    assert "refused:" in out and "zdata" in out and P4 in out
    assert conf_file(freebsd_host).read_text() == NO_DISK1


def test_p4_dry_run_shows_the_diff_and_the_steps(freebsd_host: StandinHost, tmp_path: Path) -> None:
    freebsd_host.write_file(CONF, NO_DISK1)
    code, data, _ = attach(freebsd_host, tmp_path, "--device", P4, "--dry-run", "--json")
    assert code == 0 and data["ok"] is True and data["action"] == "dry-run"
    assert data["disk_index"] == 1 and data["serial"] == "Y39B70RTK7ASp4"
    assert data["size_bytes"] == 274877906944
    (dev,) = data["host"]["devices"]
    serial = next(f for f in dev["findings"] if f["code"] == "guest-serial")
    assert serial["data"] == {"serial": "Y39B70RTK7ASp4", "source": "attach"}
    assert dev["serial"] == "Y39B70RTK7ASp4"
    vm_dir = str(freebsd_host.root / "zdata/vms/xdev")
    assert data["conf"] == f"{vm_dir}/xdev.conf"
    assert data["backup"].startswith(f"{vm_dir}/xdev.conf.bak.")
    added = [ln for ln in data["diff"].splitlines() if ln.startswith("+") and not ln.startswith("+++")]
    assert added == [
        '+disk1_type="nvme"',
        '+disk1_dev="custom"',
        f'+disk1_name="{P4}"',
        '+disk1_opts="ser=Y39B70RTK7ASp4"',
    ]
    keys = [s["key"] for s in data["plan"]["steps"]]
    assert keys == ["host-check", "pin-nic", "backup", "edit-conf", "verify-conf", "show-diff", "stop",
                    "wait-stopped", "start", "wait-running", "wait-ssh", "format"]  # fmt: skip
    pin = data["plan"]["steps"][1]
    assert pin["data"]["renames"] == [{"nic": 0, "from": "enp0s5", "to": "enp0s6"}]
    assert data["format_command"] == "format --guest xdev --fs ext4 --serial Y39B70RTK7ASp4"
    assert any("size: 274877906944" in n for n in data["next"])
    assert [s["key"] for s in data["steps_done"]] == ["host-check"]
    assert conf_file(freebsd_host).read_text() == NO_DISK1 and backups(freebsd_host) == []


def test_p4_dry_run_in_text_through_host_option(freebsd_host: StandinHost, tmp_path: Path) -> None:
    freebsd_host.write_file(CONF, NO_DISK1)
    home = freebsd_host.ssh_config_home(tmp_path / "home")
    args = ["--host", "127.0.0.1", "--port", str(freebsd_host.port), "--user", "root", "--vm", "xdev"]
    r = gda("attach", *args, "--device", P4, "--dry-run", env={**os.environ, "HOME": str(home)}, timeout=120)
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stdout + r.stderr
    assert "dry run: nothing was changed" in r.stdout
    assert f'+disk1_name="{P4}"' in r.stdout
    assert "fix-netplan --guest xdev --match-mac" in r.stdout and "vm stop xdev" in r.stdout
    assert "format --guest xdev --fs ext4 --serial Y39B70RTK7ASp4" in r.stdout
    assert conf_file(freebsd_host).read_text() == NO_DISK1


def test_host_option_without_dry_run_is_bad_usage(freebsd_host: StandinHost, tmp_path: Path) -> None:
    r = gda("attach", "--host", "127.0.0.1", "--vm", "xdev", "--device", P4, "--json")
    assert r.returncode == 2 and json.loads(r.stdout)["error"]["kind"] == "usage"
    assert "--dry-run" in json.loads(r.stdout)["error"]["message"]


def test_leftover_disk_keys_are_refused(freebsd_host: StandinHost, tmp_path: Path) -> None:
    text = NO_DISK1 + 'disk1_opts="ser=OLD"\n'
    freebsd_host.write_file(CONF, text)
    code, data, _ = attach(freebsd_host, tmp_path, "--device", P4, "--dry-run", "--json")
    assert code == 1 and data["error"]["kind"] == "refused"
    assert "leftover disk keys" in data["error"]["message"] and "disk1_opts" in data["error"]["message"]
    assert conf_file(freebsd_host).read_text() == text and backups(freebsd_host) == []


def test_a_stopped_guest_is_refused_before_any_change(freebsd_host: StandinHost, tmp_path: Path) -> None:
    freebsd_host.write_file(CONF, NO_DISK1)
    code, data, _ = attach(freebsd_host, tmp_path, "--device", P4, "--json")
    assert code == 1 and data["error"]["kind"] == "refused"
    assert "xdev is not running" in data["error"]["message"] and "vm start xdev" in data["error"]["hint"]
    assert conf_file(freebsd_host).read_text() == NO_DISK1 and backups(freebsd_host) == []


def test_an_unreachable_guest_is_exit_4_no_change(freebsd_host: StandinHost, tmp_path: Path) -> None:
    freebsd_host.write_file(CONF, NO_DISK1)
    freebsd_host.update(running=["xdev"])
    inv = inventory(freebsd_host, tmp_path, guest_port=free_port())
    code, data, _ = attach(freebsd_host, tmp_path, "--device", P4, "--json", inv=inv)
    assert code == 4 and data["error"]["kind"] == "unreachable"
    assert "the guest does not answer over SSH" in data["error"]["message"]
    assert conf_file(freebsd_host).read_text() == NO_DISK1 and backups(freebsd_host) == []


def test_already_attached_but_guest_stopped_is_refused(freebsd_host: StandinHost, tmp_path: Path) -> None:
    """The seed's conf has p4 as disk1 already (without ser=): not a no-op while the guest is stopped."""
    code, data, _ = attach(freebsd_host, tmp_path, "--device", P4, "--json")
    assert code == 1 and data["error"]["kind"] == "refused"
    msg = data["error"]["message"]
    assert f"{P4} is already disk1 of xdev.conf (disk1_name on line 11)" in msg
    assert "the guest is not running" in msg and "ser=" not in msg  # NVMe: bhyve's NVME-5-0 serial
    assert data["serial"] == "NVME-5-0"
    assert "not `vm restart`" in data["error"]["hint"]
    assert conf_file(freebsd_host).read_text() == SEED and backups(freebsd_host) == []


# ------------------------------------------------------------------------------ the host's side of a run
# The full run needs a guest for the pin by MAC and the wait for SSH (the lab test does that). Here the
# three guest steps are replaced (and named so in the record) to run every host step for real: backup,
# write_file, the read-back, vm stop/list/start of the stand-in's state mode.


class HostStepsOnly(_Attach):
    def _guest_macs(self, report: Any) -> dict[int, str]:
        return {0: "58:9c:fc:03:19:32"}

    def _pin(self) -> str:
        return "replaced: no guest in this test"

    def _wait_ssh(self, serial: str) -> str:
        return "replaced: no guest in this test"


def host_run(host: StandinHost, **opts: Any) -> tuple[HostStepsOnly, SshSession]:
    target = SshTarget(host.host, host.port, "root", identity_file=host.identity_file,
                       known_hosts=host.known_hosts)  # fmt: skip
    s = SshSession(target).open()
    a = HostStepsOnly(HostSide(s, "xdev"), "xdev", None, AttachOptions(P4, **opts), log=lambda _: None,
                      stamp="20261202T021500Z")  # fmt: skip
    return a, s


def test_host_steps_of_a_run(freebsd_host: StandinHost) -> None:
    freebsd_host.write_file(CONF, NO_DISK1)
    freebsd_host.update(running=["xdev"])
    a, s = host_run(freebsd_host)
    with s:
        out = a.run()
        listed = s.run("vm list").stdout
    assert out.action == "attached"
    assert [st.key for st in out.steps] == ["host-check", "pin-nic", "backup", "edit-conf", "verify-conf",
                                            "show-diff", "stop", "wait-stopped", "start", "wait-running",
                                            "wait-ssh", "format"]  # fmt: skip
    done = {st.key: st for st in out.steps}
    assert done["verify-conf"].detail == f"vm-bhyve reads disk1 nvme {P4} at 5:0"
    assert "Stopped, /dev/vmm/xdev gone after" in done["wait-stopped"].detail
    assert "Running (" in done["wait-running"].detail and "/dev/vmm/xdev there" in done["wait-running"].detail
    assert done["format"].status == "next"
    new = conf_file(freebsd_host).read_text()
    assert new == NO_DISK1.replace(
        'disk0_type="virtio-blk"\n',
        f'disk0_type="virtio-blk"\ndisk1_type="nvme"\ndisk1_dev="custom"\ndisk1_name="{P4}"\n'
        'disk1_opts="ser=Y39B70RTK7ASp4"\n',
    )
    assert backups(freebsd_host) == ["xdev.conf.bak.20261202T021500Z"]
    assert (conf_file(freebsd_host).parent / backups(freebsd_host)[0]).read_text() == NO_DISK1
    assert "Running (" in listed


def test_a_guest_that_does_not_stop_gets_its_conf_back(freebsd_host: StandinHost) -> None:
    freebsd_host.write_file(CONF, NO_DISK1)
    freebsd_host.update(running=["xdev"], stop_hangs=["xdev"])
    a, s = host_run(freebsd_host, stop_wait=1.5)
    with s, pytest.raises(AttachFailure) as caught:
        a.run()
    e = caught.value.error
    assert e.exit_code == 3 and "xdev is not Stopped after 1.5s" in e.message
    assert e.message.endswith("was restored (nothing else of it changed)")
    out = caught.value.outcome
    assert out.conf_restored and [st.key for st in out.steps][-2:] == ["wait-stopped", "restore"]
    assert out.steps[-2].status == "failed"
    assert conf_file(freebsd_host).read_text() == NO_DISK1
    assert backups(freebsd_host) == ["xdev.conf.bak.20261202T021500Z"]
