# GENERATED from agent/core/disk/__init__.py by `python -m agent.collection_build`: do not edit.
"""The disk area (pure): discovery models and parsing, the candidate rules, mkfs command lines, the
guarded mkfs script, and the FreeBSD host's ext4 compatibility."""
