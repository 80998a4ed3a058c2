"""Option types and the task class: explicit short flags, typed values, refusals kept for the task."""

from __future__ import annotations

import pytest
from invoke.context import Context

from agent.cli.config import DEFAULTS, GdaConfig, or_setting, setting
from agent.cli.options import GdaTask, Invalid, Opt, choice, first_invalid, port, seconds
from agent.errors import UsageError


def _body(c: Context, fs: str | None = None, vm_name: str | None = None, yes: bool = False) -> None:
    pass


def test_short_flags_come_only_from_opts() -> None:
    t = GdaTask(_body, opts={"fs": Opt("fs", "f")})
    names = {a.name: a.names for a in t.get_arguments()}
    assert names == {"fs": ("fs", "f"), "vm_name": ("vm-name",), "yes": ("yes",)}


@pytest.mark.parametrize("opts", [{"fs": Opt("a", "x"), "yes": Opt("b", "x")}, {"yes": Opt("b", "h")}])
def test_colliding_or_reserved_short_flags_are_refused(opts: dict[str, Opt]) -> None:
    with pytest.raises(TypeError):
        GdaTask(_body, opts=opts)


def test_options_for_missing_parameters_are_refused() -> None:
    with pytest.raises(TypeError):
        GdaTask(_body, opts={"nope": Opt("x")})


def test_a_refused_value_is_kept_for_the_task() -> None:
    t = GdaTask(_body, opts={"fs": Opt("fs", "f", choice("ext4", "xfs"))})
    (fs, *_rest) = t.get_arguments()
    fs.value = "xfs"
    assert fs.value == "xfs"
    fs.value = "btrfs"
    assert isinstance(fs.value, Invalid)
    err = first_invalid([fs.value])
    assert isinstance(err, UsageError) and err.message == "{opt:fs} takes ext4 or xfs, not 'btrfs'"


def test_value_types() -> None:
    assert port("22") == 22 and seconds("1.5") == 1.5
    for bad in ("0", "65536", "x"):
        with pytest.raises(ValueError):
            port(bad)
    with pytest.raises(ValueError):
        seconds("-1")


def test_defaults_live_in_the_configuration() -> None:
    cfg = GdaConfig()
    assert cfg.lab.ssh_port == DEFAULTS["lab"]["ssh_port"] == 2222
    assert setting(cfg, "fix_netplan.deadline") == 90.0
    assert or_setting(None, cfg, "inventory") == "inventory.yaml" and or_setting("x", cfg, "inventory") == "x"
    assert setting(None, "lab.console_port") == 4555, "a bare caller gets the defaults"
