"""``gda attach``'s guest side: the guest through its normal transport (agent.ops.connect.Connector from
the inventory: host/port/identity_file/known_hosts), one SSH session, opened when first needed.

* :meth:`GuestSide.nic_macs`: fix-netplan's network facts; each ``networkN``'s MAC as the guest has it, by
  PCI address (agent.ops.attach_report.guest_nic_macs); a config MAC that is not the guest's is refused;
* :meth:`GuestSide.pin`: fix-netplan's op with ``match_mac`` in that same session (its apply may reconnect
  through the Connector), then ``sync`` (in a new session if the apply cut this one), then closed: the
  guest is about to go down;
* :meth:`GuestSide.disks`: format's disk facts (one round trip as root): which serials the guest sees;
* :meth:`GuestSide.wait_back`: SSH polled with the Connector's backoff for a bounded time.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from agent.core.disk.devices import Disk
from agent.core.vmbhyve.vmslots import SlotPlan
from agent.errors import Refused, Unreachable
from agent.hints import opt
from agent.ops.attach_report import guest_nic_macs, mac_problems
from agent.ops.connect import Connector
from agent.ops.fix_netplan import FixOutcome
from agent.transport.ssh import SshSession, SshUnreachable

Log = Callable[[str], None]


@dataclass
class GuestSide:
    connect: Callable[[], Connector] | None  # None: no inventory guest (a dry run with --host)
    log: Log
    connector: Connector | None = None
    session: SshSession | None = None

    def open(self) -> SshSession:
        """The guest's one session (opened on the first call)."""
        if self.session is not None:
            return self.session
        if self.connect is None:
            raise Refused(
                "the guest is needed (its MACs, or whether it sees the disk) and there is no inventory guest",
                f"give {opt('guest')} NAME (an inventory guest with on: its host)",
            )
        self.connector = self.connector or self.connect()
        try:
            self.session = self.connector.ssh().open()
        except SshUnreachable as e:
            raise Unreachable(
                f"the guest does not answer over SSH: {e.message}",
                "attach pins the guest's NIC by MAC over SSH before anything changes: get SSH to the guest "
                f"working first (fix-netplan {opt('via')} console if the NIC was renamed), then attach again",
            ) from None
        return self.session

    def close(self) -> None:
        if self.session is not None:
            self.session.close()
            self.session = None

    def _connector(self) -> Connector:
        self.open()
        assert self.connector is not None
        return self.connector

    def nic_macs(self, plan: SlotPlan) -> dict[int, str]:
        """networkN → the guest's MAC of the NIC at its slot; Refused when the config's MACs are others."""
        from agent.ops.fix_netplan import gather

        facts = gather(self.open(), self._connector().guest)
        macs = guest_nic_macs(plan, facts.interfaces)
        problems = mac_problems(plan, macs)
        if problems:
            raise Refused(
                "the config's NICs and the guest's do not match: " + "; ".join(problems),
                "is the inventory guest the vm-bhyve guest (its on: and name)? the pin by MAC needs the "
                "guest's MAC in networkN_mac",
            )
        return macs

    def disks(self) -> Sequence[Disk]:
        from agent.ops.format_disk import gather_facts

        return gather_facts(self.open()).disks

    def pin(self, stamp: str, deadline: float) -> FixOutcome:
        """fix-netplan's pin by MAC in this session, then ``sync``; the session is closed afterwards."""
        from agent.ops.fix_netplan import FixOptions, fix_in_session

        g, connector = self.open(), self._connector()
        opts = FixOptions(via="ssh", match_mac=True, deadline=deadline)
        fix = fix_in_session(connector, g, opts, stamp=stamp, log=self.log)
        try:  # the netplan file on the disk before the guest goes down
            g.run("sync", timeout=60)
        except SshUnreachable:  # the apply may have cut this session: sync in a new one
            self.close()
            self.session = connector.wait_for_ssh(30)
            self.session.run("sync", timeout=60)
        self.close()
        return fix

    def wait_back(self, seconds: float, *, why: str, hint: str) -> float:
        """Seconds until SSH answered again (the session kept open); Unreachable after ``seconds``."""
        connector = self.connector
        assert connector is not None, "wait_back after a session was opened"
        self.close()
        t0 = time.monotonic()
        try:
            self.session = connector.wait_for_ssh(seconds)
        except SshUnreachable as e:
            raise Unreachable(
                f"SSH to the guest did not come back within {seconds:g}s {why}: {e.message}", hint
            ) from None
        return time.monotonic() - t0
