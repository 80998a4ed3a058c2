"""``gda.bhyve.fix_netplan``'s refusals before it reaches any guest, through a real ``ansible-playbook``.

No lab: the host's address is a port nothing listens on, and each task fails on its settings before a
connection is tried (a missing password variable, via=console without a console, a bad console address,
an option the action does not take). Each failure is one message, never a traceback.
"""

from __future__ import annotations

from pathlib import Path

from tests.ansible.playbook_run import PlaybookRun, run_playbook

PLAYBOOK = """
- name: fix_netplan refusals
  hosts: guest
  gather_facts: false
  tasks:
    - name: The console password variable is not set
      gda.bhyve.fix_netplan:
        via: console
        console: {tcp: "127.0.0.1:1", password_env: GDA_TEST_UNSET_CONSOLE_PASSWORD}
      register: r_no_password
      ignore_errors: true
    - name: via=console without a console
      gda.bhyve.fix_netplan: {via: console}
      register: r_no_console
      ignore_errors: true
    - name: A console address that is not host:port
      gda.bhyve.fix_netplan:
        console: {tcp: "no-port-here"}
      register: r_bad_console
      ignore_errors: true
    - name: An option the action does not take
      gda.bhyve.fix_netplan: {netplan: /etc/netplan/x.yaml}
      register: r_bad_option
      ignore_errors: true
"""

INVENTORY = """
all:
  hosts:
    guest:
      ansible_host: 127.0.0.1
      ansible_port: 1
      ansible_user: admin
"""


def run(tmp_path: Path) -> PlaybookRun:
    return run_playbook(tmp_path / "play", PLAYBOOK, INVENTORY, target="guest")


def test_refusals_are_messages(tmp_path: Path) -> None:
    r = run(tmp_path)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-2000:]
    assert "Traceback" not in r.stdout + r.stderr
    no_pw = r.result("no_password")
    assert no_pw["failed"] is True and no_pw["changed"] is False
    assert "$GDA_TEST_UNSET_CONSOLE_PASSWORD, which is not set on the controller" in no_pw["msg"]
    assert "export GDA_TEST_UNSET_CONSOLE_PASSWORD" in no_pw["msg"]
    assert "via=console needs the console" in r.result("no_console")["msg"]
    bad = r.result("bad_console")
    assert bad["failed"] is True and bad["msg"].startswith("the guest's settings are not valid: console.tcp")
    assert "netplan" in r.result("bad_option")["msg"]
