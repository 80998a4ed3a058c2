"""The host entries of the data-file tests (``tests/facts/host.facts``, ``tests/facts/host.check``).

``host.facts``: ``output`` is host_facts.sh's stdout (FreeBSD's formats, cited in each case's
``source``). Result: :func:`agent.core.host.host_facts.facts_to_json`, or the error's class and message
when the output is not the script's.

``host.check``: ``output`` as above, ``device`` the path to check, optional ``options`` (``serial``,
``slot``, ``func``, ``guest_running``). Result: :meth:`HostCheck.to_json` with options rendered as the
command line spells them, plus the refusal's message and hint (None when nothing is an error).
"""

from __future__ import annotations

import json
from typing import Any

from agent.core.host.host_checks import check_host_device
from agent.core.host.host_facts import facts_to_json, parse_host_facts
from agent.core.host.host_finding import refusal_text
from agent.errors import AgentError
from agent.hints import render_options

Case = dict[str, Any]


def facts_case(case: Case) -> Any:
    try:
        facts = parse_host_facts(case["output"])
    except AgentError as e:
        return {"error": {"class": type(e).__name__, "message": e.message}}
    return facts_to_json(facts)


def check_case(case: Case) -> Any:
    facts = parse_host_facts(case["output"])
    check = check_host_device(facts, case["device"], **case.get("options", {}))
    data = json.loads(render_options(json.dumps(check.to_json())))
    refusal = refusal_text(check)
    data["refusal"] = (
        {"message": render_options(refusal[0]), "hint": render_options(refusal[1])} if refusal else None
    )
    return data
