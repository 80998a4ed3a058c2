"""The inventory (``inventory.yaml``): which guests exist and how to reach them.

Schema (every key is optional unless marked *required*)::

    hosts:                                    # the FreeBSD hypervisor hosts (vm-bhyve), by name
      bhyvehost:
        host: 192.168.7.1                     # *required*: address or an ~/.ssh/config alias
        port: 22                              # port/user/identity_file/known_hosts as for a guest
        user: admin
        sudo_password_env: BHYVE_SUDO_PASSWORD  # optional: with it the host checks run as root via sudo
        vm_command: vm                        # default vm (vm-bhyve's); e.g. "sudo vm", "doas vm"
    guests:
      xdev:                                   # the guest's name (--guest NAME)
        host: 192.168.7.200                   # *required*: address or an ~/.ssh/config alias
        port: 22                              # 1..65535
        user: admin
        identity_file: ~/.ssh/id_ed25519      # ~ expanded; relative paths are relative to inventory.yaml
        known_hosts: ~/.ssh/known_hosts       # default: the user's known_hosts
        sudo_password_env: XDEV_SUDO_PASSWORD # the NAME of the env var holding the sudo password
        on: bhyvehost                         # its host under hosts: (check-vm-config --guest xdev)
        disk:                                 # pins for the passed-through disk
          serial: Y39B70RTK7AS
          model: bhyve-NVMe
          size: 256GiB                        # 256GiB = 256G = 274877906944; 500GB is decimal
          host_path: /dev/diskid/DISK-Y39B70RTK7ASp4   # where the hypervisor host sees it (hints)
          host_os: freebsd                    # linux | freebsd: the OS of the hypervisor host
        network:
          mac: 58:9c:fc:03:19:32              # the NIC's MAC (vm-bhyve's network0_mac)
          netplan_file: /etc/netplan/50-cloud-init.yaml  # absolute path in the guest
        console:                              # exactly one of tcp / unix / command / ssh
          tcp: 127.0.0.1:4555                 # also [::1]:4555
          # unix: /var/run/xdev.console
          # command: virsh console xdev
          # ssh: {host: bhyvehost, command: sudo vm console xdev}   # plus port/user/identity_file/known_hosts
          user: root                          # default root
          password_env: XDEV_CONSOLE_PASSWORD # the NAME of the env var holding the console password
          password_prompt: '(?i)kennwort:'    # extra regexes (one or a list), added to the built-in
          # login_prompt / login_incorrect / shell_prompt  ... localized ones (de fr es it pt ru pl nl ja zh)
          prompt_timeout: 10                  # seconds per prompt wait (default 10)
          command_timeout: 120                # seconds per console command (default 120)
          login_timeout: 60                   # seconds for a whole login (default: unbounded)

A guest ``on:`` a host and without ``console:`` gets the console ``<vm_command> console <guest>`` over
SSH to that host (an ``ssh:`` console); an ``on:`` naming no host under ``hosts:`` is an error located on
its line, with the closest host name.

``disk.host_os`` is where issue 5's "``host: {os: freebsd}``" setting lives: ``host`` is already the guest's
SSH address, so the OS of the hypervisor host that will mount the filesystem is a disk setting.
``host_os: freebsd`` makes ``--host-compat freebsd`` the default for that guest.

Secrets never belong in the inventory: keys such as ``password``, ``sudo_password`` or ``passphrase`` are
rejected anywhere; the inventory names environment variables instead (``*_password_env``) and
:func:`resolve_secret` reads them (or prompts).

Unknown keys are errors that name the key, its path, its file:line:column and the closest allowed key. All
expected failures raise :class:`InventoryError` (a :class:`~agent.errors.UsageError`, exit 2).

``groups:`` (members, ``vars:``, ``priority:``; ``all`` is every guest) share settings; the loader merges
them into each guest as Ansible merges group_vars (:mod:`~agent.inventory.groups` states the rule), and
:func:`select_guests` picks guests by ``--limit`` pattern and ``--guest`` names
(:mod:`~agent.inventory.limit`).

Modules: :mod:`~agent.inventory.schema` (the models and value validators), :mod:`~agent.inventory.loader`
(reading the file, located problems), :mod:`~agent.inventory.groups` (group tree and merge),
:mod:`~agent.inventory.limit` (selection), :mod:`~agent.inventory.inventory_secrets` (secret keys refused,
:func:`resolve_secret`). Import the public names from ``agent.inventory``.
"""

from __future__ import annotations

from agent.core.values import HostPort
from agent.inventory.inventory_secrets import resolve_secret
from agent.inventory.limit import Selected, select_guests
from agent.inventory.loader import DEFAULT_INVENTORY, InventoryError, Problem, load_inventory
from agent.inventory.schema import (
    ConsoleSettings,
    DiskPins,
    DiskSize,
    Group,
    Guest,
    Host,
    Inventory,
    NetworkSettings,
    SSHConsole,
    parse_disk_size,
)

__all__ = [
    "DEFAULT_INVENTORY",
    "ConsoleSettings",
    "DiskPins",
    "DiskSize",
    "Group",
    "Guest",
    "Host",
    "HostPort",
    "Inventory",
    "InventoryError",
    "NetworkSettings",
    "Problem",
    "SSHConsole",
    "Selected",
    "load_inventory",
    "parse_disk_size",
    "resolve_secret",
    "select_guests",
]
