"""Cursor pagination for every list: newest first, keyset on
(created_at, id), so a page costs the same on the millionth row as on the
first and rows added meanwhile never shift a page.

The cursor is opaque to callers (URL-safe base64 of the last row's key);
a cursor that does not decode is bad input, not a server error.
"""
import base64
import json
from datetime import datetime

import sqlalchemy as sa

from fieldwork_common.errors import InvalidInput

DEFAULT_LIMIT = 50
MAX_LIMIT = 200


def encode_cursor(created_at, row_id):
    raw = json.dumps([created_at.isoformat(), str(row_id)], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor):
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        created_at, row_id = json.loads(base64.urlsafe_b64decode(padded.encode()))
        return datetime.fromisoformat(created_at), str(row_id)
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


def page(session, query, model, limit=None, after=None):
    """Run `query` (a select of `model` with its filters) a page at a time.
    Returns (rows, next_cursor); next_cursor is None on the last page."""
    limit = clamp_limit(limit)
    query = query.order_by(model.created_at.desc(), model.id.desc()).limit(limit + 1)
    if after:
        created_at, row_id = decode_cursor(after)
        query = query.where(sa.tuple_(model.created_at, model.id) < (created_at, row_id))
    rows = session.scalars(query).all()
    if len(rows) > limit:
        last = rows[limit - 1]
        return rows[:limit], encode_cursor(last.created_at, last.id)
    return rows, None
