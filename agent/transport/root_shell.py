"""One root shell per task: sudo once, then every root script of the task on the same channel.

Under QEMU/TCG (and on slow guests generally) a sudo with a password costs about half a second of PAM,
and every SSH exec channel a few hundred milliseconds of sshd forking the login shell. A task that runs
two root scripts (the disk facts, then the guarded mkfs) would pay both twice. Instead the transport
starts, on its first root script, one long-lived shell through the one sudo path
(:func:`agent.transport.sudo.wrap`, so the password is the first line on stdin and never in a command
line), and feeds it each script as a request on stdin.

How the shell takes a script depends on the shell. dash (``/bin/sh`` on Debian and Ubuntu, known by
``/proc/$$/exe``, a builtin ``test -ef``) reads a sourced file in blocks and runs each command once it
is parsed, so it reads the requests as its own input, ``. /dev/stdin``, and a request is code::

    _gda_s() (                  the script, the body of a function run in a subshell
    ...script lines...
    ) </dev/null
    _gda_end <id> .             runs it once; a request cut short before the "." runs nothing

No tool reads the script: every other way costs a fork and an exec (``head``: 30-40 ms under TCG, and
the check that it reads no more than it is asked for as much again, before READY). Another shell
(bash, which reads a sourced pipe to its end before it runs any of it) reads framed requests::

    RUN <id> <length>     id: random per request, so no line of a script can end it early
    ...script lines...    length: the script's bytes, newline included
    END <id>

with ``read`` (a builtin) for the request line and one ``head -c <length>`` for the script (the shell's
``read`` takes a pipe one byte at a time: a 25 KB script took 0.15 s more that way under TCG) where
``head`` reads no more than it is asked for (GNU's; one that reads through stdio — FreeBSD's, busybox's,
uutils' — fills a buffer and would swallow the END line: the shell checks once, at its start, and reads
such a system's scripts line by line up to the END line), and runs it with ``eval``.

Either way the script runs in a subshell (stdin from /dev/null, no positional parameters: what a script
sets, its traps, its directory and its descriptors end with it, as in a fresh shell; a fork, where an
exec of a new ``sh`` costs 60-80 ms on a TCG guest), and after its output the shell prints, on stdout and
on stderr, a line no script can forge (the id is unknown to the script's data)::

    @@GDA-SHELL <id> rc=<status>@@      (stdout)
    @@GDA-SHELL <id>@@                  (stderr)

Before the first request it prints ``@@GDA-SHELL <nonce> READY <mode>@@`` (``code`` or ``framed``):
sudo has accepted the password and the shell runs as root. If sudo refuses, the channel ends without it
and sudo's message says why (:func:`agent.transport.sudo.sudo_failure`); no script line is ever read as
a password, because none is sent before READY. In the subshell ``$$`` is the root shell's process id
(POSIX): a script names its own process ``/proc/self`` (the guard's lock descriptor is
``/proc/self/fd/9``).

This module holds the pure parts: the shell program, the request, and the reading of replies. The SSH
transport (:mod:`agent.transport.ssh`) drives it on a paramiko channel.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

#: The program the root shell runs (POSIX sh: dash, bash, FreeBSD's sh). ``$1`` is the ready nonce.
SHELL_PROGRAM = r"""if [ /proc/$$/exe -ef /bin/dash ] || [ /proc/$$/exe -ef /usr/bin/dash ]; then
    _gda_end() {
        [ "$2" = . ] || exit 0
        _gda_s
        _gda_rc=$?
        unset -f _gda_s
        printf '@@GDA-SHELL %s rc=%s@@\n' "$1" "$_gda_rc"
        printf '@@GDA-SHELL %s@@\n' "$1" >&2
    }
    printf '@@GDA-SHELL %s READY code@@\n' "$1"
    set --
    . /dev/stdin
    exit 0
fi
_gda_head=
if command -v head >/dev/null 2>&1; then  # does head -c leave the rest of a pipe? checked, not assumed
    _gda_t=$(printf 'ab\nc\n' | { head -c 1 >/dev/null 2>&1; IFS= read -r _gda_l; printf %s "$_gda_l"; })
    [ "$_gda_t" = b ] && _gda_head=1
fi
printf '@@GDA-SHELL %s READY framed@@\n' "$1"
while IFS= read -r _gda_h; do
    case $_gda_h in
        "RUN "?*" "[0-9]*) _gda_id=${_gda_h#RUN }; _gda_n=${_gda_id##* }; _gda_id=${_gda_id%% *} ;;
        *) printf 'gda root shell: bad request line\n' >&2; exit 2 ;;
    esac
    case $_gda_n in *[!0-9]*) printf 'gda root shell: bad request line\n' >&2; exit 2 ;; esac
    _gda_s=
    _gda_end=0
    if [ -n "$_gda_head" ]; then
        _gda_s=$(head -c "$_gda_n")
        IFS= read -r _gda_l && [ "$_gda_l" = "END $_gda_id" ] && _gda_end=1
    else
        while IFS= read -r _gda_l; do
            if [ "$_gda_l" = "END $_gda_id" ]; then _gda_end=1; break; fi
            _gda_s="$_gda_s$_gda_l
"
        done
    fi
    [ "$_gda_end" = 1 ] || exit 0
    (set --; eval "$_gda_s") </dev/null
    _gda_rc=$?
    printf '@@GDA-SHELL %s rc=%s@@\n' "$_gda_id" "$_gda_rc"
    printf '@@GDA-SHELL %s@@\n' "$_gda_id" >&2
done
"""

_ID_RE = re.compile(r"^[0-9a-f]{16,64}$")


def new_id() -> str:
    return secrets.token_hex(12)


def shell_program(ready_nonce: str) -> str:
    """The root shell's script with its ready nonce as ``$1`` (``sh -c PROGRAM sh NONCE`` would need
    a second argument through sudo; setting it inline keeps the one-argument ``sh -c``)."""
    if not _ID_RE.match(ready_nonce):
        raise ValueError(f"bad ready nonce {ready_nonce!r}")
    return f"set -- {ready_nonce}\n{SHELL_PROGRAM}"


#: how the shell reads requests (its READY line says which): as its own input, or framed
CODE = "code"
FRAMED = "framed"


def ready(buf: bytes | bytearray, ready_nonce: str) -> tuple[str, int] | None:
    """(the shell's mode, where its READY line ends in ``buf``) once that line is there; else None."""
    m = re.search(rb"@@GDA-SHELL " + ready_nonce.encode() + rb" READY (code|framed)@@\n", bytes(buf))
    return None if m is None else (m[1].decode(), m.end())


def request(request_id: str, script: str, mode: str) -> bytes:
    """The bytes that ask a shell in ``mode`` to run ``script``. A final line without a newline gets one
    (the framed shell's ``read`` would drop it otherwise)."""
    if not _ID_RE.match(request_id):
        raise ValueError(f"bad request id {request_id!r}")
    body = (script if script.endswith("\n") or not script else script + "\n").encode()
    if mode == CODE:
        if body.endswith(b"\\\n"):  # a line continuation would take the closing line into the script
            raise ValueError("a script may not end with a backslash")
        return b"_gda_s() ( :\n" + body + f") </dev/null\n_gda_end {request_id} .\n".encode()
    if mode != FRAMED:
        raise ValueError(f"bad root shell mode {mode!r}")
    return f"RUN {request_id} {len(body)}\n".encode() + body + f"END {request_id}\n".encode()


@dataclass(frozen=True)
class Reply:
    status: int
    stdout: bytes
    stderr: bytes


def stdout_done(buf: bytes | bytearray, request_id: str) -> tuple[int, bytes] | None:
    """(status, the script's stdout) once the stdout end line of ``request_id`` is in ``buf``; else None.

    The script's output need not end with a newline: the end line is found anywhere in the buffer (its id
    is random per request, so the output cannot contain it by chance)."""
    m = re.search(rb"@@GDA-SHELL " + request_id.encode() + rb" rc=(-?\d+)@@\n", bytes(buf))
    if m is None:
        return None
    return int(m[1]), bytes(buf[: m.start()])


def stderr_done(buf: bytes | bytearray, request_id: str) -> bytes | None:
    """The script's stderr once the stderr end line of ``request_id`` is in ``buf``; else None."""
    tag = b"@@GDA-SHELL " + request_id.encode() + b"@@\n"
    at = bytes(buf).find(tag)
    return None if at < 0 else bytes(buf[:at])


def reply(out: bytes | bytearray, err: bytes | bytearray, request_id: str) -> Reply | None:
    """The complete reply to ``request_id`` (both end lines seen), or None while it is still running."""
    o = stdout_done(out, request_id)
    e = stderr_done(err, request_id)
    if o is None or e is None:
        return None
    return Reply(o[0], o[1], e)
