"""The ``gda`` program: help on every task, version, short flags, completion; ``invoke`` alike."""

from __future__ import annotations

import re

import pytest

import agent
from agent.cli.collection import ns
from agent.cli.options import RESERVED_SHORT, GdaTask
from tests.cli.gda_run import gda, invoke, json_error

TASKS = sorted(ns.task_names)


def test_top_level_help_lists_every_task() -> None:
    for flag in ("-h", "--help"):
        r = gda(flag)
        assert r.returncode == 0, r.stderr
        assert r.stdout.startswith("Usage: gda ")
        for name in TASKS:
            assert f"  {name} " in r.stdout


def test_version() -> None:
    for flag in ("-V", "--version"):
        r = gda(flag)
        assert r.returncode == 0 and r.stdout.strip() == f"gda {agent.__version__}"


def test_format_short_help_works() -> None:
    """``-h`` was taken by --host-compat: ``invoke format -h`` failed."""
    r = gda("format", "-h")
    assert r.returncode == 0, r.stderr
    assert "Usage: gda [--core-opts] format [--options]" in r.stdout
    assert "-f STRING, --fs=STRING" in r.stdout
    assert "-c STRING, --host-compat=STRING" in r.stdout
    assert "-i STRING, --inventory=STRING" in r.stdout
    assert "-g, --guest" in r.stdout  # a list option (it repeats): invoke shows no STRING


@pytest.mark.parametrize("task", TASKS)
def test_every_task_has_help(task: str) -> None:
    for flag in ("-h", "--help"):
        r = gda(task, flag)
        assert r.returncode == 0, r.stderr
        assert f"Usage: gda [--core-opts] {task}" in r.stdout
        assert "--=" not in r.stdout, "a short flag made of the dash of a long name"
        shorts = re.findall(r"^  -(\w)[ ,]", r.stdout, re.MULTILINE)
        assert len(shorts) == len(set(shorts)), shorts


def test_check_vm_config_help_names_vm_name_properly() -> None:
    r = gda("check-vm-config", "--help")
    assert "-n STRING, --vm-name=STRING" in r.stdout
    assert "-H STRING, --host=STRING" in r.stdout and "-p INT, --port=INT" in r.stdout


def test_short_flags_are_explicit_unique_and_not_reserved() -> None:
    for name in TASKS:
        task = ns[name]
        assert isinstance(task, GdaTask), name
        flags = [n for a in task.get_arguments() for n in a.names if len(n) == 1]
        assert len(flags) == len(set(flags)), (name, flags)
        assert not RESERVED_SHORT & set(flags), (name, flags)


def test_guest_tasks_share_the_guest_options() -> None:
    for name in ("format", "disks", "fix-netplan"):
        names = {n for a in ns[name].get_arguments() for n in a.names}
        assert {"inventory", "i", "guest", "g", "accept-new-host-key", "a", "json", "j"} <= names, name


def test_invoke_in_the_repository_runs_the_same_collection() -> None:
    r = invoke("--list")
    assert r.returncode == 0, r.stderr
    for name in TASKS:
        assert name in r.stdout
    r = invoke("format", "-h")
    assert r.returncode == 0, r.stderr
    assert "--host-compat" in r.stdout
    r = invoke("format", "--fs", "btrfs", "--json")  # a refused value: the task's exit code and JSON
    assert r.returncode == 2 and json_error(r)["message"] == "--fs takes ext4 or xfs, not 'btrfs'"


def test_completion_script_and_candidates() -> None:
    r = gda("--print-completion-script", "bash")
    assert r.returncode == 0, r.stderr
    assert "complete -F _complete_gda" in r.stdout and "gda --complete -- " in r.stdout
    r = gda("--complete", "--", "gda")
    assert set(TASKS) <= set(r.stdout.split())
    r = gda("--complete", "--", "gda", "format", "--")
    assert {"--fs", "--host-compat", "--inventory", "--json"} <= set(r.stdout.split())
    for shell in ("zsh", "fish"):
        assert gda("--print-completion-script", shell).returncode == 0
