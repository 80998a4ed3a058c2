#!/usr/bin/python
# Copyright: guest-disk-agent contributors
# BSD-2-Clause (see the repository's pyproject.toml)
# The work is done by the action plugin of the same name (plugins/action/fix_netplan.py), on the controller;
# this file carries its documentation (as ansible.builtin.reboot's module file does).

from __future__ import annotations

DOCUMENTATION = r"""
---
module: fix_netplan
short_description: Repair netplan for a renamed NIC through the guest's serial console
description:
  - Runs on the controller, like M(ansible.builtin.reboot). When a disk added at a lower PCI slot moved the
    guest's NIC (C(enp0s5) became C(enp0s6)) and netplan still names the old interface, SSH is gone; this
    action logs in on the guest's serial console (TCP, unix socket, a local command such as C(virsh console),
    or C(vm console) run over SSH on the bhyve host), repairs netplan for the renamed NIC with a way back
    (a backup, a timer and a boot unit that restore it unless the controller confirms over SSH), applies it,
    and then waits for Ansible's own connection to the guest to come back.
  - When SSH still answers (O(via=auto)) it repairs over SSH instead, and with O(match_mac=true) pins the NIC
    by MAC so that the next slot change cannot break it.
  - The same repair as C(gda fix-netplan) (the guest-disk-agent library, C(agent.ops.fix_netplan)).
  - The guest's address, port, user and private key are those of Ansible's connection to the host
    (C(ansible_host), C(ansible_port), C(ansible_user), C(ansible_ssh_private_key_file)).
  - The sudo password is read from the environment variable O(sudo_password_env), else Ansible's become
    password; the console password from the variable named by C(console.password_env). Neither is ever an
    argument, a result or a log line.
version_added: 0.1.0
author:
  - guest-disk-agent maintainers (!UNKNOWN)
requirements:
  - The guest-disk-agent Python package (C(agent)) installed in the controller's Python, the one that runs
    C(ansible-playbook).
options:
  via:
    description:
      - V(auto) uses SSH if it answers within a few seconds, else the serial console; V(ssh) or V(console)
        use only that.
    type: str
    choices: [auto, ssh, console]
    default: auto
  console:
    description:
      - The guest's serial console, as the guest-disk-agent inventory's C(console:) mapping; exactly one of
        C(tcp) (C(host:port)), C(unix) (a socket path), C(command) (a local command) or C(ssh)
        (C({host, command}) run on the hypervisor host, for example C(sudo vm console xdev)).
      - Also C(user) (default C(root)), C(password_env) (the name of the environment variable holding the
        console password), C(login_prompt), C(password_prompt), C(login_incorrect), C(shell_prompt) (extra
        regexes), C(prompt_timeout), C(command_timeout), C(login_timeout).
      - Defaults to the host variable C(gda_console).
    type: dict
  mac:
    description:
      - The NIC's MAC address (vm-bhyve's C(network0_mac)); lets the repair map netplan's entry to the renamed
        interface by MAC. Defaults to the host variable C(gda_mac).
    type: str
  netplan_file:
    description:
      - The netplan file to repair (default every file in C(/etc/netplan)). Defaults to the host variable
        C(gda_netplan_file).
    type: str
  match_mac:
    description:
      - Write C(match.macaddress) and C(set-name) for the NIC, so that the next slot change cannot break it.
    type: bool
    default: false
  pin_cloud_init:
    description:
      - Also write C(/etc/cloud/cloud.cfg.d/99-disable-network-config.cfg), so that cloud-init does not
        rewrite the repaired file.
    type: bool
    default: false
  deadline:
    description:
      - Seconds after the apply for the library's SSH to come back before the change is rolled back.
    type: float
    default: 90.0
  known_hosts:
    description:
      - The known_hosts file the library checks the guest's host key against (default the user's). Defaults
        to the host variable C(gda_known_hosts).
    type: path
  accept_new_host_key:
    description:
      - Accept and record an unknown host key of the guest (like OpenSSH's C(accept-new)); a changed key is
        always refused.
    type: bool
    default: false
  sudo_password_env:
    description:
      - The name of the environment variable (on the controller) holding the guest's sudo password; without
        it, Ansible's become password, else C(sudo -n). Defaults to the host variable
        C(gda_sudo_password_env).
    type: str
  wait_timeout:
    description:
      - Seconds to wait, after the repair, for Ansible's own connection to the guest to answer again.
    type: int
    default: 120
attributes:
  action:
    description: Runs on the controller (an action plugin), with the library's own SSH and console.
    support: full
  check_mode:
    description: Can run in check mode and return the changed status prediction without changing the guest.
    support: full
    details: The dry run; the console is still used to read the guest's network state, nothing is changed.
  diff_mode:
    description: Would return the changes made as a diff.
    support: none
  platform:
    description: The guests it repairs.
    support: full
    platforms: posix
notes:
  - Use it with C(gather_facts=false) in the play (SSH to the guest is down before the repair).
  - Leave the console alone while it runs; an Enter typed there confirms C(netplan try).
"""

EXAMPLES = r"""
- name: Repair the NIC rename through the TCP serial console
  gda.bhyve.fix_netplan:
    console:
      tcp: 127.0.0.1:4555
      user: root
      password_env: XDEV_CONSOLE_PASSWORD
    mac: 58:9c:fc:03:19:32
    netplan_file: /etc/netplan/50-cloud-init.yaml
    sudo_password_env: XDEV_SUDO_PASSWORD

- name: Pin the NIC by MAC while SSH still works, through vm console on the bhyve host
  gda.bhyve.fix_netplan:
    via: ssh
    match_mac: true
    console:
      ssh: {host: bhyvehost, command: sudo vm console xdev}
      password_env: FLEET_CONSOLE_PASSWORD
"""

RETURN = r"""
action:
  description: V(fixed), V(nothing-to-fix), V(pinned) (only the cloud-init pin written) or V(dry-run).
  returned: success
  type: str
  sample: fixed
via:
  description: How the guest was reached, V(ssh) or V(console).
  returned: success
  type: str
  sample: console
renames:
  description: Old interface name to new one.
  returned: success
  type: dict
  sample: {enp0s5: enp0s6}
changes:
  description: What the repair changes (or would change, in check mode).
  returned: success
  type: list
  elements: str
interface:
  description: The repaired interface, read back over the new SSH connection.
  returned: success
  type: str
  sample: enp0s6
addresses:
  description: Its addresses.
  returned: success
  type: list
  elements: str
  sample: [10.0.2.15/24]
fix:
  description: The library's whole outcome (backups, apply method, seconds to SSH, notes; in check mode also
    the new files' text).
  returned: success
  type: dict
reconnect_seconds:
  description: Seconds until Ansible's own connection answered after the repair.
  returned: when not in check mode
  type: float
elapsed:
  description: Seconds the task took.
  returned: success
  type: float
error:
  description: On failure, the library's error kind (V(refused), V(usage), V(failed), V(unreachable), ...)
    and its exit code.
  returned: failure
  type: dict
"""
