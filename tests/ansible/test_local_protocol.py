"""``LocalProtocol``: agent's command protocol over a real ``AnsibleModule.run_command`` (this machine).

The module is built in-process from its JSON arguments, as AnsiballZ does; the scripts really run.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from ansible.module_utils import basic
from ansible.module_utils.common.text.converters import to_bytes

from ansible_collections.gda.bhyve.plugins.module_utils.gda.errors import AgentError
from ansible_collections.gda.bhyve.plugins.module_utils.local_protocol import (
    LocalProtocol,
    LocalRootError,
    LocalTimeout,
)


@pytest.fixture
def proto(monkeypatch: pytest.MonkeyPatch) -> LocalProtocol:
    args = {"ANSIBLE_MODULE_ARGS": {"_ansible_remote_tmp": "/tmp", "_ansible_keep_remote_files": False}}
    monkeypatch.setattr(basic, "_ANSIBLE_ARGS", to_bytes(json.dumps(args)))
    monkeypatch.setattr(basic, "_ANSIBLE_PROFILE", "legacy", raising=False)
    return LocalProtocol(basic.AnsibleModule(argument_spec={}))


def test_run_gives_status_stdout_and_stderr_and_counts(proto: LocalProtocol) -> None:
    r = proto.run("echo out; echo err >&2; exit 3")
    assert (r.status, r.stdout, r.stderr) == (3, "out\n", "err\n")
    assert proto.commands_run == 1


def test_stdin_is_the_scripts_input_and_otherwise_empty(proto: LocalProtocol) -> None:
    assert proto.run("wc -c", stdin=b"12345").stdout.strip() == "5"
    assert proto.run("cat; echo end").stdout == "end\n"  # reads /dev/null, not the module's stdin


def test_a_timeout_stops_the_script_and_keeps_what_it_printed(proto: LocalProtocol) -> None:
    with pytest.raises(LocalTimeout) as e:
        proto.run("echo started; sleep 30", timeout=1)
    assert "did not finish within 1 s" in e.value.message
    assert e.value.partial_stdout == "started\n"


@pytest.mark.skipif(os.geteuid() != 0, reason="writes as root")
def test_write_file_is_atomic_with_its_mode_and_read_back(proto: LocalProtocol, tmp_path: Path) -> None:
    target = tmp_path / "f"
    target.write_text("old")
    proto.write_file(str(target), b"new\x00bytes", mode=0o640)
    assert target.read_bytes() == b"new\x00bytes"
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["f"]  # no temporary file left
    assert proto.read_file(str(target)) == b"new\x00bytes"
    with pytest.raises(AgentError, match=r"reading .*missing on local"):
        proto.read_file(str(tmp_path / "missing"))


def test_root_without_become_is_refused_with_the_hint(
    proto: LocalProtocol, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)  # the module without become
    for call in (
        lambda: proto.run("touch " + str(tmp_path / "ran"), root=True),
        lambda: proto.write_file(str(tmp_path / "w"), b"x"),
        lambda: proto.read_file("/etc/hostname"),
    ):
        with pytest.raises(LocalRootError) as e:
            call()
        assert "needs root, but the module runs as uid 1000" in e.value.message
        assert e.value.hint == "run the task with become: true"
    assert not list(tmp_path.iterdir()) and proto.commands_run == 0  # nothing ran
    assert proto.run("echo unprivileged").stdout == "unprivileged\n"  # root=False still runs
