"""What the benchmark modules share: whether benchmarks run at all, and the OpenSSH baseline's argv."""

from __future__ import annotations

import pytest

from tests.lab.conftest import Lab


def benchmarks_enabled(config: pytest.Config) -> bool:
    # pytest-benchmark's own rule (BenchmarkSession.disabled); addopts carries --benchmark-disable
    return bool(config.getoption("benchmark_enable") or not config.getoption("benchmark_disable"))


def openssh_argv(lab: Lab, command: str, *options: str) -> list[str]:
    """``ssh admin@guest COMMAND`` with OpenSSH's client: BatchMode, the lab's key and known_hosts, and
    ``-o OPTION`` for each extra option."""
    p = lab.paths
    extra = [arg for o in options for arg in ("-o", o)]
    return [
        "ssh", "-i", str(p.ssh_key), "-o", f"UserKnownHostsFile={p.known_hosts}", "-o", "BatchMode=yes",
        *extra, "-p", str(lab.ssh_port), "admin@127.0.0.1", command,
    ]  # fmt: skip
