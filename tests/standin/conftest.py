"""The ``freebsd_host`` fixture: a started stand-in FreeBSD host (tests/standin/host.py).

Its scenario is ``seed`` unless a test names another with
``@pytest.mark.parametrize("freebsd_host", ["seed_p3_exported"], indirect=True)``. sshd is stopped at
the end of the test. Skipped (with the reason) where the stand-in cannot run: no sshd, not root, no
``unshare -m``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.standin.host import StandinHost, missing_requirements
from tests.standin.scenario import scenario_path


@pytest.fixture
def freebsd_host(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StandinHost]:
    why = missing_requirements()
    if why is not None:
        # as the lab tests do: a missing part is a failure, never a skip that hides the tests
        pytest.fail(f"stand-in FreeBSD host: {why} (run bash .ci/run, which installs openssh-server)")
    name = getattr(request, "param", "seed")
    host = StandinHost(scenario_path(name), tmp_path / "standin").start()
    try:
        yield host
    finally:
        host.stop()
