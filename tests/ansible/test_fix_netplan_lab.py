"""``gda.bhyve.fix_netplan`` through a real ``ansible-playbook`` against ONE lab guest whose NIC got renamed.

The bookworm lab guest boots with the NVMe disk at slot 5: the NIC moved to slot 6 (enp0s6), netplan
still names enp0s5, SSH is down (tests/lab/test_fix_netplan.py's ``broken`` layout). One playbook, with
``gather_facts: false`` (nothing answers SSH before the repair): the action in check mode (a dry run:
it reaches the guest through the console and changes nothing), the repair (through the console, then the
wait for Ansible's own connection), a command over that connection (as root through become) reading the
netplan file, and a rerun that finds nothing to fix over SSH. The guest's settings come from host
variables (``gda_console``, ``gda_mac``, ...) and Ansible's connection; the sudo password is Ansible's
become password (from the environment), the console password an environment variable the console names.
Own ports (ssh 2540, console 4840) and state folder.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from agent.lab import lifecycle as lab_ops
from agent.lab.recipe import CLOUD_INIT_NETPLAN
from tests.ansible.playbook_run import PlaybookRun, run_playbook
from tests.lab.conftest import Lab

pytestmark = pytest.mark.lab

SSH_PORT, CONSOLE_PORT = 2540, 4840
NETPLAN = "/etc/netplan/50-cloud-init.yaml"
MAC = "58:9c:fc:03:19:32"
FIXED = CLOUD_INIT_NETPLAN.replace("        enp0s5:\n", "        enp0s6:\n")

PLAYBOOK = f"""
- name: Repair the renamed NIC of the lab guest
  hosts: xdev
  gather_facts: false
  tasks:
    - name: Dry run (check mode)
      gda.bhyve.fix_netplan: {{}}
      check_mode: true
      register: r_dry
    - name: Repair through the console, then wait for the connection
      gda.bhyve.fix_netplan: {{}}
      register: r_fix
    - name: Ansible's own connection works again
      ansible.builtin.command: cat {NETPLAN}
      become: true
      changed_when: false
      register: r_netplan
    - name: Rerun
      gda.bhyve.fix_netplan: {{}}
      register: r_rerun
"""


def inventory(lab: Lab) -> str:
    p = lab.paths
    ssh_args = f"-o UserKnownHostsFile={p.known_hosts} -o StrictHostKeyChecking=yes -o IdentitiesOnly=yes"
    return f"""
all:
  hosts:
    xdev:
      ansible_host: 127.0.0.1
      ansible_port: {lab.ssh_port}
      ansible_user: admin
      ansible_ssh_private_key_file: {p.ssh_key}
      ansible_ssh_common_args: "{ssh_args}"
      ansible_python_interpreter: /usr/bin/python3
      ansible_become_password: "{{{{ lookup('ansible.builtin.env', 'XDEV_SUDO_PASSWORD') }}}}"
      gda_known_hosts: {p.known_hosts}
      gda_mac: "{MAC}"
      gda_netplan_file: {NETPLAN}
      gda_console:
        tcp: 127.0.0.1:{lab.console_port}
        user: root
        password_env: XDEV_CONSOLE_PASSWORD
"""


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    lab_ops.build()  # a cache hit once the image is built
    the_lab = Lab(
        state=tmp_path_factory.mktemp("lab-ansible-fix"), ssh_port=SSH_PORT, console_port=CONSOLE_PORT
    )
    try:
        yield the_lab
    finally:
        the_lab.down()


@pytest.fixture(scope="module")
def run(lab: Lab, tmp_path_factory: pytest.TempPathFactory) -> PlaybookRun:
    st = lab.boot(disk1=True)
    assert st.nic_name == "enp0s6"
    env = {"XDEV_SUDO_PASSWORD": lab.secrets["admin"], "XDEV_CONSOLE_PASSWORD": lab.secrets["root"]}
    work = tmp_path_factory.mktemp("fix-play")
    return run_playbook(work, PLAYBOOK, inventory(lab), target="xdev", env=env, args=("-v",), timeout=900)


def test_playbook_ran(run: PlaybookRun) -> None:
    assert run.returncode == 0, run.stdout[-5000:] + run.stderr[-2000:]
    assert "Traceback" not in run.stdout + run.stderr


def test_check_mode_is_the_dry_run(run: PlaybookRun) -> None:
    r = run.result("dry")
    assert r["action"] == "dry-run" and r["via"] == "console" and r["changed"] is True
    assert r["renames"] == {"enp0s5": "enp0s6"}
    assert r["fix"]["files"] == {NETPLAN: FIXED}
    assert "reconnect_seconds" not in r  # nothing changed: nothing to wait for


def test_repair_through_the_console_and_the_connection_comes_back(run: PlaybookRun) -> None:
    r = run.result("fix")
    assert r["changed"] is True and r["action"] == "fixed" and r["via"] == "console"
    assert r["renames"] == {"enp0s5": "enp0s6"} and r["interface"] == "enp0s6"
    assert "10.0.2.15/24" in r["addresses"]
    # the dry run wrote nothing: this run made the one backup
    (backup,) = r["fix"]["backups"]
    assert backup.startswith(f"{NETPLAN}.bak.")
    assert "files" not in r["fix"]  # the new YAML (it may hold Wi-Fi keys) only in a dry run
    assert isinstance(r["reconnect_seconds"], float) and r["reconnect_seconds"] < 60


def test_guest_holds_the_repaired_file(run: PlaybookRun) -> None:
    r = run.result("netplan")
    assert r["rc"] == 0 and r["stdout"] + "\n" == FIXED


def test_rerun_has_nothing_to_fix(run: PlaybookRun) -> None:
    r = run.result("rerun")
    assert r["changed"] is False and r["action"] == "nothing-to-fix" and r["via"] == "ssh"


def test_no_password_in_output_or_results(run: PlaybookRun, lab: Lab) -> None:
    seen = run.stdout + run.stderr + json.dumps(run.results)
    for name in ("admin", "root"):
        assert lab.secrets[name] not in seen, name
