"""The stand-in FreeBSD host's commands (see :mod:`tests.standin.stubs.freebsd_cmds`)."""
