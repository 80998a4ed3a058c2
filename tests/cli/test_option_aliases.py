"""Options with more than one long name (``--port`` / ``--host-port``) and the path option types."""

from __future__ import annotations

from pathlib import Path

import pytest
from invoke.context import Context

from agent.cli.host_tasks import check_vm_config, host_verify
from agent.cli.options import GdaTask, Opt, existing_file, local_path


def _body(c: Context, port: str | None = None, host_port: str | None = None) -> None:
    pass


def test_an_alias_is_one_more_name_of_the_same_argument() -> None:
    t = GdaTask(_body, opts={"port": Opt("p", "p", aliases=("tcp-port",))})
    names = {a.name: a.names for a in t.get_arguments()}
    assert names["port"] == ("port", "tcp-port", "p")


def test_an_alias_that_is_another_options_name_is_refused() -> None:
    with pytest.raises(TypeError, match="long option names collide"):
        GdaTask(_body, opts={"port": Opt("p", aliases=("host-port",))})


@pytest.mark.parametrize("task", [check_vm_config, host_verify])
def test_the_host_tasks_take_the_host_ssh_options(task: GdaTask) -> None:
    names = {n for a in task.get_arguments() for n in a.names}
    assert {"host-port", "host-user", "host-identity-file", "host-known-hosts"} <= names
    assert {"port", "user", "p", "u", "I", "k"} <= names and "h" not in names


def test_path_types(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    key = tmp_path / "id"
    key.write_text("k")
    assert existing_file("~/id") == key and local_path("~/kh") == tmp_path / "kh"
    with pytest.raises(ValueError, match="is missing"):
        existing_file(str(tmp_path / "nope"))
    with pytest.raises(ValueError, match="not a file"):
        existing_file(str(tmp_path))
    with pytest.raises(ValueError, match="takes a path"):
        local_path("")
