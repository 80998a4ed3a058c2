"""known_hosts read by the tool itself: @cert-authority and @revoked lines, revoked keys refused."""

from __future__ import annotations

import socket
from pathlib import Path

import paramiko
import pytest

from agent.transport.hostkeys import AcceptNewHost, HostKeyError, RejectUnknownHost
from agent.transport.known_hosts import KnownHostsError, load_known_hosts, parse_known_hosts
from agent.transport.ssh import SshSession, SshTarget, SshUnreachable

HOST = "[127.0.0.1]:2222"


def _key() -> paramiko.PKey:
    return paramiko.ECDSAKey.generate()


def _line(names: str, key: paramiko.PKey) -> str:
    return f"{names} {key.get_name()} {key.get_base64()}"


def test_markers_are_parsed_not_a_crash() -> None:
    good, revoked, ca = _key(), _key(), _key()
    text = "\n".join(
        [
            "# comment",
            f"@cert-authority *.example.com {ca.get_name()} {ca.get_base64()}",
            f"@revoked * {revoked.get_name()} {revoked.get_base64()}",
            _line(HOST, good),
            _line("other", revoked),  # also listed as a plain key: the revocation wins
            "garbage line with\xff bytes",
            "@future-marker x y z",
            "",
        ]
    ).encode("latin-1")
    kh = parse_known_hosts(text, "kh")
    assert kh.cert_authorities == 1
    assert kh.is_revoked(revoked) and not kh.is_revoked(good)
    assert kh.keys.lookup(HOST) is not None and kh.keys.lookup("other") is None
    assert len(kh.skipped) == 3 and "certificates are not supported" in kh.skipped[0]


def test_crlf_and_non_utf8_do_not_crash() -> None:
    key = _key()
    kh = parse_known_hosts((_line(HOST, key) + "\r\n# caf\xe9\r\n").encode("latin-1"), "kh")
    looked = kh.keys.lookup(HOST)
    assert looked is not None and looked[key.get_name()].asbytes() == key.asbytes()


def test_a_revoked_line_we_cannot_read_is_an_error_not_skipped() -> None:
    with pytest.raises(KnownHostsError, match="line 2: a @revoked line"):
        parse_known_hosts(b"# x\n@revoked * ssh-ed25519 !!!notbase64\n", "kh")


def test_a_revocation_in_a_later_file_withdraws_an_earlier_key(tmp_path: Path) -> None:
    key = _key()
    system, user = tmp_path / "system", tmp_path / "user"
    system.write_text(_line(HOST, key) + "\n")
    user.write_text(f"@revoked * {key.get_name()} {key.get_base64()}\n")
    kh = load_known_hosts([system, tmp_path / "missing", user])
    assert kh.keys.lookup(HOST) is None and kh.is_revoked(key)


def test_an_unreadable_file_is_a_host_key_error(tmp_path: Path) -> None:
    with pytest.raises(HostKeyError, match="cannot read known_hosts"):
        load_known_hosts([tmp_path])  # a directory


@pytest.mark.parametrize("policy", [RejectUnknownHost, AcceptNewHost])
def test_policies_refuse_a_revoked_key(policy: type[RejectUnknownHost], tmp_path: Path) -> None:
    key = _key()
    kh_file = tmp_path / "known_hosts"
    client = paramiko.SSHClient()
    with pytest.raises(HostKeyError, match="REVOKED") as info:
        policy(kh_file, [key]).missing_host_key(client, HOST, key)
    assert "never remove the @revoked line" in (info.value.hint or "")
    assert not kh_file.exists(), "a revoked key is never recorded"


def test_accept_new_still_records_an_unrevoked_key(tmp_path: Path) -> None:
    key, other = _key(), _key()
    kh_file = tmp_path / "known_hosts"
    AcceptNewHost(kh_file, [other]).missing_host_key(paramiko.SSHClient(), HOST, key)
    assert kh_file.read_text() == _line(HOST, key) + "\n"


def _closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = int(s.getsockname()[1])
    s.close()
    return port


def test_a_session_with_marker_lines_gets_to_the_network(tmp_path: Path) -> None:
    """Before: paramiko's loader raised InvalidHostKey (a traceback) before connecting."""
    key = _key()
    kh_file = tmp_path / "known_hosts"
    typed = f"{key.get_name()} {key.get_base64()}"
    kh_file.write_text(f"@cert-authority * {typed}\n@revoked * {typed}\n")
    target = SshTarget(
        host="127.0.0.1", port=_closed_port(), user="u", known_hosts=kh_file, connect_timeout=2
    )
    with pytest.raises(SshUnreachable):
        SshSession(target).open()


def test_an_unknown_host_with_only_a_cert_authority_says_certificates_are_not_supported(
    tmp_path: Path,
) -> None:
    key = _key()
    with pytest.raises(HostKeyError, match="host certificates are not supported"):
        RejectUnknownHost(tmp_path / "kh", cert_authorities=1).missing_host_key(
            paramiko.SSHClient(), HOST, key
        )
    with pytest.raises(HostKeyError) as info:
        RejectUnknownHost(tmp_path / "kh").missing_host_key(paramiko.SSHClient(), HOST, key)
    assert "certificate" not in info.value.message
