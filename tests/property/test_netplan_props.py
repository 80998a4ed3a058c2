"""Properties of the netplan rename (agent.core.net.repair_plan over netplan_rewrite and yaml_tokens).

Generated netplan files: one stale ``ethernets`` entry named after a NIC that is gone (``enp0s5``) and,
around it, bonds/bridges/vlans that refer to it (``interfaces`` lists, ``parameters.primary``,
``path-cost`` keys, ``link``), in block or flow style, every reference plain, 'single' or "double"
quoted, with comments, blank lines, CRLF or LF, an anchor on the entry's key and aliases of it. Only one
NIC is present (``ens4``), so the repair renames the entry. The property: the plan either refuses
(CannotEdit/UsageError/Refused) or its text is the original with exactly the old name's tokens replaced
(no other byte moves) and it parses (ruamel.yaml, safe) to the original structure with the rename
applied: never a silently different document, never another exception.
"""

from __future__ import annotations

import io
from typing import Any

from hypothesis import example, given
from hypothesis import strategies as st
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from agent.core.net.interfaces import Interface
from agent.core.net.netplan_model import parse_file
from agent.core.net.repair_plan import RepairPlan, plan_repair
from agent.core.net.yaml_tokens import CannotEdit
from agent.errors import Refused, UsageError
from tests.property.conftest import examples
from tests.property.hostile import YAML_ODDITIES, yaml_like_text

OLD = "enp0s5"
NEW = "ens4"
PATH = "/etc/netplan/01-netcfg.yaml"
NIC = Interface(name=NEW, mac="52:54:00:12:34:56", driver="virtio_net", is_physical=True, operstate="UP")


class Unreadable:
    """What a text the safe loader refuses (an unknown tag such as ``!x``) stands for: only equal to the
    same for the text after the rename (which is then compared byte for byte)."""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Unreadable)

    __hash__ = None  # type: ignore[assignment]


def safe_load(text: str) -> Any:
    try:
        return YAML(typ="safe", pure=True).load(io.StringIO(text))
    except YAMLError:
        return Unreadable()


def renamed(doc: Any) -> Any:
    """``doc`` with the ID OLD renamed NEW wherever netplan refers to it (key order kept)."""
    if isinstance(doc, dict):
        return {(NEW if k == OLD else k): renamed(v) for k, v in doc.items()}
    if isinstance(doc, list):
        return [renamed(v) for v in doc]
    return NEW if doc == OLD else doc


def quoted(draw: st.DrawFn, word: str) -> str:
    style = draw(st.sampled_from(["plain", "single", "double"]))
    return {"plain": word, "single": f"'{word}'", "double": f'"{word}"'}[style]


#: Comment text: YAML punctuation, and the line breaks YAML 1.1 knows besides \n (NEL, LS, PS), which
#: ``str.splitlines`` also splits on.
SPLIT = "--- next file ---"
comment_text = st.text(alphabet="abcdefgh xyz:-{}[]'\"&*!|>\u00e9\t\x85\u2028\u2029", max_size=12)


@st.composite
def netplan_doc(draw: st.DrawFn, split: bool = False) -> str:
    """One netplan file; with ``split`` two, joined by SPLIT: the entry's, then the one referring to it."""
    anchored = not split and draw(st.booleans())

    def ref() -> str:
        return "*nic" if anchored and draw(st.booleans()) else quoted(draw, OLD)

    def flow() -> bool:
        return draw(st.booleans())

    def comment() -> str:
        return f" # {draw(comment_text)}" if draw(st.booleans()) else ""

    lines: list[str] = []

    lines.append("network:" + comment())
    if draw(st.booleans()):
        lines.append("  # " + draw(comment_text))
    lines.append("  version: 2" + comment())
    if draw(st.booleans()):
        lines.append("  renderer: " + quoted(draw, "networkd"))
    key = ("&nic " if anchored else "") + quoted(draw, OLD)
    body_kind = draw(st.sampled_from(["block", "flow", "empty-flow"]))
    if flow():
        lines.append("  ethernets: {" + f"{key}: {{dhcp4: true}}" + "}" + comment())
    else:
        lines.append("  ethernets:" + comment())
        if body_kind == "block":
            lines.append(f"    {key}:" + comment())
            lines.append(
                "      dhcp4: " + draw(st.sampled_from(["true", "yes", "false", "'no'"])) + comment()
            )
            if draw(st.booleans()):
                lines += ["      addresses:", "        - 192.0.2.10/24" + comment()]
            if draw(st.booleans()):
                lines.append("      nameservers: {addresses: [192.0.2.1, '2001:db8::1']}" + comment())
        elif body_kind == "flow":
            lines.append(f"    {key}: {{dhcp4: true, mtu: 1500}}" + comment())
        else:
            lines.append(f"    {key}: {{}}" + comment())
    if split:
        lines += [SPLIT, "network:" + comment()]
    if draw(st.booleans()):
        members = [ref()] + (["eno9"] if draw(st.booleans()) else [])
        lines.append("  bonds:")
        lines.append("    bond0:" + comment())
        if flow():
            lines.append(f"      interfaces: [{', '.join(members)}]" + comment())
        else:
            lines.append("      interfaces:")
            lines += [f"        - {m}" + comment() for m in members]
        if draw(st.booleans()):
            if flow():
                lines.append(f"      parameters: {{mode: active-backup, primary: {ref()}}}")
            else:
                lines += ["      parameters:", "        mode: active-backup", f"        primary: {ref()}"]
    if draw(st.booleans()):
        lines.append("  bridges:")
        lines.append("    br0:")
        lines.append(f"      interfaces: [{ref()}]" + comment())
        if draw(st.booleans()):
            cost_key = quoted(draw, OLD)
            if flow():
                lines.append(f"      parameters: {{path-cost: {{{cost_key}: 50}}}}")
            else:
                lines += ["      parameters:", "        path-cost:", f"          {cost_key}: 50" + comment()]
    if draw(st.booleans()):
        lines.append("  vlans:")
        if flow():
            lines.append(f"    vlan10: {{id: 10, link: {ref()}}}" + comment())
        else:
            lines += ["    vlan10:", "      id: 10", f"      link: {ref()}" + comment()]
    if draw(st.booleans()):
        lines.insert(draw(st.integers(1, len(lines) if not split else lines.index(SPLIT))), "")
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    end = newline if draw(st.booleans()) else ""
    return newline.join(lines) + end


FLOW_EXAMPLE = (
    "network:\n  version: 2\n  ethernets: {&nic 'enp0s5': {dhcp4: true}}\n"
    "  bonds:\n    bond0:\n      interfaces: [*nic, eno9]\n"
    '      parameters: {mode: active-backup, primary: "enp0s5"}\n'
    "  vlans:\n    vlan10: {id: 10, link: *nic} # x\n"
)


@given(netplan_doc())
@example("network: # \x85a\n\n  # \n  version: 2\n  ethernets: {enp0s5: {dhcp4: true}}")  # ruamel crash
@example("network:\n  # \x85!:\n  version: 2\n  ethernets:\n    enp0s5:\n      dhcp4: true")
@example(FLOW_EXAMPLE)  # was refused: the aliases repeated the anchor's edit ("overlapping edits")
@example("network:\n  version: 2\n  ethernets:\n    &nic enp0s5:\n      dhcp4: true")  # anchor was dropped
@example("network:\n  ethernets:\n    !!str enp0s5: {}\n  vlans: {v1: {id: 1, link: !!str 'enp0s5'}}\n")
@example(
    'network:\r\n  version: 2\r\n  ethernets:\r\n    "enp0s5": {}\r\n  bridges:\r\n    br0:\r\n'
    "      interfaces: ['enp0s5']\r\n      parameters:\r\n        path-cost:\r\n          enp0s5: 50"
)
@examples(0.5)
def test_rename_changes_only_the_renamed_tokens_or_refuses(text: str) -> None:
    try:
        plan = plan_repair({PATH: text}, [NIC])
    except (CannotEdit, UsageError, Refused):
        return
    original = safe_load(text)
    assert isinstance(plan, RepairPlan)
    new_text = plan.files[PATH]
    assert new_text == text.replace(OLD, NEW), "bytes other than the renamed tokens changed"
    assert safe_load(new_text) == renamed(original)
    assert list(plan.renames) == [OLD]


def test_the_generated_shapes_are_repaired_not_refused() -> None:
    """The property above is not vacuous: typical generated files are rewritten, not refused."""
    plan = plan_repair({PATH: FLOW_EXAMPLE}, [NIC])
    assert isinstance(plan, RepairPlan)
    assert plan.files[PATH] == FLOW_EXAMPLE.replace(OLD, NEW)


SEPARATOR_IN_COMMENT = (
    "network:\r\n  version: 2\r\n  ethernets:\r\n    enp0s5: {}\r\n  bridges:\r\n    br0:\r\n"
    "      interfaces: ['enp0s5'] # hf\x85\r\n      parameters:\r\n        path-cost:\r\n"
    "          'enp0s5': 50\r\n  vlans:\r\n    vlan10: {id: 10, link: 'enp0s5'} # z\u2028\r\n"
)


def test_line_separators_in_comments_do_not_shift_the_edits() -> None:
    """NEL/U+2028/U+2029 in a comment are no line break to ruamel's line numbers: the editor must not
    split there either (it did, and every later edit landed a line off: refused as 'found th-cost')."""
    plan = plan_repair({PATH: SEPARATOR_IN_COMMENT}, [NIC])
    assert isinstance(plan, RepairPlan)
    assert plan.files[PATH] == SEPARATOR_IN_COMMENT.replace(OLD, NEW)


@given(netplan_doc(split=True))
@example(
    f"network:\n  ethernets:\n    'enp0s5': {{}}\n{SPLIT}\nnetwork:\n  vlans: {{v1: {{id: 1, link: enp0s5}}}}"
)
# found by hypothesis: a NEL in a comment is a line break to YAML 1.1, so the bond's body became a
# folded scalar and its member list text: refused now, not left half renamed
@example(
    f"network:\n  version: 2\n  ethernets: {{enp0s5: {{dhcp4: true}}}}\n{SPLIT}\n"
    "network:\n  bonds:\n    bond0: # \x85>\n      interfaces:\n        - enp0s5"
)
@examples(0.25)
def test_rename_follows_references_in_another_file(joined: str) -> None:
    """netplan merges the files: a bond, bridge or VLAN of another file that refers to the renamed ID
    follows it there, with the same guarantees (only those tokens change, or a refusal)."""
    newline = "\r\n" if "\r\n" in joined else "\n"
    first, second = joined.split(newline + SPLIT + newline)
    other = "/etc/netplan/02-virtual.yaml"
    try:
        plan = plan_repair({PATH: first, other: second}, [NIC])
    except (CannotEdit, UsageError, Refused):
        return
    assert isinstance(plan, RepairPlan)
    for path, text in ((PATH, first), (other, second)):
        new_text = plan.files.get(path, text)
        assert new_text == text.replace(OLD, NEW), f"{path}: bytes other than the renamed tokens changed"
        assert safe_load(new_text) == renamed(safe_load(text))


YAML_BITS = (
    "network:",
    "  version: 2",
    "  ethernets:",
    "    enp0s5:",
    "      dhcp4: true",
    "!!int 0x",
    "!!float .",
    "!!timestamp 2001-13-45",
    "!!binary ===",
    "!!omap [a]",
    "!!set {a}",
    "!!python/name:os.system",
    "!custom x",
    *YAML_ODDITIES,
)


@given(yaml_like_text(YAML_BITS))
@example("network:\n  version: !!int 0x\n")  # an IndexError out of ruamel.yaml
@example("network: # \x85a\n\n  # \n")  # a NotImplementedError out of ruamel.yaml
@example("network: {" + "a: {" * 3000)  # a RecursionError
@example("# network:\n|- #\n")  # an AssertionError out of ruamel.yaml (a CI run found it)
@examples(0.5)
def test_any_text_reads_as_netplan_or_is_a_usage_error(text: str) -> None:
    """Whatever a netplan file holds, reading it (and planning a repair) gives a plan, nothing to fix, or a
    refusal: UsageError/Refused/CannotEdit, never another exception."""
    try:
        parse_file(PATH, text)
        plan_repair({PATH: text}, [NIC])
    except (CannotEdit, UsageError, Refused):
        pass
