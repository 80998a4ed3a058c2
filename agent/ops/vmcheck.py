"""``invoke check-vm-config``: read a vm-bhyve guest config (a file, or over SSH from the host), check it."""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from agent.core.vmfindings import Report, check_vm_config_text
from agent.errors import UsageError
from agent.remote.ssh import SshSession, SshTarget


@dataclass(frozen=True)
class ConfSource:
    text: str
    origin: str
    vm_dir: str
    vm_name: str
    zvol_dataset: str


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError as e:
        raise UsageError(f"cannot read {path}: {e.strerror}") from None


def from_file(conf: str, *, vm_dir: str | None, vm_name: str | None, zvol_dataset: str | None) -> ConfSource:
    """A local conf. Defaults follow vm-bhyve's layout: ``<vm_dir>/<name>/<name>.conf``."""
    p = Path(conf)
    name = vm_name or p.name.split(".conf")[0]
    vdir = vm_dir or str(p.resolve().parent)
    dataset = zvol_dataset or str(PurePosixPath(vdir).parent).lstrip("/")
    return ConfSource(_read(conf), conf, vdir, name, dataset)


# One round trip on the FreeBSD host: where vm-bhyve keeps the guest (vm_dir may be "zfs:pool/ds"),
# then the guest's conf. Prints "dir=", "dataset=", then the conf after a marker line.
_REMOTE = r"""
vm_dir=$(sysrc -n vm_dir 2>/dev/null) || {
  echo "vm_dir is not set in rc.conf (is vm-bhyve set up?)" >&2; exit 3; }
case "$vm_dir" in
  zfs:*) ds=${vm_dir#zfs:}; dir=$(zfs get -H -o value mountpoint "$ds") || exit 4 ;;
  *) ds=""; dir=$vm_dir ;;
esac
echo "dir=$dir/$VM"; echo "dataset=$ds"; echo "@@conf@@"
cat "$dir/$VM/$VM.conf"
"""


def from_host(session: SshSession, vm: str) -> ConfSource:
    script = f"VM={shlex.quote(vm)}\n{_REMOTE}"
    r = session.run(f"sh -c {shlex.quote(script)}")
    if r.exit_code != 0 or "@@conf@@" not in r.stdout:
        raise UsageError(
            f"could not read {vm}'s vm-bhyve config on {session.label}: {(r.stderr or r.stdout).strip()}"
        )
    head, _, conf = r.stdout.partition("@@conf@@\n")
    facts = dict(line.split("=", 1) for line in head.splitlines() if "=" in line)
    return ConfSource(
        conf, f"{session.label}:{facts['dir']}/{vm}.conf", facts["dir"], vm, facts.get("dataset", "")
    )


def check(src: ConfSource, before: str | None) -> Report:
    return check_vm_config_text(
        src.text,
        vm_dir=src.vm_dir,
        vm_name=src.vm_name,
        zvol_dataset=src.zvol_dataset,
        before_text=_read(before) if before else None,
    )


def host_target(host: str, port: int | None, user: str | None) -> SshTarget:
    return SshTarget(host=host, port=port, user=user)
