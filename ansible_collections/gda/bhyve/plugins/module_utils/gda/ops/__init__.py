# GENERATED from agent/ops/__init__.py by `python -m agent.collection_build`: do not edit.
