"""File contents never reach a command line on the guest (issue 9, item 9), against the real lab guest:
while :meth:`SshSession.write_file` writes a big netplan file with a recognisable secret through sudo, a
loop on the guest records ``ps -eo args``; neither that record nor sudo's ``COMMAND=`` log lines show the
secret (the body travels on stdin; the command line carries the path and a SHA-256 only)."""

from __future__ import annotations

import base64
import secrets
import time

import pytest

from tests.lab.conftest import Lab

PS_LOG = "/tmp/gda-ps.log"
TARGET = "/etc/netplan/90-gda-secret-test.yaml"


@pytest.fixture(scope="module")
def booted(lab: Lab) -> Lab:
    lab.boot()
    return lab


def test_a_written_file_is_in_no_command_line_and_no_sudo_log(booted: Lab) -> None:
    secret = f"psk-{secrets.token_hex(12)}"
    body = "".join(f"# {i:06d}\npassword: {secret}\n" for i in range(40000)).encode()  # ~1.4 MB
    encoded = base64.b64encode(body).decode()
    with booted.ssh() as s:
        since = s.run("date +%s").stdout.strip()
        s.run(f"rm -f {PS_LOG}")
        r = s.run(
            f"nohup sh -c 'while [ ! -e {PS_LOG}.stop ]; do ps -eo args >> {PS_LOG}; done' "
            ">/dev/null 2>&1 </dev/null & echo started"
        )
        assert "started" in r.stdout
        time.sleep(1)
        s.write_file(TARGET, body, mode=0o600)
        time.sleep(1)
        s.run(f"touch {PS_LOG}.stop")
        time.sleep(1)
        assert s.read_file(TARGET) == body  # the write went through
        record = s.run(f"cat {PS_LOG}; rm -f {PS_LOG} {PS_LOG}.stop").stdout
        log = s.run(f"journalctl -q --no-pager --since @{since} _COMM=sudo; rm -f {TARGET}", root=True).stdout
    assert TARGET in record, "the ps loop ran during the write (it saw the write's command line)"
    assert secret not in record and encoded[:48] not in record, "file content in a command line"
    assert "COMMAND=" in log and TARGET in log, log[-2000:]
    assert secret not in log and encoded[:48] not in log, "file content in sudo's log"
