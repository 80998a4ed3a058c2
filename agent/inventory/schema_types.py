"""The inventory's value types: the validators of its values and the annotated types the models use.

Sizes, host:port and MAC addresses are read by the one parser each in agent.core.values; ``DiskSize``
keeps a size as written beside its bytes. The models are in :mod:`agent.inventory.schema`.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Annotated

from pydantic import (
    AfterValidator,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainValidator,
    ValidationInfo,
)

from agent.core.values import local_path, parse_size


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
    from agent.console.login_states import compile_prompt  # the console's tables load only when needed

    compile_prompt(value)  # ValueError: does not compile, or matches an empty text
    return value


def _name_rule(what: str, value: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", value):
        raise ValueError(
            f"{what} name {value!r} must start with a letter or digit and use only letters, digits, "
            "'.', '_' and '-'"
        )
    return value


def _guest_name(value: str) -> str:
    return _name_rule("guest", value)


def _host_name(value: str) -> str:
    return _name_rule("host", value)


def _group_name(value: str) -> str:
    return _name_rule("group", value)


def _local_path(value: object, info: ValidationInfo) -> Path:
    """Expand ``~``; resolve a relative path against the inventory's directory (context ``base_dir``)."""
    if not isinstance(value, (str, Path)) or not str(value).strip():
        raise ValueError("expected a path")
    base = info.context.get("base_dir") if isinstance(info.context, Mapping) else None
    return local_path(str(value), base)


StrictStr = Annotated[str, Field(strict=True)]
Text = Annotated[StrictStr, AfterValidator(_nonempty)]
Port = Annotated[int, Field(strict=True, ge=1, le=65535)]
EnvName = Annotated[StrictStr, AfterValidator(_env_name)]
UserName = Annotated[Text, AfterValidator(_user_name)]
SSHHost = Annotated[StrictStr, BeforeValidator(_ssh_host)]
LocalPath = Annotated[Path, PlainValidator(_local_path)]
GuestName = Annotated[StrictStr, AfterValidator(_guest_name)]
HostName = Annotated[StrictStr, AfterValidator(_host_name)]
GroupName = Annotated[StrictStr, AfterValidator(_group_name)]

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
