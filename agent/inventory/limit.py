"""Which guests a run works on (pure): ``--limit PATTERN`` by Ansible's host-pattern rules, and ``--guest``
names (it may repeat).

A pattern is a list of terms separated by ``,`` or ``:`` (Ansible splits on commas when there is one, else
on colons; guest and group names cannot hold either, so both always separate here). A term is:

* ``all`` or ``*``: every guest;
* a group name: its guests (nested groups included); a guest name: that guest;
* a glob (``lab*``, ``web?``, ``db-[ab]``; ``name[0]`` is a subscript, as in Ansible): the guests of
  every group it matches, and every guest it matches;
* ``~REGEX``: the same, with a regular expression searched in the names;
* any of these with a subscript: ``web[0]``, ``web[-1]``, ``web[1:3]`` (both ends included), ``web[2:]``;
* prefixed with ``&``: the intersection; with ``!``: an exclusion.

Evaluation follows Ansible's "Pattern processing order": first the union of the plain terms (``all``
when there is none, so ``!web`` is every guest but web's), then each ``&`` term, then each ``!`` term,
whatever their places in the pattern. The result is in the inventory's order of ``guests:``.

A term that matches no guest or group, or a pattern that leaves no guest, is bad usage (exit 2), naming
the closest guest or group. With ``--guest`` names the run works on those guests, and a ``--limit``
narrows them further (as Ansible's ``--limit`` narrows a play's ``hosts:``).
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Sequence
from dataclasses import dataclass

from agent.errors import UsageError
from agent.hints import opt
from agent.inventory.groups import ALL, GroupTree, build_tree, closest
from agent.inventory.schema import Guest, Inventory

_TERM_RE = re.compile(r"(?:[^\s:,\[\]]|\[[^\]]*\])+")
_SUBSCRIPT_RE = re.compile(r"^(.+)\[(?:(-?[0-9]+)|([0-9]+)?\s*:\s*([0-9]+)?)\]$")
_GLOB_CHARS = frozenset("*?[")


@dataclass(frozen=True)
class Selected:
    """One selected guest: its name and its resolved (merged, validated) settings."""

    name: str
    guest: Guest


def tree_of(inventory: Inventory) -> GroupTree:
    """The group tree of a loaded inventory (the loader has already refused bad members)."""
    members = {name: group.members for name, group in inventory.groups.items()}
    priority = {name: group.priority for name, group in inventory.groups.items()}
    return build_tree(members, list(inventory.guests), priority)[0]


def split_pattern(pattern: str) -> list[str]:
    """The terms of ``pattern``: split on ``,`` and ``:`` outside ``[...]``; blanks dropped."""
    return [t.strip() for t in _TERM_RE.findall(pattern) if t.strip()]


def _subscript(term: str) -> tuple[str, slice | int | None]:
    if term.startswith("~"):
        return term, None
    m = _SUBSCRIPT_RE.match(term)
    if m is None:
        return term, None
    base, index, start, end = m.groups()
    if index is not None:
        return base, int(index)
    if start is None and end is None:
        raise UsageError(f"{term!r}: a subscript needs a start or an end ([1:], [:2], [1:2])")
    return base, slice(int(start or 0), int(end) + 1 if end is not None else None)


def _matches(name: str, term: str) -> bool:
    if term.startswith("~"):
        try:
            return re.search(term[1:], name) is not None
        except re.error as exc:
            raise UsageError(f"{term!r} is not a regular expression: {exc}") from None
    return fnmatch.fnmatchcase(name, term)


def match_term(tree: GroupTree, term: str) -> tuple[str, ...]:
    """The guests one term (without ``&``/``!``) names, in inventory order; Ansible's
    ``_enumerate_matches``: groups first, guest names too when no group matched or the term is a glob."""
    base, sub = _subscript(term)
    if base in ("all", "*"):
        found: list[str] = list(tree.guests)
    else:
        groups = [g for g in tree.names if g != ALL and _matches(g, base)]
        found = [guest for g in groups for guest in tree.guests_of(g)]
        if not groups or base.startswith("~") or _GLOB_CHARS & set(base):
            found += [guest for guest in tree.guests if _matches(guest, base)]
    unique = list(dict.fromkeys(found))
    if isinstance(sub, int):
        unique = [unique[sub]] if -len(unique) <= sub < len(unique) else []
    elif isinstance(sub, slice):
        unique = unique[sub]
    return tuple(unique)


def evaluate(tree: GroupTree, pattern: str) -> tuple[str, ...]:
    """The guests ``pattern`` selects, by the rules in the module's docstring. Raises :class:`UsageError`
    for a term that matches nothing, and for a pattern that selects nothing."""
    terms = split_pattern(pattern)
    if not terms:
        raise UsageError(f"{opt('limit')} {pattern!r} names no guest or group", hint=_listing(tree))
    plain = [t for t in terms if t[0] not in "&!"]
    both = [t[1:] for t in terms if t[0] == "&"]
    minus = [t[1:] for t in terms if t[0] == "!"]
    chosen: set[str] = set()
    for term in plain or ["all"]:
        chosen |= set(_nonempty(tree, term, pattern))
    for term in both:
        chosen &= set(_nonempty(tree, term, pattern))
    for term in minus:
        chosen -= set(_nonempty(tree, term, pattern))
    result = tuple(g for g in tree.guests if g in chosen)
    if not result:
        raise UsageError(f"{opt('limit')} {pattern!r} leaves no guest", hint=_listing(tree))
    return result


def _nonempty(tree: GroupTree, term: str, pattern: str) -> tuple[str, ...]:
    if not term:
        raise UsageError(f"{opt('limit')} {pattern!r}: '&' and '!' need a name after them")
    found = match_term(tree, term)
    if not found:
        names = [*tree.guests, *tree.names]
        where = "" if term == pattern else f" (in {pattern!r})"
        raise UsageError(
            f"{opt('limit')}: {term!r}{where} matches no guest or group{closest(term, names)}",
            hint=_listing(tree),
        )
    return found


def _listing(tree: GroupTree) -> str:
    groups = [g for g in tree.names if g != ALL]
    return f"guests: {', '.join(tree.guests)}" + (f"; groups: {', '.join(groups)}" if groups else "")


def select_guests(
    inventory: Inventory, limit: str | None = None, guests: Sequence[str] = ()
) -> list[Selected]:
    """The guests a run works on: the ``guests`` named (``--guest``, each an exact guest name), else all,
    narrowed by the ``limit`` pattern; in inventory order. Raises :class:`UsageError` (exit 2)."""
    tree = tree_of(inventory)
    names = list(tree.guests)
    for name in guests:
        if name not in inventory.guests:
            hint = (
                f" (it is a group: use {opt('limit')})" if name in inventory.groups else closest(name, names)
            )
            raise UsageError(f"no guest {name!r} in the inventory{hint}; guests: {', '.join(names)}")
    chosen = [g for g in names if g in guests] if guests else names
    if limit is not None:
        allowed = set(evaluate(tree, limit))
        chosen = [g for g in chosen if g in allowed]
        if not chosen:
            raise UsageError(
                f"{opt('limit')} {limit!r} leaves none of the guests named with {opt('guest')}: "
                f"{', '.join(guests)}"
            )
    return [Selected(name, inventory.guests[name]) for name in chosen]
