"""The one parser each for sizes, host:port and MAC addresses (agent/core/values.py)."""

from __future__ import annotations

import pytest

from agent.core.values import HostPort, mac_or_none, parse_host_port, parse_mac, parse_size

GIB = 1024**3


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("256GiB", 256 * GIB),
        ("256G", 256 * GIB),
        ("256g", 256 * GIB),  # the two old parsers disagreed here
        ("256gib", 256 * GIB),
        ("500GB", 500 * 10**9),
        ("4096", 4096),
        ("4096B", 4096),
        (" 4K ", 4096),
        ("1.5TiB", 3 * 1024**4 // 2),
        ("1EiB", 1024**6),  # and here
        ("2E", 2 * 1024**6),
        (274877906944, 274877906944),
    ],
)
def test_sizes(text: object, expected: int) -> None:
    assert parse_size(text) == expected


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("256Gi", "did you mean 256GiB"),
        ("0", "positive"),
        (0, "positive"),
        (-1, "positive"),
        ("1.5B", "whole number"),
        ("lots", "cannot read size"),
        (True, "expected a size"),
        (None, "expected a size"),
    ],
)
def test_bad_sizes(text: object, needle: str) -> None:
    with pytest.raises(ValueError, match=needle):
        parse_size(text)


def test_host_port() -> None:
    assert parse_host_port("127.0.0.1:4555") == HostPort("127.0.0.1", 4555)
    assert parse_host_port(" bhyvehost:22 ") == HostPort("bhyvehost", 22)
    assert parse_host_port("[::1]:4555") == HostPort("::1", 4555)
    assert str(HostPort("::1", 4555)) == "[::1]:4555"
    assert str(HostPort("h", 1)) == "h:1"
    for bad, needle in [("::1:4555", "brackets"), ("host", "host:port"), ("h:0", "range"), (4555, "quote")]:
        with pytest.raises(ValueError, match=needle):
            parse_host_port(bad)


def test_mac() -> None:
    assert parse_mac("58-9C-FC-03-19-32") == "58:9c:fc:03:19:32"
    assert parse_mac(" 58:9c:fc:03:19:32 ") == "58:9c:fc:03:19:32"
    for bad in ("58:9c:fc:03:19", "58:9c-fc:03:19:32", "zz:9c:fc:03:19:32", 5):
        with pytest.raises(ValueError):
            parse_mac(bad)
    assert mac_or_none("nope") is None
    assert mac_or_none("58:9C:FC:03:19:32") == "58:9c:fc:03:19:32"
