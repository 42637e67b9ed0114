"""The operations wing."""
