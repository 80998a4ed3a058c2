"""Options named in core messages are rendered by the front end (agent/hints.py)."""

from __future__ import annotations

import pytest

from agent.errors import ExitCode, Refused, UsageError
from agent.hints import cli_flag, opt, options_named, render_options


def test_render() -> None:
    text = f"add {opt('force')} and {opt('yes')}, or pin with {opt('match_mac')}"
    assert render_options(text) == "add --force and --yes, or pin with --match-mac"
    assert render_options(text, style=lambda n: f"{n}: true").startswith("add force: true")
    assert options_named(text) == ["force", "yes", "match_mac"]
    assert cli_flag("accept_new_host_key") == "--accept-new-host-key"
    assert render_options("a {literal} brace {opt:Bad}") == "a {literal} brace {opt:Bad}"
    with pytest.raises(ValueError):
        opt("Bad-Name")


def test_errors_render_and_serialise() -> None:
    e = Refused(f"would destroy ext4; add {opt('force')}", hint=f"or {opt('device')} /dev/nvme1n1")
    assert str(e) == "would destroy ext4; add --force\nhint: or --device /dev/nvme1n1"
    assert e.to_json() == {
        "kind": "refused",
        "message": "would destroy ext4; add --force",
        "hint": "or --device /dev/nvme1n1",
        "exit_code": 1,
    }
    assert UsageError("x").to_json()["exit_code"] == ExitCode.USAGE == 2
