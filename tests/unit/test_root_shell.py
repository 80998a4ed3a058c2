"""The root shell's program run by the real ``sh`` of this machine (dash on Debian) over pipes, as the
SSH channel feeds it: requests in, replies framed, scripts isolated from each other and from the
requests; and the pure request/reply helpers."""

from __future__ import annotations

import os
import select
import shlex
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.transport import root_shell
from agent.transport.sudo import wrap


class LocalShell:
    """The root shell program as a local process (no sudo: the login user "is root")."""

    def __init__(
        self,
        shell: str = "sh",
        *,
        password: str | None = None,
        sudo_reads: bool = True,
        env: dict[str, str] | None = None,
    ) -> None:
        self.nonce = root_shell.new_id()
        program = root_shell.shell_program(self.nonce)
        w = wrap(program, remote_user_is_root=password is None, password=password, stdin=b"")
        command, first = w.command, w.stdin or b""
        if password is not None:  # as sudo runs it: sudo is not here; it reads the password line or not
            command = command.split(" -- ", 1)[1]
            first = first.split(b"\n", 1)[1] if sudo_reads else first
        sh, dash_c, script = shlex.split(command)  # the wrapper's "sh -c SCRIPT", run by this shell
        assert (sh, dash_c) == ("sh", "-c")
        self.proc = subprocess.Popen(
            [shutil.which(shell) or shell, "-c", script],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert self.proc.stdin is not None
        self.proc.stdin.write(first)
        self.proc.stdin.flush()
        self.out = bytearray()
        self.err = bytearray()
        self._until(lambda: root_shell.ready(self.out, self.nonce) is not None)
        ready = root_shell.ready(self.out, self.nonce)
        assert ready is not None, (bytes(self.out), bytes(self.err))
        self.mode, end = ready
        del self.out[:end]

    def _until(self, done: object, timeout: float = 10.0) -> None:
        assert self.proc.stdout is not None and self.proc.stderr is not None
        deadline = time.monotonic() + timeout
        streams = {self.proc.stdout.fileno(): self.out, self.proc.stderr.fileno(): self.err}
        while not done():  # type: ignore[operator]
            assert time.monotonic() < deadline, (bytes(self.out), bytes(self.err))
            ready, _, _ = select.select(list(streams), [], [], 0.1)
            for fd in ready:
                chunk = os.read(fd, 65536)
                if chunk:
                    streams[fd] += chunk
            if self.proc.poll() is not None and not ready:
                return

    def run(self, script: str) -> root_shell.Reply:
        assert self.proc.stdin is not None
        rid = root_shell.new_id()
        self.proc.stdin.write(root_shell.request(rid, script, self.mode))
        self.proc.stdin.flush()
        box: list[root_shell.Reply] = []

        def complete() -> bool:
            r = root_shell.reply(self.out, self.err, rid)
            if r is not None:
                box.append(r)
            return r is not None

        self._until(complete)
        assert box, f"no reply: out={bytes(self.out)!r} err={bytes(self.err)!r} rc={self.proc.poll()}"
        self.out.clear()
        self.err.clear()
        return box[0]

    def close(self) -> int:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        return self.proc.wait(timeout=10)


def _needs(shell: str) -> None:
    if shutil.which(shell) is None:
        pytest.skip(f"{shell} is not installed")


@pytest.fixture(params=["dash", "bash"])
def shell(request: pytest.FixtureRequest) -> Iterator[LocalShell]:
    _needs(request.param)
    s = LocalShell(request.param)
    yield s
    s.close()


def test_dash_reads_requests_as_its_own_input_and_any_other_shell_framed() -> None:
    # dash runs code it reads itself (no head, no check before READY); bash reads a sourced pipe to its
    # end before running any of it, so it reads framed requests
    for sh, mode in (("dash", root_shell.CODE), ("bash", root_shell.FRAMED)):
        _needs(sh)
        s = LocalShell(sh)
        assert s.mode == mode, sh
        assert s.run("echo $0").status == 0
        assert s.close() == 0
    if Path("/bin/sh").resolve().name == "dash":  # Debian's and Ubuntu's sh is dash: the same mode
        assert LocalShell("sh").mode == root_shell.CODE


def test_scripts_run_one_after_the_other_with_their_own_status_and_streams(shell: LocalShell) -> None:
    a = shell.run("echo one; echo err >&2; exit 3")
    assert (a.status, a.stdout, a.stderr) == (3, b"one\n", b"err\n")
    b = shell.run("printf two")  # no final newline: the reply still ends cleanly
    assert (b.status, b.stdout, b.stderr) == (0, b"two", b"")


def test_each_script_is_a_fresh_shell_with_stdin_from_dev_null(shell: LocalShell) -> None:
    shell.run("X=1; export X; cd /tmp")
    r = shell.run('printf "%s|" "${X:-unset}" "$(pwd)"; cat; echo "[$(cat)]"')
    assert r.stdout.startswith(b"unset|") and r.stdout.endswith(b"[]\n")
    assert not r.stdout.startswith(b"unset|/tmp|") or os.getcwd() == "/tmp"


def test_script_lines_that_look_like_requests_or_end_lines_are_only_data(shell: LocalShell) -> None:
    # a script printing what looks like a request end or an end line of another id: data, not framing
    fake = "@@GDA-SHELL 0123456789abcdef0123 rc=0@@"
    r = shell.run(f"cat <<'EOF'\nEND 0123456789abcdef0123\nRUN x\n{fake}\nEOF\n")
    assert r.status == 0
    assert r.stdout == f"END 0123456789abcdef0123\nRUN x\n{fake}\n".encode()
    assert shell.run("echo still here").stdout == b"still here\n"


def test_a_script_with_traps_and_descriptors_has_them_to_itself(shell: LocalShell) -> None:
    # the guard locks fd 9 and names it /proc/self/fd/9: the script's own process (a subshell of the root
    # shell; its $$ is the root shell's), whose descriptors and traps end with it
    r = shell.run(
        'exec 9</dev/null; [ /dev/null -ef /proc/self/fd/9 ] && echo own; trap "echo bye" EXIT; exit 4'
    )
    assert (r.status, r.stdout) == (4, b"own\nbye\n")
    r = shell.run('[ -e /proc/self/fd/9 ] && echo leaked; echo "args=$#"; trap')
    assert (r.status, r.stdout) == (0, b"args=0\n")
    assert shell.run("echo next").stdout == b"next\n"  # the exit ended the script, not the shell


def test_end_of_requests_ends_the_shell(shell: LocalShell) -> None:
    assert shell.close() == 0


@pytest.mark.parametrize(
    "bad",
    [
        b"rm -rf /nonexistent-gda\n",  # no request line at all
        b"RUN 0123456789abcdef0123\necho ran > /dev/stderr\nEND 0123456789abcdef0123\n",  # no length
    ],
)
def test_a_bad_request_line_stops_the_framed_shell(bad: bytes) -> None:
    _needs("bash")
    s = LocalShell("bash")
    assert s.proc.stdin is not None
    s.proc.stdin.write(bad)
    s.proc.stdin.close()
    assert s.proc.wait(timeout=10) == 2
    assert s.proc.stderr is not None and b"ran" not in s.proc.stderr.read()


@pytest.mark.parametrize(
    "cut",
    [
        b"RUN 0123456789abcdef0123 100\necho ran > /dev/stderr\n",  # fewer bytes than it says
        b"RUN 0123456789abcdef0123 24\necho ran > /dev/stderr\n",  # all of them, no END line
        b"RUN 0123456789abcdef0123 24\necho ran > /dev/stderr\nEND 0123456789abcdef0124\n",  # another id
    ],
)
def test_a_framed_request_cut_short_runs_nothing(cut: bytes) -> None:
    _needs("bash")
    s = LocalShell("bash")
    assert s.proc.stdin is not None
    s.proc.stdin.write(cut)
    s.proc.stdin.close()
    assert s.proc.wait(timeout=10) == 0
    assert s.proc.stderr is not None and s.proc.stderr.read() == b""


#: a head that reads through a buffer, as FreeBSD's, busybox's and uutils' do: it takes more of the pipe
#: than the bytes it prints
GREEDY_HEAD = """#!/usr/bin/env python3
import os, sys
n = int(sys.argv[2])
data = os.read(0, 65536)
sys.stdout.buffer.write(data[:n])
"""


@pytest.mark.parametrize("head", ["gnu", "none", "greedy"])
def test_scripts_of_any_size_and_bytes_arrive_whole(head: str, tmp_path: Path) -> None:
    # one head -c of the declared length where head reads only that; else the lines up to the END line
    env = None
    if head != "gnu":  # a PATH with sh (and env, python3) and, for "greedy", a head that over-reads
        for tool in ("sh", "env", "python3"):
            (tmp_path / tool).symlink_to(shutil.which(tool) or f"/usr/bin/{tool}")
        if head == "greedy":
            (tmp_path / "head").write_text(GREEDY_HEAD)
            (tmp_path / "head").chmod(0o755)
        env = {**os.environ, "PATH": str(tmp_path)}
    _needs("bash")
    s = LocalShell("bash", env=env)
    assert s.mode == root_shell.FRAMED
    big = (
        "".join(f"x{i}='line {i} é \\ $ ` \" ends'\n" for i in range(2000)) + 'printf "%s|%s" "$x0" "$x1999"'
    )
    assert len(big.encode()) > 60000
    r = s.run(big)
    assert (r.status, r.stdout) == (0, 'line 0 é \\ $ ` " ends|line 1999 é \\ $ ` " ends'.encode())
    assert s.run("printf 'no newline at the end'").stdout == b"no newline at the end"
    assert s.run("").status == 0


def _cut_code(script: str) -> list[bytes]:
    whole = root_shell.request("0123456789abcdef0123", script, root_shell.CODE)
    end = whole.rindex(b" .\n")
    return [whole[:n] for n in (len(b"_gda_s() ( :\n") + 5, whole.index(b") </dev/null"), end, end + 1)]


@pytest.mark.parametrize("cut", _cut_code("echo ran > /dev/stderr\n"))
def test_a_code_request_cut_short_runs_nothing(cut: bytes) -> None:
    # inside the script, before its closing line, before the end call, before its "."
    _needs("dash")
    s = LocalShell("dash")
    assert s.proc.stdin is not None and s.proc.stderr is not None
    s.proc.stdin.write(cut)
    s.proc.stdin.close()
    s.proc.wait(timeout=10)
    assert b"ran" not in s.proc.stderr.read()


def test_code_requests_of_any_size_and_bytes_arrive_whole() -> None:
    _needs("dash")
    s = LocalShell("dash")
    big = (
        "".join(f"x{i}='line {i} é \\ $ ` \" ) ends'\n" for i in range(2000))
        + 'printf "%s|%s" "$x0" "$x1999"'
    )
    assert len(big.encode()) > 60000
    r = s.run(big)
    assert (r.status, r.stdout) == (0, 'line 0 é \\ $ ` " ) ends|line 1999 é \\ $ ` " ) ends'.encode())
    assert s.run("printf 'no newline at the end'").stdout == b"no newline at the end"
    assert s.run("").status == 0
    assert s.run("# only a comment").status == 0
    assert s.run("f() { return 5; }; f").status == 5
    assert s.close() == 0


def test_request_and_reply_helpers() -> None:
    rid = "0123456789abcdef0123"
    framed = root_shell.FRAMED
    assert root_shell.request(rid, "true", framed) == f"RUN {rid} 5\ntrue\nEND {rid}\n".encode()
    assert root_shell.request(rid, "echo é\n", framed) == f"RUN {rid} 8\necho é\nEND {rid}\n".encode()
    code = root_shell.request(rid, "true", root_shell.CODE)
    assert code == f"_gda_s() ( :\ntrue\n) </dev/null\n_gda_end {rid} .\n".encode()
    for bad_rid, script, mode in (("x y", "true", framed), (rid, "true", "other"), (rid, "a \\", "code")):
        with pytest.raises(ValueError):
            root_shell.request(bad_rid, script, mode)
    nonce = "0123456789abcdef"
    buf = f"skipped\n@@GDA-SHELL {nonce} READY code@@\nrest".encode()
    assert root_shell.ready(buf, nonce) == ("code", len(buf) - 4)
    assert root_shell.ready(b"@@GDA-SHELL fedcba9876543210 READY code@@\n", nonce) is None
    assert root_shell.ready(f"@@GDA-SHELL {nonce} READY other@@\n".encode(), nonce) is None
    with pytest.raises(ValueError):
        root_shell.shell_program("$(reboot)")
    out = f"partial@@GDA-SHELL {rid} rc=7@@\n".encode()
    assert root_shell.reply(out, b"", rid) is None  # stderr's end line not seen yet
    r = root_shell.reply(out, f"e\n@@GDA-SHELL {rid}@@\n".encode(), rid)
    assert r == root_shell.Reply(7, b"partial", b"e\n")
    assert root_shell.stdout_done(b"@@GDA-SHELL other rc=0@@\n", rid) is None


def test_with_a_password_the_shell_skips_to_its_nonce_line() -> None:
    # the sudo wrapper's stdin: password line, nonce line; sudo reads the first, the shell skips the rest
    w = wrap(
        root_shell.shell_program(root_shell.new_id()), remote_user_is_root=False, password="pw", stdin=b""
    )
    assert w.stdin is not None and w.stdin.startswith(b"pw\ngda-") and w.command.startswith("sudo -S ")
    assert b"pw" not in w.command.encode()


@pytest.mark.parametrize("sudo_reads", [True, False])
def test_behind_sudo_the_first_request_runs_whether_sudo_read_the_password_or_not(
    sudo_reads: bool,
) -> None:
    s = LocalShell(password="pw", sudo_reads=sudo_reads)
    r = s.run("echo first; cat")  # the script's stdin is /dev/null, never the password
    assert (r.status, r.stdout) == (0, b"first\n")
    assert s.close() == 0
