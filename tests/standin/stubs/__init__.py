"""The stand-in FreeBSD host's commands, moved into the package: agent/lab/standin/stubs/ (re-exported
module by module here)."""
