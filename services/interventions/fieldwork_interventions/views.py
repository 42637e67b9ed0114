"""Read-side RPCs over interventions: lists with filters and cursor
pagination, the calendar and its ICS feeds, the client's tracking (by
login or by an unguessable token)."""
from fieldwork_common.rpc import rpc  # noqa: F401


class Views:
    """Mixed into InterventionsService (needs `db` and `principal`)."""
