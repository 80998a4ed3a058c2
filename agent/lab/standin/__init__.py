"""The stand-in FreeBSD host (issue 11): a real sshd on loopback whose session runs FreeBSD's commands as
stubs answering from a scenario (host.py, scenario.py, stubs/, freebsd_outputs.py, scenarios/*.json);
with a lab link, its ``vm start|stop|console`` drive the lab's QEMU guest. ``gda demo`` and the tests
run it; it needs root, OpenSSH's sshd and ``unshare -m`` (host.missing_requirements says what is missing)."""
