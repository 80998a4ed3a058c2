"""The stand-in FreeBSD host: a real sshd on loopback whose session runs stub FreeBSD commands (issue 11)."""
