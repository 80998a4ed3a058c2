"""Fleet mode: one guest task on many guests at once.

* :mod:`agent.fleet.batches` (pure): ``--batch`` (Ansible's ``serial:``) parsing and batching, the
  ``--max-fail-percentage`` decision, the worst exit code;
* :mod:`agent.fleet.outcome` (pure): one guest's outcome (its JSON object, exit code, result word) and the
  summary row and object taken from it;
* :mod:`agent.fleet.runner`: the thin shell that runs the batches in threads (bounded by ``--forks``) and
  hands every event to a view (:mod:`agent.cli.fleet_view`).
"""
