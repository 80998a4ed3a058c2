"""Tests of the Ansible collection ansible_collections/gda/bhyve (issue 12)."""
