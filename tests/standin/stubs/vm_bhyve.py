"""Moved into the package: agent/lab/standin/stubs/vm_bhyve.py. Its names are re-exported here, so
that the tests' old imports keep working."""

from agent.lab.standin.stubs.vm_bhyve import *  # noqa: F403
