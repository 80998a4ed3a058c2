"""The disk area (pure): discovery models and parsing, the candidate rules, mkfs command lines, the
guarded mkfs script, and the FreeBSD host's ext4 compatibility."""
