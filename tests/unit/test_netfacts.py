"""agent.core.net.netfacts + agent/scripts/net_facts.sh: the network facts, gathered in one run and parsed.

Captured and constructed outputs are data files: tests/facts/net.facts/*.json.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from agent.core import marker, script_render
from agent.core.net.netfacts import KIND, NETPLAN_DIRS, SCRIPT, parse_netfacts, render_netfacts_script
from agent.errors import RemoteError


def _run(script: str) -> str:
    return subprocess.run(["sh", "-c", script], capture_output=True, text=True, check=True).stdout


def test_values_travel_in_the_prelude_only() -> None:
    text = render_netfacts_script("/etc/netplan/it's.yaml", nonce="abcdef0123456789")
    prelude, _, rest = text.partition(script_render.runs("lib/marker.sh"))
    assert "N=abcdef0123456789\n" in prelude
    assert "NETPLAN_FILE='/etc/netplan/it'\"'\"'s.yaml'\n" in prelude
    assert "set -- " + " ".join(NETPLAN_DIRS) + "\n" in prelude
    assert rest == script_render.runs(f"{SCRIPT}.sh")
    assert "netplan/it" not in rest and "@@GDA-NET" not in rest  # the body is fixed text; no private markers


def test_script_reads_every_yaml_of_the_directories_in_order(tmp_path: Path) -> None:
    lib, etc = tmp_path / "lib", tmp_path / "etc"
    lib.mkdir()
    etc.mkdir()
    (etc / "50-cloud-init.yaml").write_bytes(b"network:\r\n  version: 2\r\n")
    (lib / "10-a b.yaml").write_text("network: {version: 2}  # \u00e9 @@GDA-x END rc=0@@\n")
    (etc / "notes.txt").write_text("not netplan\n")
    argv = [str(lib), str(etc), str(tmp_path / "run")]
    out = _run(script_render.render(SCRIPT, {"NETPLAN_FILE": ""}, argv=argv))
    facts = parse_netfacts(out)
    assert facts.files == {
        f"{lib}/10-a b.yaml": "network: {version: 2}  # \u00e9 @@GDA-x END rc=0@@\n",
        f"{etc}/50-cloud-init.yaml": "network:\r\n  version: 2\r\n",
    }
    framed = marker.parse(out, KIND)
    assert framed.version == "1" and framed.complete
    assert [s.name for s in framed.sections] == ["FILE", "SHA256", "FILE", "SHA256", "LINK", "ADDR", "SYSFS"]
    assert any(i.name == "lo" for i in facts.interfaces)  # this machine's own interfaces


def test_netplan_file_limits_the_files_to_that_one(tmp_path: Path) -> None:
    one = tmp_path / "01-netcfg.yaml"
    one.write_text("network: {version: 2}\n")
    (tmp_path / "02-other.yaml").write_text("network: {version: 2}\n")
    assert parse_netfacts(_run(render_netfacts_script(str(one)))).files == {
        str(one): "network: {version: 2}\n"
    }
    assert parse_netfacts(_run(render_netfacts_script(str(tmp_path / "missing.yaml")))).files == {}


@pytest.mark.skipif(shutil.which("shellcheck") is None, reason="shellcheck is not installed")
def test_the_script_passes_shellcheck() -> None:
    path = Path(script_render.__file__).resolve().parent.parent / "scripts" / f"{SCRIPT}.sh"
    result = subprocess.run(
        ["shellcheck", "-s", "sh", str(path)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout


def _facts_with_file(tmp_path: Path, text: str) -> str:
    (tmp_path / "50-cloud-init.yaml").write_text(text)
    return _run(render_netfacts_script(str(tmp_path / "50-cloud-init.yaml")))


def _flip(line: str) -> str:
    return line[:10] + ("B" if line[10] != "B" else "C") + line[11:]


def _noise(line: str) -> str:
    return line[:10] + "^[" + line[10:]


@pytest.mark.parametrize(
    ("damage", "why"),
    [(_flip, "SHA-256 does not match"), (_noise, "invalid base64")],  # a flipped character; console noise
)
def test_damaged_base64_is_refused_by_its_checksum(
    tmp_path: Path, damage: Callable[[str], str], why: str
) -> None:
    out = _facts_with_file(tmp_path, "network:\n  wifis:\n    wlan0:\n      password: hunter2\n")
    assert parse_netfacts(out).files  # undamaged, it parses
    lines = out.split("\n")
    body = next(i for i, line in enumerate(lines) if " BEGIN FILE " in line) + 1
    lines[body] = damage(lines[body])
    with pytest.raises(RemoteError, match=why) as e:
        parse_netfacts("\n".join(lines))
    assert e.value.hint is not None and "never rewritten" in e.value.hint


def test_a_file_without_its_checksum_is_refused(tmp_path: Path) -> None:
    out = _facts_with_file(tmp_path, "network: {version: 2}\n")
    framed_lines = out.split("\n")
    start = next(i for i, line in enumerate(framed_lines) if " BEGIN SHA256 " in line)
    without = "\n".join(framed_lines[:start] + framed_lines[start + 4 :])
    with pytest.raises(RemoteError, match="without its checksum"):
        parse_netfacts(without)
