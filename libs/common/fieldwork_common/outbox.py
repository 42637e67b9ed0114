"""Transactional outbox and inbox.

`outbox` holds every event a service produced, written in the transaction of
the change it describes; `OutboxRelay` publishes unsent rows in order, with
publisher confirms and persistent delivery, and marks them sent only after
the broker confirmed. A row published but not marked (a crash between the
two) is published again: consumers dedupe on `event_id` through `inbox`.
The outbox is kept after publishing: it is the service's event log.
"""
import logging
import threading

import sqlalchemy as sa
from kombu import Connection, Exchange
from nameko.extensions import Extension
from sqlalchemy.dialects.postgresql import JSONB, UUID

from fieldwork_common import config
from fieldwork_common.envelope import exchange_name
from fieldwork_common.pg import lock_key
from fieldwork_common.polling import PollingLoop

log = logging.getLogger(__name__)

metadata = sa.MetaData()

outbox = sa.Table(
    "outbox", metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("event_id", UUID(as_uuid=False), nullable=False, unique=True),
    sa.Column("event_type", sa.Text, nullable=False),
    sa.Column("aggregate_id", sa.Text, nullable=False),
    sa.Column("envelope", JSONB, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.Column("published_at", sa.DateTime(timezone=True)),
)

inbox = sa.Table(
    "inbox", metadata,
    sa.Column("event_id", UUID(as_uuid=False), primary_key=True),
    sa.Column("consumer", sa.Text, primary_key=True),
    sa.Column("handled_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
)

idempotency_keys = sa.Table(
    "idempotency_keys", metadata,
    sa.Column("key", sa.Text, primary_key=True),
    sa.Column("request_hash", sa.Text),
    sa.Column("response", JSONB),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
)


def create_messaging_tables(op):
    """Called from each service's first Alembic migration."""
    op.create_table(
        "outbox",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("event_id", UUID(as_uuid=False), nullable=False, unique=True),
        sa.Column("event_type", sa.Text, nullable=False),
        sa.Column("aggregate_id", sa.Text, nullable=False),
        sa.Column("envelope", JSONB, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("published_at", sa.DateTime(timezone=True)),
    )
    op.create_index("outbox_unpublished", "outbox", ["id"],
                    postgresql_where=sa.text("published_at IS NULL"))
    op.create_index("outbox_aggregate", "outbox", ["aggregate_id", "id"])
    op.create_table(
        "inbox",
        sa.Column("event_id", UUID(as_uuid=False), primary_key=True),
        sa.Column("consumer", sa.Text, primary_key=True),
        sa.Column("handled_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )
    op.create_table(
        "idempotency_keys",
        sa.Column("key", sa.Text, primary_key=True),
        sa.Column("request_hash", sa.Text),
        sa.Column("response", JSONB),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )


class OutboxRelay(PollingLoop, Extension):
    """Publishes the outbox. One relay at a time per database holds a
    transaction-scoped advisory lock while it publishes a batch, which keeps
    the order of events across replicas; the others find the lock taken
    and wait for their next turn."""

    batch_size = 200

    def configure(self, engine, service):
        self.engine = engine
        self.service = service

    def setup(self):
        self._wakeup = threading.Event()
        self._running = False
        self._connection = None

    def start(self):
        # configure() ran during the Database's setup(), which may finish
        # after ours: the exchange is known only now.
        self.exchange = Exchange(exchange_name(self.service), type="topic", durable=True)
        self._running = True
        self.what = f"outbox relay of {self.service}"
        self._thread = self.container.spawn_managed_thread(self._loop)

    def stop(self):
        self._running = False
        self._wakeup.set()
        thread = getattr(self, "_thread", None)
        if thread is not None:
            thread.wait()
        self._close()

    def kill(self):
        self._running = False
        self._wakeup.set()
        self._close()

    def wake(self):
        self._wakeup.set()

    def poll(self):
        while self._running and self.publish_pending() == self.batch_size:
            pass

    def after_failure(self):
        self._close()

    def _producer(self):
        if self._connection is None:
            self._connection = Connection(config.amqp_uri(),
                                          transport_options={"confirm_publish": True})
            self._connection.ensure_connection(max_retries=1)
            channel = self._connection.channel()
            self.exchange(channel).declare()
            self._producer_obj = self._connection.Producer(channel=channel, serializer="json")
        return self._producer_obj

    def _close(self):
        if self._connection is not None:
            try:
                self._connection.release()
            except Exception:
                pass
            self._connection = None

    def publish_pending(self):
        """Publish one batch; returns how many rows it published."""
        with self.engine.connect() as conn:
            with conn.begin():
                got = conn.execute(sa.select(sa.func.pg_try_advisory_xact_lock(
                    sa.literal(_relay_lock_key(self.service))))).scalar()
                if not got:
                    return 0
                rows = conn.execute(
                    sa.select(outbox.c.id, outbox.c.event_type, outbox.c.envelope)
                    .where(outbox.c.published_at.is_(None))
                    .order_by(outbox.c.id).limit(self.batch_size)).all()
                if not rows:
                    return 0
                producer = self._producer()
                for row in rows:
                    producer.publish(
                        row.envelope, exchange=self.exchange, routing_key=row.event_type,
                        delivery_mode=2,
                        message_id=row.envelope["event_id"],
                        headers={"nameko.correlation_id": row.envelope.get("correlation_id")})
                conn.execute(outbox.update().where(outbox.c.id.in_([r.id for r in rows]))
                             .values(published_at=sa.func.now()))
                return len(rows)


def _relay_lock_key(service):
    return lock_key(f"fieldwork:relay:{service}")
