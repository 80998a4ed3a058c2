"""A boot that does not come up in time fails with the last console lines, and lab.down cleans up."""

from __future__ import annotations

import pytest

from agent.errors import AgentError
from agent.lab import control
from agent.lab.paths import StatePaths


def test_boot_timeout_shows_console_lines(lab_image: None, tmp_path_factory: pytest.TempPathFactory) -> None:
    sp = StatePaths(tmp_path_factory.mktemp("lab-timeout"))
    try:
        with pytest.raises(AgentError, match="timed out waiting for the login prompt") as info:
            control.up(
                sp, disks=[], ssh_port=2392, console_port=4692, fresh=True, timeout=4.0, log=lambda _m: None
            )
        assert "last console lines:" in info.value.message
        st = control.LabState.load(sp)
        assert st is not None and control.pid_alive(st.pid), "the guest is left running for inspection"
    finally:
        assert control.down(sp, log=lambda _m: None) is True
    assert not control.pid_alive(st.pid)
    assert control.down(sp, log=lambda _m: None) is False, "a second down says it is not running"
