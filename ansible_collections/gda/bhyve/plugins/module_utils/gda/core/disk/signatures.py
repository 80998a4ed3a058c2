# GENERATED from agent/core/disk/signatures.py by `python -m agent.collection_build`: do not edit.
"""The signature probes of one disk: wipefs, ``blkid -p`` and the raw sector reads, combined (pure)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ansible_collections.gda.bhyve.plugins.module_utils.gda.core.disk.devices import GEOM_USAGE, ProbeState, RawSectors, Signature, SignatureProbe
from ansible_collections.gda.bhyve.plugins.module_utils.gda.core.disk.facts_sections import as_int, clean_str, first_line, parse_key_values
from ansible_collections.gda.bhyve.plugins.module_utils.gda.core.marker import Section

GPT_HEADER_HEX = "4546492050415254"  # "EFI PART"
BSD_DISKLABEL_HEX = "57455682"  # d_magic 0x82564557, little-endian, at the start of LBA 1 (FreeBSD x86)
GEOM_MAGIC_HEX = "47454f4d3a3a"  # "GEOM::", the start of every GEOM class's md_magic[16]


def geom_class_of(hex16: str) -> str | None:
    """The GEOM class named by the 16-byte magic field at the start of a last sector (hex), e.g. "ELI"
    for ``GEOM::ELI``; None when it does not start with ``GEOM::``. Non-printable bytes show as ``?``."""
    h = hex16.lower()
    if not h.startswith(GEOM_MAGIC_HEX) or len(h) % 2:
        return None
    try:
        raw = bytes.fromhex(h[len(GEOM_MAGIC_HEX) :])
    except ValueError:
        return None
    name = raw.split(b"\0", 1)[0].decode("ascii", "replace")
    return "".join(c if c.isascii() and (c.isalnum() or c in "_-.") else "?" for c in name) or "?"


def geom_signature(raw: RawSectors) -> Signature | None:
    """The GEOM metadata in the last sector as a content signature (``GEOM::<class>``), or None."""
    if raw.geom_class is None:
        return None
    offset = hex(raw.last_lba * raw.logical_sector_size) if raw.last_lba is not None else None
    return Signature(f"GEOM::{raw.geom_class}", usage=GEOM_USAGE, offset=offset, source="raw")


def parse_wipefs_json(text: str) -> list[Signature]:
    """Signatures from ``wipefs --no-act --json`` (an empty object/list means none)."""
    if not text.strip():
        return []
    data = json.loads(text)
    sigs = data.get("signatures", []) if isinstance(data, dict) else []
    out: list[Signature] = []
    for s in sigs if isinstance(sigs, list) else []:
        if not isinstance(s, dict):
            continue
        typ = clean_str(s.get("type"))
        if typ:
            out.append(
                Signature(
                    type=typ,
                    usage=clean_str(s.get("usage")),
                    offset=clean_str(s.get("offset")),
                    uuid=clean_str(s.get("uuid")),
                    label=clean_str(s.get("label")),
                    source="wipefs",
                )
            )
    return out


def interpret_wipefs(section: Section | None) -> tuple[ProbeState, list[Signature], str | None]:
    """(state, signatures, error) from a wipefs section."""
    if section is None:
        return ProbeState.UNKNOWN, [], "wipefs was not run"
    if not section.ok:
        return ProbeState.UNKNOWN, [], first_line(section.stderr) or f"wipefs exited {section.rc}"
    try:
        sigs = parse_wipefs_json(section.stdout)
    except ValueError as e:
        return ProbeState.UNKNOWN, [], f"unreadable wipefs output: {e}"
    return (ProbeState.FOUND if sigs else ProbeState.NONE), sigs, None


def interpret_blkid(section: Section | None) -> tuple[ProbeState, list[Signature], str | None]:
    """(state, signatures, error) from a ``blkid -p -o export`` section.

    blkid exits 2 both for "nothing found" and for "cannot open" — only stderr tells them apart; exit 8
    means ambivalent (several conflicting signatures).
    """
    if section is None:
        return ProbeState.UNKNOWN, [], "blkid was not run"
    if section.rc == 2 and not section.stderr.strip():
        return ProbeState.NONE, [], None
    if section.rc == 8:
        return ProbeState.FOUND, [Signature("ambivalent", source="blkid")], None
    if not section.ok:
        return ProbeState.UNKNOWN, [], first_line(section.stderr) or f"blkid exited {section.rc}"
    kv = parse_key_values(section.stdout)
    sigs: list[Signature] = []
    if kv.get("PTTYPE"):
        sigs.append(Signature(kv["PTTYPE"], usage="partition-table", uuid=kv.get("PTUUID"), source="blkid"))
    if kv.get("TYPE"):
        sigs.append(
            Signature(
                kv["TYPE"],
                usage=kv.get("USAGE"),
                uuid=kv.get("UUID") or kv.get("UUID_SUB"),
                label=kv.get("LABEL"),
                source="blkid",
            )
        )
    return (ProbeState.FOUND if sigs else ProbeState.NONE), sigs, None


def interpret_rawsig(section: Section | None) -> tuple[RawSectors | None, str | None]:
    """Raw-sector findings, or (None, error) if the device could not be read."""
    if section is None:
        return None, "raw sectors were not read"
    kv = parse_key_values(section.stdout)
    needed = ("mbr_tail", "lba1", "last")
    if not section.ok or any(k not in kv for k in needed):
        return None, first_line(section.stderr) or "raw sector read failed"
    tail = kv["mbr_tail"].lower()
    entries = tail[:128]
    return (
        RawSectors(
            mbr_boot_signature=tail[128:132] == "55aa",
            mbr_partition_entries=any(ch != "0" for ch in entries),
            mbr_protective=tail[128:132] == "55aa"
            and any(entries[i + 8 : i + 10] == "ee" for i in range(0, 128, 32)),
            gpt_primary=kv["lba1"].lower() == GPT_HEADER_HEX,
            bsd_label=kv["lba1"].lower().startswith(BSD_DISKLABEL_HEX),
            gpt_backup=kv["last"].lower() == GPT_HEADER_HEX,
            logical_sector_size=as_int(kv.get("lbs")) or 512,
            geom_class=geom_class_of(kv.get("geom", kv["last"])),
            last_lba=as_int(kv.get("last_lba")),
        ),
        None,
    )


def combine_probes(wipefs: Section | None, blkid: Section | None, rawsig: Section | None) -> SignatureProbe:
    """Merge the three probes: any finding → FOUND; wipefs (which also sees a lone backup GPT) or
    blkid plus a raw read saying nothing → NONE; otherwise UNKNOWN. The facts script asks blkid only
    when wipefs could not say (both are libblkid; wipefs lists every signature): no blkid section
    beside a wipefs answer is no error."""
    w_state, w_sigs, w_err = interpret_wipefs(wipefs)
    b_state, b_sigs, b_err = interpret_blkid(blkid)
    if blkid is None and w_state is not ProbeState.UNKNOWN:
        b_err = None
    raw, r_err = interpret_rawsig(rawsig)
    sigs = w_sigs if w_state is not ProbeState.UNKNOWN else b_sigs
    if w_state is not ProbeState.UNKNOWN and b_state is ProbeState.FOUND:
        known = {s.type for s in w_sigs}
        sigs = sigs + [s for s in b_sigs if s.type not in known and s.type != "ambivalent"]
    geom = geom_signature(raw) if raw is not None else None
    if geom is not None:  # libblkid does not know GEOM: a GELI/gmirror/glabel... provider is not blank
        sigs = [*sigs, geom]
    raw_found = raw is not None and bool(raw.partition_table_signs)
    errors = tuple(e for e in (w_err, b_err, r_err) if e)
    if sigs or raw_found:
        state = ProbeState.FOUND
    elif w_state is ProbeState.NONE or (b_state is ProbeState.NONE and raw is not None):
        state = ProbeState.NONE
    else:
        state = ProbeState.UNKNOWN
    return SignatureProbe(state, tuple(sigs), raw, errors)


def lsblk_fallback_probe(node: Mapping[str, Any], probe: SignatureProbe) -> SignatureProbe:
    """When the probes could not run, keep what lsblk (udev's database) says, still marked UNKNOWN."""
    sigs = []
    if clean_str(node.get("pttype")):
        sigs.append(Signature(str(clean_str(node.get("pttype"))), usage="partition-table", source="lsblk"))
    if clean_str(node.get("fstype")):
        sigs.append(
            Signature(
                str(clean_str(node.get("fstype"))),
                uuid=clean_str(node.get("uuid")),
                label=clean_str(node.get("label")),
                source="lsblk",
            )
        )
    if not sigs:
        return probe
    return SignatureProbe(ProbeState.FOUND, tuple(sigs), probe.raw, probe.errors)
