"""cloud-init for the ``trixie`` lab flavour: the image's cloud-init settings and the NoCloud seed.

The seed is a ``cidata`` ISO (cloud-init's NoCloud datasource: a filesystem labelled ``cidata`` holding
``meta-data``, ``user-data`` and ``network-config``) that the lab attaches as an IDE CD-ROM: the chipset's
own IDE controller, so no PCI slot moves. Its ``network-config`` names the NICs as the Ubuntu installer
left them before the disk was attached (``enp0s5``, or ``enp0s5f0``, ``enp0s5f1``… for several NICs on one
multifunction slot), and cloud-init writes ``/etc/netplan/50-cloud-init.yaml`` from it at the first boot
of an instance. A new ``instance-id`` (``lab.up --new-instance``) is a new instance to cloud-init, as after a
clone: it writes the file again, which is what fix-netplan's ``pin_cloud_init`` option stops.

Everything but :func:`write_seed_iso` is pure.
"""

from __future__ import annotations

import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

from agent.errors import AgentError

IMAGE_CLOUD_CFG_PATH = "/etc/cloud/cloud.cfg.d/90-gda-lab.cfg"
IMAGE_CLOUD_CFG = """\
# guest-disk-agent lab: the NoCloud seed comes on the cidata CD-ROM the lab attaches.
datasource_list: [NoCloud, None]
# Keep what the lab's build made: the fixed SSH host key its known_hosts names, the admin user, root.
ssh_deletekeys: false
ssh_genkeytypes: []
disable_root: false
users: []
# The network part is cloud-init's own and untouched (it renders the seed's network-config to netplan in
# the init stages, before any module). Modules that cost seconds each under TCG and play no part in the
# story (locale, apt, keys-to-console, growpart, ...) are left out.
cloud_init_modules: [bootcmd, write_files, set_hostname, update_hostname]
cloud_config_modules: [runcmd]
cloud_final_modules: [scripts_per_boot, scripts_per_instance, scripts_user]
"""

SEED_LABEL = "cidata"


def new_instance_id(hostname: str) -> str:
    """A fresh ``instance-id`` (cloud-init treats a new one as a new instance)."""
    return f"iid-{hostname}-{secrets.token_hex(4)}"


def meta_data(instance_id: str, hostname: str) -> str:
    return f"instance-id: {instance_id}\nlocal-hostname: {hostname}\n"


def user_data() -> str:
    return "#cloud-config\n{}\n"


def network_config(nic_names: Sequence[str]) -> str:
    """NoCloud ``network-config`` (version 2): every NIC by name with DHCP, as the installer leaves it."""
    lines = ["network:", "  version: 2", "  ethernets:"]
    for name in nic_names:
        lines += [f"    {name}:", "      dhcp4: true"]
    return "\n".join(lines) + "\n"


def seed_files(instance_id: str, hostname: str, nic_names: Sequence[str]) -> dict[str, str]:
    """The files of the ``cidata`` seed, by name."""
    return {
        "meta-data": meta_data(instance_id, hostname),
        "user-data": user_data(),
        "network-config": network_config(nic_names),
    }


def iso_tool() -> str:
    for tool in ("genisoimage", "xorrisofs", "mkisofs"):
        if shutil.which(tool):
            return tool
    raise AgentError(
        "the trixie lab flavour needs genisoimage to make its cloud-init seed",
        hint="apt-get install genisoimage",
    )


def write_seed_iso(dest: Path, files: dict[str, str]) -> None:
    """Write the ``cidata`` ISO holding ``files`` to ``dest`` (replacing it)."""
    tool = iso_tool()
    with tempfile.TemporaryDirectory(prefix="gda-cidata-") as tmp:
        names = []
        for name, text in files.items():
            (Path(tmp) / name).write_text(text)
            names.append(name)
        tmp_iso = dest.with_suffix(".tmp")
        proc = subprocess.run(
            [tool, "-quiet", "-output", str(tmp_iso), "-volid", SEED_LABEL, "-joliet", "-rock", *names],
            cwd=tmp,
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            raise AgentError(f"{tool} failed ({proc.returncode}): {proc.stderr.strip()[-500:]}")
        tmp_iso.replace(dest)
