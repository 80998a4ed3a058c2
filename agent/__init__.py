"""guest-disk-agent: format a passed-through disk inside a guest and repair the NIC rename it causes.

Layout:
  agent/core/     pure functions: parse facts, decide, plan (no I/O, unit-tested)
  agent/remote/   SSH transport: host-key policy, one connection per task, sudo
  agent/console/  serial-console session (login, prompt, marker-delimited commands)
  agent/ops/      thin orchestration of one task each: gather facts -> core -> act
  agent/lab/      the QEMU lab guest that reproduces the bhyve situation
"""

__version__ = "0.1.0"
