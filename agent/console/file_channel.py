"""Files over a logged-in serial console: base64 chunks typed at the shell, checked with sha256.

A payload larger than :data:`GZIP_OVER` goes over gzip-compressed when the guest has gzip (Essential in
Debian and Ubuntu; the session's set-up asks): a script of the project's shrinks to about a third, and
every chunk is a round trip on a slow line. What is decoded on the guest is checked against the data's
sha256 before it replaces anything.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import gzip
import hashlib
import io
import posixpath
import shlex
import tarfile
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from agent.console.console_io import MAX_LINE, log, shell_quote
from agent.console.recorder import payload_summary
from agent.errors import ConsoleError
from agent.transport.protocol import Result

if TYPE_CHECKING:
    from agent.console.session import ConsoleSession

#: the fewest base64 characters per command write_file() sends (a temp path too long for more is refused)
MIN_CHUNK_CHARS = 256
#: write_file() sends a payload larger than this gzip-compressed when the guest has gzip
GZIP_OVER = 512
#: what the shell set-up prints when the guest has gzip, and tar
GZIP_SEEN = "gda-has-gzip"
TAR_SEEN = "gda-has-tar"
#: what write_files() prints between the files being in place and the command that follows them
WRITTEN = "gda-files-written"
#: what unpack_files() prints when the folder it is to make is there already
DIR_TAKEN = "gda-dir-taken"


def gzipped(data: bytes) -> bytes:
    """``data`` gzip-compressed, the same bytes every time (no name, no time stamp). Pure."""
    return gzip.compress(data, compresslevel=9, mtime=0)


def chunk_chars(tmp_quoted: str) -> int:
    """base64 characters per command in write_file(): as many as keep the typed line within MAX_LINE
    (each command is one round trip on a slow serial line; a longer one would itself go over as a file).
    Pure."""
    probe = f"printf %s '' >> {tmp_quoted}"
    room = MAX_LINE - len(f"eval {shell_quote(probe)}") - len("(umask 077 && )") - 16
    return room // 4 * 4


def write_file(session: ConsoleSession, path: str, data: bytes, mode: int = 0o600) -> None:
    """Write ``data`` to ``path`` atomically (see :func:`write_files`)."""
    write_files(session, [(path, data, mode)])


def write_files(
    session: ConsoleSession,
    files: Sequence[tuple[str, bytes, int]],
    *,
    then: str | None = None,
    timeout: float | None = None,
) -> Result:
    """Write each (path, data, mode) atomically: base64 chunks (of the gzip-compressed data when the
    guest has gzip and the data is larger than :data:`GZIP_OVER`) written to a hidden temp file next to
    the path (mode 0600 from the first); then ONE command decodes each to a second temp file, checks its
    sha256 against the data's, and only then chmods and renames it over its path (both temp files
    removed), file after file, stopping at the first that does not match.

    ``then``: a command that runs in the same typed line once every file is in place (``&&``), one round
    trip fewer on the serial line; its result is returned (its status, and its output after the files'
    own; ``timeout`` is that line's). Without ``then``: the result of the line that put the files in place.
    ConsoleError when a file could not be written (nothing after it runs)."""
    q = shlex.quote
    steps: list[str] = []
    temps: list[str] = []
    digests: dict[str, str] = {}
    sent: list[bytes] = []  # what goes over for each file: its data, or the data gzip-compressed
    for i, (path, data, mode) in enumerate(files):
        if not posixpath.basename(path):
            raise ConsoleError(f"write_file: {path!r} names a directory")
        tmp = _chunk_file(session, path)
        new = tmp.removesuffix(".b64") + ".new"
        if chunk_chars(q(tmp)) < MIN_CHUNK_CHARS:
            raise ConsoleError(f"write_file: the path {path!r} is too long to write over the console")
        packed = session.has_gzip and len(data) > GZIP_OVER
        sent.append(gzipped(data) if packed else data)
        digest = digests[path] = hashlib.sha256(data).hexdigest()
        decode = f"base64 -d < {q(tmp)} | gzip -dc" if packed else f"base64 -d < {q(tmp)}"
        chmod = "" if mode == 0o600 else f"chmod {mode:04o} {q(new)} && "  # umask 077 made it 0600
        steps.append(
            f"(umask 077 && {decode} > {q(new)}) && _gda_sum=$(sha256sum < {q(new)}) && "
            f'case $_gda_sum in "{digest} "*) {chmod}mv -f {q(new)} {q(path)} '
            f'&& rm -f {q(tmp)};; *) echo "gda-sum:{i}:$_gda_sum"; (exit 9);; esac'
        )
        temps += [tmp, new]
    done = False
    try:
        chunks = [
            c
            for (path, data, _mode), raw in zip(files, sent, strict=True)
            for c in _chunk_commands(session, path, raw, payload_summary(data)[1:-1])
        ]
        final = " && ".join(f"{{ {step}; }}" for step in steps)
        if then is not None:
            final += f" && echo {WRITTEN} && {{ {then}; }}"
        result = _run_chunks_then(session, chunks, final, timeout=timeout)
        if then is None and result.status == 0:
            done = True
            return result
        _files_output, seen, after = result.output.partition(WRITTEN + "\n")
        if then is not None and seen:
            done = True
            return dataclasses.replace(result, stdout=after)
        if "gda-sum:" in result.output:
            index, _, got = result.output.split("gda-sum:", 1)[1].partition(":")
            which = files[int(index)][0] if index.isdigit() and int(index) < len(files) else files[0][0]
            raise ConsoleError(
                f"write {which}: the checksum on the guest does not match what was sent "
                f"(sent {digests[which][:16]}, got {got.strip()[:16] or 'nothing'})"
            )
        output = session.redact(result.output.strip())[-400:]
        names = ", ".join(p for p, _d, _m in files)
        raise ConsoleError(f"write {names} on the console failed (exit {result.status}): {output}")
    finally:
        if not done and session.usable:
            try:
                session.run("rm -f " + " ".join(q(t) for t in temps), timeout=session.prompt_timeout)
            except ConsoleError as exc:
                log.warning("could not remove the temporary files of %s: %s", files[0][0], exc.message)


def unpack_files(
    session: ConsoleSession, directory: str, files: Mapping[str, bytes], *, make_dir: bool = False
) -> None:
    """Write ``files`` (name: data) into the private ``directory`` in one transfer: a gzip-compressed
    tar archive as base64 chunks, then ONE command that unpacks it (each file mode 0600, owned by the
    console user) and prints each file's sha256, checked here; on any mismatch the files are removed
    again. With ``make_dir`` that command first makes ``directory`` (mode 0700; a strict mkdir: one that
    is there already is not ours, and nothing is unpacked into it). For a guest with tar and gzip (both
    Essential in Debian and Ubuntu)."""
    q = shlex.quote
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o600, 0
            tar.addfile(info, io.BytesIO(data))
    archive = f"{directory}.tar"
    chunks = _chunk_commands(session, archive, gzipped(buf.getvalue()), f"archive of {len(files)} files")
    tmp = _chunk_file(session, archive)
    paths = {name: posixpath.join(directory, name) for name in files}
    unpack = f"base64 -d < {q(tmp)} | gzip -dc | tar -xof - -C {q(directory)}; _gda_rc=$?"
    if make_dir:  # typed into the login shell: no exit, an if
        unpack = f"if mkdir -m 700 {q(directory)}; then {unpack}; else echo {DIR_TAKEN}; _gda_rc=1; fi"
    result = _run_chunks_then(
        session,
        chunks,
        f"{unpack}; rm -f {q(tmp)}; [ $_gda_rc -eq 0 ] && sha256sum {' '.join(q(p) for p in paths.values())}",
    )
    if make_dir and DIR_TAKEN in result.output:
        raise ConsoleError(f"staging over the console: {directory} is there already (not this session's)")
    sums = {}
    for line in result.output.splitlines():
        digest, _, path = line.partition("  ")
        sums[path.strip()] = digest
    bad = [name for name, path in paths.items() if sums.get(path) != hashlib.sha256(files[name]).hexdigest()]
    if result.status != 0 or bad:
        if session.usable:  # what was unpacked goes; a folder made here for it too
            undo = f"rm -rf {q(directory)}" if make_dir else "rm -f " + " ".join(q(p) for p in paths.values())
            session.run(undo, timeout=session.prompt_timeout)
        output = session.redact(result.output.strip())[-400:]
        raise ConsoleError(
            f"staging {len(files)} files in {directory} over the console failed "
            f"({'checksum mismatch: ' + ', '.join(bad) if result.status == 0 else f'exit {result.status}'}): "
            f"{output}"
        )


def _chunk_file(session: ConsoleSession, path: str) -> str:
    """The hidden file next to ``path`` that its base64 chunks go to."""
    directory, name = posixpath.split(path)
    return posixpath.join(directory, f".{name}.gda-{session.nonce}.b64")


def _chunk_commands(session: ConsoleSession, path: str, raw: bytes, payload: str) -> list[tuple[str, str]]:
    """The commands that put ``raw`` as base64 into the hidden temp file of ``path``, as few typed lines
    as MAX_LINE allows, each with what the transcript shows instead: the chunk as the file's ``payload``
    (its length and sha256), never its bytes."""
    q = shlex.quote
    tmp = _chunk_file(session, path)
    encoded = base64.b64encode(raw).decode("ascii")
    per_command = chunk_chars(q(tmp))
    if not encoded:
        return [(f"(umask 077 && : > {q(tmp)})",) * 2]
    commands = []
    for offset in range(0, len(encoded), per_command):
        chunk = encoded[offset : offset + per_command]
        n = offset // per_command + 1
        if offset == 0:  # the first chunk creates the file, 0600
            cmd = f"(umask 077 && printf %s '{chunk}' > {q(tmp)})"
            shown = f"(umask 077 && printf %s <chunk {n} of {payload}> > {q(tmp)})"
        else:
            cmd = f"printf %s '{chunk}' >> {q(tmp)}"
            shown = f"printf %s <chunk {n} of {payload}> >> {q(tmp)}"
        commands.append((cmd, shown))
    return commands


def _run_chunks_then(
    session: ConsoleSession, chunks: list[tuple[str, str]], final: str, *, timeout: float | None = None
) -> Result:
    """Run ``chunks`` (each checked), then ``final``: the last chunk and ``final`` as one typed line
    (``&&``: ``final`` runs only after it was written) when that line fits MAX_LINE, one round trip
    fewer on a slow serial line. ``final``'s result."""
    *first, (last, last_shown) = chunks
    for cmd, shown in first:
        session.run_checked(cmd, shown=shown)
    joined = f"{last} && {{ {final}; }}"
    if len(f"eval {shell_quote(joined)}") <= MAX_LINE:
        return session.run(joined, timeout=timeout, shown=f"{last_shown} && {{ {final}; }}")
    session.run_checked(last, shown=last_shown)
    return session.run(final, timeout=timeout)


def read_file(session: ConsoleSession, path: str) -> bytes:
    """The content of ``path`` (sent back as base64, checked with sha256sum)."""
    q = shlex.quote
    lines = session.run_checked(f"base64 < {q(path)} && sha256sum < {q(path)}").split()
    if not lines:
        raise ConsoleError(f"read {path}: no output from base64/sha256sum")
    digest = lines[-2] if len(lines) >= 2 and lines[-1] == "-" else ""
    body = "".join(lines[:-2])
    try:
        data = base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        raise ConsoleError(f"read {path}: the console returned damaged base64") from None
    if hashlib.sha256(data).hexdigest() != digest:
        raise ConsoleError(f"read {path}: the checksum does not match the content received")
    return data
