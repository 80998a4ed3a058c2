"""``--via auto``: SSH when it answers, else the serial console, without waiting out SSH's whole timeout
first.

A guest whose network works sends its SSH banner at once; one whose NIC was renamed (the bhyve story)
never does, and a port forwarder in front of it (QEMU's, a NAT) accepts the connection and then stays
silent until the timeout. So SSH is tried in a thread of its own; if its banner has not arrived within
:data:`BANNER_FIRST` seconds (or, through a gateway, where the banner cannot be seen, if SSH has not
answered within :data:`SSH_FIRST`), the console logs in meanwhile. A banner that arrived means SSH is
waited for (key exchange and authentication may be slow under load). SSH that answers before the console
is logged in still wins (the console logs out again); once the console is in, it is used and a late SSH
session is closed. Other SSH failures (a host key, authentication) are raised as they were. A guest
without a console waits for SSH's own timeout, as before. The probe may be the session ``gda`` began while
it loaded (:mod:`agent.cli.early`): its seconds count from then, so the console need not wait for the
program's start-up as well.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import time
from collections.abc import Callable, Iterator
from typing import IO

from agent.ops.connect import Connector
from agent.transport.protocol import CommandProtocol
from agent.transport.ssh import SshSession, SshUnreachable

#: seconds SSH's banner has before the console starts logging in beside it
BANNER_FIRST = 0.4
#: seconds SSH has (when its banner cannot be seen) before the console starts logging in beside it
SSH_FIRST = 1.0
#: seconds for SSH's banner (its connect timeout) in auto mode
SSH_PROBE = 4.0

Log = Callable[[str], None]
_Probe = concurrent.futures.Future[SshSession]


def _outcome(fut: _Probe, timeout: float) -> tuple[SshSession | None, str | None]:
    """(session, None) when SSH answered; (None, why) when it is unreachable; (None, None) while it is
    still trying. Any other failure is raised."""
    try:
        return fut.result(timeout=timeout), None
    except concurrent.futures.TimeoutError:
        return None, None
    except SshUnreachable as e:
        return None, e.message


def _discard(fut: _Probe) -> None:
    """Close the session a probe opens after all (it is not used)."""

    def close(f: _Probe) -> None:
        with contextlib.suppress(BaseException):
            f.result().close()

    fut.add_done_callback(close)


@contextlib.contextmanager
def ssh_or_console(
    connector: Connector, *, transcript: IO[str] | None, log: Log
) -> Iterator[tuple[str, CommandProtocol]]:
    """("ssh", an open session) or ("console", a logged-in console), closed or logged out on exit."""
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="gda-ssh-probe")
    # the probe may be the session gda began while it loaded (agent.cli.early: it watches the banner
    # too), its banner's seconds counted from then
    probe = connector.ssh(connect_timeout=SSH_PROBE)
    began = probe.open_began if probe.open_began is not None else time.monotonic()
    heard = probe.banner_heard  # the banner arrived, or the probe ended
    fut: _Probe = pool.submit(lambda: probe.open(on_banner=heard.set))
    fut.add_done_callback(lambda _f: heard.set())
    pool.shutdown(wait=False)
    try:
        if connector.guest.console is None:
            first = wait = SSH_PROBE + 5
        elif probe.conn.gateway is None:  # a direct connection: its banner says whether SSH answers
            first = BANNER_FIRST
            wait = SSH_PROBE + 5 if heard.wait(max(0.0, began + BANNER_FIRST - time.monotonic())) else 0.0
        else:
            first = wait = SSH_FIRST
        ssh, why = _outcome(fut, wait)
    except BaseException:
        _discard(fut)
        raise
    if ssh is None:
        if why is not None:  # said before the console is tried (a guest without one stops there)
            log(f"SSH is unreachable ({why}); using the serial console")
        with contextlib.ExitStack() as stack:
            try:
                console = stack.enter_context(connector.console(transcript=transcript))
                ssh, late_why = _outcome(fut, 0)
            except BaseException:
                _discard(fut)
                raise
            if ssh is None:
                _discard(fut)
                if why is None:
                    why = late_why or f"no answer within {first:g}s while the console logged in"
                    log(f"SSH is unreachable ({why}); using the serial console")
                yield "console", console
                return
        # SSH answered while the console logged in: the console has logged out again; SSH is used
    with ssh:
        yield "ssh", ssh
