"""``gda.bhyve.vm_config`` through a real ``ansible-playbook`` against the stand-in FreeBSD host.

Ansible's ssh connection logs in to the stand-in's sshd (its key and known_hosts, strict host key
checking); the module runs there under the host's ``python3`` with pipelining (the stand-in's sshd has a
ForceCommand: no sftp/scp), and its commands are the stand-in's FreeBSD stubs. One playbook run covers: a
clean conf, the seed's conf (the NIC rename it causes, p4 accepted), p3 refused naming pool zdata with p4
suggested, a conf that passes p3 through, check mode, fail_on_warnings and a bad partition path. The
results are the module's own return values (tests/ansible/playbook_run.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.ansible.playbook_run import PlaybookRun, run_playbook
from tests.standin.host import StandinHost, missing_requirements
from tests.standin.scenario import REPO, SCENARIOS, scenario_path

P3 = "/dev/diskid/DISK-Y39B70RTK7ASp3"
P4 = "/dev/diskid/DISK-Y39B70RTK7ASp4"
CLEAN_CONF = SCENARIOS / "xdev_attach.conf"  # the seed's guest before the attach: no passed-through disk
P3_CONF = SCENARIOS / "xdev_p3.conf"

PLAYBOOK = f"""
- name: vm_config on the stand-in host
  hosts: standin
  gather_facts: false
  tasks:
    - name: A clean conf, p4 checked too
      gda.bhyve.vm_config: {{vm: clean, partition: {P4}}}
      register: r_clean
    - name: The seed's conf (p4 as disk1 moves the NIC)
      gda.bhyve.vm_config: {{vm: xdev}}
      register: r_rename
    - name: The same in check mode
      gda.bhyve.vm_config: {{vm: xdev}}
      check_mode: true
      register: r_check_mode
    - name: p3 asked for
      gda.bhyve.vm_config: {{vm: xdev, partition: {P3}}}
      register: r_p3
      ignore_errors: true
    - name: A conf passing p3 through
      gda.bhyve.vm_config: {{vm: xdevp3}}
      register: r_p3_conf
      ignore_errors: true
    - name: Warnings fail on request
      gda.bhyve.vm_config: {{vm: xdev, fail_on_warnings: true}}
      register: r_strict
      ignore_errors: true
    - name: A partition path the check does not take
      gda.bhyve.vm_config: {{vm: xdev, partition: "/dev/x;reboot"}}
      register: r_bad_path
      ignore_errors: true
"""


def inventory(host: StandinHost) -> str:
    ssh_args = f"-o UserKnownHostsFile={host.known_hosts} -o StrictHostKeyChecking=yes -o IdentitiesOnly=yes"
    return f"""
all:
  hosts:
    standin:
      ansible_host: {host.host}
      ansible_port: {host.port}
      ansible_user: {host.user}
      ansible_ssh_private_key_file: {host.identity_file}
      ansible_ssh_common_args: "{ssh_args}"
      ansible_ssh_pipelining: true
      ansible_python_interpreter: /usr/bin/python3
"""


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PlaybookRun]:
    why = missing_requirements()
    if why is not None:
        pytest.fail(f"stand-in FreeBSD host: {why} (run bash .ci/run, which installs openssh-server)")
    tmp = tmp_path_factory.mktemp("vm-config")
    host = StandinHost(scenario_path("seed"), tmp / "standin").start()
    try:
        host.write_file("/zdata/vms/clean/clean.conf", CLEAN_CONF.read_bytes())
        host.write_file("/zdata/vms/xdevp3/xdevp3.conf", P3_CONF.read_bytes())
        yield run_playbook(tmp / "play", PLAYBOOK, inventory(host), target="standin")
    finally:
        host.stop()


def devices(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {d["device"]: d for d in result["host"]["devices"]}


def test_playbook_ran(run: PlaybookRun) -> None:
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert "Traceback" not in run.stdout + run.stderr
    assert run.seconds < 120, run.seconds


def test_clean_conf_has_no_finding_and_p4_may_be_passed_through(run: PlaybookRun) -> None:
    r = run.result("clean")
    assert r["changed"] is False and not r.get("failed") and r["ok"] is True
    assert r["refusals"] == [] and r["renames"] == [] and not r.get("warnings")
    assert r["origin"].endswith("/zdata/vms/clean/clean.conf")
    assert r["conf"]["counts"] == {"error": 0, "warning": 0, "info": 2}
    p4 = devices(r)[P4]
    assert p4["from"] == "option" and p4["ok"] is True and p4["partition_type"] == "linux-data"
    assert p4["size_bytes"] == 274877906944


def test_seed_conf_predicts_the_nic_rename(run: PlaybookRun) -> None:
    r = run.result("rename")
    assert r["changed"] is False and not r.get("failed") and r["ok"] is True
    assert r["renames"] == [{"nic": 0, "old": "enp0s5", "new": "enp0s6"}]
    (rename,) = r["warnings"]  # shown as Ansible's warning
    assert "network0 moves from slot 5 to slot 6: enp0s5 → enp0s6" in rename
    assert "--match-mac" in rename  # gda's own flag: not an option of this module
    codes = {f["code"]: f["severity"] for f in r["conf"]["findings"]}
    assert codes["nic-rename"] == "warning"
    p4 = devices(r)[P4]  # the conf's disk1: accepted, with the serial the guest will see
    assert p4["from"] == "conf" and p4["conf_disk"] == 1 and p4["ok"] is True
    assert {f["code"]: f["data"] for f in p4["findings"]}["guest-serial"] == {
        "serial": "NVME-5-0",
        "source": "slot",
    }


def test_check_mode_reports_the_same(run: PlaybookRun) -> None:
    a, b = run.result("rename"), run.result("check_mode")
    assert b["changed"] is False and b["renames"] == a["renames"] and b["host"] == a["host"]


def test_p3_is_refused_naming_the_pool_and_p4_suggested(run: PlaybookRun) -> None:
    r = run.result("p3")
    assert r["failed"] is True and r["changed"] is False and r["ok"] is False
    assert r["msg"].startswith("refused: ")
    assert f"{P3} (nda0p3) must not be passed through" in r["msg"]
    assert "imported ZFS pool zdata" in r["msg"]
    assert f"{P4} on the same disk is the one linux-data partition that fits" in r["msg"]
    p3 = devices(r)[P3]
    assert p3["ok"] is False and p3["partition_type"] == "freebsd-zfs" and p3["suggestion"] == P4
    assert devices(r)[P4]["ok"] is True  # the conf's own disk1 is still fine


def test_conf_passing_p3_is_refused(run: PlaybookRun) -> None:
    r = run.result("p3_conf")
    assert r["failed"] is True and "zdata" in r["msg"]
    assert devices(r)[P3]["from"] == "conf"


def test_fail_on_warnings(run: PlaybookRun) -> None:
    r = run.result("strict")
    assert r["failed"] is True and r["msg"].startswith("warnings (fail_on_warnings): network0 moves")


def test_bad_partition_path_names_the_module_option(run: PlaybookRun) -> None:
    r = run.result("bad_path")
    assert r["failed"] is True
    assert "'/dev/x;reboot' is not a device path the host check can take" in r["msg"]
    assert "give partition a /dev/... path" in r["msg"], r["msg"]


def test_module_utils_closure_is_stdlib_only() -> None:
    """What the module imports from agent/ imports nothing beyond the standard library."""
    import subprocess
    import sys

    code = (
        "import sys; before = set(sys.modules); import agent.ops.vm_config_check; "
        "extra = {m.split('.')[0] for m in set(sys.modules) - before}; "
        "extra -= set(sys.stdlib_module_names) | {'agent'}; "
        "print(sorted(extra))"
    )
    r = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert r.stdout.strip() == "[]", r.stdout
