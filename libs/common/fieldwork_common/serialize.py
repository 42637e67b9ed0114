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


def parse_instant(value, field):
    """A caller's date-time (RFC 3339 text or an aware datetime) as an aware
    datetime in UTC, or InvalidInput. The offset is required. Converting to
    UTC keeps offsets PostgreSQL refuses (it takes at most ±15:59) and
    dates beyond what a datetime holds from ever reaching the database as
    a server error."""
    from datetime import timezone

    from fieldwork_common.errors import InvalidInput
    example = "e.g. 2026-01-31T09:00:00+01:00"
    if isinstance(value, datetime):
        parsed = value
    else:
        try:
            parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            raise InvalidInput(f"{field} is not an RFC 3339 date-time ({example}).",
                               {field: value}) from None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise InvalidInput(f"{field} needs its time zone offset ({example}).", {field: value})
    try:
        return parsed.astimezone(timezone.utc)
    except OverflowError:
        raise InvalidInput(f"{field} is out of range.", {field: str(value)}) from None


def checked_text(value, field, required=False, limit=5000, strip=False):
    """A text a caller sent (a description, a reason, a message): None when
    absent and not required, else 1 to `limit` characters that are not all
    blanks, or InvalidInput naming the field. `strip`: answered without its
    surrounding blanks."""
    from fieldwork_common.errors import InvalidInput
    if value is None:
        if required:
            raise InvalidInput(f"{field} is required.", {field: "required"})
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise InvalidInput(f"{field} is a text of 1 to {limit} characters.", {"field": field})
    return value.strip() if strip else value
