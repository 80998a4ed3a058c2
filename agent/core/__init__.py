"""Pure logic: parsing outputs and deciding. Nothing in here performs I/O."""
