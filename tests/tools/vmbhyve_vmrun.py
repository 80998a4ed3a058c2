"""Run vm-bhyve's own ``vm::run`` on a guest config, with the FreeBSD host stubbed, and record what it
passes to bhyve: the fixtures of tests/facts/vmbhyve.vmrun are made by this script.

Our code only: vm-bhyve itself is never copied into this repository. The script reads the library files
of a vm-bhyve checkout (a git directory, bare or not) at a release tag with ``git show TAG:lib/...``
into a temporary folder, sources them in GNU bash (vm-bhyve is written for FreeBSD's sh; it uses
``local``, ``$'\\n'`` and ``;&``, all of which bash has, and ``setvar``, which is defined here as
FreeBSD sh(1) documents it) and calls ``vm::run GUEST`` exactly as ``vm start`` does in the background.

What is stubbed (host commands only; every vm-bhyve function runs as released):

- ``bhyve``: writes its argv to a file and exits 1 (a guest shut down: vm::handle_exit stops the loop);
  ``bhyveload``/``grub-bhyve``/``bhyvectl``: exit 0;
- ``ifconfig tap create`` prints tap0, tap1, ... (``tap create name X`` prints X), other ``ifconfig``
  calls print an mtu-1500 line; ``sysrc`` (config::set) records instead of writing the conf;
- ``date`` prints the seed log's ``Sep 17 20:34:21`` (``+%s``: 1600000000), ``md5`` a fixed digest (so
  a generated MAC is ``58:9c:fc:00:12:34``), ``uuidgen``, ``hostname``, ``stat``, ``netstat``,
  ``pgrep``, ``sleep``, ``acpidump``, ``sysctl``, ``egrep`` (``grep -E``);
- the UEFI firmware files: bash's ``[`` is wrapped so that a test of a path under
  /usr/local/share/uefi-firmware/ looks in a temporary folder that holds the three firmware files
  (the uefi-edk2-bhyve package, as on the seed's host);
- the datastore lives in a temporary folder; its path is written back as ``/zdata/vms`` (dataset
  ``zdata/vms``) in everything recorded, which is the seed host's layout. FreeBSD version: 1402000.

Regenerate every fixture (review the diff afterwards)::

    .venv/bin/python tests/tools/vmbhyve_vmrun.py /path/to/vm-bhyve [--tag v1.6.2] \\
        tests/facts/vmbhyve.vmrun/*.json

Each fixture holds the input (``output``: the conf, ``options``: vm_name) and gets ``vmrun`` (what
vm-bhyve did: its log lines, warnings, bhyve's argv, the taps it created, provenance) and ``expected``
(the parts the facts test compares with this project's plan). A new case: write a JSON file with just
``description``, ``output`` and ``options``, then run this script on it.
"""

from __future__ import annotations

import argparse
import datetime
import json
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

LIBS = [
    *("vm-cmd", "vm-config", "vm-core", "vm-datastore", "vm-guest", "vm-info", "vm-migration", "vm-rctl"),
    *("vm-run", "vm-switch", "vm-switch-manual", "vm-switch-netgraph", "vm-switch-standard"),
    *("vm-switch-vale", "vm-switch-vxlan", "vm-util", "vm-zfs"),
]
DS_SHOWN = "/zdata/vms"
DATASET = "zdata/vms"
FIXED_DATE = "Sep 17 20:34:21"
FAKE_MD5 = "01234567890abcdef0123456789abcde"
GENERATED_MAC = "58:9c:fc:00:12:34"  # what vm::generate_static_mac makes of FAKE_MD5
SYSTEM_CONF = 'switch_list="public igc0bridge"\ntype_public="standard"\n'

DRIVER = r"""
set +e
setvar(){ eval "$1=\"\$2\""; }            # FreeBSD sh builtin: setvar variable value
uuidgen(){ echo 00000000-0000-4000-8000-000000000000; }
sysrc(){ printf '%s\n' "$*" >> "$GDA_OUT/sysrc"; }
bhyve(){ printf '%s\0' "$@" > "$GDA_OUT/bhyve.argv"; return 1; }
bhyvectl(){ return 0; }
bhyveload(){ printf '%s\n' "$*" >> "$GDA_OUT/loader"; return 0; }
md5(){ echo "$GDA_MD5"; }
date(){ if [ "$1" = "+%s" ]; then echo 1600000000; else echo "$GDA_DATE"; fi; }
hostname(){ echo gda-harness; }
stat(){ echo 0; }
netstat(){ :; }
pgrep(){ return 1; }
sleep(){ :; }
acpidump(){ :; }
sysctl(){ :; }
egrep(){ grep -E "$@"; }
ifconfig(){
    local n
    if [ "$1" = tap ] && [ "$2" = create ]; then
        if [ "$3" = name ]; then
            echo "$4"; printf '%s=%s\n' "${_num}" "$4" >> "$GDA_OUT/taps"; return 0
        fi
        n=$(cat "$GDA_OUT/tapcount" 2>/dev/null || echo 0)
        echo $((n + 1)) > "$GDA_OUT/tapcount"
        echo "tap${n}"; printf '%s=tap%s\n' "${_num}" "${n}" >> "$GDA_OUT/taps"; return 0
    fi
    [ $# -eq 1 ] && echo "$1: flags=8843<UP,BROADCAST,RUNNING,SIMPLEX,MULTICAST> metric 0 mtu 1500"
    return 0
}
FW_REAL=/usr/local/share/uefi-firmware
[(){
    local a args=()
    for a in "$@"; do
        case "$a" in "$FW_REAL"/*) a="$GDA_FW/${a#"$FW_REAL"/}" ;; esac
        args+=("$a")
    done
    builtin [ "${args[@]}"
}
for _lib in $GDA_LIBS; do . "$GDA_LIB/$_lib"; done
VERSION_BSD=1402000
vm_dir="$GDA_DS"
VM_ZFS=1
VM_ZFS_DATASET="$GDA_DATASET"
VM_DATASTORE_LIST="default"
vm_disable_host_checks="yes"
config::core::load
( vm::run "$GDA_VM" )
echo "vm::run exit $?" >&2
"""


def _git(repo: str, *args: str) -> str:
    return subprocess.run(["git", "-C", repo, *args], check=True, capture_output=True, text=True).stdout


def run_case(repo: str, tag: str, conf: str, vm_name: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="gda-vmrun-") as tmp:
        root = Path(tmp)
        lib = root / "lib"
        lib.mkdir()
        for name in LIBS:
            (lib / name).write_text(_git(repo, "show", f"{tag}:lib/{name}"))
        ds = root / "zdata" / "vms"
        (ds / ".config").mkdir(parents=True)
        (ds / ".config" / "system.conf").write_text(SYSTEM_CONF)
        (ds / vm_name).mkdir()
        (ds / vm_name / f"{vm_name}.conf").write_bytes(conf.encode("utf-8"))
        fw = root / "uefi-firmware"
        fw.mkdir()
        for f in ("BHYVE_UEFI.fd", "BHYVE_UEFI_CSM.fd", "BHYVE_UEFI_CODE-devel.fd"):
            (fw / f).write_bytes(b"")
        out = root / "out"
        out.mkdir()
        bindir = root / "bin"
        bindir.mkdir()
        grub = bindir / "grub-bhyve"  # found by `which grub-bhyve`
        grub.write_text("#!/bin/sh\nexit 0\n")
        grub.chmod(0o755)
        env = {
            "PATH": f"{bindir}:/usr/bin:/bin",
            "LC_ALL": "C",
            "GDA_OUT": str(out),
            "GDA_LIB": str(lib),
            "GDA_LIBS": " ".join(LIBS),
            "GDA_DS": str(ds),
            "GDA_DATASET": DATASET,
            "GDA_VM": vm_name,
            "GDA_FW": str(fw),
            "GDA_MD5": FAKE_MD5,
            "GDA_DATE": FIXED_DATE,
        }
        driver = root / "driver.bash"
        driver.write_text(DRIVER)
        proc = subprocess.run(
            ["bash", str(driver)], env=env, capture_output=True, text=True, timeout=60, cwd=str(root)
        )

        def shown(text: str) -> str:
            return text.replace(str(ds), DS_SHOWN)

        log_path = ds / vm_name / "vm-bhyve.log"
        log = shown(log_path.read_text()).splitlines() if log_path.exists() else []
        argv_path = out / "bhyve.argv"
        argv = (
            [shown(a) for a in argv_path.read_bytes().decode().split("\0")[:-1]]
            if argv_path.exists()
            else None
        )
        taps_path = out / "taps"
        taps = (
            dict(ln.split("=", 1) for ln in taps_path.read_text().splitlines()) if taps_path.exists() else {}
        )
        stderr = [shown(ln) for ln in proc.stderr.splitlines()]
        exit_line = next((ln for ln in stderr if ln.startswith("vm::run exit ")), "vm::run exit ?")
        warnings = [ln.split(": WARNING: ", 1)[1] for ln in stderr if ": WARNING: " in ln]
        sysrc_path = out / "sysrc"
        return {
            "log": log,
            "warnings": warnings,
            "exit": int(exit_line.rsplit(" ", 1)[1]) if exit_line[-1].isdigit() else None,
            "bhyve_argv": argv,
            "taps": taps,
            "config_set": [shown(s) for s in sysrc_path.read_text().splitlines()]
            if sysrc_path.exists()
            else [],
        }


def devices_of(log: list[str]) -> str | None:
    for ln in log:
        if "[bhyve devices: " in ln:
            return ln.split("[bhyve devices: ", 1)[1][:-1]
    return None


def device_args(argv: list[str] | None) -> list[str] | None:
    """bhyve's argv from the first ``-s`` up to the console (``-l``) or the guest name."""
    if argv is None:
        return None
    start = argv.index("-s") if "-s" in argv else len(argv) - 1
    end = next((i for i in range(start, len(argv)) if argv[i] == "-l"), len(argv) - 1)
    return argv[start:end]


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("repo", help="a vm-bhyve checkout (git directory)")
    ap.add_argument("--tag", default="v1.6.2")
    ap.add_argument("cases", nargs="+", type=Path)
    args = ap.parse_args(argv)
    commit = _git(args.repo, "rev-parse", f"{args.tag}^{{commit}}").strip()
    bash = subprocess.run(["bash", "--version"], capture_output=True, text=True).stdout.splitlines()[0]
    today = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")
    for path in args.cases:
        case = json.loads(path.read_text(encoding="utf-8"))
        vm_name = case.get("options", {}).get("vm_name", "xdev")
        got = run_case(args.repo, args.tag, case["output"], vm_name)
        got["provenance"] = {
            "source": f"churchers/vm-bhyve {args.tag} (commit {commit}): lib/vm-run vm::run and the "
            "functions it calls, run unchanged with host commands stubbed",
            "command": "tests/tools/vmbhyve_vmrun.py "
            + " ".join(shlex.quote(a) for a in ("<vm-bhyve checkout>", "--tag", args.tag, str(path))),
            "shell": bash,
            "date": today,
            "datastore_shown_as": DS_SHOWN,
            "generated_mac": GENERATED_MAC,
        }
        case["vmrun"] = got
        case["expected"] = {
            "devices": devices_of(got["log"]),
            "device_args": device_args(got["bhyve_argv"]),
            "bhyve_started": got["bhyve_argv"] is not None,
            "warnings": got["warnings"],
        }
        path.write_text(
            json.dumps(case, indent=2, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8"
        )
        print(f"{path}: {case['expected']['devices']}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
