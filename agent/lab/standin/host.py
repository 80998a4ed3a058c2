"""The stand-in FreeBSD host: Debian's OpenSSH ``sshd`` on 127.0.0.1, a session that runs FreeBSD's
commands as stubs answering from one scenario (agent/lab/standin/scenario.py, agent/lab/standin/stubs/).
The tests start it (tests/standin/conftest.py) and so does ``gda demo`` (agent/cli/demo_story.py).

:class:`StandinHost` writes into a work folder: its own ed25519 host key and client key, an
``sshd_config`` (loopback only, key login as root, no PAM, no forwarding), the known_hosts line of its
key, a ``bin/`` folder of stub wrappers (each ``exec``s this python on ``-m
agent.lab.standin.stubs.freebsd_cmds`` with the scenario copy, the agent package on PYTHONPATH), the
scenario's files under ``root/`` and the session script, sshd's ``ForceCommand``. The session runs in its
own mount namespace (``unshare -m``) with an overlay over /dev holding the scenario's device names
(``/dev/diskid/...p4``, ``/dev/gpt/...``, ``/dev/vmm/<guest>`` while "running") as empty files:
host_facts.sh looks for the partitions of a disk with ``[ -e ]``, and nothing of the machine's own /dev
changes. A device the scenario maps to a disk image (``images``) is a symlink to it, so that the real
``dd``/``od`` read the image's bytes, and the ``mount`` stub's read-only test mount (a Linux loop mount,
inside that namespace) mounts it. The guests bhyve runs are listed in ``running`` (``/dev/vmm/<name>``
made from it), which the ``vm`` stub's ``vm start``/``vm stop`` change for later sessions too
(stubs/vm_bhyve.py; with a :class:`LabLink`, they boot and stop the lab's QEMU guest and ``vm console``
runs the real ``cu`` on a socat pty bridged to its serial port: stubs/vm_lab.py). Then
``PATH=<bin>:/usr/bin:/bin`` and the client's command (``sh -c ...``). sshd runs in the foreground as the
caller's child (``sshd -D -e -f <config>``) and is stopped by :meth:`StandinHost.stop`."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.lab.paths import cache_root
from agent.lab.standin.scenario import device_paths, file_bytes, load_state, read_scenario

SSHD = "/usr/sbin/sshd"
STUBS = "agent.lab.standin.stubs.freebsd_cmds"  # run as a module, with IMPORT_ROOT on PYTHONPATH
IMPORT_ROOT = Path(__file__).resolve().parents[3]  # the folder holding the agent package
TOOLS = ("glabel", "gpart", "diskinfo", "zpool", "zdb", "mount", "swapctl", "fstyp", "sysrc", "zfs",
         "kldstat", "uname", "umount", "vm")  # fmt: skip


def missing_requirements() -> str | None:
    """Why the stand-in cannot run here (None: it can): sshd, ssh-keygen, unshare, root."""
    if not os.access(SSHD, os.X_OK):
        return f"{SSHD} is missing (apt-get install openssh-server; ./dev installs it)"
    for tool in ("ssh-keygen", "unshare", "blkid"):
        if shutil.which(tool, path="/usr/sbin:/sbin:/usr/bin:/bin") is None:
            return f"{tool} is missing"
    if os.geteuid() != 0:
        return "the stand-in's sshd logs in as root and mounts an overlay over /dev: run as root"
    probe = subprocess.run(["unshare", "-m", "--propagation", "private", "true"], capture_output=True,
                           check=False)  # fmt: skip
    if probe.returncode != 0:
        return f"unshare -m fails here: {probe.stderr.decode(errors='replace').strip()}"
    return None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class LabLink:
    """The lab guest the stand-in's ``vm`` drives (the scenario's ``lab``; stubs/vm_lab.py):
    its state folder, ports and flavour, and the vm-bhyve guest name it stands for."""

    state: Path
    ssh_port: int
    console_port: int
    flavour: str = "bookworm"
    guest: str = "xdev"
    # the image cache the boot uses: the caller's (sshd's session does not pass GDA_IMAGE_CACHE on)
    image_cache: Path = field(default_factory=cache_root)

    def as_scenario(self) -> dict[str, Any]:
        return {"state": str(self.state), "ssh_port": self.ssh_port, "console_port": self.console_port,
                "flavour": self.flavour, "guest": self.guest,
                "image_cache": str(self.image_cache)}  # fmt: skip


@dataclass
class StandinHost:
    """One stand-in host in ``workdir`` with the scenario file ``scenario``; :meth:`start` it. With
    ``lab``, ``vm start|stop|restart|console <lab.guest>`` drive that lab guest (QEMU) instead of only
    changing the scenario's ``running``."""

    scenario: Path
    workdir: Path
    host: str = "127.0.0.1"
    port: int = 0
    user: str = "root"
    lab: LabLink | None = None
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def identity_file(self) -> Path:
        return self.workdir / "client_ed25519"

    @property
    def known_hosts(self) -> Path:
        return self.workdir / "known_hosts"

    @property
    def root(self) -> Path:
        """The folder holding the host's files (``/zdata/vms/xdev/xdev.conf`` is ``root/zdata/...``)."""
        return self.workdir / "root"

    @property
    def bin(self) -> Path:
        return self.workdir / "bin"

    @property
    def scenario_copy(self) -> Path:
        return self.workdir / "scenario.json"

    @property
    def log(self) -> Path:
        return self.workdir / "sshd.log"

    def state(self) -> dict[str, Any]:
        return load_state(self.scenario_copy)

    # ------------------------------------------------------------------------------ the host's state
    def write_file(self, path: str, data: bytes | str) -> Path:
        """Put ``data`` at ``path`` on the stand-in's filesystem (under :attr:`root`)."""
        target = self.root / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
        return target

    def update(self, **changes: Any) -> None:
        """Change the scenario (top-level keys) for the next commands, e.g. ``running=["xdev"]``."""
        raw = json.loads(self.scenario_copy.read_text(encoding="utf-8"))
        raw.update(changes)
        self._write_scenario(raw)

    def _write_scenario(self, raw: dict[str, Any]) -> None:
        base = self.scenario.parent
        raw["images"] = {k: str((base / v).resolve()) for k, v in raw.get("images", {}).items()}
        self.scenario_copy.write_text(json.dumps(raw, indent=2), encoding="utf-8")
        self._write_session()

    def run_stub(self, tool: str, *args: str) -> subprocess.CompletedProcess[str]:
        """Run one stub as the session would (for tests of the stubs themselves)."""
        return subprocess.run([str(self.bin / tool), *args], capture_output=True, text=True, check=False)

    # ------------------------------------------------------------------------------ setting up
    def prepare(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        for key in ("host_ed25519", "client_ed25519"):
            for old in (self.workdir / key, self.workdir / f"{key}.pub"):  # ssh-keygen would ask
                old.unlink(missing_ok=True)
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"gda-standin-{key}",
                            "-f", str(self.workdir / key)], check=True)  # fmt: skip
        (self.workdir / "authorized_keys").write_text((self.workdir / "client_ed25519.pub").read_text())
        self.bin.mkdir(exist_ok=True)
        py, where = shlex.quote(sys.executable), shlex.quote(str(IMPORT_ROOT))
        scen, root = shlex.quote(str(self.scenario_copy)), shlex.quote(str(self.root))
        for tool in TOOLS:
            w = self.bin / tool
            w.write_text(f"#!/bin/sh\nPYTHONPATH={where}\nexport PYTHONPATH\n"
                         f'exec {py} -m {STUBS} {scen} {root} {tool} "$@"\n')  # fmt: skip
            w.chmod(0o755)
        raw = read_scenario(self.scenario)
        if self.lab is not None:
            raw["lab"] = self.lab.as_scenario()
        self._write_scenario(raw)
        for path, spec in raw.get("files", {}).items():
            self.write_file(path, file_bytes(spec))

    def _write_session(self) -> None:
        """sshd's ForceCommand: a private mount namespace, the scenario's /dev names, the stub PATH."""
        st = load_state(self.scenario_copy)
        ov = shlex.quote(str(self.workdir / "devov"))
        lines = [
            "#!/bin/sh",
            "# the stand-in FreeBSD host's session (agent/lab/standin/host.py): its own mount namespace",
            "set -e",
            f"mkdir -p {ov}",
            f"mount -t tmpfs gda-standin {ov}",
            f"mkdir {ov}/upper {ov}/work {ov}/pts",
            # the overlay hides the devpts mount on /dev/pts: keep it aside and move it back, so that ptys
            # made in the session (socat's for `vm console`) open, and the session's own tty is seen
            f"mount --bind /dev/pts {ov}/pts",
            f"mount -t overlay gda-standin -o lowerdir=/dev,upperdir={ov}/upper,workdir={ov}/work /dev",
            f"mount --move {ov}/pts /dev/pts",
        ]
        for dev in device_paths(st):
            if dev.startswith("/dev/vmm/"):
                continue  # from the running file below: the vm stub's `vm stop` changes it
            make = f"ln -sf {shlex.quote(st['images'][dev])}" if dev in st["images"] else ": >"
            lines.append(f"mkdir -p {shlex.quote(str(Path(dev).parent))} && {make} {shlex.quote(dev)}")
        running = self.workdir / "running"
        running.write_text("".join(f"{name}\n" for name in st["running"]))
        lines.append(
            f'while read -r n; do mkdir -p /dev/vmm && : > "/dev/vmm/$n"; done < {shlex.quote(str(running))}'
        )
        lines += [
            "set +e",
            f"PATH={shlex.quote(str(self.bin))}:/usr/bin:/bin",
            "GDA_STANDIN_SESSION=1",  # the vm stub's `vm start` makes /dev/vmm/<name> in this namespace only
            "export PATH GDA_STANDIN_SESSION",
            'if [ -n "${SSH_ORIGINAL_COMMAND:-}" ]; then exec /bin/sh -c "$SSH_ORIGINAL_COMMAND"; fi',
            "exec /bin/sh",
        ]
        inner = self.workdir / "session-inner"
        inner.write_text("\n".join(lines) + "\n")
        inner.chmod(0o755)
        outer = self.workdir / "session"
        outer.write_text("#!/bin/sh\nexec unshare -m --propagation private " + shlex.quote(str(inner)) + "\n")
        outer.chmod(0o755)

    def _config(self) -> str:
        d = self.workdir
        return "\n".join(
            [
                f"ListenAddress {self.host}",
                f"Port {self.port}",
                f"HostKey {d / 'host_ed25519'}",
                f"PidFile {d / 'sshd.pid'}",
                f"AuthorizedKeysFile {d / 'authorized_keys'}",
                "PermitRootLogin prohibit-password",
                "PubkeyAuthentication yes",
                "PasswordAuthentication no",
                "KbdInteractiveAuthentication no",
                "UsePAM no",
                "StrictModes no",  # the work folder is under /tmp (world-writable)
                "AllowTcpForwarding no",
                "AllowAgentForwarding no",
                "X11Forwarding no",
                "PermitTunnel no",
                "PrintMotd no",
                "PrintLastLog no",
                "UseDNS no",
                "MaxStartups 20",
                f"ForceCommand {d / 'session'}",
                "LogLevel ERROR",
                "",
            ]
        )

    def start(self, timeout: float = 15.0) -> StandinHost:
        self.prepare()
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege separation folder
        for _attempt in range(3):
            self.port = free_port()
            cfg = self.workdir / "sshd_config"
            cfg.write_text(self._config())
            with self.log.open("wb") as log:
                self.proc = subprocess.Popen([SSHD, "-D", "-e", "-f", str(cfg)], stdout=log, stderr=log,
                                             stdin=subprocess.DEVNULL)  # fmt: skip
            if self._wait(timeout):
                key = (self.workdir / "host_ed25519.pub").read_text().split()
                self.known_hosts.write_text(f"[{self.host}]:{self.port} {key[0]} {key[1]}\n")
                return self
            self.stop()
        raise RuntimeError(f"the stand-in's sshd did not start: {self.log.read_text(errors='replace')}")

    def _wait(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                return False
            try:
                with socket.create_connection((self.host, self.port), timeout=1) as s:
                    if s.recv(8).startswith(b"SSH-"):
                        return True
            except OSError:
                time.sleep(0.05)
        return False

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    # ------------------------------------------------------------------------------ for the CLI
    def inventory(self, path: Path, guest: str = "xdev", *, sudo_password_env: str | None = None) -> Path:
        """An inventory naming this host under ``hosts:`` and ``guest`` on it (its ``on:``)."""
        sudo = f"    sudo_password_env: {sudo_password_env}\n" if sudo_password_env else ""
        path.write_text(
            "hosts:\n"
            "  standin:\n"
            f"    host: {self.host}\n"
            f"    port: {self.port}\n"
            f"    user: {self.user}\n"
            f"    identity_file: {self.identity_file}\n"
            f"    known_hosts: {self.known_hosts}\n"
            f"{sudo}"
            "guests:\n"
            f"  {guest}:\n"
            "    host: 192.0.2.10\n"
            "    on: standin\n",
            encoding="utf-8",
        )
        return path

    def ssh_config_home(self, home: Path) -> Path:
        """A HOME whose ~/.ssh/config gives this host's key and known_hosts (for ``--host``)."""
        ssh = home / ".ssh"
        ssh.mkdir(parents=True, exist_ok=True)
        (ssh / "config").write_text(
            f"Host {self.host}\n"
            f"  IdentityFile {self.identity_file}\n"
            f"  UserKnownHostsFile {self.known_hosts}\n"
            "  IdentitiesOnly yes\n",
            encoding="utf-8",
        )
        return home
