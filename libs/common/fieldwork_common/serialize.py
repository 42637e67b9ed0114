"""Turn ORM rows into JSON-ready dicts for RPC replies and event payloads."""
from datetime import date, datetime

from fieldwork_common.envelope import rfc3339


def plain(value):
    if isinstance(value, datetime):
        return rfc3339(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def as_dict(obj, fields):
    return {name: plain(getattr(obj, name)) for name in fields}


def is_uuid(value):
    """Ids are UUIDs: anything else names nothing (and must not reach a
    UUID column, where PostgreSQL would refuse it)."""
    import uuid
    try:
        uuid.UUID(str(value))
        return True
    except ValueError:
        return False
