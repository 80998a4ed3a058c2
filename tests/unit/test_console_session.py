"""ConsoleSession and the console transports against a scripted fake console (tests/unit/fake_console.py):
a fake agetty + login on a pty, then a real bash, served on a unix socket / TCP port / stdio."""

from __future__ import annotations

import base64
import getpass
import hashlib
import io
import re
import shlex
import socket
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, cast

import pytest

from agent.console.commands import ConsoleCommands
from agent.console.console_io import ConsoleTimeout
from agent.console.file_channel import chunk_chars
from agent.console.login_states import ConsoleState, strip_kernel_messages
from agent.console.session import ConsoleSession
from agent.console.transports import CU_DETACH, ConsoleKind, ConsoleSpec, default_detach, open_console
from agent.errors import ConsoleError, RemoteError, UsageError
from agent.transport.protocol import CommandProtocol
from tests.unit.fake_console import FakeConsole, fake_console_argv, start_fake_console

pytestmark = pytest.mark.timeout(30)

USER = getpass.getuser()  # the fake's bash runs as us, so `id -un` must agree with the login name
PASSWORD = "s3cr3t-Pa55"
FAST: dict[str, Any] = {"prompt_timeout": 3.0, "command_timeout": 5.0}


def typed_lines(transcript: io.StringIO) -> list[str]:
    """The lines the session typed, as its transcript shows them (``>>> ...``)."""
    return [line for line in transcript.getvalue().splitlines() if line.startswith(">>> ")]


@pytest.fixture
def short_tmp() -> Iterator[Path]:
    # unix socket paths are limited to ~108 bytes: pytest's tmp_path can be longer
    with tempfile.TemporaryDirectory(prefix="gda-") as name:
        yield Path(name)


StartConsole = Callable[..., FakeConsole]


@pytest.fixture
def fake(short_tmp: Path) -> Iterator[StartConsole]:
    started: list[FakeConsole] = []

    def start(listen: str = "unix", users: list[str] | None = None, **kwargs: Any) -> FakeConsole:
        state = short_tmp / f"guest{len(started)}"
        state.mkdir()
        address = f"unix:{short_tmp}/console{len(started)}.sock" if listen == "unix" else "tcp:127.0.0.1:0"
        console = start_fake_console(state, address, users=users or [f"{USER}:{PASSWORD}"], **kwargs)
        started.append(console)
        return console

    yield start
    for console in started:
        console.stop()


SessionFactory = Callable[..., ConsoleSession]


@pytest.fixture
def session_for() -> Iterator[SessionFactory]:
    spawns: list[Any] = []

    def make(console: FakeConsole, *, transcript: io.StringIO | None = None, **kwargs: Any) -> ConsoleSession:
        kind: ConsoleKind = "unix" if console.address.startswith("unix:") else "tcp"
        spawn = open_console(ConsoleSpec(kind, console.target), timeout=5)
        spawns.append(spawn)
        options = {**FAST, **kwargs}
        return ConsoleSession(spawn, transcript=transcript, secrets=options.pop("secrets", []), **options)

    yield make
    for spawn in spawns:
        spawn.close()


@pytest.fixture
def logged_in(fake: StartConsole, session_for: SessionFactory) -> Iterator[ConsoleSession]:
    console = session_for(fake())
    console.login(USER, PASSWORD)
    yield console
    console.logout()


# ----------------------------------------------------------------------------------- login states


def test_login_from_login_prompt_sets_up_the_shell(fake: StartConsole, session_for: SessionFactory) -> None:
    guest = fake(kmsg_after_login="random: crng init done")
    console = session_for(guest)
    assert console.wake() is ConsoleState.LOGIN
    console.login(USER, PASSWORD)
    result = console.run(
        "echo \"$PS2|$TERM|${HISTFILE-unset}|$PAGER\"; stty -a | grep -o -- '-echo '; "
        "stty size; bind -v | grep bracketed"
    )
    assert result.status == 0
    assert result.output == "|dumb|unset|cat\n-echo \n50 500\nset enable-bracketed-paste off\n"
    assert guest.dmesg_calls() == ["-n 1"]
    console.logout()
    assert console.wake() is ConsoleState.LOGIN


def test_takes_over_a_shell_already_logged_in(fake: StartConsole, session_for: SessionFactory) -> None:
    guest = fake(logged_in=USER)
    console = session_for(guest)
    assert console.wake() is ConsoleState.SHELL
    console.login(USER, None)  # no password needed
    assert console.run("id -un").output == f"{USER}\n"
    assert guest.failed_logins() == []


def test_wrong_password_fails_clearly_without_retrying(
    fake: StartConsole, session_for: SessionFactory
) -> None:
    guest = fake()
    transcript = io.StringIO()
    console = session_for(guest, transcript=transcript)
    with pytest.raises(ConsoleError) as err:
        console.login(USER, "wrong-password")
    message = str(err.value)
    assert message.startswith(f"console login failed for user {USER}: Login incorrect")
    assert "wrong-password" not in message
    assert guest.failed_logins() == [USER]  # one attempt, no loop
    assert "wrong-password" not in transcript.getvalue()
    assert console.wake() is ConsoleState.LOGIN  # the console is left at the login prompt


def test_forced_password_change_is_aborted_and_reported(
    fake: StartConsole, session_for: SessionFactory
) -> None:
    guest = fake(users=[f"{USER}:{PASSWORD}:must-change"])
    console = session_for(guest)
    with pytest.raises(ConsoleError, match="password must be changed") as err:
        console.login(USER, PASSWORD)
    assert err.value.hint and "by hand" in err.value.hint
    assert PASSWORD not in str(err.value)
    assert console.wake() is ConsoleState.LOGIN  # Ctrl-C ended login; a new getty is there


@pytest.mark.parametrize(
    ("state", "reason"), [("expired", "account has expired"), ("locked", "account is locked")]
)
def test_expired_or_locked_account(
    fake: StartConsole, session_for: SessionFactory, state: str, reason: str
) -> None:
    console = session_for(fake(users=[f"{USER}:{PASSWORD}:{state}"]))
    with pytest.raises(ConsoleError, match=reason):
        console.login(USER, PASSWORD)


def test_continuation_prompt_is_cleared_with_ctrl_c(fake: StartConsole, session_for: SessionFactory) -> None:
    console = session_for(fake(logged_in=USER))
    assert console.wake() is ConsoleState.SHELL
    console._send("echo 'an unterminated quote\r")  # an earlier visitor left bash waiting at PS2 "> "
    console._expect([re.compile(r"> \Z")], 3, "PS2")
    console.login(USER, None)
    assert console.run("echo fine").output == "fine\n"


def test_busy_console_is_reported_with_its_last_lines(
    fake: StartConsole, session_for: SessionFactory
) -> None:
    console = session_for(fake(busy=True), prompt_timeout=0.3)
    with pytest.raises(ConsoleError) as err:
        console.login(USER, PASSWORD)
    assert str(err.value).startswith("console busy: no login or shell prompt after 3 wakes")
    assert "(the console printed nothing)" in str(err.value)


# ----------------------------------------------------------------------------------- commands


def test_exit_status_propagates(logged_in: ConsoleSession) -> None:
    assert logged_in.run("true").status == 0
    assert logged_in.run("false").status == 1
    assert logged_in.run("(exit 3)").status == 3
    assert logged_in.run("sh -c 'exit 42'").status == 42
    result = logged_in.run("echo out; echo err >&2; (exit 7)")
    assert (result.status, result.output) == (7, "out\nerr\n")
    assert not result.ok


def test_output_is_exact(logged_in: ConsoleSession) -> None:
    assert logged_in.run("printf 'no newline'").output == "no newline"
    assert logged_in.run("printf 'a\\n\\nb\\n\\n'").output == "a\n\nb\n\n"
    assert logged_in.run("true").output == ""
    tricky = 'it\'s "quoted" $HOME `x` \\ ! # not a comment'
    assert logged_in.run(f"printf '%s\\n' {shlex.quote(tricky)}").output == tricky + "\n"
    assert logged_in.run("echo one # a comment").output == "one\n"
    assert logged_in.run('for i in 1 2\ndo echo "line\t$i"\ndone').output == "line\t1\nline\t2\n"
    assert logged_in.run("echo 'héllo wörld'").output == "héllo wörld\n"
    logged_in.run("cd /tmp && X=kept")
    assert logged_in.run("pwd; echo $X").output == "/tmp\nkept\n"  # one shell: state persists


def test_output_containing_markers(logged_in: ConsoleSession) -> None:
    fake_markers = "@@GDA-END-1-0@@ @@GDA-START-2@@ @@GDA-END-deadbeef-5-0@@"
    result = logged_in.run(f'echo \'{fake_markers}\'; echo "@@GDA""-END-x-1-0@@"; false')
    assert result.status == 1
    assert result.output == f"{fake_markers}\n@@GDA-END-x-1-0@@\n"


def test_interleaved_kernel_messages_are_removed(logged_in: ConsoleSession) -> None:
    result = logged_in.run(
        "echo one; kmsg 'nvme nvme0: I/O 17 QID 2 timeout, aborting'; echo two; "
        "for i in 1 2 3; do printf 'line %s\\n' $i; kmsg \"EXT4-fs (nvme0n1): msg $i\"; "
        "done; false"
    )
    assert result.status == 1
    assert result.output == "one\ntwo\nline 1\nline 2\nline 3\n"
    lines = logged_in.last_lines(30)
    # the kernel lines really came in the middle of the command's output
    start = max(i for i, line in enumerate(lines) if line.startswith("@@GDA-START-"))
    end = max(i for i, line in enumerate(lines) if line.startswith("@@GDA-END-"))
    kernel = [i for i, line in enumerate(lines) if re.match(r"\[\s*\d+\.\d{6}\] (nvme|EXT4)", line)]
    assert len(kernel) == 4 and start < min(kernel) and max(kernel) < end
    assert lines.index("two") > kernel[0]


def test_keep_kernel_lines_for_dmesg_like_output(logged_in: ConsoleSession) -> None:
    cmd = "printf '[    1.000000] Linux version 6.1\\n'"
    assert logged_in.run(cmd).output == ""
    assert logged_in.run(cmd, keep_kernel_lines=True).output == "[    1.000000] Linux version 6.1\n"


def test_strip_kernel_messages_only_at_line_start() -> None:
    raw = "a\r\n[   12.345678] nvme nvme0: x\r\nsee [ 1.0] here\r\n[ 3.5] usb 1-1: y\r\n"
    assert strip_kernel_messages(raw) == "a\nsee [ 1.0] here\n"


def test_command_timeout_interrupts_and_shows_last_lines(logged_in: ConsoleSession) -> None:
    with pytest.raises(ConsoleTimeout) as err:
        logged_in.run("echo started-sleeping; sleep 30", timeout=0.5)
    message = str(err.value)
    assert "timed out after 0.5s" in message
    assert "last console lines:" in message and "  | started-sleeping" in message
    assert logged_in.run("echo alive").output == "alive\n"  # Ctrl-C brought the prompt back


def test_run_checked(logged_in: ConsoleSession) -> None:
    assert logged_in.run_checked("echo ok") == "ok\n"
    with pytest.raises(ConsoleError, match=r"exit status 2:\n  \| ls: .*nonexistent"):
        logged_in.run_checked("ls /nonexistent")


def test_never_sends_a_line_beginning_with_tilde(logged_in: ConsoleSession) -> None:
    # multi-line commands are sent as one line (printf octal escapes), so "~" never follows a newline
    assert logged_in.run("echo a\n~/x 2>/dev/null; echo b").output == "a\nb\n"
    with pytest.raises(ConsoleError, match="begins with '~'"):
        logged_in._send("\r~.")  # what a raw send of cu's escape would be


# ----------------------------------------------------------------------------------- files


def test_write_and_read_file_round_trip(logged_in: ConsoleSession, short_tmp: Path) -> None:
    data = bytes(range(256)) * 5 + b"\r\n~.\n\x00"  # binary, several chunks
    path = short_tmp / "out.bin"
    logged_in.write_file(str(path), data, mode=0o640)
    assert path.read_bytes() == data
    assert path.stat().st_mode & 0o777 == 0o640
    assert sorted(p.name for p in short_tmp.iterdir() if p.name.startswith(".out.bin")) == []
    assert logged_in.read_file(str(path)) == data


@pytest.mark.parametrize("data", [b"~.\n~~ tilde first\n", b"", b"network:\n  version: 2\n"])
def test_write_file_small_and_tilde(logged_in: ConsoleSession, short_tmp: Path, data: bytes) -> None:
    path = short_tmp / "50-cloud-init.yaml"
    path.write_bytes(b"old content")
    logged_in.write_file(str(path), data)
    assert path.read_bytes() == data
    assert path.stat().st_mode & 0o777 == 0o600
    assert logged_in.read_file(str(path)) == data


def test_read_missing_file_fails(logged_in: ConsoleSession) -> None:
    with pytest.raises(ConsoleError, match="No such file"):
        logged_in.read_file("/nonexistent/file")


def test_write_file_sends_a_large_payload_compressed_and_checks_what_it_decodes(
    fake: StartConsole, session_for: SessionFactory, short_tmp: Path
) -> None:
    transcript = io.StringIO()
    console = session_for(fake(), transcript=transcript)
    console.login(USER, PASSWORD)
    data = b"".join(b"line %d of a shell script that repeats itself a lot\n" % (i % 40) for i in range(400))
    plain = len(base64.b64encode(data))
    console.write_file(str(short_tmp / "big"), data)
    console.write_file(str(short_tmp / "small"), b"network:\n  version: 2\n")
    console._gzip = False  # a guest without gzip: the same file goes over as it is
    console.write_file(str(short_tmp / "plain"), data)
    console.logout()
    assert (short_tmp / "big").read_bytes() == data == (short_tmp / "plain").read_bytes()
    assert (short_tmp / "small").read_bytes() == b"network:\n  version: 2\n"
    sent = typed_lines(transcript)
    big = [line for line in sent if "/.big.gda-" in line]
    plain_sent = [line for line in sent if "/.plain.gda-" in line]
    per_line = chunk_chars(shlex.quote(str(short_tmp / ".plain.gda-x.b64")))
    assert sum("<chunk " in line for line in plain_sent) >= plain // per_line  # as many as base64 takes
    assert sum("<chunk " in line for line in big) < plain // per_line / 2  # far fewer
    assert any("| gzip -dc" in line for line in big) and not any("gzip" in line for line in plain_sent)
    assert not any("gzip" in line for line in sent if "/.small.gda-" in line)  # small: not worth it
    assert [p.name for p in short_tmp.iterdir() if p.name.startswith(".")] == []


def test_the_last_chunk_and_the_decoding_go_as_one_line_where_it_fits(
    fake: StartConsole, session_for: SessionFactory, short_tmp: Path
) -> None:
    transcript = io.StringIO()
    console = session_for(fake(), transcript=transcript)
    console.login(USER, PASSWORD)
    console.write_file(str(short_tmp / "small"), b"network:\n  version: 2\n")
    data = bytes(range(256)) * 12  # base64 over two lines, the second short
    console._gzip = False
    console.write_file(str(short_tmp / "two"), data)
    with pytest.raises(ConsoleError, match="failed"):  # the chunk cannot be written: nothing is decoded
        console.write_file(str(short_tmp / "no-such-dir" / "x"), b"data\n")
    console.logout()
    assert (short_tmp / "small").read_bytes() == b"network:\n  version: 2\n"
    assert (short_tmp / "two").read_bytes() == data
    sent = typed_lines(transcript)
    small = [line for line in sent if "/.small.gda-" in line]
    assert len(small) == 1 and "<chunk 1 of" in small[0] and "sha256sum" in small[0]  # one round trip
    two = [line for line in sent if "/.two.gda-" in line]
    assert len(two) == 2 and "sha256sum" not in two[0] and "<chunk 2 of" in two[1] and "sha256sum" in two[1]
    assert not (short_tmp / "no-such-dir").exists()
    assert [p.name for p in short_tmp.iterdir() if p.name.startswith(".")] == []


def test_write_file_refuses_what_does_not_decode_to_the_data_and_leaves_the_target(
    logged_in: ConsoleSession, short_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import agent.console.file_channel as session_module

    target = short_tmp / "50-cloud-init.yaml"
    target.write_bytes(b"old\n")
    real = session_module.gzipped
    monkeypatch.setattr(session_module, "gzipped", lambda data: real(data + b"tampered"))
    with pytest.raises(ConsoleError, match="checksum on the guest does not match"):
        logged_in.write_file(str(target), b"network:\n" * 200)
    assert target.read_bytes() == b"old\n"
    assert [p.name for p in short_tmp.iterdir() if p.name.startswith(".")] == []


# ----------------------------------------------------------------------------------- the command protocol


def test_console_commands_fold_stderr_and_take_stdin(logged_in: ConsoleSession) -> None:
    commands = ConsoleCommands(logged_in, user=USER, label="fake")
    assert isinstance(commands, CommandProtocol)
    r = commands.run("echo out; echo err >&2; cd /; exit 3")
    assert (r.status, r.stdout, r.stderr) == (3, "out\nerr\n", "")
    assert logged_in.run("pwd").output != "/\n"  # a child shell: the login shell did not move
    data = b"a\n~. b\n\x00\xff"
    r = commands.run("od -An -c | tr -s ' '", stdin=data)
    assert r.ok and "\\0" in r.stdout and "~ ." in r.stdout
    assert logged_in.run(f"ls -a /tmp | grep -c '^.gda-stdin-{logged_in.nonce}' || true").output == "0\n"
    assert commands.commands_run == 2


def test_console_commands_write_and_read_files_as_root(logged_in: ConsoleSession, short_tmp: Path) -> None:
    commands = ConsoleCommands(logged_in, user="root", label="fake")  # the fake's shell stands in for root's
    path = short_tmp / "50-cloud-init.yaml"
    path.write_text("old\n")
    data = b"network:\n  version: 2\n" + bytes(range(256))
    commands.write_file(str(path), data, mode=0o644)
    assert path.read_bytes() == data and path.stat().st_mode & 0o777 == 0o644
    assert [p.name for p in short_tmp.iterdir() if p.name.startswith(".")] == []  # no temporary file left
    assert commands.read_file(str(path)) == data
    with pytest.raises(RemoteError, match="not a file"):
        commands.read_file(str(short_tmp / "missing"))


def test_files_then_a_script_are_one_typed_line_on_a_root_console(
    fake: StartConsole, session_for: SessionFactory, short_tmp: Path
) -> None:
    """fix-netplan's new file and its arm-install: the chunk, the decode and check, and the script go as
    one line; the script sees the file in place, and its status and output are the result's. A file that
    cannot be written runs no script."""
    transcript = io.StringIO()
    console = session_for(fake(), transcript=transcript)
    console.login(USER, PASSWORD)
    commands = ConsoleCommands(console, user="root", label="fake")  # the fake's shell stands in for root's
    path = short_tmp / ".50-cloud-init.yaml.new"
    data = b"network:\n  version: 2\n"
    before = len(typed_lines(transcript))
    r = commands.write_files_then_run([(str(path), data, 0o600)], f"cat {shlex.quote(str(path))}; exit 5")
    assert (r.status, r.stdout) == (5, data.decode())
    assert len(typed_lines(transcript)) == before + 1  # one round trip for the file and the script
    ran = short_tmp / "ran"
    with pytest.raises(RemoteError, match="could not write"):
        commands.write_files_then_run(
            [(str(short_tmp / "no-such-dir" / "x"), data, 0o600)], f"touch {shlex.quote(str(ran))}"
        )
    assert not ran.exists(), "the script does not run when its files are not in place"
    console.logout()
    assert [p.name for p in short_tmp.iterdir() if p.name.startswith(".") and p != path] == []


def test_a_rendered_script_goes_over_once_per_login_and_its_staged_part_is_removed_at_logout(
    fake: StartConsole, session_for: SessionFactory
) -> None:
    from agent.core.script_render import SHARED_MARK

    def script(value: str) -> str:  # the shape render() gives: header, prelude, mark, shared part
        shared = "".join(f"# padding line {i} of the shared part\n" for i in range(60))
        return f"#!/bin/sh\n# guest-disk-agent: t.sh\nN='abcdefgh12345678'\nX={shlex.quote(value)}\n" + (
            SHARED_MARK + shared + 'echo "x=$X args=$#"; exit 4\n'
        )

    transcript = io.StringIO()
    console = session_for(fake(), transcript=transcript)
    console.login(USER, PASSWORD)
    commands = ConsoleCommands(console, user=USER, label="fake")
    staged = f"ls /tmp/.gda-stage-{console.nonce} 2>/dev/null | wc -l"
    assert console.run(staged).output.strip() == "0"
    first = commands.run(script("one two"))
    second = commands.run(script("three"))
    assert (first.status, first.stdout) == (4, "x=one two args=0\n")
    assert (second.status, second.stdout) == (4, "x=three args=0\n")
    assert console.run(staged).output.strip() == "1"  # one staged file for both runs
    chunks = [ln for ln in typed_lines(transcript) if "<chunk " in ln]
    assert len(chunks) == 1
    console.logout()  # removes what it staged
    console.login(USER, PASSWORD)
    assert console.run(staged).output.strip() == "0"
    assert console.run(f"test -e /tmp/.gda-stage-{console.nonce} || echo gone").output == "gone\n"
    console.logout()


# ----------------------------------------------------------------------------------- transcript, logout


def test_transcript_redacts_secrets(fake: StartConsole, session_for: SessionFactory) -> None:
    transcript = io.StringIO()
    console = session_for(fake(), transcript=transcript, secrets=["api-token-123"])
    with console:
        console.login(USER, PASSWORD)
        result = console.run("echo api-token-123 and api-token-123")
        assert result.output == "api-token-123 and api-token-123\n"
        with pytest.raises(ConsoleError) as err:
            console.run_checked("echo $((1+1)) api-token-123; false")
        assert "api-token-123" not in str(err.value) and "********" in str(err.value)
    text = transcript.getvalue()
    assert PASSWORD not in text and "api-token-123" not in text
    assert ">>> <password>" in text
    assert "******** and ********" in text
    assert f">>> {USER}" in text and "login: " in text and "EXIT; exit\n" in text


def test_transcript_shows_file_payloads_as_length_and_sha256(
    fake: StartConsole, session_for: SessionFactory, short_tmp: Path
) -> None:
    """What write_file sends and what read_file (and ConsoleCommands' read script) gets back: never the
    base64 of the file (it decodes to a Wi-Fi PSK), only its length and SHA-256."""
    secret = b"network:\n  wifis:\n    wlan0:\n      access-points:\n        home: {password: Tr0ub4dor&3}\n"
    data = secret * 20  # several chunks
    digest = hashlib.sha256(data).hexdigest()
    transcript = io.StringIO()
    console = session_for(fake(), transcript=transcript)
    path = short_tmp / "50-wifi.yaml"
    with console:
        console.login(USER, PASSWORD)
        console.write_file(str(path), data)
        assert console.read_file(str(path)) == data
        assert ConsoleCommands(console, user="root", label="fake").read_file(str(path)) == data
        small = short_tmp / "small.yaml"
        small.write_bytes(b"psk: hunter2\n")
        assert console.read_file(str(small)) == b"psk: hunter2\n"
    text = transcript.getvalue()
    encoded = base64.b64encode(data).decode()
    for start in range(0, len(encoded) - 24, 24):
        assert encoded[start : start + 24] not in text, "a piece of the file's base64 is in the transcript"
    assert base64.b64encode(b"psk: hunter2\n").decode().rstrip("=") not in text
    assert "Tr0ub4dor" not in text and "hunter2" not in text
    assert f"<chunk 1 of file payload: {len(data)} bytes, sha256 {digest}>" in text
    assert f"<base64 payload withheld: {len(data)} bytes, sha256 {digest}>" in text


def test_context_manager_logs_out_on_error(fake: StartConsole, session_for: SessionFactory) -> None:
    console = session_for(fake())
    with pytest.raises(RuntimeError), console:
        console.login(USER, PASSWORD)
        raise RuntimeError("boom")
    assert console.wake() is ConsoleState.LOGIN
    with pytest.raises(ConsoleError, match="not logged in"):
        console.run("true")


# ----------------------------------------------------------------------------------- transports


def test_tcp_transport(fake: StartConsole, session_for: SessionFactory) -> None:
    guest = fake(listen="tcp")
    assert guest.address.startswith("tcp:127.0.0.1:")
    with session_for(guest) as console:
        console.login(USER, PASSWORD)
        assert console.run("echo over tcp; (exit 5)") == console.run("echo over tcp; (exit 5)")
        assert console.run("echo over tcp; (exit 5)").output == "over tcp\n"


def test_command_transport(short_tmp: Path) -> None:
    argv = [*fake_console_argv(short_tmp, users=[f"{USER}:{PASSWORD}"]), "--stdio"]
    spawn = open_console(ConsoleSpec("command", shlex.join(argv)), timeout=5)
    try:
        with ConsoleSession(spawn, **FAST) as console:
            console.login(USER, PASSWORD)
            assert console.run("echo via command; false").status == 1
    finally:
        spawn.close()


class _FakeChannel:
    """Enough of paramiko.Channel, over a connection to the fake console's unix socket."""

    def __init__(self, path: str) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(path)
        self.sent = bytearray()
        self.pty: tuple[str, int, int] | None = None
        self.command: str | None = None
        self.closed = False

    def get_pty(self, term: str, width: int, height: int) -> None:
        self.pty = (term, width, height)

    def exec_command(self, command: str) -> None:
        self.command = command

    def settimeout(self, timeout: float | None) -> None:
        self.sock.settimeout(timeout)

    def recv(self, size: int) -> bytes:
        return self.sock.recv(size)

    def sendall(self, data: bytes) -> None:
        self.sent += data
        self.sock.sendall(data)

    def close(self) -> None:
        self.closed = True
        self.sock.close()


class _FakeTransport:
    def __init__(self, path: str) -> None:
        self.path = path
        self.channels: list[_FakeChannel] = []

    def is_active(self) -> bool:
        return True

    def open_session(self, timeout: float | None = None) -> _FakeChannel:
        self.channels.append(_FakeChannel(self.path))
        return self.channels[-1]


class _FakeClient:
    def __init__(self, path: str) -> None:
        self.transport = _FakeTransport(path)

    def get_transport(self) -> _FakeTransport:
        return self.transport


def test_ssh_transport_over_a_channel_detaches_with_tilde_dot(fake: StartConsole) -> None:
    guest = fake()
    client = _FakeClient(guest.target)
    spec = ConsoleSpec.from_mapping(
        {"ssh": {"host": "bhyvehost", "command": "sudo vm console xdev"}, "user": "root", "password_env": "X"}
    )
    spawn = open_console(spec, ssh_client=cast(Any, client), timeout=5)
    channel = client.transport.channels[0]
    assert channel.command == "sudo vm console xdev" and channel.pty == ("vt100", 500, 50)
    with ConsoleSession(spawn, **FAST) as console:
        console.login(USER, PASSWORD)
        assert console.run("echo via ssh").output == "via ssh\n"
    spawn.close()
    assert bytes(channel.sent).endswith(CU_DETACH.encode()) and channel.closed
    assert b"\r~" not in bytes(channel.sent)[: -len(CU_DETACH)]
    assert b"\n~" not in bytes(channel.sent)


def test_console_spec_parsing() -> None:
    tcp = ConsoleSpec.from_mapping({"tcp": "127.0.0.1:4555", "user": "root"})
    assert tcp.tcp_address == ("127.0.0.1", 4555) and tcp.detach_sequence is None
    unix = ConsoleSpec.from_mapping({"unix": "/var/run/x.console"})
    assert unix == ConsoleSpec("unix", "/var/run/x.console")
    command = ConsoleSpec.from_mapping({"command": "virsh console xdev"})
    assert command.argv == ["virsh", "console", "xdev"] and command.detach_sequence == "\x1d"
    ssh = ConsoleSpec.from_mapping(
        {"ssh": {"host": "h", "command": "sudo vm console xdev", "port": 2222, "user": "ops"}}
    )
    assert (ssh.kind, ssh.target, ssh.host, ssh.port, ssh.user) == (
        "ssh",
        "sudo vm console xdev",
        "h",
        2222,
        "ops",
    )
    assert ssh.detach_sequence == CU_DETACH and ssh.describe() == "ssh ops@h:2222: sudo vm console xdev"
    assert default_detach(["cu", "-l", "/dev/nmdm0B"]) == CU_DETACH and default_detach(["socat", "-"]) is None
    assert ConsoleSpec("ssh", "cu -l x", host="h", detach="").detach_sequence is None
    for bad in (
        {},
        {"tcp": "a:1", "unix": "/x"},
        {"tcp": "nohostport"},
        {"ssh": {"command": "x"}},
        {"ssh": {"host": "h", "command": "x", "bogus": 1}},
        {"command": "'unclosed"},
    ):
        with pytest.raises(UsageError):
            ConsoleSpec.from_mapping(bad)


def test_connection_refused_is_a_console_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(ConsoleError, match=f"cannot open console tcp 127.0.0.1:{port}"):
        open_console(ConsoleSpec("tcp", f"127.0.0.1:{port}"), timeout=2)


# ----------------------------------------------------------------------------------- benchmark


def test_benchmark_command_round_trip(benchmark: Any, logged_in: ConsoleSession) -> None:
    """Per-command round trip on the fake console (run with --benchmark-enable)."""
    if benchmark.disabled:
        pytest.skip("benchmarks run with --benchmark-enable")
    result = benchmark(logged_in.run, "true")
    assert result.status == 0


def test_write_file_chunks_fill_a_typed_line_without_going_over() -> None:
    # one command per chunk is one serial round trip: as many base64 characters as keep the eval'ed
    # line within MAX_LINE (a longer one would itself be staged through write_file)
    from agent.console.console_io import MAX_LINE, shell_quote
    from agent.console.file_channel import MIN_CHUNK_CHARS, chunk_chars

    tmp = shlex.quote("/etc/netplan/.50-cloud-init.yaml.gda-0123456789abcdef.b64")
    n = chunk_chars(tmp)
    assert n % 4 == 0 and n > MAX_LINE - 200
    for cmd in (f"(umask 077 && printf %s '{'A' * n}' > {tmp})", f"printf %s '{'A' * n}' >> {tmp}"):
        assert len(f"eval {shell_quote(cmd)}") <= MAX_LINE
    too_long = shlex.quote("/" + "d" * (MAX_LINE - 150))
    assert chunk_chars(too_long) < MIN_CHUNK_CHARS  # refused, never staged


def test_logout_takes_the_login_shells_word_and_exits_a_nested_shell_first(
    fake: StartConsole, session_for: SessionFactory
) -> None:
    """The login shell (the terminal's session leader) prints the goodbye marker on its way out, and
    that ends the logout; a shell started inside it is no session leader: it exits silently, its
    parent's prompt comes back, and the next exit is the login shell's."""
    transcript = io.StringIO()
    console = session_for(fake(), transcript=transcript)
    console.login(USER, PASSWORD)
    console._send("bash --norc --noprofile -i\r")  # a shell in the shell, as someone may leave one
    console._expect_state(10, "the nested shell's prompt")
    console.logout()
    assert not console.usable and console.user is None
    sent = [ln for ln in typed_lines(transcript) if "exit" in ln]
    assert len(sent) == 2  # the nested shell, then the login shell
    assert transcript.getvalue().count(f"@@GDA-BYE-{console.nonce}@@") == 1
    console.login(USER, PASSWORD)  # the terminal was hung up and getty is back: a new login works
    assert console.run("id -un").output.strip() == USER
    console.logout()


def test_logout_soon_logs_out_in_the_background_and_logout_waits_for_it(
    fake: StartConsole, session_for: SessionFactory
) -> None:
    console = session_for(fake())
    console.login(USER, PASSWORD)
    console.logout_soon()
    with pytest.raises(ConsoleError, match="not logged in"):
        console.run("true")  # the session is the logout's now
    console.logout()  # waits for it
    assert not console.usable and console.user is None
    console.logout()  # nothing left to do
    console.login(USER, PASSWORD)  # the login prompt is back: a new login works
    assert console.run("id -un").output.strip() == USER
    console.logout()


def test_preload_stages_several_scripts_with_one_decode_and_their_runs_send_no_more(
    fake: StartConsole, session_for: SessionFactory
) -> None:
    from agent.core.script_render import SHARED_MARK

    def script(name: str, value: str) -> str:
        shared = "".join(f"# {name}: padding line {i} of the shared part\n" for i in range(60))
        return f"#!/bin/sh\n# guest-disk-agent: {name}.sh\nN='abcdefgh12345678'\nX={value}\n" + (
            SHARED_MARK + shared + f'echo "{name} $X"\n'
        )

    transcript = io.StringIO()
    console = session_for(fake(), transcript=transcript)
    console.login(USER, PASSWORD)
    commands = ConsoleCommands(console, user=USER, label="fake")
    commands.preload([script("one", "0"), script("two", "0"), "echo not rendered"])
    sent = lambda: typed_lines(transcript)  # noqa: E731
    after_preload = len(sent())
    assert sum("base64 -d" in ln for ln in sent()) == 1  # both files decoded and checked in one command
    assert commands.run(script("two", "2")).stdout == "two 2\n"
    assert commands.run(script("one", "1")).stdout == "one 1\n"
    assert len(sent()) == after_preload + 2  # one line per run: nothing staged again
    staged = f"stat -c '%a %n' /tmp/.gda-stage-{console.nonce} /tmp/.gda-stage-{console.nonce}/*"
    modes = [line.split()[0] for line in console.run(staged).output.splitlines()]
    assert modes == ["700", "600", "600"]  # a private folder, two private files
    console.logout()


@pytest.mark.parametrize("tar", [True, False])
def test_a_stage_folder_already_there_is_not_ours_and_nothing_goes_into_it(
    fake: StartConsole, session_for: SessionFactory, tar: bool
) -> None:
    console = session_for(fake())
    console.login(USER, PASSWORD)
    console._tar = tar
    folder = f"/tmp/.gda-stage-{console.nonce}"
    console.run_checked(f"mkdir {folder} && echo theirs > {folder}/x")  # someone else's, made first
    try:
        with pytest.raises(ConsoleError, match=r"there already|mkdir"):
            console.stage_once(b"echo one\n" * 100)
        assert console.run(f"ls {folder}").output.split() == ["x"]  # untouched
        console.logout()  # and not removed at logout: it is not this session's
        console.login(USER, PASSWORD)
        assert console.run(f"cat {folder}/x").output == "theirs\n"
    finally:
        console.run(f"rm -rf {folder}")
        console.logout()


@pytest.mark.parametrize("tar", [True, False])
def test_staging_checks_what_arrived_and_keeps_nothing_that_does_not_match(
    fake: StartConsole, session_for: SessionFactory, monkeypatch: pytest.MonkeyPatch, tar: bool
) -> None:
    import agent.console.file_channel as channel

    console = session_for(fake())
    console.login(USER, PASSWORD)
    console._tar = tar  # without tar: one checked file after the other
    real = channel.gzipped
    monkeypatch.setattr(channel, "gzipped", lambda data: real(data.replace(b"echo", b"ECHO")))
    with pytest.raises(ConsoleError, match=r"checksum|does not match"):
        console.stage_once(b"echo one\n" * 100, b"echo two\n" * 100)
    left = console.run(f"ls /tmp/.gda-stage-{console.nonce} 2>/dev/null | wc -l").output.strip()
    assert left == "0"
    monkeypatch.setattr(channel, "gzipped", real)
    [path] = console.stage_once(b"echo one\n" * 100)  # nothing was recorded as staged: it goes over again
    assert console.run(f"cat {path} | head -1").output == "echo one\n"
    console.logout()
