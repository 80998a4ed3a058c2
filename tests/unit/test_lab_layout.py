"""The lab's pure parts: flavour recipes and their cache keys, the mirror taken from apt's sources, the
cloud-init seed, and QEMU's command line (hexadecimal slots, several NICs as functions of one slot)."""

from __future__ import annotations

from pathlib import Path

import pytest
from ruamel.yaml import YAML

from agent.errors import AgentError, UsageError
from agent.lab import nocloud
from agent.lab.build import image_paths
from agent.lab.defaults import DEFAULT_FLAVOUR, LAB_FLAVOURS
from agent.lab.qemu import LabMachine, NvmeDisk, expected_nic_names, pci_addr, qemu_argv
from agent.lab.recipe import FLAVOURS, debian_mirror_from_sources, recipe_for

# This machine's own deb822 file (bookworm only): the suites are folders of one archive.
BOOKWORM_SOURCES = """\
Types: deb
URIs: http://mirror.example/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://mirror.example/debian-security
Suites: bookworm-security
Components: main
"""


def test_flavours_are_the_two_debian_releases_with_cloud_init_only_on_trixie() -> None:
    assert tuple(FLAVOURS) == LAB_FLAVOURS == ("bookworm", "trixie")
    assert recipe_for(None).flavour == DEFAULT_FLAVOUR == "bookworm"
    trixie = recipe_for("trixie")
    assert trixie.suite == "trixie" and trixie.cloud_init and trixie.netplan_content is None
    assert {"cloud-init", "python3"} <= set(trixie.packages)
    bookworm = recipe_for("bookworm")
    assert not bookworm.cloud_init and "cloud-init" not in bookworm.packages
    assert bookworm.netplan_content is not None and "enp0s5:" in bookworm.netplan_content


def test_cache_is_keyed_by_flavour_and_recipe() -> None:
    names = {r.cache_name for r in FLAVOURS.values()}
    assert len(names) == 2
    for flavour, recipe in FLAVOURS.items():
        assert recipe.cache_name == f"{flavour}-{recipe.key()}"
        assert image_paths(recipe).root.name == recipe.cache_name
    # Same recipe, same key; any change of content, a new key.
    from dataclasses import replace

    base = recipe_for("trixie")
    assert replace(base).key() == base.key()
    assert replace(base, packages=(*base.packages, "vim")).key() != base.key()


def test_unknown_flavour_is_bad_usage_naming_the_choices() -> None:
    with pytest.raises(UsageError) as e:
        recipe_for("sid")
    assert "sid" in e.value.message and "bookworm, trixie" in (e.value.hint or "")


def test_mirror_for_a_configured_suite() -> None:
    assert debian_mirror_from_sources([BOOKWORM_SOURCES], "", "bookworm") == "http://mirror.example/debian"


def test_mirror_for_trixie_is_the_same_archive_when_only_bookworm_is_configured() -> None:
    assert debian_mirror_from_sources([BOOKWORM_SOURCES], "", "trixie") == "http://mirror.example/debian"


def test_mirror_from_a_one_line_sources_list_and_never_a_security_archive() -> None:
    sl = (
        "deb http://mirror.example/debian-security bookworm-security main\n"
        "deb [arch=amd64] http://mirror.example/debian/ bookworm main\n"
    )
    assert debian_mirror_from_sources([], sl, "trixie") == "http://mirror.example/debian"
    with pytest.raises(AgentError) as e:
        debian_mirror_from_sources(
            [], "deb http://mirror.example/debian-security bookworm-security main\n", "trixie"
        )
    assert "trixie" in e.value.message and "sources" in (e.value.hint or "")


def _yaml(text: str) -> object:
    return YAML(typ="safe").load(text)


def test_seed_names_the_nics_as_installed_and_is_valid_yaml() -> None:
    files = nocloud.seed_files("iid-xdev-1", "xdev", ["enp0s5f0", "enp0s5f1"])
    assert set(files) == {"meta-data", "user-data", "network-config"}
    assert _yaml(files["meta-data"]) == {"instance-id": "iid-xdev-1", "local-hostname": "xdev"}
    assert files["user-data"].startswith("#cloud-config\n")
    net = _yaml(files["network-config"])
    assert net == {
        "network": {
            "version": 2,
            "ethernets": {"enp0s5f0": {"dhcp4": True}, "enp0s5f1": {"dhcp4": True}},
        }
    }
    cfg = _yaml(nocloud.IMAGE_CLOUD_CFG)
    assert cfg["datasource_list"] == ["NoCloud", "None"]
    assert cfg["ssh_deletekeys"] is False and cfg["users"] == []  # the lab's host key and users stay


def test_new_instance_ids_differ() -> None:
    assert nocloud.new_instance_id("xdev") != nocloud.new_instance_id("xdev")


def _machine(tmp: Path, **over: object) -> LabMachine:
    base: dict[str, object] = dict(
        kernel=tmp / "k",
        initrd=tmp / "i",
        root_overlay=tmp / "o",
        ssh_port=2322,
        console_port=4655,
        console_log=tmp / "c",
        pidfile=tmp / "p",
        monitor=tmp / "m",
    )
    base.update(over)
    return LabMachine(**base)  # type: ignore[arg-type]


def _devices(argv: list[str]) -> list[str]:
    return [argv[i + 1] for i, a in enumerate(argv) if a == "-device"]


def test_slots_are_written_in_hexadecimal() -> None:
    # QEMU reads a bare addr=10 as slot 16 and refuses addr=20: the lab writes 0x.. always.
    assert (
        pci_addr(4) == "0x4"
        and pci_addr(10) == "0xa"
        and pci_addr(20) == "0x14"
        and pci_addr(6, 1) == "0x6.1"
    )
    for bad in ((32, None), (-1, None), (5, 8)):
        with pytest.raises(ValueError):
            pci_addr(*bad)


def test_a_disk_at_slot_sixteen_and_the_nic_after_it(tmp_path: Path) -> None:
    m = _machine(tmp_path, nic_slot=17, disks=(NvmeDisk(tmp_path / "d1", "Y39B70RTK7AS", 16),))
    devices = _devices(qemu_argv(m))
    assert "virtio-blk-pci,drive=root,addr=0x4" in devices
    assert "nvme,drive=disk1,serial=Y39B70RTK7AS,addr=0x10" in devices
    assert "virtio-net-pci,netdev=net0,mac=58:9c:fc:03:19:32,addr=0x11" in devices


def test_two_nics_are_functions_of_one_multifunction_slot(tmp_path: Path) -> None:
    argv = qemu_argv(_machine(tmp_path, nic_slot=6, nics=2))
    nics = [d for d in _devices(argv) if d.startswith("virtio-net-pci")]
    assert nics == [
        "virtio-net-pci,netdev=net0,mac=58:9c:fc:03:19:32,addr=0x6.0,multifunction=on",
        "virtio-net-pci,netdev=net1,mac=58:9c:fc:03:19:33,addr=0x6.1",
    ]
    netdevs = [argv[i + 1] for i, a in enumerate(argv) if a == "-netdev"]
    assert netdevs[0] == "user,id=net0,hostfwd=tcp:127.0.0.1:2322-:22"
    assert netdevs[1] == "user,id=net1,net=10.0.3.0/24"  # its own network: no second default route clash
    assert expected_nic_names(6, 2) == ["enp0s6f0", "enp0s6f1"]
    assert expected_nic_names(5) == ["enp0s5"]


def test_seed_iso_is_an_ide_cdrom_that_takes_no_pci_slot(tmp_path: Path) -> None:
    argv = qemu_argv(_machine(tmp_path, seed_iso=tmp_path / "cidata.iso"))
    drives = [argv[i + 1] for i, a in enumerate(argv) if a == "-drive"]
    assert f"file={tmp_path / 'cidata.iso'},if=ide,media=cdrom,readonly=on,format=raw" in drives
    assert not any("addr=" in d for d in drives)


def test_slot_collisions_and_too_many_nics_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        qemu_argv(_machine(tmp_path, nic_slot=5, disks=(NvmeDisk(tmp_path / "d", "S", 5),)))
    with pytest.raises(ValueError):
        qemu_argv(_machine(tmp_path, nics=9))


def test_several_nics_or_a_new_instance_need_the_cloud_init_flavour(tmp_path: Path) -> None:
    from agent.lab import control
    from agent.lab.paths import StatePaths

    for kwargs in ({"nics": 2}, {"new_instance": True}):
        with pytest.raises(UsageError) as e:
            control.up(StatePaths(tmp_path), disks=[], flavour="bookworm", log=lambda _m: None, **kwargs)
        assert "bookworm" in e.value.message and "{opt:flavour} trixie" in (e.value.hint or "")
    assert not (tmp_path / "state.json").exists()  # refused before anything was started


def test_status_lists_every_flavour_with_its_versions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json

    from agent.lab import status
    from agent.lab.paths import StatePaths

    monkeypatch.setenv("GDA_IMAGE_CACHE", str(tmp_path / "cache"))
    trixie = image_paths(recipe_for("trixie"))
    trixie.root.mkdir(parents=True)
    trixie.done_marker.write_text("built\n")
    trixie.versions.write_text(json.dumps({"netplan.io": "1.1.2-7", "cloud-init": "25.1.4-1"}))
    lines = status.status_lines(StatePaths(tmp_path / "state"))
    assert lines[0] == "image bookworm: not built (gda lab.build --flavour bookworm)"
    assert lines[1] == f"image trixie: {trixie.root} (built: netplan.io 1.1.2-7, cloud-init 25.1.4-1)"
    assert lines[-1] == "guest: stopped (gda lab.up)"


def test_clashing_slots_are_bad_usage_before_anything_boots() -> None:
    from agent.errors import UsageError
    from agent.lab.control import DiskSpec, check_slots

    check_slots(5, [DiskSpec(1, "4G", "S1", 6)])  # distinct: fine
    check_slots(None, [DiskSpec(1, "4G", "S1", None)])  # chosen later
    for nic, disk_slot, said in ((5, 5, "--disk1-slot 5: slot 5 is taken by --nic-slot"),
                                 (4, None, "--nic-slot 4: slot 4 is taken by the root disk"),
                                 (40, None, "--nic-slot 40: a PCI slot is 0 to 31")):  # fmt: skip
        with pytest.raises(UsageError) as e:
            check_slots(nic, [DiskSpec(1, "4G", "S1", disk_slot)])
        assert e.value.message == said
