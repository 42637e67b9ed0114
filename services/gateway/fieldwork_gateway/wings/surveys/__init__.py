"""The surveys wing."""
