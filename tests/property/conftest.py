"""Hypothesis settings for the property tests (tests/property/).

Profile ``gda`` (the default here; ``GDA_HYPOTHESIS_PROFILE=ci-long`` runs ten times as many cases):
several hundred examples per test, thousands across the suite, with no per-example deadline (a 2-core CI
machine under load would make one flaky) but a suite budget of about a minute (about 20 s of CPU). No
example database is written (``database=None``) and Hypothesis's caches go to /tmp
(``GDA_HYPOTHESIS_DIR``), not the tree. The run's seed is random, forced for every test and printed at
the end of the run; rerun with ``pytest tests/property --hypothesis-seed=<seed>``.
"""

from __future__ import annotations

import os
import random

import pytest
from hypothesis import HealthCheck, core, settings
from hypothesis.configuration import set_hypothesis_home_dir

# Hypothesis keeps caches (the constants it mines from the code) under .hypothesis/: not in the tree.
set_hypothesis_home_dir(os.environ.get("GDA_HYPOTHESIS_DIR", f"/tmp/gda-hypothesis-{os.getuid()}"))

_COMMON = {
    "deadline": None,
    "database": None,
    "derandomize": False,
    "print_blob": True,
    "suppress_health_check": (HealthCheck.too_slow, HealthCheck.data_too_large),
}
settings.register_profile("gda", max_examples=400, **_COMMON)  # type: ignore[arg-type]
settings.register_profile("ci-long", max_examples=4000, **_COMMON)  # type: ignore[arg-type]
settings.load_profile(os.environ.get("GDA_HYPOTHESIS_PROFILE", "gda"))

#: The seed of this run: the one given with --hypothesis-seed, else a fresh random one forced on all tests.
if core.global_force_seed is None:
    core.global_force_seed = random.SystemRandom().randrange(1 << 32)  # type: ignore[assignment]
SEED = core.global_force_seed


def examples(scale: float) -> settings:
    """The loaded profile's max_examples scaled for one (slow or cheap) property."""
    return settings(max_examples=max(20, int(settings().max_examples * scale)))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    terminalreporter.write_line(
        f"hypothesis seed {SEED} (profile {settings._current_profile}); "
        f"rerun with: pytest tests/property --hypothesis-seed={SEED}"
    )
