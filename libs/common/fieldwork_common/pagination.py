"""Cursor pagination for every list: keyset on the list's order (newest
first on (created_at, id) unless a list says otherwise), so a page costs the
same on the millionth row as on the first and rows added meanwhile never
shift a page.

The cursor is opaque to callers (URL-safe base64 of the last row's key);
a cursor that does not decode, or whose values are not of the key's types,
is bad input, never a database error.
"""
import base64
import json
import uuid
from datetime import datetime

import sqlalchemy as sa

from fieldwork_common.errors import InvalidInput

DEFAULT_LIMIT = 50
MAX_LIMIT = 200


def encode_cursor(*values):
    raw = json.dumps([v.isoformat() if isinstance(v, datetime) else v for v in values],
                     separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _typed(value, column):
    """`value` as the key column expects it, or ValueError."""
    kind = column.type
    if isinstance(kind, sa.DateTime):
        return datetime.fromisoformat(value)
    if isinstance(kind, sa.Integer):
        if not isinstance(value, int) or isinstance(value, bool):
            raise ValueError(value)
        return value
    if not isinstance(value, str):
        raise ValueError(value)
    if isinstance(kind, sa.Uuid):
        return str(uuid.UUID(value))
    return value


def decode_cursor(cursor, keys=None):
    """The key values a cursor carries. Without `keys`: (created_at, id)."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if not isinstance(values, list) or len(values) != (len(keys) if keys else 2):
            raise ValueError(cursor)
        if keys is None:
            return datetime.fromisoformat(values[0]), str(values[1])
        return tuple(_typed(value, column) for value, column in zip(values, keys))
    except (ValueError, TypeError, UnicodeDecodeError, AttributeError):
        raise InvalidInput("Unknown cursor: pass the next_cursor of the previous page.",
                           {"after": cursor}) from None


def clamp_limit(limit):
    try:
        limit = int(limit if limit is not None else DEFAULT_LIMIT)
    except (TypeError, ValueError):
        raise InvalidInput("limit must be an integer.", {"limit": limit}) from None
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"limit must be between 1 and {MAX_LIMIT}.", {"limit": limit})
    return limit


def page(session, query, model=None, limit=None, after=None, *, keys=None, descending=True,
         columns=False):
    """Run `query` (a select with its filters) a page at a time. Returns
    (rows, next_cursor); next_cursor is None on the last page.

    `keys`: the columns of the list's order, unique together (default
    `model.created_at, model.id`); `descending`: newest first. `columns`:
    the query selects columns, not one entity (rows are then Row objects,
    which must carry the keys under their names)."""
    keys = tuple(keys) if keys else (model.created_at, model.id)
    limit = clamp_limit(limit)
    query = query.order_by(*(key.desc() if descending else key for key in keys)).limit(limit + 1)
    if after:
        values = decode_cursor(after, keys)
        row = sa.tuple_(*keys)
        query = query.where(row < values if descending else row > values)
    rows = session.execute(query).all() if columns else session.scalars(query).all()
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        return rows, encode_cursor(*(getattr(last, key.key) for key in keys))
    return rows, None


def with_ids(query, *filters):
    """`query` narrowed by each (value, column, field) whose value is given:
    a list's filters on ids. A malformed id is 404 like an unknown one (it
    names nothing); which ids a caller may name is checked before."""
    from fieldwork_common.errors import NotFound
    from fieldwork_common.serialize import is_uuid
    for value, column, field in filters:
        if value is not None:
            if not is_uuid(value):
                raise NotFound("Not found.", {field: value})
            query = query.where(column == value)
    return query
