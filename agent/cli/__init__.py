"""The command line: the ``gda`` program (:mod:`agent.cli.program`) and the repository's ``invoke``
tasks (``tasks.py``) share one collection (:mod:`agent.cli.collection`).

Modules: ``config`` (defaults, one place), ``options`` (typed options, short flags, the task class),
``tasking`` (the task decorators: shared guest options, errors, ``emit``), ``emit`` (stdout/stderr,
JSON), ``render`` (human summaries), one task module per area (``disk_tasks``, ``net_tasks``,
``host_tasks``, ``lab_tasks``) and ``demo_story`` (the demo's body). Task modules import the ops they
call inside the task body, so that ``gda --help`` does not load paramiko and friends.
"""
