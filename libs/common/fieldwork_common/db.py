"""Database access for a nameko service: one PostgreSQL database per service,
created if missing and migrated with Alembic when the service starts, safely
when several replicas start at once (PostgreSQL advisory locks serialise
them).

`Database` is a nameko DependencyProvider: one engine per container (made in
`setup()`), and for each worker a `Db` handle whose `unit_of_work()` commits
the state change, the events it produced (the outbox) and the timers it set
(`fieldwork_common.timers`) in one transaction, then wakes the relay that
publishes the events. It also starts the service's timer poller.
"""
import logging
import os
import time
from contextlib import contextmanager

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from nameko.extensions import DependencyProvider
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from fieldwork_common import config
from fieldwork_common.envelope import make_envelope
from fieldwork_common.errors import Conflict, Unavailable
from fieldwork_common.pg import create_engine, engine_url, lock_key  # noqa: F401  (callers use db.*)
from fieldwork_common.outbox import OutboxRelay, idempotency_keys, inbox, outbox
from fieldwork_common.timers import TimerPoller
from fieldwork_common.timers import cancel as cancel_timer_row
from fieldwork_common.timers import schedule as schedule_timer_row

log = logging.getLogger(__name__)


def ensure_database(url):
    """Create the database named in `url` if it does not exist yet."""
    url = engine_url(url)
    server = sa.create_engine(url.set(database="postgres"), poolclass=NullPool,
                              isolation_level="AUTOCOMMIT")
    try:
        with server.connect() as conn:
            key = lock_key("fieldwork:create-database")
            conn.execute(sa.text("SELECT pg_advisory_lock(:k)"), {"k": key})
            try:
                exists = conn.execute(
                    sa.text("SELECT 1 FROM pg_database WHERE datname = :n"),
                    {"n": url.database}).scalar()
                if not exists:
                    # identifiers cannot be bound parameters; quote it ourselves
                    conn.execute(sa.text('CREATE DATABASE "%s"' % url.database.replace('"', '""')))
                    log.info("created database %s", url.database)
            finally:
                conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": key})
    finally:
        server.dispose()


def migrate(url, script_location):
    """Apply Alembic migrations up to head, one replica at a time."""
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            key = lock_key("fieldwork:migrate")
            conn.execute(sa.text("SELECT pg_advisory_lock(:k)"), {"k": key})
            conn.commit()
            try:
                cfg = Config()
                cfg.set_main_option("script_location", script_location)
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, "head")
                conn.commit()
            finally:
                conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                conn.commit()
    finally:
        engine.dispose()


def prepare_database(service, script_location):
    url = config.database_url(service)
    ensure_database(url)
    migrate(url, script_location)
    return url


def run_alembic_env():
    """Body of every service's migrations/env.py: run on the connection that
    `migrate()` holds (it owns the advisory lock)."""
    from alembic import context
    context.configure(connection=context.config.attributes["connection"])
    with context.begin_transaction():
        context.run_migrations()


class Stored:
    """A response stored under an idempotency key."""

    def __init__(self, response):
        self.response = response


class UnitOfWork:
    """One database transaction. Events recorded with `publish()` are
    written to the outbox in the same transaction, and timers set with
    `schedule()` / `cancel_timer()` in the timers table, so they exist if
    and only if the change they describe was committed."""

    def __init__(self, session, producer, correlation_id):
        self.session = session
        self.producer = producer
        self.correlation_id = correlation_id
        self.events = []
        self._after_commit = []

    def publish(self, event_type, aggregate_id, data, event_version=1):
        envelope = make_envelope(self.producer, event_type, aggregate_id, data,
                                 correlation_id=self.correlation_id,
                                 event_version=event_version)
        self.session.execute(outbox.insert().values(
            event_id=envelope["event_id"], event_type=event_type,
            aggregate_id=str(aggregate_id), envelope=envelope))
        self.events.append(envelope)
        return envelope

    def schedule(self, kind, key, due_at, payload=None):
        """Set the timer (kind, key) due at `due_at` (an aware datetime, or a
        timedelta from the transaction's now), or move it if it exists:
        its handler (`@timer_handler(kind)`) runs once, in a transaction of
        its own, when it is due. Returns the timer's id."""
        timer_id, _ = schedule_timer_row(self.session, kind, key, due_at, payload)
        return timer_id

    def cancel_timer(self, kind, key):
        """Cancel the timer (kind, key); False if there is none or it has
        fired already (its effects are committed)."""
        return cancel_timer_row(self.session, kind, key)

    def after_commit(self, action):
        """Run `action()` once this transaction has committed (never if it
        rolls back). For what cannot be in the transaction (an SMTP send);
        it must have a durable fallback, since a crash right after the
        commit skips it. An action that raises is logged, not raised."""
        self._after_commit.append(action)

    def mark(self):
        """Where the events and after-commit actions stand, for
        `rollback_to()` after a savepoint was rolled back."""
        return len(self.events), len(self._after_commit)

    def rollback_to(self, mark):
        events, actions = mark
        del self.events[events:]
        del self._after_commit[actions:]

    def run_after_commit(self):
        actions, self._after_commit = self._after_commit, []
        for action in actions:
            try:
                action()
            except Exception:
                log.exception("an after-commit action failed (the transaction is committed)")

    def claim(self, key, request_hash):
        """Take an idempotency key for this transaction. Returns None when
        the key is new (the command runs), else the stored response of the
        command that used it first. A concurrent call with the same key
        waits here until the first one commits or rolls back."""
        inserted = self.session.execute(
            sa.dialects.postgresql.insert(idempotency_keys)
            .values(key=key, request_hash=request_hash)
            .on_conflict_do_nothing()
            .returning(idempotency_keys.c.key)).first()
        if inserted is not None:
            return None
        row = self.session.execute(
            sa.select(idempotency_keys.c.request_hash, idempotency_keys.c.response)
            .where(idempotency_keys.c.key == key)).one()
        if request_hash and row.request_hash and row.request_hash != request_hash:
            raise Conflict("This Idempotency-Key was used for a different request.",
                           {"reason": "idempotency_key_reused"})
        return Stored(row.response)

    def remember(self, key, response):
        self.session.execute(idempotency_keys.update().where(idempotency_keys.c.key == key)
                             .values(response=response))

    def first_time(self, envelope, consumer):
        """Record that `consumer` handled this event; False if it already
        had (a redelivery), in which case the caller must do nothing."""
        inserted = self.session.execute(
            sa.dialects.postgresql.insert(inbox)
            .values(event_id=envelope["event_id"], consumer=consumer)
            .on_conflict_do_nothing()
            .returning(inbox.c.event_id)).first()
        return inserted is not None


class CallContext:
    """What the caller said about this call, beyond its arguments: an
    idempotency key (with a hash of the request it was first used for) and
    a deadline after which the caller no longer waits for the answer."""

    def __init__(self, idempotency_key=None, request_hash=None, deadline=None):
        self.idempotency_key = idempotency_key
        self.request_hash = request_hash
        self.deadline = deadline

    @classmethod
    def from_context_data(cls, data):
        deadline = data.get("deadline")
        try:
            deadline = float(deadline) if deadline is not None else None
        except (TypeError, ValueError):
            deadline = None
        return cls(data.get("idempotency_key"), data.get("request_hash"), deadline)

    def expired(self, now=None):
        return self.deadline is not None and (now or time.time()) > self.deadline


class Db:
    """What a worker gets: sessions and units of work on the service's
    database. Connection failures surface as `Unavailable` (HTTP 503 at the
    gateway) rather than as a raw driver error."""

    def __init__(self, engine, producer, correlation_id, relay, call=None):
        self.engine = engine
        self.producer = producer
        self.correlation_id = correlation_id
        self.relay = relay
        self.call = call or CallContext()

    @contextmanager
    def session(self):
        with translate_db_errors(), Session(self.engine, expire_on_commit=False) as session:
            yield session

    @contextmanager
    def unit_of_work(self):
        with translate_db_errors(), Session(self.engine, expire_on_commit=False) as session:
            uow = UnitOfWork(session, self.producer, self.correlation_id)
            with session.begin():
                yield uow
        if uow.events and self.relay is not None:
            self.relay.wake()
        uow.run_after_commit()

    def ping(self):
        with self.session() as session:
            session.execute(sa.text("SELECT 1"))
        return True


@contextmanager
def translate_db_errors():
    """A lost or refused database connection becomes `Unavailable` (503),
    never a raw driver error (500)."""
    try:
        yield
    except DBAPIError as exc:
        if exc.connection_invalidated or isinstance(exc, sa.exc.OperationalError):
            log.warning("database unavailable: %s", exc.__class__.__name__)
            raise Unavailable("The service's database is not reachable; try again shortly.") from None
        raise


class Database(DependencyProvider):
    """nameko dependency: `db = Database("interventions", "fieldwork_interventions:migrations")`."""

    relay = OutboxRelay()
    timers = TimerPoller()  # fires the service's @timer_handler methods

    def __init__(self, service, script_location, pool_size=10):
        self.service = service
        self.script_location = script_location
        self.pool_size = pool_size

    def setup(self):
        url = prepare_database(self.service, self.script_location)
        # application_name shows who holds each connection in pg_stat_activity
        self.engine = create_engine(url, pool_size=self.pool_size, max_overflow=5,
                                    pool_pre_ping=True, pool_recycle=300,
                                    connect_args={"application_name": f"fieldwork-{self.service}-{os.getpid()}"})
        self.relay.configure(self.engine, self.service)
        self.timers.configure(self.engine, self.service, self.relay, UnitOfWork)

    def stop(self):
        self.engine.dispose()

    def get_dependency(self, worker_ctx):
        correlation_id = worker_ctx.data.get("correlation_id") or worker_ctx.call_id
        return Db(self.engine, self.service, correlation_id, self.relay,
                  CallContext.from_context_data(worker_ctx.data))
