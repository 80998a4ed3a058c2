"""Rewrite netplan entries in place, keeping every byte the repair does not change (pure).

Each function edits one file's text through a :class:`~agent.core.net.yaml_tokens.TokenEditor` and
records the structural operation each edit means; :func:`verify` then parses the edited text again and
refuses unless it equals the intended structure and every repaired or pinned entry fits its interface.

``match_mac`` (``pin_by_mac``) turns an entry into ``match: {macaddress: <the NIC's hardware MAC>}``
plus ``set-name: <its name>`` (the ID and the entry's other keys are kept), so it still fits the NIC
after the next slot change and ``set-name`` gives it back its name. Lines are inserted indented like
their neighbours; flow-style mappings (``{dhcp4: true}``) are edited within their line.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from ruamel.yaml.comments import CommentedMap, CommentedSeq

from agent.core.net.interfaces import Interface
from agent.core.net.netplan_model import (
    LINK_SECTIONS,
    MEMBER_LIST_SECTIONS,
    Entry,
    Instance,
    NetplanFile,
    collect_entries,
    driver_fits,
    fits,
    name_fits,
    parse_file,
    plain,
)
from agent.core.net.yaml_tokens import (
    CannotEdit,
    Path,
    RenameOp,
    SetOp,
    TokenEditor,
    apply_ops,
    flow_end,
    flow_text,
    render_scalar,
    same_in_order,
)
from agent.errors import Refused, UsageError


def follow_references(editor: TokenEditor, f: NetplanFile, old: str, new: str) -> None:
    """Rename the ID ``old`` → ``new`` where other definitions of the file ``f`` refer to it."""
    for name in (*MEMBER_LIST_SECTIONS, *LINK_SECTIONS):
        section = f.section(name)
        for dev_id, body in (section or {}).items():
            if body is None:
                continue  # an empty definition refers to nothing
            if not isinstance(body, CommentedMap):
                # e.g. a comment holding a NEL (a line break to YAML 1.1) that turns the body into a
                # folded scalar: netplan would refuse the file, and its references cannot be read
                raise CannotEdit(
                    f"{name}.{dev_id} in {f.path} is a {type(body).__name__}, not a mapping: netplan would "
                    "refuse it, and what it refers to cannot be told"
                )
            base: Path = ("network", name, dev_id)
            members = body.get("interfaces")
            if name in MEMBER_LIST_SECTIONS and isinstance(members, CommentedSeq):
                for index, item in enumerate(members):
                    if item == old:
                        line, col = members.lc.item(index)
                        editor.replace(line, col, old, new)
                        editor.ops.append(SetOp((*base, "interfaces", index), new))
                        editor.note(line, f"{name}.{dev_id}.interfaces: {old} → {new}")
            if name in LINK_SECTIONS and body.get("link") == old:
                line, col = body.lc.value("link")
                editor.replace(line, col, old, new)
                editor.ops.append(SetOp((*base, "link"), new))
                editor.note(line, f"{name}.{dev_id}.link: {old} → {new}")
            params = body.get("parameters")
            if not isinstance(params, CommentedMap):
                continue
            if name == "bonds" and params.get("primary") == old:
                line, col = params.lc.value("primary")
                editor.replace(line, col, old, new)
                editor.ops.append(SetOp((*base, "parameters", "primary"), new))
                editor.note(line, f"bonds.{dev_id}.parameters.primary: {old} → {new}")
            if name == "bridges":
                for param in ("path-cost", "port-priority"):
                    costs = params.get(param)
                    if isinstance(costs, CommentedMap) and old in costs:
                        line, col = costs.lc.key(old)
                        editor.replace(line, col, old, new)
                        editor.ops.append(RenameOp((*base, "parameters", param), old, new))
                        editor.note(line, f"bridges.{dev_id}.parameters.{param}: {old} → {new}")


def _key_position(inst: Instance, key: str) -> tuple[int, int]:
    ethernets = inst.file.section("ethernets")
    assert ethernets is not None
    line, col = ethernets.lc.key(key)
    return int(line), int(col)


def rewrite_instance(
    editor: TokenEditor, inst: Instance, entry: Entry, iface: Interface, new_id: str, match_mac: bool
) -> None:
    """Edit one file's definition (``inst``) of a stale entry so that it configures ``iface``."""
    key = entry.entry_id
    body = inst.body
    path: Path = ("network", "ethernets", key)
    key_line, key_col = _key_position(inst, key)
    new_name = iface.name
    mac = iface.hardware_mac

    if new_id != key:
        editor.replace(key_line, key_col, key, new_id)
        editor.ops.append(RenameOp(("network", "ethernets"), key, new_id))
        editor.note(key_line, f"ethernets.{key} → {new_id}")
    if body is None:
        if match_mac:
            raise CannotEdit(f"ethernets.{key} has an empty body; cannot add a match to it")
        return

    match = body.get("match")
    if isinstance(match, CommentedMap) and not match_mac:
        name = match.get("name")
        if isinstance(name, str) and not name_fits(name, iface):
            line, col = match.lc.value("name")
            editor.replace(line, col, name, new_name)
            editor.ops.append(SetOp((*path, "match", "name"), new_name))
            editor.note(line, f"ethernets.{key}.match.name: {name} → {new_name}")
        own = match.get("macaddress")
        if isinstance(own, str) and not iface.has_mac(own):
            if mac is None:
                raise CannotEdit(f"{iface.name} has no MAC address to match")
            line, col = match.lc.value("macaddress")
            editor.replace(line, col, own, mac, quote=True)
            editor.ops.append(SetOp((*path, "match", "macaddress"), mac))
            editor.note(line, f"ethernets.{key}.match.macaddress: {own} → {mac}")
        driver = match.get("driver")
        if isinstance(driver, str) and iface.driver and not driver_fits(driver, iface):
            line, col = match.lc.value("driver")
            editor.replace(line, col, driver, iface.driver)
            editor.ops.append(SetOp((*path, "match", "driver"), iface.driver))
            editor.note(line, f"ethernets.{key}.match.driver: {driver} → {iface.driver}")

    set_name = body.get("set-name")
    old_names = {n for n in (entry.literal_match_name, None if entry.has_match else key) if n}
    if isinstance(set_name, str) and set_name in old_names and set_name != new_name:
        line, col = body.lc.value("set-name")
        editor.replace(line, col, set_name, new_name)
        editor.ops.append(SetOp((*path, "set-name"), new_name))
        editor.note(line, f"ethernets.{key}.set-name: {set_name} → {new_name}")
        set_name = new_name

    if match_mac:
        pin_by_mac(editor, entry, body, iface, key_line, key_col, path, set_name)


def pin_instance(editor: TokenEditor, inst: Instance, entry: Entry, iface: Interface) -> None:
    """Edit one file's definition of a fitting entry to ``match: {macaddress: ...}`` + ``set-name``."""
    body = inst.body
    assert body is not None  # choose_pins skips entries with an empty body
    key = entry.entry_id
    key_line, key_col = _key_position(inst, key)
    before = len(editor.changes)
    pin_by_mac(
        editor, entry, body, iface, key_line, key_col, ("network", "ethernets", key), body.get("set-name")
    )
    del editor.changes[before:]  # one line per pinned entry instead of one per edited key
    how = (
        f"match.macaddress + set-name {iface.name}"
        if entry.set_name is None
        else f"match.macaddress; its set-name {entry.set_name} kept"
    )
    editor.note(key_line, f"ethernets.{key}: pinned to MAC {iface.hardware_mac} ({how})")


def pin_by_mac(
    editor: TokenEditor,
    entry: Entry,
    body: CommentedMap,
    iface: Interface,
    key_line: int,
    key_col: int,
    path: Path,
    set_name: Any,
) -> None:
    """``match_mac``: make the entry ``match: {macaddress: <mac>}`` plus ``set-name: <name>``."""
    key = entry.entry_id
    mac = iface.hardware_mac
    if mac is None:
        raise CannotEdit(f"{iface.name} has no MAC address to match")
    new_name = iface.name
    quoted_mac = json.dumps(mac)
    match = body.get("match")
    new_keys: list[tuple[str, str]] = []  # (key, flow text) of keys to add, in order

    if isinstance(match, CommentedMap) and len(match) > 0 and not match.fa.flow_style():
        expected: dict[str, Any] = {}
        for k, v in match.items():
            if k == "macaddress" or (k == "name" and "macaddress" not in match):
                expected["macaddress"] = mac
            elif k != "name":
                expected[str(k)] = plain(v)
        if "macaddress" in match:
            old = str(match["macaddress"])
            if not iface.has_mac(old) or old != mac:
                line, col = match.lc.value("macaddress")
                editor.replace(line, col, old, mac, quote=True)
            if "name" in match:
                line, _ = match.lc.key("name")
                if match.lc.value("name")[0] != line:
                    raise CannotEdit(f"ethernets.{key}.match.name spans lines")
                editor.delete_line(line)
        elif "name" in match:
            line, col = match.lc.key("name")
            editor.replace(line, col, "name", "macaddress")
            vline, vcol = match.lc.value("name")
            editor.replace(vline, vcol, str(match["name"]), mac, quote=True)
        else:
            first = next(iter(match))
            line, col = match.lc.key(first)
            editor.insert_lines(line, [" " * col + f"macaddress: {quoted_mac}"])
            expected = {"macaddress": mac, **expected}
        editor.ops.append(SetOp((*path, "match"), expected))
        editor.note(match.lc.line, f"ethernets.{key}.match → macaddress: {mac}")
    elif match is not None or "match" in body:
        if not isinstance(match, CommentedMap):
            raise CannotEdit(f"ethernets.{key}.match is empty")
        kept = {k: plain(v) for k, v in match.items() if k not in ("name", "macaddress")}
        line, col = body.lc.value("match")
        text = editor.lines[line]
        if text[col : col + 1] != "{":
            raise CannotEdit(f"ethernets.{key}.match: unexpected layout")
        end = flow_end(text, col)
        parts = [f"macaddress: {quoted_mac}"] + [f"{k}: {flow_text(v)}" for k, v in kept.items()]
        editor.splices.append((line, col, end, "{" + ", ".join(parts) + "}"))
        editor.ops.append(SetOp((*path, "match"), {"macaddress": mac, **kept}))
        editor.note(line, f"ethernets.{key}.match → macaddress: {mac}")
    else:
        new_keys.append(("match", f"{{macaddress: {quoted_mac}}}"))
        editor.note(key_line, f"ethernets.{key}: added match: macaddress: {mac}")

    # A set-name of the user's choosing is kept: the MAC match pins it too. One in another file of the
    # same ID counts (netplan merges them): adding a different one here would contradict it.
    if not isinstance(set_name, str) and entry.set_name is None:
        new_keys.append(("set-name", render_scalar(new_name)))
        editor.note(key_line, f"ethernets.{key}: added set-name: {new_name}")

    if not new_keys:
        return
    for name, _ in reversed(new_keys):
        value: Any = {"macaddress": mac} if name == "match" else new_name
        editor.ops.append(SetOp((*path, name), value, first=True))
    if body.fa.flow_style() or len(body) == 0:
        line, col = body.lc.line, body.lc.col
        text = editor.lines[line]
        if text[col : col + 1] != "{":
            raise CannotEdit(f"ethernets.{key}: unexpected layout")
        inner = ", ".join(f"{k}: {v}" for k, v in new_keys)
        editor.insert_at(line, col + 1, inner + (", " if len(body) else ""))
        return
    body_col = body.lc.key(next(iter(body)))[1]
    step = max(body_col - key_col, 1)
    indent = " " * body_col
    new_lines: list[str] = []
    for name, flow in new_keys:
        if name == "match":
            new_lines += [f"{indent}match:", f"{indent}{' ' * step}macaddress: {quoted_mac}"]
        else:
            new_lines.append(f"{indent}{name}: {flow}")
    editor.insert_lines(key_line + 1, new_lines)


def verify(
    parsed: Sequence[NetplanFile],
    editors: Mapping[str, TokenEditor],
    new_texts: Mapping[str, str],
    repaired: Sequence[tuple[str, Interface]],
    pinned: Sequence[tuple[str, Interface]] = (),
) -> None:
    """The edited text must parse to exactly the intended structure, each repaired entry (new ID,
    interface) must fit, and each pinned entry (ID, interface) must fit its NIC by MAC."""
    new_parsed: list[NetplanFile] = []
    for f in parsed:
        if f.path not in new_texts:
            new_parsed.append(f)
            continue
        try:
            new = parse_file(f.path, new_texts[f.path])
        except UsageError as exc:
            raise Refused(
                f"internal: the repaired {f.path} would not parse ({exc}); nothing written"
            ) from exc
        expected = apply_ops(plain(f.doc), editors[f.path].ops)
        if not same_in_order(plain(new.doc), expected):
            raise Refused(f"internal: the repaired {f.path} would not say what was intended; nothing written")
        new_parsed.append(new)
    by_id = {e.entry_id: e for e in collect_entries(new_parsed)}
    for new_id, iface in repaired:
        entry = by_id.get(new_id)
        if entry is None or not fits(entry, iface):
            raise Refused(
                f"internal: after the repair ethernets.{new_id} would still not fit "
                f"{iface.name}; nothing written"
            )
    for entry_id, iface in pinned:
        entry = by_id.get(entry_id)
        own = entry.match.get("macaddress") if entry is not None else None
        if entry is None or not isinstance(own, str) or not iface.has_mac(own) or not fits(entry, iface):
            raise Refused(
                f"internal: after pinning, ethernets.{entry_id} would not match {iface.name} "
                "by MAC; nothing written"
            )
