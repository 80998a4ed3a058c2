"""``gda.bhyve.guest_disk`` through a real ``ansible-playbook`` against ONE trixie lab guest (python3 on it).

One boot (disk1 = NVMe, serial Y39B70RTK7AS, blank; the NIC kept at slot 5 so SSH works) and one playbook:
the module in check mode (the plan, as a diff; nothing changes: ``blkid -p`` on the guest finds nothing),
the format (changed, the UUID returned and the guest's ``blkid -p`` agreeing), the rerun (changed=false, the
same UUID), then a GPT written on the disk and the module failing with gda's reason. Ansible reaches the
guest over its own SSH with ``become``; the sudo password is the become password, read from the
environment (never in argv). Own ports (ssh 2520, console 4820) and state folder.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.lab import lifecycle as lab_ops
from tests.ansible.playbook_run import PlaybookRun, run_playbook
from tests.lab.conftest import Lab
from tests.lab.test_format import SERIAL, blkid_image

pytestmark = pytest.mark.lab

SSH_PORT, CONSOLE_PORT = 2520, 4820
BLKID = "blkid -p -o export {{ r_check.device }}"

PLAYBOOK = f"""
- name: Format the lab guest's passed-through disk with gda.bhyve.guest_disk
  hosts: xdev
  gather_facts: false
  become: true
  tasks:
    - name: Check mode is the dry run
      gda.bhyve.guest_disk:
        fs: ext4
        label: data
        serial: {SERIAL}
      check_mode: true
      diff: true
      register: r_check
    - name: Nothing was made
      ansible.builtin.command: {BLKID}
      register: r_blkid_after_check
      changed_when: false
      failed_when: r_blkid_after_check.rc not in [0, 2]
    - name: Format
      gda.bhyve.guest_disk:
        fs: ext4
        label: data
        serial: {SERIAL}
      diff: true
      register: r_format
    - name: The guest sees the new filesystem
      ansible.builtin.command: {BLKID}
      register: r_blkid_after_format
      changed_when: false
    - name: Rerun with the same options
      gda.bhyve.guest_disk:
        fs: ext4
        label: data
        serial: {SERIAL}
      register: r_rerun
    - name: Replace the filesystem with a partition table
      ansible.builtin.shell: >-
        wipefs -a -q {{{{ r_check.device }}}} &&
        echo 'label: gpt' | sfdisk -q {{{{ r_check.device }}}} && sync
      changed_when: true
    - name: A partitioned disk is refused, even with force
      gda.bhyve.guest_disk:
        fs: ext4
        serial: {SERIAL}
        force: true
      register: r_partitioned
      ignore_errors: true
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
"""


def export(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    lab_ops.build(flavour="trixie")  # a cache hit once the image is built
    the_lab = Lab(
        state=tmp_path_factory.mktemp("lab-ansible-disk"), ssh_port=SSH_PORT, console_port=CONSOLE_PORT
    )
    try:
        yield the_lab
    finally:
        the_lab.down()


@pytest.fixture(scope="module")
def run(lab: Lab, tmp_path_factory: pytest.TempPathFactory) -> PlaybookRun:
    lab.boot(flavour="trixie", disk1=True, nic_slot=5)
    assert blkid_image(lab.paths.disk(1)) == {}, "a fresh boot has an empty disk1"
    work: Path = tmp_path_factory.mktemp("play-guest-disk")
    r = run_playbook(
        work, PLAYBOOK, inventory(lab), target="xdev", env={"XDEV_SUDO_PASSWORD": lab.secrets["admin"]}
    )
    assert lab.secrets["admin"] not in r.stdout + r.stderr, "the become password leaked into the output"
    assert "Traceback" not in r.stdout + r.stderr
    return r


def test_check_mode_plans_and_changes_nothing(run: PlaybookRun) -> None:
    check = run.result("check")
    assert check.get("failed") is not True, run.stdout[-3000:]
    assert check["changed"] is True and check["action"] == "dry-run"
    assert check["uuid"] is None and check["serial"] == SERIAL and check["fs"] == "ext4"
    assert check["mkfs_command"][0] == "mkfs.ext4" and check["mkfs_command"][-1] == check["device_path"]
    diff = check["diff"]
    assert "no filesystem or other signature" in diff["before"] and "ext4, label data" in diff["after"]
    blkid = run.result("blkid_after_check")
    assert blkid["rc"] == 2 and blkid["stdout"] == "", blkid


def test_format_returns_the_uuid_the_guest_sees(run: PlaybookRun) -> None:
    fmt = run.result("format")
    assert fmt.get("failed") is not True, fmt.get("msg")
    assert fmt["changed"] is True and fmt["action"] == "formatted"
    assert fmt["device"] == run.result("check")["device"] and fmt["serial"] == SERIAL
    seen = export(run.result("blkid_after_format")["stdout"])
    assert seen["TYPE"] == "ext4" and seen["LABEL"] == "data"
    assert fmt["uuid"] and seen["UUID"] == fmt["uuid"]


def test_rerun_is_not_a_change(run: PlaybookRun) -> None:
    rerun = run.result("rerun")
    assert rerun.get("failed") is not True, rerun.get("msg")
    assert rerun["changed"] is False and rerun["action"] == "nothing-to-do"
    assert rerun["uuid"] == run.result("format")["uuid"]


def test_a_partitioned_disk_fails_with_the_reason(run: PlaybookRun, lab: Lab) -> None:
    part = run.result("partitioned")
    assert part["failed"] is True and part["changed"] is False
    assert "partition table" in part["msg"] and "would hide the filesystem from the host" in part["msg"]
    assert "--" not in part["msg"].split("hint:")[0], "options are named as the module's, not gda's flags"
    host = blkid_image(lab.paths.disk(1))
    assert host.get("PTTYPE") == "gpt" and "TYPE" not in host  # nothing was made over it
