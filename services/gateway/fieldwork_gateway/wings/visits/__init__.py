"""The visits wing."""
