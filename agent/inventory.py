"""The inventory (``inventory.yaml``): which guests exist and how to reach them.

Schema (every key is optional unless marked *required*)::

    guests:
      xdev:                                   # the guest's name (--guest NAME)
        host: 192.168.7.200                   # *required*: address or an ~/.ssh/config alias
        port: 22                              # 1..65535
        user: admin
        identity_file: ~/.ssh/id_ed25519      # ~ expanded; relative paths are relative to inventory.yaml
        known_hosts: ~/.ssh/known_hosts       # default: the user's known_hosts
        sudo_password_env: XDEV_SUDO_PASSWORD # the NAME of the env var holding the sudo password
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

``disk.host_os`` is where issue 5's "``host: {os: freebsd}``" setting lives: ``host`` is already the guest's
SSH address, so the OS of the hypervisor host that will mount the filesystem is a disk setting.
``host_os: freebsd`` makes ``--host-compat freebsd`` the default for that guest.

Secrets never belong in the inventory: keys such as ``password``, ``sudo_password`` or ``passphrase`` are
rejected anywhere; the inventory names environment variables instead (``*_password_env``) and
:func:`resolve_secret` reads them (or prompts).

Unknown keys are errors that name the key, its path, its file:line:column and the closest allowed key. All
expected failures raise :class:`InventoryError` (a :class:`~agent.errors.UsageError`, exit 2).
"""

from __future__ import annotations

import difflib
import logging
import os
import re
import shlex
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path, PurePosixPath
from typing import Annotated, Any, Literal, Union

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from agent.errors import UsageError

__all__ = [
    "DEFAULT_INVENTORY",
    "ConsoleSettings",
    "DiskPins",
    "DiskSize",
    "Guest",
    "HostPort",
    "Inventory",
    "InventoryError",
    "NetworkSettings",
    "Problem",
    "SSHConsole",
    "load_inventory",
    "parse_size",
    "resolve_secret",
]

log = logging.getLogger(__name__)

DEFAULT_INVENTORY = Path("inventory.yaml")

SECRETS_MESSAGE = (
    "secrets do not belong in inventory.yaml: put it in an environment variable and name it with "
    "password_env/sudo_password_env"
)

# ----------------------------------------------------------------------------------------------------
# Errors


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the inventory, located in the file (line and column are 1-based)."""

    file: str
    line: int | None
    column: int | None
    key_path: str
    message: str

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}:{self.column}"
        return f"{where}: {self.key_path}: {self.message}" if self.key_path else f"{where}: {self.message}"


class InventoryError(UsageError):
    """The inventory is missing, unreadable or invalid (exit 2); ``problems`` lists each located problem."""

    def __init__(self, message: str, hint: str | None = None, problems: tuple[Problem, ...] = ()) -> None:
        super().__init__(message, hint)
        self.problems = problems


# ----------------------------------------------------------------------------------------------------
# Scalar value types


@dataclass(frozen=True)
class DiskSize:
    """A disk size as written in the inventory (``text``) and in bytes."""

    text: str
    bytes: int

    def __str__(self) -> str:
        return self.text


_SIZE_RE = re.compile(r"^(?P<num>\d+(?:\.\d+)?)\s*(?:(?P<unit>[KkMGTPE])(?P<i>i)?)?(?P<b>B)?$")
_SIZE_EXPONENT = {"K": 1, "M": 2, "G": 3, "T": 4, "P": 5, "E": 6}


def parse_size(value: object) -> DiskSize:
    """Parse a size: an integer (bytes), ``256GiB`` / ``256G`` (binary), ``500GB`` (decimal), ``4096B``.

    Units K, M, G, T, P, E; ``XiB`` and a bare ``X`` are powers of 1024, ``XB`` powers of 1000. A fraction
    (``1.5TiB``) is allowed when it comes to a whole number of bytes. Raises ``ValueError``.
    """
    if isinstance(value, DiskSize):
        return value
    if isinstance(value, bool):
        raise ValueError("expected a size such as 256GiB or a number of bytes")
    if isinstance(value, int):
        if value <= 0:
            raise ValueError(f"size must be positive, got {value}")
        return DiskSize(text=str(value), bytes=value)
    if not isinstance(value, str):
        raise ValueError("expected a size such as 256GiB or a number of bytes")
    text = value.strip()
    m = _SIZE_RE.match(text)
    if not m:
        raise ValueError(
            f"cannot read size {value!r}: use a number of bytes or a number with a unit, "
            "e.g. 256GiB or 256G (binary), 500GB (decimal)"
        )
    unit, binary, b = m.group("unit"), m.group("i"), m.group("b")
    if binary and not b:
        raise ValueError(f"cannot read size {value!r}: did you mean {m.group('num')}{unit}iB?")
    try:
        number = Decimal(m.group("num"))
    except InvalidOperation as exc:  # pragma: no cover - the regex only lets decimals through
        raise ValueError(f"cannot read size {value!r}") from exc
    if unit is None:
        multiplier = 1
    else:
        base = 1000 if (b and not binary) else 1024
        multiplier = base ** _SIZE_EXPONENT[unit.upper()]
    total = number * multiplier
    if total != total.to_integral_value():
        raise ValueError(f"size {value!r} is not a whole number of bytes")
    if total <= 0:
        raise ValueError(f"size must be positive, got {value!r}")
    return DiskSize(text=text, bytes=int(total))


@dataclass(frozen=True)
class HostPort:
    """A ``host:port`` address; IPv6 is written ``[::1]:4555`` and ``host`` holds it without brackets."""

    host: str
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


_HOST_PORT_RE = re.compile(
    r"\[(?P<v6>[0-9A-Fa-f:.%\w]+)\]:(?P<port>\d+)|(?P<host>[^\s:\[\]]+):(?P<port2>\d+)"
)


def _parse_host_port(value: object) -> HostPort:
    if isinstance(value, HostPort):
        return value
    if not isinstance(value, str):
        raise ValueError("expected host:port, e.g. 127.0.0.1:4555 (quote it)")
    text = value.strip()
    m = _HOST_PORT_RE.fullmatch(text)
    if not m:
        if text.count(":") > 1 and not text.startswith("["):
            raise ValueError(f"cannot read {text!r}: write an IPv6 address in brackets, e.g. [::1]:4555")
        raise ValueError(f"cannot read {text!r}: expected host:port, e.g. 127.0.0.1:4555 or [::1]:4555")
    host = m.group("v6") or m.group("host")
    port = int(m.group("port") or m.group("port2"))
    if not 1 <= port <= 65535:
        raise ValueError(f"port {port} is out of range 1..65535")
    return HostPort(host=host, port=port)


# ----------------------------------------------------------------------------------------------------
# Field validators


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


_MAC_RE = re.compile(r"[0-9A-Fa-f]{2}([:-])[0-9A-Fa-f]{2}(\1[0-9A-Fa-f]{2}){4}")


def _mac(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError("expected a MAC address such as 58:9c:fc:03:19:32 (quote it)")
    text = value.strip()
    if not _MAC_RE.fullmatch(text):
        raise ValueError(f"{text!r} is not a MAC address: expected six hex pairs, e.g. 58:9c:fc:03:19:32")
    return text.replace("-", ":").lower()


def _posix_abs_path(value: object) -> PurePosixPath:
    if isinstance(value, PurePosixPath):
        value = str(value)
    if not isinstance(value, str) or not value.strip():
        raise ValueError("expected an absolute path")
    path = PurePosixPath(value.strip())
    if not path.is_absolute():
        raise ValueError(f"{value!r} must be an absolute path")
    return path


def _host_path(value: object) -> PurePosixPath:
    return _posix_abs_path(value)


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


# ----------------------------------------------------------------------------------------------------
# Models


class DiskPins(BaseModel):
    """Optional pins that identify the passed-through disk; ``host_path``/``host_os`` describe the host side.

    ``host_os`` (``linux`` | ``freebsd``) is the OS of the hypervisor host that will mount the filesystem
    (issue 5 calls it ``host: {os: freebsd}``, but ``host`` is the guest's SSH address, so it lives here as
    ``disk.host_os``); ``freebsd`` makes ``--host-compat freebsd`` the default for the guest.
    """

    model_config = _FROZEN

    serial: Text | None = None
    model: Text | None = None
    size: Annotated[DiskSize, PlainValidator(parse_size), PlainSerializer(str)] | None = None
    host_path: Annotated[PurePosixPath, PlainValidator(_host_path)] | None = None
    host_os: Literal["linux", "freebsd"] | None = None


class NetworkSettings(BaseModel):
    """The guest NIC's MAC (normalised lower-case, ``:``-separated) and the netplan file to repair."""

    model_config = _FROZEN

    mac: Annotated[str, PlainValidator(_mac)] | None = None
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
    """The guest's serial console: exactly one transport (``tcp``, ``unix``, ``command`` or ``ssh``)."""

    model_config = _FROZEN

    tcp: Annotated[HostPort, PlainValidator(_parse_host_port), PlainSerializer(str)] | None = None
    unix: LocalPath | None = None
    command: Annotated[Text, AfterValidator(_shell_command)] | None = None
    ssh: SSHConsole | None = None
    user: UserName = "root"
    password_env: EnvName | None = None

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
                hint="choose one with --guest NAME",
            )
        if name in self.guests:
            return name, self.guests[name]
        close = difflib.get_close_matches(name, names, n=1)
        suggestion = f" (did you mean {close[0]!r}?)" if close else ""
        raise UsageError(f"no guest {name!r} in the inventory{suggestion}; guests: {listing}")


# ----------------------------------------------------------------------------------------------------
# Loading


_SECRET_KEY_RE = re.compile(r"(?:^|[_-])(?:password|passwd|passphrase|pass|secret|token)$", re.IGNORECASE)


def _is_secret_key(key: str) -> bool:
    return bool(_SECRET_KEY_RE.search(key))


def _unwrap_optional(annotation: Any) -> Any:
    """``X | None`` → ``X`` (and strip ``Annotated``), else the annotation itself."""
    origin = typing.get_origin(annotation)
    if origin is Annotated:
        return _unwrap_optional(typing.get_args(annotation)[0])
    if origin is Union or origin is types.UnionType:
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return _unwrap_optional(args[0])
    return annotation


def _model_of(annotation: Any) -> type[BaseModel] | None:
    inner = _unwrap_optional(annotation)
    return inner if isinstance(inner, type) and issubclass(inner, BaseModel) else None


def _mapping_value_model(annotation: Any) -> type[BaseModel] | None:
    inner = _unwrap_optional(annotation)
    if typing.get_origin(inner) in (dict, Mapping):
        return _model_of(typing.get_args(inner)[1])
    return None


def _pos(line_col: object) -> tuple[int | None, int | None]:
    if isinstance(line_col, (list, tuple)) and len(line_col) >= 2:
        line, col = line_col[0], line_col[1]
        if isinstance(line, int) and isinstance(col, int):
            return line + 1, col + 1
    return None, None


def _key_pos(node: object, key: object) -> tuple[int | None, int | None]:
    if isinstance(node, CommentedMap):
        try:
            return _pos(node.lc.key(key))
        except (KeyError, TypeError, AttributeError):
            return _node_pos(node)
    return None, None


def _value_pos(node: object, key: object) -> tuple[int | None, int | None]:
    if isinstance(node, CommentedMap):
        try:
            return _pos(node.lc.value(key))
        except (KeyError, TypeError, AttributeError):
            return _key_pos(node, key)
    if isinstance(node, CommentedSeq) and isinstance(key, int):
        try:
            return _pos(node.lc.item(key))
        except (KeyError, TypeError, AttributeError, IndexError):
            return _node_pos(node)
    return None, None


def _node_pos(node: object) -> tuple[int | None, int | None]:
    lc = getattr(node, "lc", None)
    if lc is not None and isinstance(getattr(lc, "line", None), int):
        return lc.line + 1, lc.col + 1
    return None, None


def _join(path: tuple[object, ...]) -> str:
    return ".".join(str(p) for p in path)


class _Checker:
    """Walks the round-trip YAML against the models: unknown keys and secrets, located in the file."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.problems: list[Problem] = []
        # (mapping path, allowed key) for unknown keys that were probably meant as that key: pydantic's
        # "required key missing" for the same key would only repeat the problem.
        self.suggested: set[tuple[tuple[object, ...], str]] = set()

    def add(self, where: tuple[int | None, int | None], path: tuple[object, ...], message: str) -> None:
        self.problems.append(Problem(self.file, where[0], where[1], _join(path), message))

    def check_model(self, node: object, model: type[BaseModel], path: tuple[object, ...]) -> None:
        if not isinstance(node, Mapping):
            return  # the type error is pydantic's to report
        fields = model.model_fields
        allowed = list(fields)
        for key, value in node.items():
            key_path = (*path, key)
            if not isinstance(key, str):
                self.add(_key_pos(node, key), key_path, f"keys must be names, got {key!r}")
                continue
            if _is_secret_key(key):
                self.add(_key_pos(node, key), key_path, SECRETS_MESSAGE)
                continue
            if key not in fields:
                close = difflib.get_close_matches(key.lower(), allowed, n=1, cutoff=0.6)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                if close:
                    self.suggested.add((path, close[0]))
                self.add(
                    _key_pos(node, key),
                    key_path,
                    f"unknown key {key!r}{hint}; allowed here: {', '.join(allowed)}",
                )
                continue
            annotation = fields[key].annotation
            sub = _model_of(annotation)
            if sub is not None:
                self.check_model(value, sub, key_path)
                continue
            item_model = _mapping_value_model(annotation)
            if item_model is not None and isinstance(value, Mapping):
                for name, item in value.items():
                    self.check_model(item, item_model, (*key_path, name))
            else:
                self.check_secrets(value, key_path)

    def check_secrets(self, node: object, path: tuple[object, ...]) -> None:
        """Secret-looking keys anywhere below a non-model value (e.g. ``host: {password: ...}``)."""
        if isinstance(node, Mapping):
            for key, value in node.items():
                if isinstance(key, str) and _is_secret_key(key):
                    self.add(_key_pos(node, key), (*path, key), SECRETS_MESSAGE)
                else:
                    self.check_secrets(value, (*path, key))
        elif isinstance(node, list):
            for index, item in enumerate(node):
                self.check_secrets(item, (*path, index))


def _plain(node: object) -> object:
    """Round-trip YAML objects → plain Python (dict, list, str, int, float, bool, None)."""
    if isinstance(node, Mapping):
        return {_plain(k): _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    if isinstance(node, bool):
        return bool(node)
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    if isinstance(node, str):
        return str(node)
    return node


_FRIENDLY = {
    "string_type": "expected a string",
    "int_type": "expected a whole number",
    "model_type": "expected a mapping of keys",
    "dict_type": "expected a mapping of keys",
    "mapping_type": "expected a mapping of keys",
}


def _describe(error: Mapping[str, Any]) -> str:
    kind = error["type"]
    if kind == "missing":
        return f"required key {error['loc'][-1]!r} is missing"
    if kind in _FRIENDLY:
        value = error.get("input")
        message = f"{_FRIENDLY[kind]}, got {_type_name(value)}"
        if kind == "string_type" and isinstance(value, (int, float)) and not isinstance(value, bool):
            message += " (quote it so YAML keeps it as text)"
        return message
    msg = str(error["msg"])
    return msg.removeprefix("Value error, ")


def _type_name(value: object) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__


def _locate(root: object, loc: tuple[int | str, ...], kind: str) -> tuple[tuple[int | None, int | None], str]:
    """The file position and dotted key path for a pydantic error location."""
    node: object = root
    path: list[object] = []
    where = _node_pos(root)
    for index, part in enumerate(loc):
        last = index == len(loc) - 1
        if part == "[key]":
            break  # the previous part was the key itself: keep its position
        if isinstance(node, Mapping) and part in node:
            value = node[part]
            if kind == "[key]" or (last and isinstance(value, Mapping | list)):
                where = _key_pos(node, part)
            else:
                where = _value_pos(node, part) if last else _key_pos(node, part)
            path.append(part)
            node = value
        else:
            if kind != "missing" or not last:
                path.append(part)
            break
    if kind == "missing":
        where = _node_pos(node) if _node_pos(node)[0] is not None else where
        path.append(loc[-1])
    return where, _join(tuple(path))


def _validation_problems(
    file: str, root: object, exc: ValidationError, suggested: set[tuple[tuple[object, ...], str]]
) -> list[Problem]:
    problems = []
    for error in exc.errors(include_url=False):
        loc = tuple(error["loc"])
        if error["type"] == "extra_forbidden":
            continue  # already reported by the checker, with a hint
        if error["type"] == "missing" and (loc[:-1], loc[-1]) in suggested:
            continue  # the misspelt key was reported with "did you mean"
        kind = "[key]" if "[key]" in loc else error["type"]
        (line, col), key_path = _locate(root, loc, kind)
        problems.append(Problem(file, line, col, key_path, _describe(error)))
    return problems


def load_inventory(path: Path) -> Inventory:
    """Read and validate ``path``. Every expected failure raises :class:`InventoryError` (exit 2)."""
    file = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InventoryError(f"inventory not found: {file} (use --inventory PATH)") from None
    except IsADirectoryError:
        raise InventoryError(f"inventory is a directory, not a file: {file} (use --inventory PATH)") from None
    except UnicodeDecodeError as exc:
        raise InventoryError(f"cannot read inventory {file}: not UTF-8 text ({exc.reason})") from None
    except OSError as exc:
        raise InventoryError(f"cannot read inventory {file}: {exc.strerror or exc}") from None

    yaml = YAML(typ="rt")
    try:
        root = yaml.load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{file}:{mark.line + 1}:{mark.column + 1}" if mark is not None else file
        detail = "; ".join(part for part in (exc.problem, exc.context) if part)
        raise InventoryError(f"{where}: YAML syntax error: {detail or exc}") from None
    except YAMLError as exc:
        raise InventoryError(f"{file}: YAML error: {exc}") from None

    if root is None:
        raise InventoryError(
            f"inventory is empty: {file}",
            hint="it needs a guests: mapping (see the repository's inventory.yaml)",
        )
    if not isinstance(root, Mapping):
        line, col = _node_pos(root)
        where = file if line is None else f"{file}:{line}:{col}"
        raise InventoryError(
            f"{where}: the inventory must be a mapping with a guests: key, got {_type_name(root)}"
        )

    checker = _Checker(file)
    checker.check_model(root, Inventory, ())
    problems = checker.problems

    result: Inventory | None = None
    try:
        base_dir = path.resolve().parent
        result = Inventory.model_validate(_plain(root), context={"base_dir": base_dir})
    except ValidationError as exc:
        problems.extend(_validation_problems(file, root, exc, checker.suggested))

    if problems or result is None:
        problems.sort(key=lambda p: (p.line or 0, p.column or 0))
        count = f"{len(problems)} problem{'s' if len(problems) != 1 else ''}"
        listing = "\n".join(f"  {p}" for p in problems)
        raise InventoryError(f"invalid inventory {file} ({count}):\n{listing}", problems=tuple(problems))
    return result


# ----------------------------------------------------------------------------------------------------
# Secrets


def resolve_secret(
    env_name: str | None,
    *,
    what: str,
    env: Mapping[str, str],
    prompt: Callable[[str], str] | None,
) -> str | None:
    """A secret from the environment variable ``env_name``, else from ``prompt``, else ``None``.

    An empty variable counts as unset. ``prompt`` (pass ``getpass.getpass`` only when stdin is a terminal) is
    asked with ``"<what>: "`` whenever the environment gives nothing, also when no variable is named; end of
    input at the prompt gives ``None``. The value is never logged.
    """
    if env_name:
        value = env.get(env_name)
        if value:
            log.debug("%s taken from $%s", what, env_name)
            return value
        log.debug("%s: $%s is not set", what, env_name)
    if prompt is None:
        return None
    try:
        return prompt(f"{what}: ")
    except EOFError:
        return None
