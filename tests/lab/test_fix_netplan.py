"""`invoke fix-netplan` against the real lab guest: the bhyve NIC rename, repaired through the serial console.

Three fresh boots (and one reboot of the same guest), each a group of tests that run in file order:

* ``broken``: the NVMe disk at slot 5 moved the NIC to slot 6 (enp0s6), netplan still names enp0s5, SSH is
  down. A dry run and a wrong console password change nothing; then the fix (the story), a no-op rerun and
  a ``--json`` rerun.
* ``rollback``: the same broken layout, fixed with an inventory whose SSH port is wrong, so SSH never comes
  back and ``netplan try`` must roll the change back; then the real fix with ``--pin-cloud-init``.
* ``plain``: SSH works on enp0s5; ``--match-mac`` pins the NIC by MAC, then the *same* guest is rebooted with
  the disk attached and keeps enp0s5 at slot 6 with SSH working, with no fix at all.

What the guest holds is read back over SSH (as root, through sudo) or, while SSH is down, through a console
login of its own; nothing is taken from the CLI's own report alone.
"""

from __future__ import annotations

import base64
import json
import re
import shlex
import socket
import stat
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from agent.inventory import load_inventory
from agent.lab.recipe import CLOUD_INIT_NETPLAN
from agent.ops.connect import Connector
from agent.transport.ssh import SshSession, SshUnreachable
from tests.lab.conftest import Lab

NETPLAN = "/etc/netplan/50-cloud-init.yaml"
MAC = "58:9c:fc:03:19:32"
HEADER = "".join(line for line in CLOUD_INIT_NETPLAN.splitlines(keepends=True) if line.startswith("#"))
FIXED = CLOUD_INIT_NETPLAN.replace("        enp0s5:\n", "        enp0s6:\n")
BACKUP = re.compile(re.escape(NETPLAN) + r"\.bak\.\d{8}T\d{6}Z")
CLOUD_CFG = "/etc/cloud/cloud.cfg.d/99-disable-network-config.cfg"


# --------------------------------------------------------------------------------------------- helpers


@dataclass
class Guest:
    """The booted lab, its inventory, and what the tests measured on it."""

    lab: Lab
    inv: Path
    tmp: Path
    timings: dict[str, float] = field(default_factory=dict)

    def cli(
        self,
        *args: str,
        inv: Path | None = None,
        env: dict[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """``invoke fix-netplan ARGS --inventory INV``; no outcome, expected or not, prints a traceback."""
        t0 = time.monotonic()
        r = self.lab.invoke("fix-netplan", *args, inventory=inv or self.inv, env=env, timeout=420)
        self.timings[" ".join(("fix-netplan", *args))] = time.monotonic() - t0
        assert "Traceback" not in r.stderr, r.stderr
        assert "Traceback" not in r.stdout, r.stdout
        return r

    def root_ssh(self, script: str) -> str:
        """Run ``script`` as root over SSH (sudo with the admin password); its stdout."""
        with self.lab.ssh() as s:
            r = s.run(script, root=True, timeout=120)
        assert r.status == 0, f"{script!r} exited {r.status}: {r.stderr}"
        return r.stdout

    def root_console(self, script: str) -> str:
        """Run ``script`` as root through a console login of the test's own (SSH may be down)."""
        _, guest = load_inventory(self.inv).choose(None)
        connector = Connector(guest, sudo_password=None, console_password=self.lab.secrets["root"])
        with connector.console() as shell:
            r = shell.run(script, root=True, timeout=120)
        rc, out = r.status, r.output
        assert rc == 0, f"{script!r} exited {rc}: {out}"
        return out

    def netplan_dir(self, via: str) -> tuple[str, list[str]]:
        """The netplan file's text and the backups next to it."""
        run = self.root_ssh if via == "ssh" else self.root_console
        out = run(f"cat {NETPLAN}; echo @@LS; ls -1 /etc/netplan")
        text, listing = out.split("@@LS\n")
        backups = sorted(
            f"/etc/netplan/{n}" for n in listing.split() if n.startswith("50-cloud-init.yaml.bak.")
        )
        return text.replace("\r\n", "\n"), backups


def sections(out: str) -> list[str]:
    """Split a script's output at its ``echo @@`` lines."""
    return re.split(r"(?m)^@@\n", out.replace("\r\n", "\n"))


def ssh_unreachable(lab: Lab) -> float:
    """Assert SSH does not answer; return how long that took to tell."""
    t0 = time.monotonic()
    with pytest.raises(SshUnreachable):
        SshSession(lab.target(connect_timeout=3)).open()
    return time.monotonic() - t0


def wait_for_ssh(lab: Lab, deadline: float) -> float:
    """Poll SSH until it answers (the guest is booting); seconds it took."""
    t0 = time.monotonic()
    while True:
        try:
            with SshSession(lab.target(connect_timeout=5)) as s:
                assert s.run("true").status == 0
            return time.monotonic() - t0
        except SshUnreachable:
            if time.monotonic() - t0 > deadline:
                raise
            time.sleep(1)


def console_at_login_prompt(lab: Lab, timeout: float = 30) -> str:
    """Connect to the console's TCP port, press Enter, and return what came back once ``login:`` shows."""
    seen = b""
    with socket.create_connection(("127.0.0.1", lab.console_port), timeout=timeout) as sock:
        sock.sendall(b"\r")
        end = time.monotonic() + timeout
        while b"login:" not in seen and time.monotonic() < end:
            sock.settimeout(max(0.1, end - time.monotonic()))
            try:
                chunk = sock.recv(4096)
            except TimeoutError:
                break
            if not chunk:
                break
            seen += chunk
    return seen.decode(errors="replace")


def bad_port_inventory(g: Guest) -> Path:
    """The same inventory with an SSH port nothing listens on: SSH can never come back."""
    path = g.tmp / "bad-port.yaml"
    text = g.inv.read_text()
    assert f"    port: {g.lab.ssh_port}\n" in text
    path.write_text(text.replace(f"    port: {g.lab.ssh_port}\n", "    port: 1\n"))
    return path


# --------------------------------------------------------------------------------------------- broken guest


@pytest.fixture(scope="module")
def broken(lab: Lab, tmp_path_factory: pytest.TempPathFactory) -> Guest:
    st = lab.boot(disk1=True)
    assert st.nic_name == "enp0s6"
    tmp = tmp_path_factory.mktemp("fix-broken")
    return Guest(lab, lab.inventory(tmp), tmp)


def test_dry_run_shows_the_new_yaml_and_changes_nothing(broken: Guest) -> None:
    r = broken.cli("--dry-run")
    assert r.returncode == 0, r.stderr
    assert "dry run, nothing changed" in r.stdout
    assert "enp0s5 → enp0s6" in r.stdout
    assert f"--- new {NETPLAN} ---\n{FIXED}" in r.stdout
    text, backups = broken.netplan_dir("console")
    assert text == CLOUD_INIT_NETPLAN
    assert backups == []


def test_wrong_console_password_fails_clearly_and_changes_nothing(broken: Guest) -> None:
    r = broken.cli(env={**broken.lab.env(), "XDEV_CONSOLE_PASSWORD": "wrong"})
    assert r.returncode == 1, r.stdout + r.stderr
    assert "error: console login failed for user root: Login incorrect" in r.stderr
    assert "check the console user and password" in r.stderr
    assert "fixed:" not in r.stdout
    text, backups = broken.netplan_dir("console")  # the right password still works afterwards
    assert text == CLOUD_INIT_NETPLAN
    assert backups == []


def test_a_change_the_generator_rejects_changes_nothing_and_leaves_no_way_back(broken: Guest) -> None:
    """netplan's own generator, run on the guest before anything is changed, rejects a key it does not
    know: exit 3, the file as it was, the way back removed, nothing staged left behind."""
    bad = CLOUD_INIT_NETPLAN.replace("dhcp4: true\n", "dhcp4: true\n            gda-no-such-key: 1\n")
    encoded = base64.b64encode(bad.encode()).decode()
    broken.root_console(f"echo {encoded} | base64 -d > {NETPLAN}")
    r = broken.cli()
    assert r.returncode == 3, r.stdout + r.stderr
    assert "netplan generate rejected the new configuration; nothing was changed" in r.stderr
    assert "gda-no-such-key" in r.stderr
    left = "ls -A /etc/netplan /etc/systemd/system /etc/systemd/system/multi-user.target.wants"
    out = broken.root_console(
        f"cat {NETPLAN}; echo @@LS; {left}; ls -A /var/lib/guest-disk-agent 2>/dev/null; true"
    )
    text, listing = out.replace("\r\n", "\n").split("@@LS\n")
    assert text == bad
    assert "gda-netplan-revert" not in listing and ".new" not in listing, listing
    original = base64.b64encode(CLOUD_INIT_NETPLAN.encode()).decode()
    broken.root_console(f"rm -f {NETPLAN}.bak.*; echo {original} | base64 -d > {NETPLAN}")


@dataclass
class Story:
    result: subprocess.CompletedProcess[str]
    transcript: Path
    seconds: float
    unreachable_after: float


@pytest.fixture(scope="module")
def story(broken: Guest) -> Story:
    """The fix itself, once: SSH is down, `invoke fix-netplan --transcript FILE` repairs it."""
    unreachable_after = ssh_unreachable(broken.lab)
    transcript = broken.tmp / "console.txt"
    t0 = time.monotonic()
    r = broken.cli("--transcript", str(transcript))
    return Story(r, transcript, time.monotonic() - t0, unreachable_after)


def test_fix_over_the_console_brings_ssh_back_on_enp0s6(broken: Guest, story: Story) -> None:
    r = story.result
    assert story.unreachable_after < 15, "a short connect timeout tells SSH is down quickly"
    assert r.returncode == 0, r.stdout + r.stderr
    assert "SSH is unreachable" in r.stderr and "using the serial console" in r.stderr
    assert "fixed: enp0s5 → enp0s6 (via console)" in r.stdout
    assert "netplan try, confirmed with Enter on the console once SSH was back" in r.stdout
    assert "enp0s6: 10.0.2.15/24" in r.stdout
    m = re.search(r"SSH back ([\d.]+)s after the apply", r.stdout)
    assert m, r.stdout
    print(f"\nfix-netplan took {story.seconds:.1f}s; SSH back {m.group(1)}s after the apply")

    with broken.lab.ssh() as s:
        addr = s.run("ip -4 -o addr show dev enp0s6")
        assert addr.status == 0 and "inet 10.0.2.15/" in addr.stdout, addr.stdout + addr.stderr
        r2 = s.run(f"stat -c '%a %U' {NETPLAN}; ls -1 /etc/netplan", root=True)
        assert r2.status == 0, r2.stderr
    mode, *names = r2.stdout.split()
    assert mode == "600"
    text, backups = broken.netplan_dir("ssh")
    assert text == FIXED
    assert text.startswith(HEADER)  # the cloud-init comment header, byte for byte
    assert len(backups) == 1 and BACKUP.fullmatch(backups[0]), names
    assert backups[0] in r.stdout
    assert broken.root_ssh(f"cat {shlex.quote(backups[0])}") == CLOUD_INIT_NETPLAN
    # the boot unit's file is gone; systemd keeps what it loaded of it until its next daemon-reload
    units, files = broken.root_ssh(
        "systemctl list-units --all --no-legend 'gda-netplan-revert-*' | grep -v -- -boot.service; echo @@; "
        "ls /etc/systemd/system /etc/systemd/system/multi-user.target.wants /var/lib/guest-disk-agent"
    ).split("@@\n")
    assert "gda-netplan-revert" not in units, "the way back's timer and its service are gone once confirmed"
    assert "gda-netplan-revert" not in files, "and so are its boot unit and its job script"


def test_transcript_kept_without_secrets(broken: Guest, story: Story) -> None:
    text = story.transcript.read_text()
    assert "netplan try --timeout" in text  # the session is really in it
    assert broken.lab.secrets["root"] not in text
    assert broken.lab.secrets["admin"] not in text
    # a new file of the user's only, holding no file contents: netplan files may carry Wi-Fi PSKs
    assert stat.S_IMODE(story.transcript.stat().st_mode) == 0o600
    for content in (CLOUD_INIT_NETPLAN, broken.root_ssh(f"cat {NETPLAN}")):
        encoded = base64.b64encode(content.encode()).decode()
        assert encoded[:32] not in text and encoded[-32:] not in text
    assert "sha256" in text  # payloads appear as their length and SHA-256


def test_console_logged_out_at_the_end(broken: Guest, story: Story) -> None:
    seen = console_at_login_prompt(broken.lab)
    assert "login:" in seen, f"no login prompt on the console after the fix: {seen[-300:]!r}"


def test_rerun_is_a_no_op(broken: Guest, story: Story) -> None:
    _, before = broken.netplan_dir("ssh")
    r = broken.cli()
    assert r.returncode == 0, r.stdout + r.stderr
    assert "nothing to fix" in r.stdout
    assert "(via ssh)" in r.stdout or "checked via ssh" in r.stdout
    text, after = broken.netplan_dir("ssh")
    assert after == before
    assert text == FIXED


def test_json_rerun_reports_nothing_to_fix(broken: Guest, story: Story) -> None:
    r = broken.cli("--json")
    assert r.returncode == 0, r.stdout + r.stderr
    data = json.loads(r.stdout)
    assert data["action"] == "nothing-to-fix"
    assert data["via"] == "ssh"
    assert data["interface"] == "enp0s6"
    assert any(a.startswith("10.0.2.15/") for a in data["addresses"])
    assert data["backups"] == []


# --------------------------------------------------------------------------------------------- rollback


@pytest.fixture(scope="module")
def rollback(lab: Lab, tmp_path_factory: pytest.TempPathFactory) -> Guest:
    st = lab.boot(disk1=True)
    assert st.nic_name == "enp0s6"
    tmp = tmp_path_factory.mktemp("fix-rollback")
    return Guest(lab, lab.inventory(tmp), tmp)


def test_bad_apply_is_rolled_back(rollback: Guest) -> None:
    """SSH never comes back (wrong port): the file *and* the running network are the old ones again.

    Regression: validating with ``netplan generate`` in place before ``netplan try`` made try's backup of
    /run the new config, so its "revert" re-applied it: enp0s6 kept 10.0.2.15, managed by networkd from a
    .network file that no longer existed, while the file on disk was the old one.
    """
    r = rollback.cli("--deadline", "15", inv=bad_port_inventory(rollback))
    assert r.returncode == 3, r.stdout + r.stderr  # a change rolled back (agent.errors.ChangeFailed)
    assert "SSH did not come back within 15s of the apply" in r.stderr
    assert "rolled the change back" in r.stderr and "the original file is restored" in r.stderr
    out = rollback.root_console(
        f"cat {NETPLAN}; echo @@; ip -o link show enp0s6; echo @@; ip -4 -o addr show dev enp0s6; echo @@; "
        "pgrep -fa 'netplan [t]ry' || true; echo @@; networkctl list --no-legend enp0s6; echo @@; "
        "ls /run/systemd/network"
    )
    text, link, addr, tries, managed, generated = sections(out)
    assert text == CLOUD_INIT_NETPLAN, "the original netplan file is back"
    assert "enp0s6" in link
    assert managed.split()[-1] == "unmanaged", f"networkd still manages enp0s6: {managed}"
    assert generated.split() == ["10-netplan-enp0s5.network"]
    assert "inet " not in addr, f"enp0s6 is still configured after the rollback: {addr}"
    assert tries.strip() == "", f"netplan try still runs: {tries}"
    with pytest.raises(SshUnreachable):
        SshSession(rollback.lab.target(connect_timeout=3)).open()


def test_fix_after_rollback_with_pin_cloud_init(rollback: Guest) -> None:
    r = rollback.cli("--pin-cloud-init")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "fixed: enp0s5 → enp0s6 (via console)" in r.stdout
    assert "cloud-init" in r.stdout  # the warning that cloud-init may rewrite the file
    assert f"wrote {CLOUD_CFG}" in r.stderr
    text, _ = rollback.netplan_dir("ssh")
    assert text == FIXED
    out = rollback.root_ssh(f"stat -c '%a' {CLOUD_CFG}; cat {CLOUD_CFG}")
    mode, body = out.split("\n", 1)
    assert mode == "644"
    assert "network: {config: disabled}" in body.splitlines()


# --------------------------------------------------------------------------------------------- --match-mac


@pytest.fixture(scope="module")
def plain(lab: Lab, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Guest]:
    st = lab.boot()
    assert st.nic_name == "enp0s5"
    tmp = tmp_path_factory.mktemp("fix-plain")
    yield Guest(lab, lab.inventory(tmp), tmp)


def test_match_mac_pins_the_nic_while_ssh_works(plain: Guest) -> None:
    r = plain.cli("--match-mac")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "(via ssh)" in r.stdout
    assert "enp0s5: 10.0.2.15/24" in r.stdout  # the pinned interface is reported, read back over SSH
    m = re.search(r"SSH back ([\d.]+)s after the apply", r.stdout)
    assert m, r.stdout
    took = plain.timings["fix-netplan --match-mac"]
    print(f"\n--match-mac over SSH took {took:.1f}s; SSH back {m.group(1)}s after the apply")
    text, backups = plain.netplan_dir("ssh")
    assert f'macaddress: "{MAC}"' in text
    assert "set-name: enp0s5" in text
    assert text.startswith(HEADER)
    assert len(backups) == 1
    with plain.lab.ssh() as s:
        assert "inet 10.0.2.15/" in s.run("ip -4 -o addr show dev enp0s5").stdout


def test_pinned_guest_keeps_enp0s5_after_the_slot_change(plain: Guest) -> None:
    plain.root_ssh("sync")
    st = plain.lab.boot(disk1=True, fresh=False)  # the same guest, rebooted with the disk at slot 5
    assert st.nic_slot == 6
    secs = wait_for_ssh(plain.lab, 120)
    print(f"\npinned guest: SSH up {secs:.1f}s after the login prompt, with no fix")
    out = plain.root_ssh(
        "ls /sys/class/net; echo @@; cat /sys/class/net/enp0s5/address; "
        "readlink -f /sys/class/net/enp0s5/device; "
        f"ip -4 -o addr show dev enp0s5; echo @@; lsblk -dn -o NAME; echo @@; cat {NETPLAN}"
    )
    names, nic, disks, text = sections(out)
    assert sorted(names.split()) == ["enp0s5", "lo"]
    assert nic.splitlines()[0] == MAC
    assert "/0000:00:06.0/" in nic.splitlines()[1], nic  # slot 6 (virtio: .../0000:00:06.0/virtioN)
    assert "inet 10.0.2.15/" in nic
    assert "nvme0n1" in disks.split()
    assert f'macaddress: "{MAC}"' in text
    r = plain.cli()
    assert r.returncode == 0, r.stdout + r.stderr
    assert "nothing to fix" in r.stdout
