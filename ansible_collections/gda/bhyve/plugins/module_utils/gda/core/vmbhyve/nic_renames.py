# GENERATED from agent/core/vmbhyve/nic_renames.py by `python -m agent.collection_build`: do not edit.
"""The guest NIC renames a config change causes (a NIC on a new PCI slot gets a new name). Pure.

systemd names a NIC by its PCI address (``enp0s<slot>``, ``enp0s<slot>f<function>`` on a multifunction
slot: agent.core.vmbhyve.vmslots_types); vm-bhyve puts the NICs after the disks, so adding a disk moves
them (two NICs: enp0s5f0, enp0s5f1 → enp0s6f0, enp0s6f1). A NIC whose name stays the same is no
rename. ``config_before_last_disk`` stands in for the config before the change when none is given.
"""

from __future__ import annotations

from dataclasses import dataclass

from ansible_collections.gda.bhyve.plugins.module_utils.gda.core.vmbhyve.vmconf import VmConfig
from ansible_collections.gda.bhyve.plugins.module_utils.gda.core.vmbhyve.vmslots import SlotPlan, guest_nic_name
from ansible_collections.gda.bhyve.plugins.module_utils.gda.hints import opt


@dataclass(frozen=True)
class NicRename:
    index: int
    before_slot: int
    before_func: int
    after_slot: int
    after_func: int
    before_multifunction: bool = False
    after_multifunction: bool = False

    @property
    def before_name(self) -> str:
        return guest_nic_name(self.before_slot, self.before_func, self.before_multifunction)

    @property
    def after_name(self) -> str:
        return guest_nic_name(self.after_slot, self.after_func, self.after_multifunction)

    @property
    def message(self) -> str:
        if (self.before_slot, self.before_func) == (self.after_slot, self.after_func):
            what = f"network{self.index} stays on slot {_where(self.after_slot, self.after_func)}, which " + (
                "now holds more than one device" if self.after_multifunction else "is now its own"
            )
        else:
            what = (
                f"network{self.index} moves from slot {_where(self.before_slot, self.before_func)} to slot "
                f"{_where(self.after_slot, self.after_func)}"
            )
        return (
            f"{what}: {self.before_name} → {self.after_name}; run "
            "`gda fix-netplan` after the first boot, or pin the NIC by MAC first "
            f"(`gda fix-netplan {opt('match_mac')}` while SSH still works)"
        )


def _where(slot: int, func: int) -> str:
    return str(slot) if func == 0 else f"{slot}:{func}"


def predict_renames(before: SlotPlan, after: SlotPlan) -> tuple[NicRename, ...]:
    """NICs present in both plans whose guest name changes (its slot, its function, or whether its slot
    is multifunction)."""
    out: list[NicRename] = []
    for b in before.nics:
        a = after.nic(b.index)
        if a is not None and a.guest_name != b.guest_name:
            out.append(NicRename(b.index, b.slot, b.func, a.slot, a.func, b.multifunction, a.multifunction))
    return tuple(out)


def config_before_last_disk(conf: VmConfig) -> VmConfig | None:
    """The config as it was before its last disk was added: every ``diskN_*`` line of the highest N
    the file mentions blanked out (attached or not: the disk just added may be a broken one). None
    when the file mentions no disk beyond disk0 (a guest without its boot disk is no "before")."""
    indexes = [d.index for d in conf.disks]
    if not indexes or max(indexes) == 0:
        return None
    return conf.without_disk(max(indexes))
