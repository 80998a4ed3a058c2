"""A scripted fake serial console: agetty + login + a real ``bash``, served like QEMU's ``-serial``.

Run as a program (one process per test)::

    python fake_console.py --listen unix:/tmp/x/console.sock --user alice:secret [--logged-in] [--busy] ...
    python fake_console.py --stdio ...            # the console on stdin/stdout (for the command transport)

The supervisor plays the UART: it relays bytes between one client (socket or stdio) and a pty whose slave
end is the guest's ``ttyS0``. On that pty runs a forked "getty" that prints the issue and ``xdev login:``,
reads the user name (echoed by the tty), reads the password without echo, then prints ``Login incorrect`` or
a MOTD and execs ``bash --norc --noprofile -i`` as a login shell. When bash exits, a new getty starts, like
systemd restarting serial-getty. Output printed while no client is connected is lost (QEMU ``nowait``).

Kernel messages: a command on the fake guest runs ``kmsg TEXT`` (a script on the guest's PATH); the
supervisor writes ``[   12.345678] TEXT\\r\\n`` straight to the client, bypassing the tty like printk on a
serial console, at the next line boundary of the output, and acknowledges so the command only continues
after. ``--kmsg-after-login TEXT`` prints one right after the first login prompt, on the same line.

The guest's PATH also shadows ``dmesg`` (records its arguments in ``dmesg.log``; never touches the real
kernel) and ``sudo`` (always refuses, like ``sudo -n`` without a rule).

Accounts: ``--user NAME:PASSWORD[:STATE]``, STATE one of ok, must-change, expired, locked.

``--locale LANG`` (de, fr, es, ru, zh_CN, ...) makes login speak that language after agetty's English first
prompt: the password prompt, "Login incorrect" and the prompt login(1) asks again with (strings from the
util-linux / shadow / Linux-PAM catalogues). ``--shell dash`` runs ``dash -i`` instead of bash; ``--shell
percent`` is bash with a zsh/csh-like ``user@xdev:~ % `` prompt.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import os
import pty
import select
import signal
import socket
import stat
import subprocess
import sys
import termios
import time
import tty
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

HOST = "xdev"
ISSUE = f"\nDebian GNU/Linux 12 {HOST} ttyS0\n\n"
MOTD = (
    f"Linux {HOST} 6.1.0-18-amd64 #1 SMP PREEMPT_DYNAMIC Debian 6.1.76-1 (2024-02-01) x86_64\n\n"
    "The programs included with the Debian GNU/Linux system are free software;\n"
    "the exact distribution terms for each program are described in the\n"
    "individual files in /usr/share/doc/*/copyright.\n\n"
    "Debian GNU/Linux comes with ABSOLUTELY NO WARRANTY, to the extent\n"
    "permitted by applicable law.\n"
    "Last login: Mon Mar  4 10:00:00 UTC 2024 on ttyS0\n"
)

# (password prompt, login incorrect, login's own prompt after a failure) per language
LOCALES: dict[str, tuple[str, str, str]] = {
    "en": ("Password: ", "Login incorrect", f"{HOST} login: "),
    "de": ("Passwort: ", "Anmeldung falsch", f"{HOST}-Anmeldung: "),  # util-linux, shadow
    "de-old": ("Passwort: ", "Falsche Anmeldung", "Anmeldung: "),  # as reported in issue 9
    "fr": ("Mot de passe\u00a0: ", "Identifiant incorrect", "identifiant\u00a0: "),  # util-linux
    "fr-pam": ("Mot de passe : ", "Login incorrect", f"{HOST} connexion\u00a0: "),  # Linux-PAM, shadow
    "fr-old": ("Mot de passe : ", "Connexion incorrecte", "login : "),  # as reported in issue 9
    "es": ("Contraseña: ", "Inicio de sesión incorrecto", "Inicio de sesión: "),  # util-linux
    "it": ("Password: ", "Login non corretto", f"{HOST} login: "),
    "pt": ("Palavra-passe: ", "Início incorrecto.", "sessão: "),
    "pt_BR": ("Senha: ", "Login incorreto", "login: "),
    "ru": ("Пароль: ", "Неверный логин", "логин: "),  # util-linux
    "ru-shadow": ("Пароль: ", "Неверное имя пользователя", f"{HOST} имя пользователя: "),
    "pl": ("Hasło: ", "Niepoprawne logowanie", "login: "),
    "nl": ("Wachtwoord: ", "Inloggegevens onjuist", "inlognaam: "),
    "ja": ("パスワード: ", "ログインが失敗しました", "ログイン: "),
    "zh_CN": ("密码：", "登录不正确", "登录："),
    "zh_TW": ("密碼：", "登入錯誤", f"{HOST} 使用者："),
    "custom": ("Kennwort bitte> ", "Nein.", "Wer da? "),  # none built in: for the inventory's regexes
}

KMSG_SCRIPT = """#!/bin/sh
printf '%s\\n' "$*" > "$FAKE_KMSG"
read -r _ < "$FAKE_KMSG_ACK"
"""
DMESG_SCRIPT = """#!/bin/sh
echo "$*" >> "$FAKE_STATE/dmesg.log"
"""
SUDO_SCRIPT = """#!/bin/sh
echo "sudo: a password is required" >&2
exit 1
"""


def _write(text: str) -> None:
    data = text.encode()
    while data:
        data = data[os.write(1, data) :]


def _read_line() -> str:
    """One line from the tty in canonical mode (CR arrives as NL through ICRNL)."""
    buf = b""
    while not buf.endswith(b"\n"):
        chunk = os.read(0, 1024)
        if not chunk:
            os._exit(0)
        buf += chunk
    return buf.decode(errors="replace").rstrip("\r\n")


def _set_echo(on: bool) -> None:
    attrs = termios.tcgetattr(0)
    attrs[3] = attrs[3] | termios.ECHO if on else attrs[3] & ~termios.ECHO
    termios.tcsetattr(0, termios.TCSANOW, attrs)


def _exec_shell(user: str, state_dir: str, flavour: str = "bash") -> NoReturn:
    bindir = os.path.join(state_dir, "bin")
    env = {
        "PATH": bindir + os.pathsep + os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": state_dir,
        "TERM": "vt220",
        "LANG": "C.UTF-8",
        "USER": user,
        "PS1": f"{user}@{HOST}:~{'#' if user == 'root' else '$'} "
        if flavour != "percent"
        else f"{user}@{HOST}:~ % ",
        "FAKE_KMSG": os.path.join(state_dir, "kmsg.fifo"),
        "FAKE_KMSG_ACK": os.path.join(state_dir, "kmsg-ack.fifo"),
        "FAKE_STATE": state_dir,
    }
    os.chdir(state_dir)
    if flavour == "dash":  # not as a login shell: no /etc/profile
        os.execvpe("dash", ["dash", "-i"], env)
    os.execvpe("bash", ["-bash", "--noprofile", "--norc", "-i"], env)


def getty(args: argparse.Namespace, first: bool) -> NoReturn:
    """Runs in the forked child: fd 0-2 are the pty slave, our controlling terminal."""
    os.closerange(3, 1024)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    if args.busy:
        tty.setraw(0)  # no echo, no signals: a program that prints nothing and ignores its input
        while True:
            time.sleep(3600)
    accounts: dict[str, tuple[str, str]] = {}
    for entry in args.user:
        name, password, *rest = entry.split(":")
        accounts[name] = (password, rest[0] if rest else "ok")
    if first and args.logged_in:
        _exec_shell(args.logged_in, args.state, args.shell)
    password_prompt, login_incorrect, login_prompt = LOCALES[args.locale]
    _write(ISSUE)
    prompt = f"{HOST} login: "  # agetty's, never translated
    while True:
        _write(prompt)
        name = _read_line()
        if not name:
            continue
        _set_echo(False)
        _write(password_prompt)
        password = _read_line()
        _set_echo(True)
        _write("\n")
        account = accounts.get(name)
        if account is None or account[0] != password:
            with open(os.path.join(args.state, "failures.log"), "a") as log:
                log.write(name + "\n")
            _write(f"\n{login_incorrect}\n")
            prompt = login_prompt  # login(1) asks again, in the locale
            continue
        state = account[1]
        if state == "expired":
            _write("Your account has expired; please contact your system administrator.\n")
            os._exit(1)
        if state == "locked":
            _write("The account is locked due to 3 failed logins.\n(10 minutes left to unlock)\n")
            _write("\nLogin incorrect\n")
            continue
        if state == "must-change":
            _write(
                "You are required to change your password immediately (administrator enforced).\n"
                f"Changing password for {name}.\nCurrent password: "
            )
            _set_echo(False)
            _read_line()  # Ctrl-C (SIGINT) ends us here, as it ends login
            os._exit(1)
        _write(MOTD)
        _exec_shell(name, args.state, args.shell)


class Supervisor:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.master = -1
        self.child = 0
        self.sessions = 0
        self.client_in = -1
        self.client_out = -1
        self.client_sock: socket.socket | None = None
        self.listener: socket.socket | None = None
        self.at_line_start = True
        self.pending_kmsg: list[bytes] = []
        self.login_prompts = 0
        self.t0 = time.monotonic() - 12.3
        self.parent = os.getppid()
        os.makedirs(os.path.join(args.state, "bin"), exist_ok=True)
        for name, text in (("kmsg", KMSG_SCRIPT), ("dmesg", DMESG_SCRIPT), ("sudo", SUDO_SCRIPT)):
            path = os.path.join(args.state, "bin", name)
            with open(path, "w") as fh:
                fh.write(text)
            os.chmod(path, stat.S_IRWXU)
        fifo = os.path.join(args.state, "kmsg.fifo")
        ack = os.path.join(args.state, "kmsg-ack.fifo")
        for path in (fifo, ack):
            if not os.path.exists(path):
                os.mkfifo(path)
        self.kmsg = os.open(fifo, os.O_RDWR | os.O_NONBLOCK)
        self.ack = os.open(ack, os.O_RDWR)

    # ------------------------------------------------------------------ guest side
    def start_getty(self) -> None:
        first = self.sessions == 0
        self.sessions += 1
        pid, fd = pty.fork()
        if pid == 0:
            try:
                getty(self.args, first)
            finally:
                os._exit(1)
        self.child, self.master = pid, fd

    def stop_getty(self) -> None:
        if self.master >= 0:
            os.close(self.master)
            self.master = -1
        if self.child:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.child, signal.SIGKILL)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(self.child, 0)
            self.child = 0

    def read_guest(self) -> bytes | None:
        try:
            return os.read(self.master, 4096)
        except OSError as exc:
            if exc.errno == errno.EIO:
                return None
            raise

    # ------------------------------------------------------------------ client side
    def send(self, data: bytes) -> None:
        if not data:
            return
        self.at_line_start = data.endswith(b"\n")
        if self.client_out < 0:
            return  # nobody listening: lost, as with QEMU's nowait
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(self.client_out, view) :]
        except OSError:
            self.drop_client()

    def forward_guest(self, data: bytes) -> None:
        if (
            self.args.kmsg_after_login
            and self.login_prompts == 0
            and self.client_out >= 0
            and b"login: " in data
        ):
            self.login_prompts += 1
            self.send(data)
            self.send(self.kmsg_line(self.args.kmsg_after_login))
            return
        while self.pending_kmsg and b"\n" in data:
            cut = data.index(b"\n") + 1
            self.send(data[:cut])
            self.flush_kmsg()
            data = data[cut:]
        self.send(data)

    def kmsg_line(self, text: str) -> bytes:
        now = time.monotonic() - self.t0
        return f"[{int(now):5d}.{int(now * 1e6) % 1000000:06d}] {text}\r\n".encode()

    def flush_kmsg(self) -> None:
        lines, self.pending_kmsg = self.pending_kmsg, []
        for line in lines:
            self.send(line)

    def on_kmsg(self) -> None:
        try:
            data = os.read(self.kmsg, 4096)
        except BlockingIOError:
            return
        for text in data.decode(errors="replace").splitlines():
            self.pending_kmsg.append(self.kmsg_line(text))
            os.write(self.ack, b"ok\n")
        if self.at_line_start:
            self.flush_kmsg()

    def drop_client(self) -> None:
        if self.client_sock is not None:
            with contextlib.suppress(OSError):
                self.client_sock.close()
            self.client_sock = None
        self.client_in = self.client_out = -1

    # ------------------------------------------------------------------ loop
    def serve(self) -> None:
        listen = self.args.listen
        if self.args.stdio:
            if os.isatty(0):
                tty.setraw(0)
            self.client_in, self.client_out = 0, 1
        elif listen.startswith("unix:"):
            self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.listener.bind(listen[5:])
            self.listener.listen(1)
            print(f"READY {listen}", flush=True)
        else:
            host, _, port = listen[4:].rpartition(":")
            self.listener = socket.create_server((host, int(port)))
            print(f"READY tcp:{host}:{self.listener.getsockname()[1]}", flush=True)
        self.start_getty()
        while True:
            if os.getppid() != self.parent:
                return
            fds = [self.kmsg, self.master]
            if self.client_in >= 0:
                fds.append(self.client_in)
            elif self.listener is not None:
                fds.append(self.listener.fileno())
            ready, _, _ = select.select(fds, [], [], 0.5)
            if self.kmsg in ready:
                self.on_kmsg()
            if self.master in ready:
                data = self.read_guest()
                if data:
                    self.forward_guest(data)
                else:
                    self.stop_getty()
                    self.start_getty()
            if self.client_in >= 0 and self.client_in in ready:
                try:
                    data = os.read(self.client_in, 4096)
                except OSError:
                    data = b""
                if not data:
                    if self.args.stdio:
                        return
                    self.drop_client()
                elif self.master >= 0:
                    os.write(self.master, data)
            elif self.listener is not None and self.listener.fileno() in ready:
                sock, _ = self.listener.accept()
                self.client_sock = sock
                self.client_in = self.client_out = sock.fileno()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--listen", default="", help="unix:PATH or tcp:HOST:PORT (port 0: any)")
    parser.add_argument("--stdio", action="store_true", help="serve the console on stdin/stdout")
    parser.add_argument("--state", required=True, help="a directory for the fake guest's files")
    parser.add_argument("--user", action="append", default=[], help="NAME:PASSWORD[:STATE]")
    parser.add_argument("--logged-in", metavar="USER", help="start with a shell of USER already logged in")
    parser.add_argument("--busy", action="store_true", help="a program that prints nothing holds the console")
    parser.add_argument("--kmsg-after-login", metavar="TEXT", help="a kernel message after the login prompt")
    parser.add_argument("--locale", default="en", choices=sorted(LOCALES), help="the language of login")
    parser.add_argument(
        "--shell", default="bash", choices=["bash", "dash", "percent"], help="the login shell"
    )
    args = parser.parse_args(argv)
    if not args.stdio and not args.listen:
        parser.error("--listen or --stdio")
    supervisor = Supervisor(args)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    signal.signal(signal.SIGHUP, lambda *_: sys.exit(0))
    try:
        supervisor.serve()
    finally:
        supervisor.stop_getty()


# ---------------------------------------------------------------------- test-side helpers


def fake_console_argv(
    state: Path,
    *,
    users: list[str],
    logged_in: str | None = None,
    busy: bool = False,
    kmsg_after_login: str | None = None,
    locale: str = "en",
    shell: str = "bash",
) -> list[str]:
    """The command line of a fake console (without --listen/--stdio)."""
    argv = [sys.executable, str(Path(__file__).resolve()), "--state", str(state)]
    for user in users:
        argv += ["--user", user]
    if logged_in:
        argv += ["--logged-in", logged_in]
    if busy:
        argv.append("--busy")
    if kmsg_after_login:
        argv += ["--kmsg-after-login", kmsg_after_login]
    return [*argv, "--locale", locale, "--shell", shell]


@dataclass
class FakeConsole:
    """A running fake console process serving on ``address`` (``unix:PATH`` or ``tcp:HOST:PORT``)."""

    proc: subprocess.Popen[str]
    address: str
    state: Path

    @property
    def target(self) -> str:
        return self.address.split(":", 1)[1]

    def failed_logins(self) -> list[str]:
        path = self.state / "failures.log"
        return path.read_text().split() if path.exists() else []

    def dmesg_calls(self) -> list[str]:
        path = self.state / "dmesg.log"
        return path.read_text().splitlines() if path.exists() else []

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()


def start_fake_console(
    state: Path,
    listen: str,
    *,
    users: list[str],
    logged_in: str | None = None,
    busy: bool = False,
    kmsg_after_login: str | None = None,
    locale: str = "en",
    shell: str = "bash",
    timeout: float = 10.0,
) -> FakeConsole:
    """Start a fake console listening on ``listen`` (``unix:PATH`` or ``tcp:127.0.0.1:0``)."""
    argv = fake_console_argv(
        state,
        users=users,
        logged_in=logged_in,
        busy=busy,
        kmsg_after_login=kmsg_after_login,
        locale=locale,
        shell=shell,
    )
    proc = subprocess.Popen([*argv, "--listen", listen], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    line = proc.stdout.readline() if ready else ""
    if not line.startswith("READY "):
        proc.kill()
        proc.wait()
        raise RuntimeError(f"the fake console did not start: {line!r}")
    return FakeConsole(proc, line.split()[1], state)


if __name__ == "__main__":
    main()
