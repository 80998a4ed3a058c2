"""systemd's PCI path names of NICs on PCI bus 0 (``enp0s6``, ``enp0s6f1``), parsed (pure).

systemd composes ``ID_NET_NAME_PATH`` in ``names_pci_slot()`` of ``src/udev/udev-builtin-net_id.c``
(systemd/systemd): the prefix ``en``, ``P<domain>`` when the domain is > 0, ``p<bus>s<slot>`` (decimal,
``%u``), then ``f<func>`` when ``func > 0 || is_pci_multifunction(pci_dev)``, then ``n<phys_port_name>``
or ``d<dev_port>``. So every function of a multifunction slot carries ``f<func>``, function 0 too
(``enp0s6f0``), and a single-function device has none (``enp0s6``). vm-bhyve puts network0, network1 …
on functions 0, 1 … of one slot, and bhyve marks that slot multifunction.

:func:`parse_pci_path_name` accepts only ``enp0s<slot>`` and ``enp0s<slot>f<func>``: a domain
(``enP1p0s6``), another bus, a port suffix (``d1``, ``nphys0``) or leading zeros (``enp0s06``, which
systemd never prints) give ``None``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_PATH_NAME_RE = re.compile(r"enp0s(0|[1-9][0-9]?)(?:f([0-7]))?")
_MAX_SLOT = 31  # a PCI device number has 5 bits


@dataclass(frozen=True)
class PciPathName:
    """The slot and function an ``enp0s<slot>[f<func>]`` name stands for."""

    slot: int
    function: int  # 0 when the name has no ``f<func>``
    has_function: bool  # the name ends in ``f<func>`` (the slot is multifunction, or func > 0)

    def pci_address(self) -> str:
        """The sysfs PCI address this name means on domain 0, bus 0: ``0000:00:0a.1`` (hex slot)."""
        return f"0000:00:{self.slot:02x}.{self.function}"


def parse_pci_path_name(name: str) -> PciPathName | None:
    """``enp0s6f1`` → slot 6, function 1; ``enp0s5`` → slot 5, function 0 (no ``f``); else ``None``."""
    found = _PATH_NAME_RE.fullmatch(name)
    if found is None:
        return None
    slot = int(found.group(1))
    if slot > _MAX_SLOT:
        return None
    func = found.group(2)
    return PciPathName(slot=slot, function=int(func) if func else 0, has_function=func is not None)
