"""The task's SSH connection, begun a few milliseconds into the process (:mod:`agent.transport.early_open`).

:func:`start` runs first in ``gda`` (:mod:`agent.cli.main`), before invoke, pydantic or the task's modules
load. It looks at the command line and the inventory file just enough to know where the task will
connect: :func:`request` (which task, which inventory, which guest) and :func:`endpoint` (that guest's
:class:`~agent.transport.ssh.SshTarget`: host, port, user and key files, read from the YAML as the
inventory's loader would read them). When
both say (one of :data:`EARLY_TASKS`, or of :data:`PROBE_TASKS` through ``--via auto``; one guest, no
fleet option, no ``--accept-new-host-key``, no ``-h``, no ``groups:`` whose vars could change the
guest), the TCP connection starts at once and the SSH session opens on it in the background while the
program loads (a probe task's watching for the banner: ``fix-netplan`` logs in on the console when SSH
stays silent, and that wait now begins with the process).

Nothing here decides anything for the task: the task loads and validates the inventory as always, and
takes the early session only if it is the one it would have opened (:func:`early_open.claim` compares the
whole :class:`~agent.transport.ssh.SshTarget`). A guess that is wrong (an option spelled another way, a
config file naming another inventory) costs a connection opened and closed unused, nothing else: no
command runs on it, and it accepts no new host key.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from agent.core.values import local_path
from agent.transport.ssh_types import SshTarget

#: the tasks whose first step is the guest's SSH session (``target.ssh()``)
EARLY_TASKS = frozenset({"format", "disks"})

#: the tasks whose first step is ``--via auto``'s SSH probe (:mod:`agent.ops.ssh_or_console`), begun
#: early with its timeout and its eye on the banner, when ``--via`` is not given or is ``auto``
PROBE_TASKS = frozenset({"fix-netplan"})

#: seconds for the early TCP connection (the task's own connect timeout: ``Connector.ssh``)
CONNECT_TIMEOUT = 10.0

#: seconds for the early probe's connection and banner (``ssh_or_console.SSH_PROBE``)
PROBE_TIMEOUT = 4.0

#: options after which the task does not open one early session: help, a fleet run, a new host key
_NOT_EARLY = frozenset(
    {"-h", "--help", "-a", "--accept-new-host-key", "--limit", "--forks", "--batch", "--max-fail-percentage"}
)
_INVENTORY = frozenset({"-i", "--inventory"})
_GUEST = frozenset({"-g", "--guest"})
_VIA = frozenset({"-v", "--via"})

#: invoke's configuration files for the ``gda`` prefix (any of them may set another inventory)
_CONFIG_FILES = tuple(
    f"{stem}.{ext}" for stem in ("/etc/gda", "~/.gda") for ext in ("yaml", "yml", "json", "py")
)


@dataclass(frozen=True)
class Request:
    """Where the task's guest is named: the inventory file and the guest (None: the inventory's only one)."""

    inventory: str
    guest: str | None
    inventory_given: bool
    #: a probe task's (:data:`PROBE_TASKS`): the session watches for the banner, with its timeout
    probe: bool = False

    @property
    def connect_timeout(self) -> float:
        return PROBE_TIMEOUT if self.probe else CONNECT_TIMEOUT


def request(argv: Sequence[str], environ: Mapping[str, str]) -> Request | None:
    """The request of ``gda TASK OPTIONS...`` when it is an early or probe task on one guest (a probe
    task through ``--via auto``), else None."""
    if len(argv) < 2 or environ.get("GDA_RUNTIME_CONFIG"):
        return None
    probe = argv[1] in PROBE_TASKS
    if not probe and argv[1] not in EARLY_TASKS:
        return None
    inventory, given = environ.get("GDA_INVENTORY") or "inventory.yaml", False
    guests: list[str] = []
    words = list(argv[2:])
    while words:
        word = words.pop(0)
        name, eq, value = word.partition("=") if word.startswith("--") else (word, "", "")
        if name in _NOT_EARLY:
            return None
        if name in _INVENTORY or name in _GUEST or (probe and name in _VIA):
            if not eq:
                if not words:
                    return None
                value = words.pop(0)
            if name in _INVENTORY:
                inventory, given = value, True
            elif name in _GUEST:
                guests.append(value)
            elif value != "auto":
                return None  # the console, or SSH without a probe
    if len(guests) > 1:
        return None
    return Request(inventory, guests[0] if guests else None, given, probe)


def endpoint(
    root: object, inventory: Path, guest: str | None, *, connect_timeout: float = CONNECT_TIMEOUT
) -> SshTarget | None:
    """The target of ``guest`` (None: the only guest) in the parsed inventory ``root`` as the task's
    ``ssh_target`` would build it from the validated guest, when its SSH settings are the guest's own
    entry, plain values the loader keeps as they are; else None."""
    if not isinstance(root, Mapping) or root.get("groups"):
        return None  # a group's vars may set the guest's host, port, user or keys
    guests = root.get("guests")
    if not isinstance(guests, Mapping) or (guest is None and len(guests) != 1):
        return None
    entry = guests.get(next(iter(guests)) if guest is None else guest)
    if not isinstance(entry, Mapping):
        return None
    host, port, user = entry.get("host"), entry.get("port"), entry.get("user")
    host = host.strip() if isinstance(host, str) else ""
    if not host or host.startswith("-") or any(ch.isspace() for ch in host):
        return None
    if port is not None and (isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536):
        return None
    if user is not None and (not isinstance(user, str) or not user):
        return None
    base = inventory.resolve().parent
    paths: list[Path | None] = []
    for key in ("identity_file", "known_hosts"):
        value = entry.get(key)
        if value is not None and (not isinstance(value, str) or not value.strip()):
            return None
        paths.append(None if value is None else local_path(value, base))
    return SshTarget(host, port, user, paths[0], paths[1], connect_timeout=connect_timeout)


def _config_file_exists() -> bool:
    return any(os.path.exists(os.path.expanduser(p)) for p in _CONFIG_FILES)


def start(argv: Sequence[str], environ: Mapping[str, str] = os.environ) -> None:
    """Begin the task's SSH session when :func:`request` and :func:`endpoint` say where it goes; never
    raises (anything unexpected leaves the task to connect as always)."""
    try:
        _start(argv, environ)
    except Exception:  # an optimisation only: the task reports whatever is wrong
        from agent.transport import early_open

        early_open.discard()


def _start(argv: Sequence[str], environ: Mapping[str, str]) -> None:
    req = request(argv, environ)
    if req is None or (not req.inventory_given and _config_file_exists()):
        return
    path = Path(req.inventory)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return
    from ruamel.yaml import YAML

    target = endpoint(
        YAML(typ="safe", pure=True).load(text), path, req.guest, connect_timeout=req.connect_timeout
    )
    if target is None:
        return
    from agent.transport.early_open import PreSocket, offer

    pre = PreSocket(target.host, target.port or 22, timeout=req.connect_timeout)
    try:
        from agent.transport.ssh import SshSession

        session = SshSession(target)
    except BaseException:
        pre.close()
        raise
    session.begin_open(pre, watch_banner=req.probe)
    offer(session)
