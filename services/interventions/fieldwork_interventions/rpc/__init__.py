"""The service's RPCs, one mixin per wing (domain/<wing>.py holds its rules)."""
