"""Shared plumbing for Fieldwork services. No domain code lives here."""
