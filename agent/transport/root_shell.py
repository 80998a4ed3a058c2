"""One root shell per task: sudo once, then every root script of the task on the same channel.

Under QEMU/TCG (and on slow guests generally) a sudo with a password costs about half a second of PAM,
and every SSH exec channel a few hundred milliseconds of sshd forking the login shell. A task that runs
two root scripts (the disk facts, then the guarded mkfs) would pay both twice. Instead the transport
starts, on its first root script, one long-lived shell through the one sudo path
(:func:`agent.transport.sudo.wrap`, so the password is the first line on stdin and never in a command
line), and feeds it each script as a request on stdin::

    RUN <id> <length>     id: random per request, so no line of a script can end it early
    ...script lines...    length: the script's bytes, newline included
    END <id>

The shell reads the request line with ``read`` (a builtin), the script with one ``head -c <length>`` (the
shell's ``read`` takes a pipe one byte at a time: a 25 KB script took 0.15 s more that way under TCG)
where ``head`` reads no more than it is asked for (GNU's; one that reads through stdio — FreeBSD's,
busybox's, uutils' — fills a buffer and would swallow the END line: the shell checks once, at its start,
and reads such a system's scripts line by line up to the END line), runs it in a subshell with ``eval``
(stdin from /dev/null, no positional parameters: what a script sets, its traps, its directory and its
descriptors end with it, as in a fresh shell; a fork, where an exec of a new ``sh`` costs 60-80 ms on a
TCG guest), and prints after its output, on stdout and on stderr, a line no script can forge (the id is
unknown to the script's data)::

    @@GDA-SHELL <id> rc=<status>@@      (stdout)
    @@GDA-SHELL <id>@@                  (stderr)

Before the first request it prints ``@@GDA-SHELL <nonce> READY@@``: sudo has accepted the password and
the shell runs as root. If sudo refuses, the channel ends without it and sudo's message says why
(:func:`agent.transport.sudo.sudo_failure`); no script line is ever read as a password, because none is
sent before READY. In the subshell ``$$`` is the root shell's process id (POSIX): a script names its own
process ``/proc/self`` (the guard's lock descriptor is ``/proc/self/fd/9``).

This module holds the pure parts: the shell program, the request, and the reading of replies. The SSH
transport (:mod:`agent.transport.ssh`) drives it on a paramiko channel.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

#: The program the root shell runs (POSIX sh: dash, bash, FreeBSD's sh). ``$1`` is the ready nonce.
SHELL_PROGRAM = r"""_gda_head=
if command -v head >/dev/null 2>&1; then  # does head -c leave the rest of a pipe? checked, not assumed
    _gda_t=$(printf 'ab\nc\n' | { head -c 1 >/dev/null 2>&1; IFS= read -r _gda_l; printf %s "$_gda_l"; })
    [ "$_gda_t" = b ] && _gda_head=1
fi
printf '@@GDA-SHELL %s READY@@\n' "$1"
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


def ready_line(ready_nonce: str) -> bytes:
    return f"@@GDA-SHELL {ready_nonce} READY@@\n".encode()


def request(request_id: str, script: str) -> bytes:
    """The bytes that ask the shell to run ``script``. A final line without a newline gets one (the
    shell's ``read`` would drop it otherwise)."""
    if not _ID_RE.match(request_id):
        raise ValueError(f"bad request id {request_id!r}")
    body = (script if script.endswith("\n") or not script else script + "\n").encode()
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
