"""The masterdata wing."""
