# GENERATED from agent/ops/format_guard.py by `python -m agent.collection_build`: do not edit.
"""Running the guard+mkfs script of a format and reading what it did (the flow's one write): a lost
connection or timeout told apart by how far the guard got, the FreeBSD check of the new filesystem, and
the refusals a plan made without the content probes leaves to them (:class:`ContentsFound`).
Guest-free and stdlib-only, as the format flow."""

from __future__ import annotations

from ansible_collections.gda.bhyve.plugins.module_utils.gda.core.disk import ext4_freebsd
from ansible_collections.gda.bhyve.plugins.module_utils.gda.core.disk.guard import (
    GUARD_KIND,
    INSPECT_HINT,
    GuardResult,
    GuardSpec,
    interpret_guard,
    parse_guard_output,
    render_guard_script,
)
from ansible_collections.gda.bhyve.plugins.module_utils.gda.core.disk.guard_codes import GuardExit
from ansible_collections.gda.bhyve.plugins.module_utils.gda.core.marker import has_header
from ansible_collections.gda.bhyve.plugins.module_utils.gda.errors import AgentError, ChangeFailed, Refused, RemoteError, Unreachable
from ansible_collections.gda.bhyve.plugins.module_utils.gda.transport.protocol import CommandProtocol
from ansible_collections.gda.bhyve.plugins.module_utils.gda.transport.sudo import SudoError


def freebsd_problems(result: GuardResult) -> list[str]:
    """Problems a FreeBSD host would have with the new filesystem, from the guard's ``dumpe2fs -h``."""
    if result.dumpe2fs is None:
        raise RemoteError(f"the guard printed no dumpe2fs -h output for {result.device}")
    return [f"{p.severity}: {p.message}" for p in ext4_freebsd.check_freebsd_compat(result.dumpe2fs)]


def lost_after_result(error: RemoteError, spec: GuardSpec) -> AgentError | None:
    """The error to report when the connection was lost after the guard printed its RESULT line (the
    transport keeps the stdout it had received in ``partial_stdout``): on success, that mkfs finished and
    was verified and that a rerun is a no-op; on a refusal, the refusal (nothing was changed). None when
    the output stops before the RESULT line."""
    partial = getattr(error, "partial_stdout", "")
    if not isinstance(partial, str) or not has_header(partial, GUARD_KIND):
        return None
    framed = parse_guard_output(partial)
    if framed.result is None:
        return None
    try:
        result = interpret_guard(partial, framed.result[0], spec)
    except AgentError as verdict:
        return verdict
    problems = freebsd_problems(result) if spec.verify_dumpe2fs else []
    if problems:
        return ChangeFailed(
            f"{error.message} after the guard's result line; the new filesystem on {result.device} has "
            "features FreeBSD cannot mount read-write:\n  " + "\n  ".join(problems)
        )
    lost = type(error) if isinstance(error, Unreachable) else RemoteError
    return lost(
        f"{error.message}, but only after the guard's result line: mkfs finished on {result.device} and "
        f"was verified ({result.fs}, UUID {result.uuid or '?'}); a rerun with the same options is a no-op "
        "(it reports nothing to do)",
        hint=f"reconnect and rerun the same command to confirm; `sudo blkid -p {result.device}` on the guest "
        "shows the new filesystem",
    )


#: the guard's refusals that the facts' content probes explain (a format that skipped them reads them)
PROBED_REFUSALS = frozenset({GuardExit.PARTITION_TABLE, GuardExit.SIGNATURE, GuardExit.SIGNATURE_ID})


class ContentsFound(Exception):
    """The guard refused for what the disk carries (:data:`PROBED_REFUSALS`); nothing was written."""


def _refused_for_contents(stdout: object, status: int | None = None) -> bool:
    """The guard's output ends in its refusal for what the disk carries (with ``status``: the one it
    exited with): nothing was written."""
    if not isinstance(stdout, str) or not has_header(stdout, GUARD_KIND):
        return False
    result = parse_guard_output(stdout).result
    return result is not None and result[0] in PROBED_REFUSALS and status in (None, result[0])


def run_guard(session: CommandProtocol, spec: GuardSpec, *, unprobed: bool = False) -> GuardResult:
    """Run the guard+mkfs script once; a lost connection or timeout says how far the guard got.
    ``unprobed``: the plan was made without the content probes; a refusal for what the disk carries
    raises :class:`ContentsFound` instead (the caller probes and decides)."""
    try:
        r = session.run(render_guard_script(spec), root=True, timeout=3600)
    except SudoError:
        raise  # sudo refused: the script did not run
    except RemoteError as e:
        known = lost_after_result(e, spec)
        if (
            unprobed
            and isinstance(known, Refused)
            and _refused_for_contents(getattr(e, "partial_stdout", ""))
        ):
            # the contents were to be probed next: the refusal alone would hide a rerun's no-op
            lost = type(e) if isinstance(e, Unreachable) else RemoteError
            raise lost(
                f"{e.message}, after the guard found {spec.device_path} not empty; nothing was written",
                hint="rerun the same command: it reads what the disk carries and decides (a rerun's no-op, "
                "or the refusal naming it)",
            ) from e
        if known is not None:
            raise known from e
        path = spec.device_path
        raise RemoteError(
            f"{e.message}; the guard may already have started mkfs on {path}",
            hint=INSPECT_HINT.format(path=path) + (f"; {e.hint}" if e.hint else ""),
        ) from e
    if unprobed and _refused_for_contents(r.stdout, r.status):
        raise ContentsFound(r.status)
    return interpret_guard(r.stdout, r.status, spec)
