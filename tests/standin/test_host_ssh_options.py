"""``--host`` without an inventory and without ~/.ssh/config: ``--host-port``, ``--host-user``,
``--host-identity-file`` and ``--host-known-hosts`` give what the inventory's host would (the stand-in
FreeBSD host: a real sshd on loopback, tests/standin/host.py)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from tests.cli.gda_run import gda
from tests.standin.host import StandinHost
from tests.standin.test_host_verify_standin import P4, expect, ext4_image


def bare_env(tmp_path: Path) -> dict[str, str]:
    """A HOME with no ~/.ssh at all and no ssh-agent: only the options can say how to log in."""
    home = tmp_path / "bare-home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "SSH_AUTH_SOCK"}
    return {**env, "HOME": str(home)}


def host_args(host: StandinHost) -> list[str]:
    return [
        "--host", "127.0.0.1", "--host-port", str(host.port), "--host-user", "root",
        "--host-identity-file", str(host.identity_file), "--host-known-hosts", str(host.known_hosts),
        "--vm", "xdev",
    ]  # fmt: skip


def test_check_vm_config_with_host_options_only(freebsd_host: StandinHost, tmp_path: Path) -> None:
    env = bare_env(tmp_path)
    r = gda("check-vm-config", *host_args(freebsd_host), "--json", env=env)
    assert "Traceback" not in r.stderr, r.stderr
    data = json.loads(r.stdout)
    host = data["host"]
    assert host["facts_error"] is None and host["ok"] is True, host
    (dev,) = host["devices"]
    assert dev["device"] == P4 and dev["ok"] is True and dev["partition_type"] == "linux-data"
    assert not (Path(env["HOME"]) / ".ssh").exists(), "nothing written into the user's ~/.ssh"


def test_short_flags_do_the_same(freebsd_host: StandinHost, tmp_path: Path) -> None:
    args = [
        "-H", "127.0.0.1", "-p", str(freebsd_host.port), "-u", "root",
        "-I", str(freebsd_host.identity_file), "-k", str(freebsd_host.known_hosts), "-v", "xdev", "-j",
    ]  # fmt: skip
    r = gda("check-vm-config", *args, env=bare_env(tmp_path))
    assert "Traceback" not in r.stderr, r.stderr
    assert json.loads(r.stdout)["host"]["ok"] is True


def test_host_verify_with_host_options_only(freebsd_host: StandinHost, tmp_path: Path) -> None:
    freebsd_host.update(images={P4: str(ext4_image(tmp_path / "p4.img"))})
    r = gda(
        "host-verify", *host_args(freebsd_host), "--device", P4, *expect(), "--json", env=bare_env(tmp_path)
    )
    assert "Traceback" not in r.stderr, r.stderr
    data = json.loads(r.stdout)
    assert r.returncode == 0 and data["verified"] is True, data


def test_without_the_known_hosts_option_the_host_key_is_unknown(
    freebsd_host: StandinHost, tmp_path: Path
) -> None:
    args = host_args(freebsd_host)
    i = args.index("--host-known-hosts")
    del args[i : i + 2]
    r = gda("check-vm-config", *args, "--json", env=bare_env(tmp_path))
    assert "Traceback" not in r.stderr, r.stderr
    err = json.loads(r.stdout)["error"]
    assert r.returncode != 0 and "host key" in err["message"], err


def test_a_missing_identity_file_is_bad_usage(tmp_path: Path) -> None:
    missing = tmp_path / "no_such_key"
    r = gda("check-vm-config", "--host", "127.0.0.1", "--vm", "xdev", "--host-identity-file", str(missing),
            "--json", env=bare_env(tmp_path))  # fmt: skip
    assert r.returncode == 2, (r.stdout, r.stderr)
    err = json.loads(r.stdout)["error"]
    assert err["message"] == f"--host-identity-file takes an existing file; {missing} is missing", err
