"""Event handlers with bounded, delayed retries and a dead-letter queue.

`event_handler(source_service, event_type)` is nameko's SERVICE_POOL event
handler (same queue, `evt-<source>-<event_type>--<service>.<method>`,
durable), with a different end for a handler that raises. nameko acks such
a message and it is gone (or, with `requeue_on_error`, redelivers it at once
and forever). Here:

1. the handler succeeds: the message is acked;
2. it fails, retry n of N not used yet: a copy (same body and properties,
   headers plus `x-fieldwork-attempt` = n, `x-fieldwork-queue` = this
   queue, `x-fieldwork-error` = "Type: message") is published, with
   publisher confirms and persistent delivery, to the delay queue
   `<service>.retry.<ms>` of delay n (RETRY_DELAYS, e.g. 1,2,4 s); then
   the original is acked. When the copy's TTL expires RabbitMQ dead-letters
   it to the headers exchange `<service>.redeliver`, which routes it back to
   exactly the queue named by `x-fieldwork-queue`. Meanwhile later messages
   keep flowing;
3. it fails after the N-th retry: the copy goes to `<service>.dead-letters`
   with headers that describe it (original exchange and routing key, queue,
   attempts, last error, times), then the original is acked. An operator
   lists and replays dead letters (`fieldwork_common.deadletters`).

A failure is never turned into a loss: if publishing the copy fails, the
original is requeued instead of acked. A crash between the confirmed
publish and the ack delivers the message twice, which idempotent consumers
(the inbox) absorb.

`Topology()` is a dependency every service declares: at start it declares
the whole topology of `fieldwork_common.topology` (so that events published
before a subscriber's first start wait in its queue), and in a worker it
gives the dead-letter operations of its service.
"""
import logging

import eventlet
from kombu import Connection, Producer
from nameko.constants import AMQP_URI_CONFIG_KEY
from nameko.events import SERVICE_POOL
from nameko.events import EventHandler as NamekoEventHandler
from nameko.extensions import DependencyProvider, SharedExtension

from fieldwork_common import topology
from fieldwork_common.rpc import BROKER_ERRORS
from fieldwork_common.envelope import rfc3339, utc_now

log = logging.getLogger(__name__)

ATTEMPT = "x-fieldwork-attempt"            # retry number of this copy, 1..N
QUEUE = topology.QUEUE_HEADER              # the queue it failed in
ERROR = "x-fieldwork-error"                # last error, "Type: message"
FAILED_AT = "x-fieldwork-failed-at"        # RFC 3339 time of every failure
ORIGINAL_EXCHANGE = "x-fieldwork-original-exchange"
ORIGINAL_ROUTING_KEY = "x-fieldwork-original-routing-key"
ATTEMPTS = "x-fieldwork-attempts"          # dead letter: handling attempts in all
DEAD_LETTERED_AT = "x-fieldwork-dead-lettered-at"
REPLAYS = "x-fieldwork-replays"            # how many times an operator replayed it
REPLAYED_AT = "x-fieldwork-replayed-at"

#: Headers RabbitMQ adds when it dead-letters (here: a retry expiring).
BROKER_HEADERS = ("x-death", "x-first-death-exchange", "x-first-death-queue",
                  "x-first-death-reason", "x-last-death-exchange", "x-last-death-queue",
                  "x-last-death-reason")
#: What a replay resets: the attempt bookkeeping.
ATTEMPT_HEADERS = (ATTEMPT, QUEUE, ERROR, FAILED_AT, ATTEMPTS, DEAD_LETTERED_AT)
#: Message properties a copy keeps (never `expiration` nor `user_id`).
COPIED_PROPERTIES = ("message_id", "correlation_id", "type", "app_id", "timestamp",
                     "reply_to", "priority")

ERROR_MAX_LENGTH = 300
CONFIRM_TIMEOUT = 10.0
REQUEUE_PAUSE = 1.0   # before requeueing after a failed copy: no hot loop


# --- pure bookkeeping (unit-tested without a broker) -------------------------

def error_text(exc_info):
    """A short "Type: message" for a header (first line, bounded)."""
    exc = exc_info[1] if isinstance(exc_info, tuple) else exc_info
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    text = f"{type(exc).__name__}: {message}" if message else type(exc).__name__
    return text[:ERROR_MAX_LENGTH]


def attempt_of(headers):
    """The retry number carried by a message; 0 for a first delivery."""
    try:
        return max(0, int((headers or {}).get(ATTEMPT, 0)))
    except (TypeError, ValueError):
        return 0


def next_step(attempt, delays):
    """After a failure of delivery `attempt` (0 = first): ("retry", delay)
    while retries remain, else ("dead", None)."""
    if attempt < len(delays):
        return "retry", delays[attempt]
    return "dead", None


def _carried(headers, delivery_info, error, now):
    """What every copy carries forward from a failed delivery."""
    carried = {k: v for k, v in (headers or {}).items() if k not in BROKER_HEADERS}
    delivery_info = delivery_info or {}
    carried.setdefault(ORIGINAL_EXCHANGE, delivery_info.get("exchange") or "")
    carried.setdefault(ORIGINAL_ROUTING_KEY, delivery_info.get("routing_key") or "")
    carried[FAILED_AT] = [*list(carried.get(FAILED_AT) or []), now]
    carried[ERROR] = error
    return carried


def retry_headers(headers, *, queue, delivery_info, error, now):
    """Headers of the copy sent to a delay queue."""
    result = _carried(headers, delivery_info, error, now)
    result[ATTEMPT] = attempt_of(headers) + 1
    result[QUEUE] = queue
    return result


def dead_letter_headers(headers, *, queue, delivery_info, error, now):
    """Headers of the copy sent to `<service>.dead-letters`."""
    result = _carried(headers, delivery_info, error, now)
    result[ATTEMPT] = attempt_of(headers)
    result[ATTEMPTS] = attempt_of(headers) + 1
    result[QUEUE] = queue
    result[DEAD_LETTERED_AT] = now
    return result


def replay_headers(headers, now):
    """Headers of a dead letter sent back to its queue: attempts start over."""
    result = {k: v for k, v in (headers or {}).items()
              if k not in ATTEMPT_HEADERS and k not in BROKER_HEADERS}
    try:
        replays = int(result.get(REPLAYS, 0))
    except (TypeError, ValueError):
        replays = 0
    result[REPLAYS] = replays + 1
    result[REPLAYED_AT] = now
    return result


def copied_properties(message):
    properties = message.properties or {}
    return {k: properties[k] for k in COPIED_PROPERTIES if properties.get(k) is not None}


# --- publishing from a worker ------------------------------------------------

class ConfirmedPublisher:
    """Publishes raw copies to the default exchange with publisher confirms,
    persistent delivery and `mandatory` (an unroutable copy is an error, not
    a silent drop). Each green thread uses a connection of its own, taken
    from a small idle list; a connection that failed is discarded, since its
    channel state is unknown, and the publish is tried once more on a fresh
    one (which declares `entities` first)."""

    def __init__(self, amqp_uri, entities=()):
        self.amqp_uri = amqp_uri
        self.entities = list(entities)
        self._idle = []

    def _connect(self):
        conn = Connection(self.amqp_uri, transport_options={"confirm_publish": True},
                          connect_timeout=5, heartbeat=0)
        try:
            conn.ensure_connection(max_retries=1)
            if self.entities:
                topology.declare_entities(conn.default_channel, self.entities)
        except BaseException:
            _release(conn)
            raise
        return conn

    def publish(self, body, routing_key, **kwargs):
        error = None
        for _ in range(2):
            conn = self._idle.pop() if self._idle else None
            try:
                conn = conn or self._connect()
                Producer(conn.default_channel).publish(
                    body, exchange="", routing_key=routing_key, delivery_mode=2,
                    mandatory=True, retry=False, confirm_timeout=CONFIRM_TIMEOUT, **kwargs)
            except Exception as exc:  # connection lost, unroutable, nacked, timeout
                error = exc
                if conn is not None:
                    _release(conn)
                continue
            self._idle.append(conn)
            return
        raise error

    def close(self):
        while self._idle:
            _release(self._idle.pop())


def _release(conn):
    try:
        conn.release()
    except Exception:
        pass


class RetryPublisher(SharedExtension):
    """One per container: the retry schedule of the service, its retry
    machinery declared at setup, and the publisher of failed copies."""

    def setup(self):
        config = self.container.config
        self.service = self.container.service_name
        self.delays = topology.retry_delays(config)
        self.amqp_uri = config[AMQP_URI_CONFIG_KEY]
        entities = topology.service_entities(self.service, self.delays)
        with topology.connect(self.amqp_uri) as conn, conn.channel() as channel:
            topology.declare_entities(channel, entities)
        self.publisher = ConfirmedPublisher(self.amqp_uri, entities)
        log.info("%s: event handlers retry after %s s, then dead-letter to %s", self.service,
                 ", ".join(f"{d:g}" for d in self.delays),
                 topology.dead_letter_queue_name(self.service))

    def stop(self):
        self.publisher.close()

    def kill(self):
        self.publisher.close()

    def publish(self, body, routing_key, **kwargs):
        self.publisher.publish(body, routing_key, **kwargs)


# --- the entrypoint ------------------------------------------------------------

class EventHandler(NamekoEventHandler):
    """nameko's SERVICE_POOL EventHandler with bounded, delayed retries and a
    dead-letter queue (see the module's docstring)."""

    retry_publisher = RetryPublisher()

    def __init__(self, source_service, event_type, **kwargs):
        for option, allowed in (("handler_type", SERVICE_POOL), ("reliable_delivery", True),
                                ("requeue_on_error", False)):
            if kwargs.pop(option, allowed) != allowed:
                raise ValueError(f"fieldwork event_handler supports only {option}={allowed!r}")
        super().__init__(source_service, event_type, handler_type=SERVICE_POOL,
                         reliable_delivery=True, requeue_on_error=False, **kwargs)

    def setup(self):
        super().setup()  # nameko's queue name; registers with the queue consumer
        queue = topology.subscriber_queue(self.source_service, self.event_type,
                                          self.container.service_name, self.method_name)
        assert queue.name == self.queue.name, (queue.name, self.queue.name)
        self.queue = queue

    def unpack_message_headers(self, message):
        """The worker's context: nameko's headers, not the broker's or the
        retry bookkeeping (they would travel on with every call it makes)."""
        return {k: v for k, v in super().unpack_message_headers(message).items()
                if not k.startswith("x-")}

    def handle_message_processed(self, message, result=None, exc_info=None):
        if exc_info is None:
            self._ack(message)
            return
        try:
            self.send_to_retry(message, exc_info)
        except Exception:
            log.exception("could not set aside a failed message of %s; requeueing it",
                          self.queue.name)
            eventlet.sleep(REQUEUE_PAUSE)
            try:
                self.queue_consumer.requeue_message(message)
            except BROKER_ERRORS:
                pass  # the connection is gone: the broker requeues it itself
            return
        self._ack(message)

    def _ack(self, message):
        """nameko's ack lets a broken pipe escape and kill the service; the
        broker redelivers an unacked message, and the inbox makes that
        harmless."""
        try:
            self.queue_consumer.ack_message(message)
        except BROKER_ERRORS as exc:
            log.warning("could not ack a message of %s (%s); the broker will redeliver it",
                        self.queue.name, type(exc).__name__)

    def send_to_retry(self, message, exc_info):
        """Publish the failed message's copy to its delay queue, or to the
        dead letters after the last retry; raises if it was not confirmed."""
        service = self.container.service_name
        headers = dict(message.headers or {})
        error = error_text(exc_info)
        now = rfc3339(utc_now())
        step, delay = next_step(attempt_of(headers), self.retry_publisher.delays)
        common = dict(queue=self.queue.name, delivery_info=message.delivery_info,
                      error=error, now=now)
        if step == "retry":
            new_headers = retry_headers(headers, **common)
            routing_key = topology.retry_queue_name(service, delay)
            log.warning("%s failed (%s); retry %d in %g s", self.queue.name, error,
                        new_headers[ATTEMPT], delay)
        else:
            new_headers = dead_letter_headers(headers, **common)
            routing_key = topology.dead_letter_queue_name(service)
            log.error("%s failed %d times (%s); dead-lettered to %s", self.queue.name,
                      new_headers[ATTEMPTS], error, routing_key)
        self.retry_publisher.publish(
            message.body, routing_key, headers=new_headers,
            content_type=message.content_type, content_encoding=message.content_encoding,
            **copied_properties(message))


event_handler = EventHandler.decorator


# --- the topology dependency and the operators' helpers ----------------------

class DeadLetters:
    """What `Topology` gives a worker: its service's dead letters."""

    def __init__(self, service, amqp_uri):
        self.service = service
        self.amqp_uri = amqp_uri

    def list(self):
        return rpc_list_dead_letters(self.service, self.amqp_uri)

    def replay(self, ids):
        return rpc_replay_dead_letters(self.service, self.amqp_uri, ids)


class Topology(DependencyProvider):
    """`topology = Topology()` in a service: declares the system's whole
    topology when the service starts."""

    def setup(self):
        config = self.container.config
        self.amqp_uri = config[AMQP_URI_CONFIG_KEY]
        declared = topology.declare(self.amqp_uri, topology.retry_delays(config))
        log.info("%s: declared %d exchanges and queues", self.container.service_name,
                 len(declared))

    def get_dependency(self, worker_ctx):
        return DeadLetters(self.container.service_name, self.amqp_uri)


def rpc_list_dead_letters(service_name, amqp_uri):
    """For an RPC method: the dead letters of `service_name` (JSON-ready)."""
    from fieldwork_common import deadletters
    return deadletters.list_dead_letters(amqp_uri, service_name)


def rpc_replay_dead_letters(service_name, amqp_uri, ids):
    """For an RPC method: replay the dead letters whose id is in `ids` (a
    list), or every one when `ids == "all"`. An empty or missing list
    replays nothing."""
    from fieldwork_common import deadletters
    if ids == "all":
        return deadletters.replay(amqp_uri, service_name, ids=None)
    if not isinstance(ids, (list, tuple)):
        from fieldwork_common.errors import InvalidInput
        raise InvalidInput('ids must be a list of dead-letter ids or "all".', {"ids": repr(ids)})
    if not ids:
        return {"replayed": [], "not_found": [], "failed": [], "remaining": None}
    return deadletters.replay(amqp_uri, service_name, ids=list(ids))


__all__ = ["event_handler", "EventHandler", "Topology", "rpc_list_dead_letters",
           "rpc_replay_dead_letters"]
