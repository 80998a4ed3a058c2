# GENERATED from agent/__init__.py by `python -m agent.collection_build`: do not edit.
"""guest-disk-agent: format a passed-through disk inside a guest and repair the NIC rename it causes.

Layout (README's Layout section has the whole map):
  agent/core/       pure functions: parse facts, decide, plan (no I/O, unit-tested); disk/, net/, vmbhyve/
  agent/scripts/    the shell scripts run on the guest or host (package files, one marker framing)
  agent/transport/  the one command protocol, SSH (host keys, sudo)
  agent/console/    the serial console (login, prompt, marker-delimited commands)
  agent/inventory/  the inventory file: schema, loader, secrets
  agent/ops/        thin orchestration of one task each: gather facts -> core -> act; connect
                    (inventory guest -> SSH or console)
  agent/cli/        the `gda` program and the tasks (`invoke` in the repository runs the same collection)
  agent/lab/        the QEMU lab guest that reproduces the bhyve situation
  agent/data/       package data (the demo's vm-bhyve config)
"""

__version__ = "0.1.0"
