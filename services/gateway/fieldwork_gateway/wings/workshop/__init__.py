"""The workshop wing."""
