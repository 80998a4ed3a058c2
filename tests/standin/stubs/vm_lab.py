"""Moved into the package: agent/lab/standin/stubs/vm_lab.py. Its names are re-exported here, so
that the tests' old imports keep working."""

from agent.lab.standin.stubs.vm_lab import *  # noqa: F403
