"""The one sudo path and the file scripts both transports use, run here with the local ``sh``."""

from __future__ import annotations

import shlex
import stat
import subprocess
from pathlib import Path

import pytest

from agent.errors import RemoteError
from agent.transport.file_transfer import decode_read, read_script, write_script
from agent.transport.protocol import CommandProtocol, Result
from agent.transport.sudo import (
    NO_NONCE_STATUS,
    SUDO_PROMPT,
    SudoError,
    sudo_asks_again,
    sudo_failure,
    wrap,
)

SUDO_S = f"sudo -S -p {shlex.quote(SUDO_PROMPT)} -- "
PAYLOAD = b"line one\n\x00\xff binary\nno newline at the end"


def sh(command: str, stdin: bytes | None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(command, shell=True, input=stdin or b"", capture_output=True, check=False)


def without_sudo(command: str) -> str:
    """The wrapped command as sudo runs it (sudo itself is not here)."""
    assert command.startswith(SUDO_S)
    return command[len(SUDO_S) :]


def test_the_script_gets_its_input_whether_sudo_read_the_password_or_not() -> None:
    w = wrap("cat", remote_user_is_root=False, password="pw", stdin=PAYLOAD)
    assert w.stdin is not None and w.stdin.startswith(b"pw\n")
    assert "pw" not in w.command and "binary" not in w.command  # no secret, no content on a command line
    nopasswd = sh(without_sudo(w.command), w.stdin)  # sudo did not read the password line
    asked = sh(without_sudo(w.command), w.stdin.split(b"\n", 1)[1])  # sudo read it
    assert (nopasswd.returncode, nopasswd.stdout) == (0, PAYLOAD)
    assert (asked.returncode, asked.stdout) == (0, PAYLOAD)


def test_a_script_without_input_never_sees_the_password() -> None:
    w = wrap("cat; echo done", remote_user_is_root=False, password="pw")
    assert w.stdin == b"pw\n"
    assert sh(without_sudo(w.command), w.stdin).stdout == b"done\n"


def test_input_cut_before_the_nonce_line_runs_nothing() -> None:
    w = wrap("echo ran", remote_user_is_root=False, password="pw", stdin=b"x")
    r = sh(without_sudo(w.command), b"pw\n")
    assert (r.returncode, r.stdout) == (NO_NONCE_STATUS, b"")


def test_root_and_sudo_n_need_no_nonce() -> None:
    root = wrap("cat", remote_user_is_root=True, password="pw", stdin=PAYLOAD)
    assert not root.command.startswith("sudo") and root.stdin == PAYLOAD
    assert sh(root.command, root.stdin).stdout == PAYLOAD
    n = wrap("true", remote_user_is_root=False, password=None)
    assert n.command.startswith("sudo -n -- sh -c ") and n.stdin is None


@pytest.mark.parametrize(
    ("stderr", "message"),
    [
        ("[gda-sudo]Sorry, try again.\nsudo: 1 incorrect password attempt", "rejected the password"),
        ("sudo: a password is required", "needs a password"),
        ("admin is not in the sudoers file.", "may not use sudo"),
        ("sh: 1: sudo: not found", "not installed"),
    ],
)
def test_sudo_refusals(stderr: str, message: str) -> None:
    failure = sudo_failure(1, stderr, password_env="XDEV_SUDO_PASSWORD", user="admin")
    assert isinstance(failure, SudoError) and message in failure.message
    assert sudo_failure(0, stderr, password_env=None, user="admin") is None
    assert sudo_failure(1, "mkfs: failed", password_env=None, user="admin") is None


@pytest.mark.parametrize(
    ("stderr", "again"),
    [
        ("[gda-sudo]", False),  # the first prompt: the password line is on its way
        ("", False),  # NOPASSWD or a cached ticket: no prompt at all
        ("[gda-sudo]Sorry, try again.\n", True),  # sudo 1.9 (bookworm, noble)
        ("[gda-sudo][gda-sudo]", True),  # a sudo that prompts again without the message
    ],
)
def test_a_second_prompt_means_the_password_was_rejected(stderr: str, again: bool) -> None:
    # the root shell's sudo keeps stdin open for requests, so a rejected password makes sudo wait for
    # another one: the shell reads the second prompt as a refusal instead of waiting for READY
    assert sudo_asks_again(stderr) is again
    if "Sorry" in stderr:
        failure = sudo_failure(1, stderr, password_env="XDEV_SUDO_PASSWORD", user="admin")
        assert failure is not None and "XDEV_SUDO_PASSWORD" in failure.message


def test_write_script_writes_stdin_atomically_with_the_mode(tmp_path: Path) -> None:
    target = tmp_path / "50-cloud-init.yaml"
    target.write_text("old\n")
    r = sh(f"sh -c {shlex.quote(write_script(str(target), PAYLOAD, mode=0o640))}", PAYLOAD)
    assert r.returncode == 0, r.stderr
    assert target.read_bytes() == PAYLOAD
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == [target.name]  # no temporary file left


def test_write_script_refuses_damaged_content(tmp_path: Path) -> None:
    target = tmp_path / "f"
    target.write_text("old\n")
    r = sh(f"sh -c {shlex.quote(write_script(str(target), PAYLOAD, mode=0o600))}", PAYLOAD[:-1])
    assert r.returncode == 1 and b"does not match its checksum" in r.stderr
    assert target.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f"]


def test_write_script_needs_an_absolute_path() -> None:
    with pytest.raises(RemoteError, match="absolute path"):
        write_script("relative/f", b"", mode=0o600)


def test_read_script_round_trip(tmp_path: Path) -> None:
    source = tmp_path / "f"
    source.write_bytes(PAYLOAD)
    r = sh(f"sh -c {shlex.quote(read_script(str(source)))}", None)
    assert r.returncode == 0
    assert decode_read(r.stdout.decode(), str(source)) == PAYLOAD
    tampered = r.stdout.decode().replace("OBS sha256=", "OBS sha256=0")
    with pytest.raises(RemoteError, match="checksum"):
        decode_read(tampered, str(source))
    missing = sh(f"sh -c {shlex.quote(read_script(str(tmp_path / 'nope')))}", None)
    with pytest.raises(RemoteError, match="not a file"):
        decode_read(missing.stdout.decode(), "nope")


class _Local:
    """A minimal CommandProtocol (the type check is the point)."""

    label = "local"
    commands_run = 0

    def run(
        self, script: str, *, root: bool = False, stdin: bytes | None = None, timeout: float | None = None
    ) -> Result:
        r = sh(f"sh -c {shlex.quote(script)}", stdin)
        return Result(r.returncode, r.stdout.decode(), r.stderr.decode())

    def write_file(self, path: str, data: bytes, *, mode: int = 0o600) -> None: ...

    def read_file(self, path: str) -> bytes:
        return b""


def test_result_and_protocol() -> None:
    local = _Local()
    assert isinstance(local, CommandProtocol)
    r = local.run("echo out; echo err >&2; exit 3")
    assert (r.status, r.ok, r.stdout, r.stderr, r.output) == (3, False, "out\n", "err\n", "out\nerr\n")
    assert Result(0, "x", seconds=1.0) == Result(0, "x", seconds=2.0)
