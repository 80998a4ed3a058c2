"""The host check's decision beyond the data files: name resolution, the suggestion's rules, the script."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from agent.core.host.gpart_output import GeomEntry, ListGeom
from agent.core.host.host_checks import check_host_device
from agent.core.host.host_facts import HostFacts, parse_host_facts, render_host_facts
from agent.core.host.host_finding import refusal_text
from agent.core.host.host_mounts import HostMount

FACTS = Path(__file__).resolve().parent.parent / "facts"
P = "/dev/diskid/DISK-Y39B70RTK7ASp"


def seed_facts() -> HostFacts:
    case = json.loads((FACTS / "host.facts" / "seed_host.json").read_text(encoding="utf-8"))
    return parse_host_facts(case["output"])


def with_provider(facts: HostFacts, index: int, **config: str) -> HostFacts:
    """The facts with partition ``index``'s gpart list config changed (type, mediasize via "size")."""
    (g,) = facts.geoms
    providers = []
    for p in g.providers:
        if p.index == index:
            size = config.pop("size", None)
            p = dataclasses.replace(
                p, config={**p.config, **config}, mediasize=int(size) if size else p.mediasize
            )
        providers.append(p)
    return dataclasses.replace(facts, geoms=(ListGeom(g.name, g.config, tuple(providers), g.consumers),))


def codes(check: object) -> list[tuple[str, str]]:
    return [(f.severity, f.code) for f in check.findings]  # type: ignore[attr-defined]


def test_a_gpt_label_path_is_the_same_partition_as_its_diskid_name() -> None:
    check = check_host_device(seed_facts(), "/dev/gpt/zdata0", slot=5)
    assert check.provider == "nda0p3" and check.disk == "nda0"
    assert ("error", "in-pool") in codes(check) and ("error", "partition-type") in codes(check)
    assert check.suggestion == P + "4"
    assert check.size_bytes == 274877906944  # no diskinfo section for that path: gpart list's size


def test_the_kernel_name_finds_the_diskid_partition() -> None:
    check = check_host_device(seed_facts(), "/dev/nda0p4", slot=5)
    assert check.ok and check.provider == "nda0p4" and check.partition_type == "linux-data"


def test_two_fitting_linux_data_partitions_give_no_suggestion() -> None:
    facts = with_provider(seed_facts(), 5, type="linux-data")
    facts = dataclasses.replace(facts, pools=tuple(p for p in facts.pools if p.name != "zroot"))
    facts = dataclasses.replace(facts, zdb={d: z for d, z in facts.zdb.items() if not d.endswith("p5")})
    check = check_host_device(facts, P + "3")
    assert not check.ok and check.suggestion is None
    assert all("instead" not in (f.fix or "") or "gpart add" in (f.fix or "") for f in check.findings)


def test_a_small_or_used_linux_data_partition_is_not_suggested() -> None:
    small = with_provider(seed_facts(), 4, size=str(512 << 20))
    assert check_host_device(small, P + "3").suggestion is None
    mounted = dataclasses.replace(
        seed_facts(), mounts=(*seed_facts().mounts, HostMount(P + "4", "/mnt", "ext2fs"))
    )
    assert check_host_device(mounted, P + "3").suggestion is None


def test_every_error_says_what_to_do_and_everything_is_json() -> None:
    facts = seed_facts()
    for dev in (P + "1", P + "2", P + "3", "/dev/nda0", P + "9"):
        check = check_host_device(facts, dev, slot=5)
        assert not check.ok
        assert all(f.fix for f in check.findings if f.severity == "error"), dev
        json.dumps(check.to_json())
        refusal = refusal_text(check)
        assert refusal is not None and dev in refusal[0] and refusal[1]
    assert refusal_text(check_host_device(facts, P + "4", slot=5)) is None


def test_the_refusal_names_the_pool_and_the_partition_to_use() -> None:
    refusal = refusal_text(check_host_device(seed_facts(), P + "3", slot=5))
    assert refusal is not None
    message, hint = refusal
    assert "zdata" in message and "freebsd-zfs" in message and P + "4" in message
    assert hint == f"use {P}4 (nda0p4, linux-data, 256 GiB) instead"


def test_unknown_gpart_type_is_a_warning() -> None:
    facts = with_provider(seed_facts(), 4, type="!0fc63daf-0000-4772-8e79-3d69d8477de4")
    check = check_host_device(facts, P + "4")
    assert check.ok and ("warning", "partition-type-unusual") in codes(check)


def test_open_mode_unknown_is_not_reported_as_open() -> None:
    (g,) = seed_facts().geoms
    p4 = next(p for p in g.providers if p.index == 4)
    assert isinstance(p4, GeomEntry) and p4.opened is False
    facts = seed_facts()
    odd = ListGeom(
        g.name,
        g.config,
        tuple(dataclasses.replace(p, mode="???") if p.index == 4 else p for p in g.providers),
        g.consumers,
    )
    check = check_host_device(dataclasses.replace(facts, geoms=(odd,)), P + "4")
    assert ("warning", "open") not in codes(check)


# --------------------------------------------------------------------------------------------- script


@pytest.mark.parametrize("bad", ["/dev/x y", "$(reboot)", "/dev/../etc/passwd", "nda0p4", "/dev/a;b"])
def test_render_refuses_paths_the_script_cannot_take(bad: str) -> None:
    with pytest.raises(ValueError, match="not a device path"):
        render_host_facts([bad])


def test_render_puts_the_devices_in_the_prelude_only() -> None:
    text = render_host_facts([P + "4", "/dev/gpt/data"], nonce="0123456789abcdef")
    assert f"GDA_DEVICES='{P}4 /dev/gpt/data'" in text
    assert text.count(P + "4") == 1


STUBS = {
    "glabel": "printf 'diskid/DISK-Y39B70RTK7AS  N/A  nda0\\n'",
    "gpart": 'case $1 in show) printf "=>  40  100  nda0  GPT  (50K)\\n";; '
    'list) printf "Geom name: nda0\\nscheme: GPT\\n";; esac',
    "diskinfo": 'printf "%s\\n\\t512         \\t# sectorsize\\n" "$2"',
    "zpool": "echo 'no pools available'",
    "zdb": 'echo "failed to unpack label 0"; exit 2',
    "mount": "printf 'devfs\\t\\t\\t/dev\\t\\t\\tdevfs\\trw\\t\\t0 0\\n'",
    "fstyp": 'echo "fstyp: $3: filesystem not recognized" >&2; exit 1',
}


@pytest.mark.skipif(shutil.which("sh") is None, reason="needs /bin/sh")
def test_the_script_runs_under_sh_and_records_a_missing_command(tmp_path: Path) -> None:
    for name, body in STUBS.items():
        path = tmp_path / name
        path.write_text(f"#!/bin/sh\n{body}\n", encoding="utf-8")
        path.chmod(path.stat().st_mode | stat.S_IXUSR)
    script = render_host_facts([P + "4"], nonce="0123456789abcdef")
    env = {"PATH": f"{tmp_path}:/usr/bin:/bin", "HOME": str(tmp_path)}
    proc = subprocess.run(
        ["sh", "-s"], input=script, capture_output=True, text=True, env=env, timeout=30, check=False
    )
    assert proc.returncode == 0, proc.stderr
    facts = parse_host_facts(proc.stdout)
    assert facts.complete and facts.uid == os.getuid()
    assert facts.names.canonical(P + "4") == "nda0p4"
    assert facts.tools["swapctl"] is None  # no swapctl on this machine: recorded, not fatal
    assert [p.text for p in facts.problems] == ["swap devices (swapctl -l): command not found"]
    assert set(facts.diskinfo) == {P + "4", "/dev/diskid/DISK-Y39B70RTK7AS"}
    assert set(facts.zdb) == {P + "4"} and set(facts.fstyp) == {P + "4"}
    assert facts.fstyp[P + "4"].type is None and facts.fstyp[P + "4"].error is None


@pytest.mark.skipif(shutil.which("shellcheck") is None, reason="needs shellcheck")
def test_the_script_passes_shellcheck() -> None:
    path = Path(__file__).resolve().parents[2] / "agent" / "scripts" / "host_facts.sh"
    proc = subprocess.run(["shellcheck", "-s", "sh", str(path)], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout
