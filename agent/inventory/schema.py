"""The inventory's schema: the pydantic models of ``inventory.yaml`` (hosts, guests, their disk pins,
network and console). Their value types and validators are in :mod:`agent.inventory.schema_types`.
"""

from __future__ import annotations

import difflib
import shlex
from collections.abc import Collection, Mapping
from pathlib import PurePosixPath
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    Field,
    PlainSerializer,
    PlainValidator,
    ValidationInfo,
    field_validator,
    model_validator,
)

from agent.core.values import HostPort, parse_host_port, parse_mac
from agent.errors import UsageError
from agent.hints import opt
from agent.inventory.schema_types import (
    _FROZEN,
    DiskSize,
    EnvName,
    GroupName,
    GuestName,
    HostName,
    LocalPath,
    Port,
    PromptRegexes,
    Seconds,
    SSHHost,
    Text,
    UserName,
    _netplan_path,
    _posix_abs_path,
    _shell_command,
    parse_disk_size,
)

StrictMember = Annotated[str, Field(strict=True, min_length=1)]

__all__ = ["DiskSize", "parse_disk_size"]  # re-exported for agent.inventory


class DiskPins(BaseModel):
    """Optional pins that identify the passed-through disk; ``host_path``/``host_os`` describe the host side.

    ``host_os`` (``linux`` | ``freebsd``) is the OS of the hypervisor host that will mount the filesystem
    (issue 5 calls it ``host: {os: freebsd}``, but ``host`` is the guest's SSH address, so it lives here as
    ``disk.host_os``); ``freebsd`` makes ``--host-compat freebsd`` the default for the guest.
    """

    model_config = _FROZEN

    serial: Text | None = None
    model: Text | None = None
    size: Annotated[DiskSize, PlainValidator(parse_disk_size), PlainSerializer(str)] | None = None
    host_path: Annotated[PurePosixPath, PlainValidator(_posix_abs_path)] | None = None
    host_os: Literal["linux", "freebsd"] | None = None


class NetworkSettings(BaseModel):
    """The guest NIC's MAC (normalised lower-case, ``:``-separated) and the netplan file to repair."""

    model_config = _FROZEN

    mac: Annotated[str, PlainValidator(parse_mac)] | None = None
    netplan_file: Annotated[PurePosixPath, PlainValidator(_netplan_path)] | None = None


class SSHConsole(BaseModel):
    """A console reached by running ``command`` (with a pty) on the hypervisor host over SSH."""

    model_config = _FROZEN

    host: SSHHost
    command: Annotated[Text, AfterValidator(_shell_command)]
    port: Port | None = None
    user: UserName | None = None
    identity_file: LocalPath | None = None
    known_hosts: LocalPath | None = None


ConsoleTransport = Literal["tcp", "unix", "command", "ssh"]
CONSOLE_TRANSPORTS: tuple[ConsoleTransport, ...] = ("tcp", "unix", "command", "ssh")


class ConsoleSettings(BaseModel):
    """The guest's serial console: exactly one transport (``tcp``, ``unix``, ``command`` or ``ssh``).

    ``login_prompt``, ``password_prompt``, ``login_incorrect`` and ``shell_prompt`` add regexes (one or a
    list; each must compile and must not match an empty text) to the built-in, localized ones; a prompt
    regex matches at the end of what the console printed. ``prompt_timeout`` bounds each wait for a prompt
    (default 10 s), ``command_timeout`` a command (default 120 s), ``login_timeout`` a whole login (default:
    no bound beyond the prompt waits), as labgrid's ShellDriver ``login_timeout``/``await_login_timeout``.
    """

    model_config = _FROZEN

    tcp: Annotated[HostPort, PlainValidator(parse_host_port), PlainSerializer(str)] | None = None
    unix: LocalPath | None = None
    command: Annotated[Text, AfterValidator(_shell_command)] | None = None
    ssh: SSHConsole | None = None
    user: UserName = "root"
    password_env: EnvName | None = None
    login_prompt: PromptRegexes = ()
    password_prompt: PromptRegexes = ()
    login_incorrect: PromptRegexes = ()
    shell_prompt: PromptRegexes = ()
    prompt_timeout: Seconds = 10.0
    command_timeout: Seconds = 120.0
    login_timeout: Seconds | None = None

    @model_validator(mode="after")
    def _exactly_one_transport(self) -> ConsoleSettings:
        given = [name for name in CONSOLE_TRANSPORTS if getattr(self, name) is not None]
        if len(given) != 1:
            found = "none" if not given else " and ".join(given)
            raise ValueError(f"needs exactly one transport of tcp, unix, command, ssh (found {found})")
        return self

    @property
    def transport(self) -> ConsoleTransport:
        """Which transport is configured."""
        for name in CONSOLE_TRANSPORTS:
            if getattr(self, name) is not None:
                return name
        raise AssertionError("validated console without a transport")  # pragma: no cover


def _none_to_empty(value: object) -> object:
    return {} if value is None else value


class SSHEndpoint(BaseModel):
    """How a machine is reached over SSH (a guest, or its hypervisor host): the fields both share."""

    model_config = _FROZEN

    host: SSHHost
    port: Port | None = None
    user: UserName | None = None
    identity_file: LocalPath | None = None
    known_hosts: LocalPath | None = None
    sudo_password_env: EnvName | None = None


class Host(SSHEndpoint):
    """A FreeBSD hypervisor host (vm-bhyve) under ``hosts:``: reached over SSH like a guest.

    ``sudo_password_env`` names the variable holding the sudo password: with it, the host's commands
    run as root through sudo; without it they run as the login user (log in as root, or give the
    user what it needs). ``vm_command`` is how vm-bhyve's ``vm`` is run there (``vm``, ``sudo vm``,
    ``doas vm``); a guest that says ``on:`` this host and has no ``console:`` gets the console
    ``<vm_command> console <guest>`` over SSH to it.
    """

    model_config = _FROZEN

    vm_command: Annotated[Text, AfterValidator(_shell_command)] = "vm"

    def console_for(self, guest: str) -> ConsoleSettings:
        """The default console of ``guest`` on this host: ``<vm_command> console <guest>`` over SSH."""
        return ConsoleSettings(
            ssh=SSHConsole(
                host=self.host,
                command=f"{self.vm_command} console {shlex.quote(guest)}",
                port=self.port,
                user=self.user,
                identity_file=self.identity_file,
                known_hosts=self.known_hosts,
            )
        )


def unknown_host_message(name: str, hosts: Collection[str]) -> str:
    """What to say about ``on: name`` when ``hosts:`` has no such host."""
    if not hosts:
        return f"no host {name!r}: the inventory has no hosts: mapping (add hosts: {{{name}: {{host: ...}}}})"
    names = sorted(hosts)
    close = difflib.get_close_matches(name, names, n=1)
    suggestion = f" (did you mean {close[0]!r}?)" if close else ""
    return f"no host {name!r} under hosts:{suggestion}; hosts: {', '.join(names)}"


class Guest(SSHEndpoint):
    """One guest: how to reach it over SSH, the disk pins, its network, its console, and ``on``: the
    name of its hypervisor host under ``hosts:``.

    When the validation context carries ``host_names`` (the loader passes the names under ``hosts:``),
    an unknown ``on`` is reported on the guest's own ``on:`` line; :class:`Inventory` checks it again.
    """

    model_config = _FROZEN

    disk: Annotated[DiskPins, BeforeValidator(_none_to_empty)] = DiskPins()
    network: Annotated[NetworkSettings, BeforeValidator(_none_to_empty)] = NetworkSettings()
    console: ConsoleSettings | None = None
    on: HostName | None = None

    @field_validator("on")
    @classmethod
    def _known_host(cls, value: str | None, info: ValidationInfo) -> str | None:
        hosts = info.context.get("host_names") if isinstance(info.context, Mapping) else None
        if value is not None and hosts is not None and value not in hosts:
            raise ValueError(unknown_host_message(value, hosts))
        return value


def _none_to_empty_list(value: object) -> object:
    return () if value is None else value


class Group(BaseModel):
    """A group under ``groups:``: ``members`` (guest or group names), ``vars`` (guest settings, merged into
    each member guest by :mod:`agent.inventory.groups`; the loader checks their keys against
    :class:`Guest`) and ``priority`` (Ansible's ``ansible_group_priority``: between groups of the same
    depth the higher one wins). ``all`` is every guest and takes ``vars`` only."""

    model_config = _FROZEN

    members: Annotated[tuple[StrictMember, ...], BeforeValidator(_none_to_empty_list)] = ()
    vars: Annotated[Mapping[str, Any], BeforeValidator(_none_to_empty)] = Field(default_factory=dict)
    priority: Annotated[int, Field(strict=True, ge=0, le=1000)] = 1


class Inventory(BaseModel):
    """The hypervisor hosts, the guests and the groups, by name. A guest ``on`` a host without a
    ``console:`` of its own gets :meth:`Host.console_for` as its console. The guests are the merged ones
    (their groups' vars applied by the loader)."""

    model_config = _FROZEN

    hosts: Annotated[Mapping[HostName, Host], BeforeValidator(_none_to_empty)] = Field(default_factory=dict)
    guests: Annotated[Mapping[GuestName, Guest], BeforeValidator(_none_to_empty)]
    groups: Annotated[Mapping[GroupName, Group], BeforeValidator(_none_to_empty)] = Field(
        default_factory=dict
    )

    @field_validator("guests")
    @classmethod
    def _guests_on_hosts(cls, value: Mapping[str, Guest], info: ValidationInfo) -> Mapping[str, Guest]:
        if not value:
            raise ValueError("no guests defined: add at least one guest under guests:")
        if "hosts" not in info.data:
            return value  # the hosts did not validate: that is reported already
        hosts: Mapping[str, Host] = info.data["hosts"]
        guests: dict[str, Guest] = {}
        for name, guest in value.items():
            if guest.on is not None and guest.on not in hosts:
                raise ValueError(f"guests.{name}.on: {unknown_host_message(guest.on, hosts)}")
            if guest.on is not None and guest.console is None:
                guest = guest.model_copy(update={"console": hosts[guest.on].console_for(name)})
            guests[name] = guest
        return guests

    def host_of(self, guest: str) -> tuple[str, Host] | None:
        """The name and settings of ``guest``'s host (its ``on:``), None when it names none."""
        on = self.guests[guest].on
        return (on, self.hosts[on]) if on is not None else None

    def choose(self, name: str | None) -> tuple[str, Guest]:
        """The guest called ``name``; with ``None`` the only guest. Raises :class:`UsageError`."""
        names = sorted(self.guests)
        listing = ", ".join(names)
        if name is None:
            if len(names) == 1:
                return names[0], self.guests[names[0]]
            raise UsageError(
                f"the inventory has {len(names)} guests: {listing}",
                hint=f"choose one with {opt('guest')} NAME",
            )
        if name in self.guests:
            return name, self.guests[name]
        close = difflib.get_close_matches(name, names, n=1)
        suggestion = f" (did you mean {close[0]!r}?)" if close else ""
        raise UsageError(f"no guest {name!r} in the inventory{suggestion}; guests: {listing}")
