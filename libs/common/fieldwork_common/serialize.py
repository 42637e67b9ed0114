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
