# GENERATED from agent/core/__init__.py by `python -m agent.collection_build`: do not edit.
"""Pure logic: parsing outputs and deciding. Nothing in here performs I/O."""
