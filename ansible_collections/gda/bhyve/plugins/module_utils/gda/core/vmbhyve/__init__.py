# GENERATED from agent/core/vmbhyve/__init__.py by `python -m agent.collection_build`: do not edit.
"""vm-bhyve guests: the config as vm-bhyve reads it (vmconf), the PCI slot plan it generates (vmslots),
the NIC renames a change causes (nic_renames), the findings (vmfindings with findings_parse,
findings_plan, findings_disks over the model in finding) and their renderings (vmreport)."""
