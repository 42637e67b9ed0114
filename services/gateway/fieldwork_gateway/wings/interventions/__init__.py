"""The interventions wing."""
