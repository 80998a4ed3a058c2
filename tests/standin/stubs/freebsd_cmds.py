"""Moved into the package: agent/lab/standin/stubs/freebsd_cmds.py. Its names are re-exported here, so
that the tests' old imports keep working."""

from agent.lab.standin.stubs.freebsd_cmds import *  # noqa: F403
