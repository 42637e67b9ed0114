"""Durable timers: one mechanism for every deadline of every service.

A deadline (a survey to send an hour after a delivery, a visit to validate
within N days, a reminder, an incident window closing, a request to close
by itself) is a row of the service's `timers` table, written by a command
in the transaction of the change that sets it:

    with db.unit_of_work() as uow:            # or a @command / event handler
        ...
        uow.schedule("survey.due", survey.id, due_at, {"reason": "delivered"})
        uow.cancel_timer("visit.remind", visit.id)

`(kind, key)` names a timer: scheduling it again moves it (a new due time
and payload, pending again, attempts reset), cancelling it stops it unless
it has already fired.

A service handles the kinds it knows with a method marked
`@timer_handler(kind)`. The method is a command: it gets the unit of work
of the transaction that marks the timer fired, and the timer:

    @timer_handler("survey.due")
    def on_survey_due(self, uow, timer):
        survey = uow.session.get(Survey, timer.key, with_for_update=True)
        ...

Fired once. `TimerPoller` (every `Database` starts one; it polls only when
the service has handlers) claims one due timer at a time with
`SELECT … FOR UPDATE SKIP LOCKED`, marks it fired and runs its handler in a
nameko worker, in that same transaction: the handler's effects (rows,
outbox events, other timers) and the "fired" mark commit together, or not
at all. Several replicas poll the same table; the row lock gives each timer
to exactly one of them. A process killed mid-handler leaves an open
transaction that PostgreSQL rolls back when the connection drops: the
timer is pending again and another replica (or the restarted one) fires
it. What must happen outside the database (an email) is done after the
commit (`uow.after_commit(fn)`) and needs a durable fallback of its own.

A handler that raises is rolled back to a savepoint; the timer stays
pending, its attempt counted and its error kept in `last_error`, and is
tried again after TIMER_RETRY_BASE seconds doubled per attempt (at most an
hour). After TIMER_MAX_ATTEMPTS it is `failed`: left in the table for an
operator (`python -m fieldwork_common.timers list SERVICE --status failed`,
then `... retry SERVICE ID`). See docs/timers.md.
"""
import argparse
import json
import logging
import os
import sys
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import sqlalchemy as sa
from nameko.extensions import Entrypoint, SharedExtension
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import insert as pg_insert

from fieldwork_common.polling import PollingLoop

log = logging.getLogger(__name__)

STATUSES = ("pending", "fired", "cancelled", "failed")
RETRY_CAP = 3600.0          # seconds: the longest wait between two attempts
ERROR_MAX_LENGTH = 500

metadata = sa.MetaData()


def _columns():
    return [
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("key", sa.Text, nullable=False),
        # when the timer is due; `next_attempt_at` is when it is next tried
        # (the due time, later after a failed attempt)
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("payload", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
        sa.Column("status", sa.Text, nullable=False, server_default="pending"),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("last_error", sa.Text),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False,
                  server_default=sa.func.now()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False,
                  server_default=sa.func.now()),
        sa.Column("fired_at", sa.DateTime(timezone=True)),
        sa.UniqueConstraint("kind", "key", name="timers_kind_key"),
        sa.CheckConstraint("status IN ('pending', 'fired', 'cancelled', 'failed')",
                           name="timers_status"),
    ]


timers = sa.Table("timers", metadata, *_columns())


def create_timers_table(op):
    """Called from one Alembic migration of each service."""
    op.create_table("timers", *_columns())
    op.create_index("timers_due", "timers", ["next_attempt_at"],
                    postgresql_where=sa.text("status = 'pending'"))


# --- pure parts (unit-tested without a database) ---------------------------------

@dataclass(frozen=True)
class Timer:
    """What a handler gets: the timer, and which attempt this is (1 first)."""
    id: int
    kind: str
    key: str
    due_at: datetime
    payload: dict = field(default_factory=dict)
    attempt: int = 1


def check_name(kind, key):
    """(kind, key) as stored; ValueError for an empty one."""
    if not isinstance(kind, str) or not kind.strip():
        raise ValueError("a timer's kind is a non-empty string")
    if key is None or str(key) == "":
        raise ValueError("a timer's key is a non-empty value")
    return kind, str(key)


def due_expression(due_at):
    """The SQL value of a due time: an aware datetime as given, or a
    timedelta counted from the transaction's `now()` (the clock the poller
    compares with)."""
    if isinstance(due_at, timedelta):
        return sa.func.now() + due_at
    if isinstance(due_at, datetime):
        if due_at.tzinfo is None or due_at.utcoffset() is None:
            raise ValueError("a timer's due time must be timezone-aware")
        return due_at
    raise TypeError(f"a timer is due at a datetime or after a timedelta, not {type(due_at).__name__}")


def retry_delay(attempts, base):
    """Seconds before the next attempt after `attempts` failed ones: base,
    2×base, 4×base… at most an hour."""
    return min(RETRY_CAP, float(base) * 2 ** max(0, attempts - 1))


def after_failure(attempts, max_attempts, base):
    """After the `attempts`-th attempt failed: ("retry", seconds to wait)
    while attempts remain, else ("failed", None)."""
    if attempts >= max_attempts:
        return "failed", None
    return "retry", retry_delay(attempts, base)


def error_text(exc):
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    text = f"{type(exc).__name__}: {message}" if message else type(exc).__name__
    return text[:ERROR_MAX_LENGTH]


def settings(environ=None):
    """(poll interval, retry base, max attempts) from the environment."""
    environ = os.environ if environ is None else environ
    poll = float(environ.get("TIMER_POLL", "1"))
    base = float(environ.get("TIMER_RETRY_BASE", "5"))
    attempts = int(environ.get("TIMER_MAX_ATTEMPTS", "8"))
    if poll <= 0 or base < 0 or attempts < 1:
        raise ValueError("TIMER_POLL must be > 0, TIMER_RETRY_BASE >= 0, TIMER_MAX_ATTEMPTS >= 1")
    return poll, base, attempts


# --- statements the unit of work runs (fieldwork_common.db.UnitOfWork) ---------------

def schedule(session, kind, key, due_at, payload=None):
    """Insert the timer, or move the one with the same (kind, key): new due
    time and payload, pending again with its attempts reset (whether it was
    pending, fired, cancelled or failed). Returns (id, created)."""
    kind, key = check_name(kind, key)
    due = due_expression(due_at)
    payload = dict(payload or {})
    statement = pg_insert(timers).values(kind=kind, key=key, due_at=due, next_attempt_at=due,
                                         payload=payload, status="pending", attempts=0)
    statement = statement.on_conflict_do_update(
        index_elements=[timers.c.kind, timers.c.key],
        set_={"due_at": statement.excluded.due_at,
              "next_attempt_at": statement.excluded.next_attempt_at,
              "payload": statement.excluded.payload, "status": "pending", "attempts": 0,
              "last_error": None, "fired_at": None, "updated_at": sa.func.now()})
    # xmax is 0 on a row this statement inserted, the updater's id otherwise
    row = session.execute(statement.returning(
        timers.c.id, sa.literal_column("xmax = 0").label("created"))).one()
    return row.id, bool(row.created)


def cancel(session, kind, key):
    """Cancel the timer unless it fired already; True if one was cancelled.
    A timer being fired right now is waited for (its row is locked), so the
    answer is never wrong: False means its handler's effects committed."""
    kind, key = check_name(kind, key)
    row = session.execute(
        timers.update()
        .where(timers.c.kind == kind, timers.c.key == key,
               timers.c.status.in_(("pending", "failed")))
        .values(status="cancelled", updated_at=sa.func.now())
        .returning(timers.c.id)).first()
    return row is not None


# --- the entrypoint and the poller ------------------------------------------------------

class TimerPoller(PollingLoop, SharedExtension):
    """One per service process, started by the service's `Database` (which
    gives it the engine): fires the due timers of the kinds the service
    handles. It polls every TIMER_POLL seconds while the service has at
    least one `@timer_handler`, and fires up to `concurrency` timers at a
    time, each in a transaction of its own."""

    concurrency = 4

    def __init__(self):
        # state here, not in setup(): handlers register during setup, in any order
        self._handlers = {}
        self._running = False
        self._thread = None
        self._wakeup = threading.Event()
        self.engine = None
        self.relay = None
        super().__init__()

    def configure(self, engine, service, relay, unit_of_work):
        """From `Database.setup()`: where timers live, the relay to wake when
        a handler published events, and how to make a unit of work."""
        self.engine = engine
        self.service = service
        self.relay = relay
        self.unit_of_work = unit_of_work

    def register(self, entrypoint):
        other = self._handlers.get(entrypoint.kind)
        if other is not None and other is not entrypoint:
            raise ValueError(f"two handlers for timers of kind {entrypoint.kind!r}: "
                             f"{other.method_name} and {entrypoint.method_name}")
        self._handlers[entrypoint.kind] = entrypoint

    def unregister(self, entrypoint):
        """An entrypoint stops (the container stops its entrypoints first):
        no new timer is fired, and the ones in flight finish."""
        self._handlers.pop(entrypoint.kind, None)
        if not self._handlers:
            self._halt()

    def setup(self):
        self.poll_interval, self.retry_base, self.max_attempts = settings()

    def start(self):
        if not self._handlers:
            return
        if self.engine is None:
            raise RuntimeError("timer handlers need the service's Database (fieldwork_common.db)")
        log.info("%s: timers of kind %s fired every %g s (retries from %g s, %d attempts)",
                 self.service, ", ".join(sorted(self._handlers)), self.poll_interval,
                 self.retry_base, self.max_attempts)
        self._running = True
        self.what = f"timers of {self.service}"
        self._thread = self.container.spawn_managed_thread(self._loop, identifier="timers")

    def stop(self):
        self._halt()

    def kill(self):
        self._running = False
        self._wakeup.set()

    def _halt(self):
        self._running = False
        self._wakeup.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.wait()

    def poll(self):
        self.fire_due()

    def fire_due(self):
        """Fire every timer due now; returns how many were handled (fired
        or failed an attempt)."""
        import eventlet
        kinds = sorted(self._handlers)
        if not kinds or not self.fire_next(kinds):
            return 0
        pool = eventlet.GreenPool(self.concurrency)
        drains = [pool.spawn(self._drain, kinds) for _ in range(self.concurrency)]
        return 1 + sum(gt.wait() for gt in drains)

    def _drain(self, kinds):
        handled = 0
        while self._running and self.fire_next(kinds):
            handled += 1
        return handled

    def fire_next(self, kinds):
        """Claim the next due timer of `kinds` that no one else holds, run
        its handler and commit; False when none is due."""
        from sqlalchemy.orm import Session
        with Session(self.engine, expire_on_commit=False) as session:
            with session.begin():
                row = session.execute(
                    sa.select(timers.c.id, timers.c.kind, timers.c.key, timers.c.due_at,
                              timers.c.payload, timers.c.attempts)
                    .where(timers.c.status == "pending", timers.c.next_attempt_at <= sa.func.now(),
                           timers.c.kind.in_(kinds))
                    .order_by(timers.c.next_attempt_at, timers.c.id).limit(1)
                    .with_for_update(skip_locked=True)).first()
                if row is None:
                    return False
                entrypoint = self._handlers.get(row.kind)
                if entrypoint is None:  # its entrypoint stopped meanwhile: leave it
                    return False
                attempt = row.attempts + 1
                session.execute(timers.update().where(timers.c.id == row.id).values(
                    status="fired", fired_at=sa.func.now(), attempts=attempt, last_error=None,
                    updated_at=sa.func.now()))
                timer = Timer(id=row.id, kind=row.kind, key=row.key, due_at=row.due_at,
                              payload=dict(row.payload or {}), attempt=attempt)
                correlation_id = f"timer:{row.kind}:{row.key}:{attempt}"
                uow = self.unit_of_work(session, self.service, correlation_id)
                mark = uow.mark()
                savepoint = session.begin_nested()
                error = self._run_handler(entrypoint, uow, timer, correlation_id)
                if error is None:
                    savepoint.commit()
                else:
                    savepoint.rollback()
                    uow.rollback_to(mark)
                    self._failed(session, timer, error)
        if uow.events and self.relay is not None:
            self.relay.wake()
        uow.run_after_commit()
        return True

    def _failed(self, session, timer, error):
        decision, delay = after_failure(timer.attempt, self.max_attempts, self.retry_base)
        values = {"status": "pending" if decision == "retry" else "failed", "fired_at": None,
                  "last_error": error_text(error), "updated_at": sa.func.now()}
        if decision == "retry":
            values["next_attempt_at"] = sa.func.now() + timedelta(seconds=delay)
            log.warning("timer %s %s (id %s) failed, attempt %d (%s); next attempt in %g s",
                        timer.kind, timer.key, timer.id, timer.attempt, values["last_error"], delay)
        else:
            log.error("timer %s %s (id %s) failed %d times (%s); left failed for an operator",
                      timer.kind, timer.key, timer.id, timer.attempt, values["last_error"])
        session.execute(timers.update().where(timers.c.id == timer.id).values(**values))

    def _run_handler(self, entrypoint, uow, timer, correlation_id):
        """Run the handler in a nameko worker (dependencies injected as for
        any entrypoint) and wait for it; the exception it raised, or None."""
        from eventlet.event import Event
        done = Event()

        def handle_result(worker_ctx, result, exc_info):
            done.send(exc_info[1] if exc_info else None)
            return result, exc_info
        self.container.spawn_worker(entrypoint, (uow, timer), {},
                                    context_data={"correlation_id": correlation_id},
                                    handle_result=handle_result)
        return done.wait()


class TimerHandler(Entrypoint):
    """`@timer_handler("survey.due")` on a service method `(self, uow, timer)`."""

    poller = TimerPoller()

    def __init__(self, kind, **kwargs):
        check_name(kind, "-")
        self.kind = kind
        super().__init__(**kwargs)

    def setup(self):
        self.poller.register(self)

    def stop(self):
        self.poller.unregister(self)

    def kill(self):
        self.poller.kill()


timer_handler = TimerHandler.decorator


# --- operators: python -m fieldwork_common.timers -----------------------------------------

FIELDS = ("id", "kind", "key", "status", "due_at", "next_attempt_at", "attempts", "last_error",
          "payload", "created_at", "fired_at")


def _json_ready(row):
    out = {}
    for name in FIELDS:
        value = getattr(row, name)
        if isinstance(value, datetime):
            value = value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")
        out[name] = value
    return out


def main(argv=None, out=sys.stdout):
    """`list SERVICE [--status S] [--kind K] [--limit N]` (JSON lines, the
    next due first) and `retry SERVICE ID [ID ...]` (a failed timer pending
    again now, its attempts reset)."""
    from sqlalchemy.pool import NullPool

    from fieldwork_common import config
    from fieldwork_common.pg import create_engine
    parser = argparse.ArgumentParser(prog="python -m fieldwork_common.timers")
    commands = parser.add_subparsers(dest="command", required=True)
    listing = commands.add_parser("list")
    listing.add_argument("service")
    listing.add_argument("--status", choices=STATUSES)
    listing.add_argument("--kind")
    listing.add_argument("--limit", type=int, default=50)
    retry = commands.add_parser("retry")
    retry.add_argument("service")
    retry.add_argument("ids", nargs="+", type=int)
    args = parser.parse_args(argv)
    engine = create_engine(config.database_url(args.service), poolclass=NullPool)
    try:
        with engine.begin() as conn:
            if args.command == "list":
                query = sa.select(timers).order_by(timers.c.next_attempt_at, timers.c.id)
                if args.status:
                    query = query.where(timers.c.status == args.status)
                if args.kind:
                    query = query.where(timers.c.kind == args.kind)
                for row in conn.execute(query.limit(max(1, args.limit))):
                    print(json.dumps(_json_ready(row)), file=out)
                return 0
            missing = 0
            for timer_id in args.ids:
                found = conn.execute(
                    timers.update().where(timers.c.id == timer_id, timers.c.status == "failed")
                    .values(status="pending", attempts=0, next_attempt_at=sa.func.now(),
                            updated_at=sa.func.now())
                    .returning(timers.c.id)).first() is not None
                missing += not found
                print(json.dumps({"id": timer_id, "retry": found}), file=out)
            return 1 if missing else 0
    finally:
        engine.dispose()


if __name__ == "__main__":
    sys.exit(main())
