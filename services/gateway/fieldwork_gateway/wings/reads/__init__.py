"""The reads wing."""
