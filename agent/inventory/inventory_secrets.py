"""Secrets and the inventory: they never belong in it. Keys that look like one are refused (the loader
uses :func:`is_secret_key`); the inventory names environment variables instead (``*_password_env``) and
:func:`resolve_secret` reads them, or prompts."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping

log = logging.getLogger(__name__)

SECRETS_MESSAGE = (
    "secrets do not belong in inventory.yaml: put it in an environment variable and name it with "
    "password_env/sudo_password_env"
)

_SECRET_KEY_RE = re.compile(r"(?:^|[_-])(?:password|passwd|passphrase|pass|secret|token)$", re.IGNORECASE)


def is_secret_key(key: str) -> bool:
    """Whether an inventory key names a secret (``password``, ``sudo_password``, ``passphrase``, ...)."""
    return bool(_SECRET_KEY_RE.search(key))


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
