"""Reading a guest's disk facts: in one script, or in two parts over a transport that starts its root
shell in the background (:class:`~agent.transport.protocol.BeginsRoot`: SSH).

Split, the part that needs no root runs as the login user on its own channel while sudo authenticates
on the root shell's; then the root part probes the contents of the disks it listed (not the root disk).
:class:`FactsReader` keeps the user part once read: a format that needs the probes after all (a
signature the guard found) asks only for the root part. Guest-free and stdlib-only (the Ansible
collection ships it with the format flow).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from agent.core import marker
from agent.core.disk.devices import Facts
from agent.core.disk.probe import (
    FACTS_KIND,
    disks_to_probe,
    parse_facts,
    parse_facts_parts,
    render_facts_script,
)
from agent.core.marker import has_header
from agent.errors import RemoteError
from agent.transport.protocol import BeginsRoot, CommandProtocol
from agent.transport.sudo import SudoError


def _facts_run(session: CommandProtocol, script: str, *, root: bool) -> str:
    r = session.run(script, root=root, timeout=120)
    if r.status != 0 and not has_header(r.stdout, FACTS_KIND):
        raise RemoteError(f"gathering disk facts failed ({r.status}): {r.output.strip()[-500:]}")
    return r.stdout


@dataclass
class FactsReader:
    """The facts of one guest, read once. ``versions``: the tools whose version the plan needs (each is
    one more fork on the guest); ``report``: also what only a format reads (``fdisk -l``, ``dumpe2fs
    -h``), not for the listing."""

    session: CommandProtocol
    versions: tuple[str, ...] = ()
    report: bool = True
    _user: str | None = None

    @property
    def split(self) -> bool:
        """Whether the transport reads in two parts (its root shell starts in the background)."""
        return isinstance(self.session, BeginsRoot)

    def user_facts(self) -> Facts:
        """What needs no root, the root shell started meanwhile (a split transport only): every disk
        fact but the content probes, whose state is unknown (what udev's database says, lsblk shows)."""
        return parse_facts(self._user_part())

    def _user_part(self) -> str:
        """The user part's output, read once (the root shell begun first)."""
        if not isinstance(self.session, BeginsRoot):
            raise TypeError(f"{self.session.label} does not read in two parts")
        if self._user is None:
            self.session.begin_root()
            script = render_facts_script(versions=self.versions, part="user")
            self._user = _facts_run(self.session, script, root=False)
        return self._user

    def facts(self, without_root: Callable[[SudoError], None] | None = None) -> Facts:
        """Every disk fact, as root (signatures really probed); ``without_root``: when sudo refuses, it
        is told why and the facts are those read without root (signatures unknown), instead of the
        refusal raised."""
        user = self._user_part() if self.split else None
        if user is None:
            script = render_facts_script(versions=self.versions, report=self.report)
        else:
            disks = disks_to_probe(marker.parse(user, FACTS_KIND, what="the disk-facts script"))
            script = render_facts_script(versions=(), part="root", disks=disks, report=self.report)
        try:
            root = _facts_run(self.session, script, root=True)
        except SudoError as e:
            if without_root is None:
                raise
            without_root(e)
            return parse_facts(user if user is not None else _facts_run(self.session, script, root=False))
        return parse_facts(root) if user is None else parse_facts_parts(user, root)


def gather_facts(
    session: CommandProtocol,
    *,
    privileged: bool = True,
    versions: tuple[str, ...] = (),
    report: bool = True,
    without_root: Callable[[SudoError], None] | None = None,
) -> Facts:
    """Every disk fact (:meth:`FactsReader.facts`); ``privileged=False``: the one script as the login
    user (signatures unknown)."""
    if not privileged:
        script = render_facts_script(versions=versions, report=report)
        return parse_facts(_facts_run(session, script, root=False))
    return FactsReader(session, versions, report).facts(without_root)
