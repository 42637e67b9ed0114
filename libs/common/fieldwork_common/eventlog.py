"""A service's event log: its outbox, read and replayed.

Every event a service produced stays in its `outbox` table after the relay
published it (`published_at` records when the broker confirmed it), in the
order the events were recorded (`sequence`, the outbox row's id). So the
outbox is the service's event log, and this module is how an operator, or
another system that missed events, reads it and has events published again.

    python -m fieldwork_common.eventlog list interventions --aggregate ID
    python -m fieldwork_common.eventlog list interventions --type intervention.created \
        --since 2026-11-22T00:00:00Z --limit 50
    python -m fieldwork_common.eventlog republish interventions --aggregate ID
    python -m fieldwork_common.eventlog republish interventions --id EVENT_ID [EVENT_ID ...]

`list` prints JSON lines: each event's envelope (DESIGN.md §2) with two
more keys, `sequence` (its position in the log) and `published_at` (RFC 3339,
or null while the relay has not published it yet).

`republish` marks the chosen events unpublished (`published_at = NULL`); the
relay of the running service publishes them again within its poll interval
(0.5 s), in log order, with the same `event_id`. Consumers dedupe on
`event_id` (their inbox), so a service that already handled an event does
nothing again; a new or reset consumer gets it. It prints one JSON line per
event marked.

The database comes from `fieldwork_common.config.database_url(service)`:
`<SERVICE>_DATABASE_URL`, else `fieldwork_<service>` on `POSTGRES_URL`.
"""
import argparse
import json
import sys
import uuid
from datetime import datetime, timezone

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.pool import NullPool

from fieldwork_common import config
from fieldwork_common.envelope import rfc3339
from fieldwork_common.pg import create_engine

PRODUCERS = tuple(s for s in config.SERVICES if s != "gateway")

# The columns of `fieldwork_common.outbox.outbox` this tool reads, declared
# here so that the CLI does not import nameko and alembic (a second saved on
# every call).
outbox = sa.table(
    "outbox",
    sa.column("id", sa.BigInteger),
    sa.column("event_id", UUID(as_uuid=False)),
    sa.column("event_type", sa.Text),
    sa.column("aggregate_id", sa.Text),
    sa.column("envelope", JSONB),
    sa.column("created_at", sa.DateTime(timezone=True)),
    sa.column("published_at", sa.DateTime(timezone=True)),
)


class EventLog:
    """The outbox of one service's database."""

    def __init__(self, database_url):
        self.engine = create_engine(database_url, poolclass=NullPool)

    @classmethod
    def of(cls, service):
        return cls(config.database_url(service))

    def close(self):
        self.engine.dispose()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def list(self, aggregate_id=None, event_type=None, since=None, after=None, limit=None):
        """Events in log order, as envelopes with `sequence` and
        `published_at`. `since`: occurred at or after this moment;
        `after`: sequence strictly greater (to page or catch up)."""
        query = sa.select(outbox.c.id, outbox.c.envelope, outbox.c.published_at).order_by(outbox.c.id)
        if aggregate_id is not None:
            query = query.where(outbox.c.aggregate_id == str(aggregate_id))
        if event_type is not None:
            query = query.where(outbox.c.event_type == event_type)
        if since is not None:
            # the envelope's occurred_at (what a reader sees), not the row's
            # created_at (the transaction's start, a little earlier)
            occurred = sa.cast(outbox.c.envelope["occurred_at"].astext,
                               sa.DateTime(timezone=True))
            query = query.where(occurred >= since)
        if after is not None:
            query = query.where(outbox.c.id > after)
        if limit:
            query = query.limit(limit)
        with self.engine.connect() as conn:
            return [_entry(row) for row in conn.execute(query)]

    def republish(self, event_ids=None, aggregate_id=None, event_type=None):
        """Mark events unpublished so that the relay publishes them again.
        Returns the rows marked, in log order."""
        if not event_ids and aggregate_id is None:
            raise ValueError("name the events: event ids or an aggregate id")
        update = outbox.update().values(published_at=None)
        if event_ids:
            update = update.where(outbox.c.event_id.in_([str(uuid.UUID(str(e))) for e in event_ids]))
        if aggregate_id is not None:
            update = update.where(outbox.c.aggregate_id == str(aggregate_id))
        if event_type is not None:
            update = update.where(outbox.c.event_type == event_type)
        update = update.returning(outbox.c.id, outbox.c.event_id, outbox.c.event_type,
                                  outbox.c.aggregate_id)
        with self.engine.begin() as conn:
            rows = conn.execute(update).all()
        return [{"sequence": r.id, "event_id": r.event_id, "event_type": r.event_type,
                 "aggregate_id": r.aggregate_id} for r in sorted(rows, key=lambda r: r.id)]

    def unpublished(self):
        with self.engine.connect() as conn:
            return conn.execute(sa.select(sa.func.count()).select_from(outbox)
                                .where(outbox.c.published_at.is_(None))).scalar()


def _entry(row):
    return {**row.envelope, "sequence": row.id,
            "published_at": rfc3339(row.published_at) if row.published_at else None}


def parse_moment(text):
    """ISO 8601 / RFC 3339; a moment without an offset is UTC."""
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 date or time: {text!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def event_id(text):
    try:
        return str(uuid.UUID(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an event id (UUID): {text!r}") from None


def positive(text):
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be ≥ 0")
    return value


def parser():
    p = argparse.ArgumentParser(prog="python -m fieldwork_common.eventlog",
                                description="Read a service's event log (its outbox) "
                                            "and have events published again.")
    sub = p.add_subparsers(dest="command", required=True)

    ls = sub.add_parser("list", help="events as JSON lines, in log order")
    ls.add_argument("service", choices=PRODUCERS)
    ls.add_argument("--aggregate", metavar="ID", help="only events about this object")
    ls.add_argument("--type", metavar="T", dest="event_type", help="only this event type")
    ls.add_argument("--since", metavar="ISO", type=parse_moment,
                    help="only events that occurred at or after this moment")
    ls.add_argument("--after", metavar="SEQUENCE", type=positive,
                    help="only events after this sequence number (to catch up)")
    ls.add_argument("--limit", metavar="N", type=positive, default=None,
                    help="at most N events (default: all)")

    rp = sub.add_parser("republish", help="mark events unpublished: the running "
                                          "service's relay publishes them again")
    rp.add_argument("service", choices=PRODUCERS)
    which = rp.add_mutually_exclusive_group(required=True)
    which.add_argument("--id", metavar="EVENT_ID", dest="event_ids", nargs="+", type=event_id)
    which.add_argument("--aggregate", metavar="ID")
    rp.add_argument("--type", metavar="T", dest="event_type",
                    help="with --aggregate: only this event type")
    return p


def main(argv=None, out=None):
    out = out or sys.stdout
    args = parser().parse_args(argv)
    with EventLog.of(args.service) as log:
        if args.command == "list":
            for entry in log.list(args.aggregate, args.event_type, args.since, args.after,
                                  args.limit):
                out.write(json.dumps(entry, ensure_ascii=False) + "\n")
            return 0
        marked = log.republish(args.event_ids, args.aggregate, args.event_type)
        for entry in marked:
            out.write(json.dumps({**entry, "published_at": None}) + "\n")
        missing = sorted(set(args.event_ids or ()) - {m["event_id"] for m in marked})
        for event in missing:
            print(f"no such event in the {args.service} outbox: {event}", file=sys.stderr)
        if not marked:
            print("nothing to republish", file=sys.stderr)
        return 1 if missing or not marked else 0


if __name__ == "__main__":
    sys.exit(main())
