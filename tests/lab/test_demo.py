"""The README's main command, `gda demo` (here `invoke demo`), runs the seed's story host-first on a lab of
the tests' own and a stand-in FreeBSD host: p3 refused (pool zdata, p4 suggested), p4 checked, attached
with the NIC pinned by MAC (SSH back on the renamed NIC at the first try), formatted for FreeBSD with the
serial attach printed, verified on the host (fstyp, the read-only test mount, the fstab line).

One demo run per CI: ``--guest-only`` (the old guest-side story, the console repair) is not run here; its
steps are the lab tests of fix-netplan and format."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.lab.conftest import Lab

P3 = "/dev/diskid/DISK-Y39B70RTK7ASp3"
P4 = "/dev/diskid/DISK-Y39B70RTK7ASp4"


def test_demo_runs_the_seed_story_host_first(lab: Lab, tmp_path: Path) -> None:
    lab.down()
    inv = lab.inventory(tmp_path)
    r = lab.invoke(  # the demo's output is printed when an assertion fails (pytest -s shows it anyway)
        "demo",
        "--state",
        str(lab.state),
        "--ssh-port",
        str(lab.ssh_port),
        "--console-port",
        str(lab.console_port),
        inventory=inv,
        env={k: v for k, v in os.environ.items() if not k.startswith("XDEV_")},  # the demo knows the lab's
        timeout=1200,
    )
    out = r.stdout
    print(out)
    assert r.returncode == 0, r.stderr + out
    assert "Traceback" not in r.stderr
    # booted by `vm start xdev` on the stand-in host: no disk, the NIC at slot 5
    assert "over SSH: lo UNKNOWN enp0s5 UP (enp0s5 at 0000:00:05.0)" in out
    # 1. p3 refused, naming the pool and p4
    assert f"{P3} (from --device)" in out and "REFUSED" in out
    assert f"refused: {P3} is pool zdata's; the check names {P4} instead" in out
    # 2. p4 may be passed through; the rename attach prevents
    assert "predicted: network0 enp0s5 → enp0s6" in out
    # 3. attached: the NIC pinned by MAC while SSH works, the diff; SSH back: the NIC moved to slot 6 and
    # kept its name (matched by MAC, set-name)
    assert "pinned by MAC" in out
    assert f'+disk1_name="{P4}"' in out and '+disk1_opts="ser=Y39B70RTK7ASp4"' in out
    assert f"attached {P4} to xdev as disk1, serial Y39B70RTK7ASp4" in out
    assert "SSH on the first try after the restart: lo UNKNOWN enp0s5 UP (enp0s5 at 0000:00:06.0" in out
    # 4. format pinned by that serial, for a FreeBSD host
    assert "--host-compat freebsd --serial Y39B70RTK7ASp4" in out
    assert "features turned off for a freebsd host: orphan_file, metadata_csum_seed" in out
    # 5. the host's verdict
    assert f"{P4} (disk1) on " in out and ": verified" in out
    assert "/dev/diskid/DISK-Y39B70RTK7ASp4" in out and "ext2fs" in out
    image = lab.state / "p4.img"
    assert image.stat().st_size == 2 << 30
    blkid = subprocess.run(
        ["blkid", "-p", "-o", "export", str(image)], capture_output=True, text=True, check=True
    ).stdout
    assert "TYPE=ext4" in blkid and "LABEL=linux-data" in blkid and "PTTYPE" not in blkid
