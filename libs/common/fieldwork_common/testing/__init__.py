"""Test helpers shared by every service's tests and tests/integration."""
