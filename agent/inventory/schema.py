"""The inventory's schema: the pydantic models of ``inventory.yaml`` and the validators of its values.

Sizes, host:port and MAC addresses are read by the one parser each in agent.core.values; ``DiskSize``
keeps a size as written beside its bytes.
"""

from __future__ import annotations

import difflib
import os
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    ValidationInfo,
    field_validator,
    model_validator,
)

from agent.console.login_states import compile_prompt
from agent.core.values import HostPort, parse_host_port, parse_mac, parse_size
from agent.errors import UsageError
from agent.hints import opt


@dataclass(frozen=True)
class DiskSize:
    """A disk size as written in the inventory (``text``) and in bytes."""

    text: str
    bytes: int

    def __str__(self) -> str:
        return self.text


def parse_disk_size(value: object) -> DiskSize:
    """``value`` (an int of bytes, or text such as ``256GiB``) by agent.core.values.parse_size's rule,
    kept as written. Raises ``ValueError``."""
    if isinstance(value, DiskSize):
        return value
    size = parse_size(value)
    return DiskSize(text=value.strip() if isinstance(value, str) else str(value), bytes=size)


def _nonempty(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise ValueError("must not contain control characters")
    return value


_ENV_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _env_name(value: str) -> str:
    # Never echo the value: a user who misread the schema may have put the secret itself here.
    if not _ENV_NAME_RE.fullmatch(value):
        raise ValueError(
            "must be the NAME of an environment variable (letters, digits and _, not starting with a digit), "
            "not the secret itself"
        )
    return value


def _ssh_host(value: object) -> object:
    if isinstance(value, Mapping):
        raise ValueError(
            "host is the guest's SSH address (a string); the hypervisor host's OS is set with "
            "disk.host_os: freebsd"
        )
    if not isinstance(value, str):
        return value  # strict str reports the type
    host = value.strip()
    if not host:
        raise ValueError("must not be empty")
    if any(ch.isspace() for ch in host) or host.startswith("-"):
        raise ValueError(f"{host!r} is not a host name, address or ssh config alias")
    if "@" in host:
        raise ValueError(f"{host!r}: put the user name in user:, not in host:")
    if host.count(":") == 1:
        raise ValueError(f"{host!r}: put the port number in port:, not in host:")
    return host.strip("[]") if host.startswith("[") and host.endswith("]") else host


_USER_RE = re.compile(r"[A-Za-z0-9_.][A-Za-z0-9_.@-]*\$?")


def _user_name(value: str) -> str:
    if not _USER_RE.fullmatch(value):
        raise ValueError(f"{value!r} is not a valid user name")
    return value


def _posix_abs_path(value: object) -> PurePosixPath:
    if isinstance(value, PurePosixPath):
        value = str(value)
    if not isinstance(value, str) or not value.strip():
        raise ValueError("expected an absolute path")
    path = PurePosixPath(value.strip())
    if not path.is_absolute():
        raise ValueError(f"{value!r} must be an absolute path")
    return path


def _netplan_path(value: object) -> PurePosixPath:
    path = _posix_abs_path(value)
    if path.suffix != ".yaml":
        raise ValueError(f"{str(path)!r}: netplan reads only files ending in .yaml")
    return path


def _shell_command(value: str) -> str:
    try:
        argv = shlex.split(value)
    except ValueError as exc:
        raise ValueError(f"cannot split command {value!r}: {exc}") from exc
    if not argv:
        raise ValueError("must not be empty")
    return value


def _prompt_regex(value: str) -> str:
    compile_prompt(value)  # ValueError: does not compile, or matches an empty text
    return value


def _guest_name(value: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", value):
        raise ValueError(
            f"guest name {value!r} must start with a letter or digit and use only letters, digits, "
            "'.', '_' and '-'"
        )
    return value


def _local_path(value: object, info: ValidationInfo) -> Path:
    """Expand ``~``; resolve a relative path against the inventory's directory (context ``base_dir``)."""
    if not isinstance(value, (str, Path)) or not str(value).strip():
        raise ValueError("expected a path")
    path = Path(os.path.expanduser(str(value)))
    if not path.is_absolute():
        base = info.context.get("base_dir") if isinstance(info.context, Mapping) else None
        path = Path(base if base is not None else Path.cwd()) / path
    return Path(os.path.normpath(path))


StrictStr = Annotated[str, Field(strict=True)]
Text = Annotated[StrictStr, AfterValidator(_nonempty)]
Port = Annotated[int, Field(strict=True, ge=1, le=65535)]
EnvName = Annotated[StrictStr, AfterValidator(_env_name)]
UserName = Annotated[Text, AfterValidator(_user_name)]
SSHHost = Annotated[StrictStr, BeforeValidator(_ssh_host)]
LocalPath = Annotated[Path, PlainValidator(_local_path)]
GuestName = Annotated[StrictStr, AfterValidator(_guest_name)]

_FROZEN = ConfigDict(extra="forbid", frozen=True)

PromptRegex = Annotated[StrictStr, AfterValidator(_nonempty), AfterValidator(_prompt_regex)]


def _one_or_list(value: object) -> object:
    if isinstance(value, str):
        return [value]
    if not isinstance(value, (list, tuple)):
        raise ValueError("expected a regular expression or a list of them")
    return value


PromptRegexes = Annotated[tuple[PromptRegex, ...], BeforeValidator(_one_or_list)]
Seconds = Annotated[float, Field(strict=True, gt=0, le=86400)]


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


class Guest(BaseModel):
    """One guest: how to reach it over SSH, the disk pins, its network, and its console."""

    model_config = _FROZEN

    host: SSHHost
    port: Port | None = None
    user: UserName | None = None
    identity_file: LocalPath | None = None
    known_hosts: LocalPath | None = None
    sudo_password_env: EnvName | None = None
    disk: Annotated[DiskPins, BeforeValidator(_none_to_empty)] = DiskPins()
    network: Annotated[NetworkSettings, BeforeValidator(_none_to_empty)] = NetworkSettings()
    console: ConsoleSettings | None = None


class Inventory(BaseModel):
    """All guests by name."""

    model_config = _FROZEN

    guests: Annotated[Mapping[GuestName, Guest], BeforeValidator(_none_to_empty)]

    @field_validator("guests")
    @classmethod
    def _some_guests(cls, value: Mapping[str, Guest]) -> Mapping[str, Guest]:
        if not value:
            raise ValueError("no guests defined: add at least one guest under guests:")
        return value

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
