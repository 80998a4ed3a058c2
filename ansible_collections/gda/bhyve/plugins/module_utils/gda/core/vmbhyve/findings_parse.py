# GENERATED from agent/core/vmbhyve/findings_parse.py by `python -m agent.collection_build`: do not edit.
"""Findings about how vm-bhyve reads the text of a guest config: excerpts, ignored lines, quoting, keys
set twice (lib/vm-config ``config::load`` / ``config::get``). Pure."""

from __future__ import annotations

import re

from ansible_collections.gda.bhyve.plugins.module_utils.gda.core.vmbhyve.finding import Finding
from ansible_collections.gda.bhyve.plugins.module_utils.gda.core.vmbhyve.vmconf import ParseIssue, VmConfig


def parse_findings(conf: VmConfig) -> list[Finding]:
    out: list[Finding] = []
    if conf.is_excerpt:
        out.append(
            Finding(
                "excerpt",
                "info",
                "the file is an excerpt (`...` on line(s) "
                + ", ".join(str(n) for n in conf.elisions)
                + "): settings not shown are taken as unset",
                line=conf.elisions[0],
            )
        )
    for issue in conf.issues:
        f = _issue_finding(issue)
        if f is not None:
            out.append(f)
    for key, lines in conf.duplicates.items():
        values = [e.value for e in conf.entries if e.key == key]
        differ = len(set(values)) > 1
        disk, nic = _device_of(key)
        out.append(
            Finding(
                "duplicate-key",
                "error" if differ and (disk is not None or nic is not None) else "warning",
                f"{key} is set {len(lines)} times (lines {', '.join(map(str, lines))}): vm-bhyve's "
                "config::get "
                f"uses the first one (line {lines[0]}: {values[0]!r})"
                + (", not the last one as sh would" if differ else ""),
                fix=f"keep one {key}= line",
                line=lines[0],
                disk=disk,
                nic=nic,
            )
        )
    return out


def _device_of(key: str) -> tuple[int | None, int | None]:
    m = re.match(r"disk(\d+)_", key)
    if m:
        return int(m.group(1)), None
    m = re.match(r"network(\d+)_", key)
    if m:
        return None, int(m.group(1))
    return None, None


def _issue_finding(issue: ParseIssue) -> Finding | None:
    disk, nic = _device_of(issue.key or "")
    device_key = disk is not None or nic is not None
    text = issue.text.strip()
    if issue.kind == "commented-key":
        return Finding(
            "commented-key", "info", f"`{text}` is commented out: vm-bhyve ignores it", line=issue.line
        )
    if issue.kind in ("ignored-indented", "ignored-uppercase"):
        why = (
            "starts with whitespace"
            if issue.kind == "ignored-indented"
            else "does not start with a lowercase letter"
        )
        return Finding(
            "ignored-line",
            "error" if device_key else "warning",
            f"`{text}` {why}: vm-bhyve only reads lines that start with a lowercase letter, so it is ignored",
            fix=f"write it at the start of the line, in lowercase: {text.lstrip()}",
            line=issue.line,
            disk=disk,
            nic=nic,
        )
    if issue.kind == "space-in-key":
        fixed = re.sub(r"\s*=\s*", "=", text, count=1)
        return Finding(
            "space-around-equals",
            "error",
            f"`{text}`: with spaces around '=' the key is {(issue.key or '') + ' '!r}, which vm-bhyve "
            "never looks up",
            fix=f"no spaces around '=': {fixed}",
            line=issue.line,
        )
    if issue.kind == "single-quoted":
        value = text.split("=", 1)[1]
        return Finding(
            "single-quoted",
            "error" if device_key else "warning",
            f"`{text}`: vm-bhyve removes only double quotes, so the value is {value} with the single quotes",
            fix=f'use double quotes: {issue.key}="{value.strip(chr(39))}"',
            line=issue.line,
            disk=disk,
            nic=nic,
        )
    if issue.kind == "hash-in-quotes":
        return Finding(
            "hash-in-value",
            "warning",
            f"`{text}`: '#' starts a comment for vm-bhyve even inside double quotes; the value is cut there",
            fix="values cannot contain '#'",
            line=issue.line,
        )
    if issue.kind == "carriage-return":
        return Finding(
            "carriage-return",
            "error",
            "the line ends in a carriage return (a CRLF file): vm-bhyve keeps it in the value, so names and "
            "paths do not match",
            fix="convert the file to Unix line endings (dos2unix, or `tr -d '\\r'`)",
            line=issue.line,
        )
    if issue.kind == "not-utf8":
        return Finding(
            "not-utf8",
            "warning",
            f"`{text}` holds bytes that are not UTF-8 (shown as U+FFFD): vm-bhyve passes them on as they "
            "are, so this check cannot compare that value with names and paths",
            fix="save the file as UTF-8 (or plain ASCII)",
            line=issue.line,
        )
    if issue.kind == "no-equals":
        return Finding("no-equals", "warning", f"`{text}` has no '=': not a setting", line=issue.line)
    if issue.kind == "unbalanced-quotes":
        return Finding(
            "unbalanced-quotes",
            "warning",
            f"`{text}` has an odd number of double quotes (vm-bhyve deletes them all)",
            line=issue.line,
        )
    return None  # elisions are summarised once
