"""The stand-in FreeBSD host's commands (see :mod:`agent.lab.standin.stubs.freebsd_cmds`)."""
