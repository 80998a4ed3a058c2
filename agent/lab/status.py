"""What ``lab.status`` says: the images of every flavour (built or not, with their package versions), and
the running guest (flavour, NICs, disks, how to reach SSH and the console)."""

from __future__ import annotations

import time

from agent.lab.build import image_paths, image_versions
from agent.lab.control import INSTALL_NIC_SLOT, LabState, pid_alive, ssh_banner
from agent.lab.paths import StatePaths
from agent.lab.qemu import expected_nic_names
from agent.lab.recipe import FLAVOURS


def versions_line(versions: dict[str, str]) -> str:
    """``systemd 257.13-1, netplan.io 1.1.2-7, …`` (the packages the build recorded)."""
    return ", ".join(f"{name} {version}" for name, version in versions.items()) or "versions not recorded"


def image_lines() -> list[str]:
    lines = []
    for flavour, recipe in FLAVOURS.items():
        img = image_paths(recipe)
        if img.done_marker.exists():
            lines.append(f"image {flavour}: {img.root} (built: {versions_line(image_versions(img))})")
        else:
            lines.append(f"image {flavour}: not built (gda lab.build --flavour {flavour})")
    return lines


def status_lines(sp: StatePaths) -> list[str]:
    st = LabState.load(sp)
    lines = [*image_lines(), f"state: {sp.root}"]
    if st is None or not pid_alive(st.pid):
        return [*lines, "guest: stopped (gda lab.up)"]
    names = st.nic_names or [st.nic_name]
    installed = expected_nic_names(INSTALL_NIC_SLOT, len(names))
    lines += [
        f"guest: running, {st.flavour}, pid {st.pid}, up {time.time() - st.started_at:.0f}s"
        + (f", cloud-init instance {st.instance_id}" if st.instance_id else ""),
        f"NIC: slot {st.nic_slot} -> {', '.join(names)}"
        + (
            ""
            if st.nic_slot == INSTALL_NIC_SLOT
            else f" (netplan names {', '.join(installed)}: SSH unreachable until `gda fix-netplan`)"
        ),
    ]
    for d in st.disks:
        lines.append(f"disk{d['n']}: NVMe serial {d['serial']} at slot {d['slot']}, image {d['image']}")
    banner = ssh_banner(st.ssh_port, timeout=1.0)
    lines += [
        f"ssh: 127.0.0.1:{st.ssh_port} ({banner or 'no banner'}) -> "
        f"ssh -i {sp.ssh_key} -o UserKnownHostsFile={sp.known_hosts} -p {st.ssh_port} admin@127.0.0.1",
        f"console: 127.0.0.1:{st.console_port} -> gda lab.console (leave with Ctrl-])",
        f'secrets: . {sp.secrets_env}  (or eval "$(gda lab.env)")',
    ]
    return lines
