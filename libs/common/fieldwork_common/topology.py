"""The declared AMQP topology of Fieldwork: every exchange, queue and binding
the services rely on, declared up front so that nothing depends on which
service happened to start first.

nameko declares an event handler's queue only when the handler starts, so an
event published before its subscriber's first start is routed nowhere and
lost. Here the subscriptions are configuration: `SUBSCRIPTIONS` lists every
(source service, event type, subscribing service, handler method) in the
system, and `declare()` creates, idempotently,

- `<service>.events`: each service's topic exchange (durable), as nameko and
  the outbox relay declare it;
- each subscriber queue `evt-<source>-<event_type>--<service>.<method>`
  (durable, not auto-delete, no arguments: exactly what nameko declares, so
  existing queues stay compatible), bound to the source's exchange with the
  event type, and to `<service>.redeliver`;
- per subscribing service, the retry machinery of `fieldwork_common.consumer`:
  the `headers` exchange `<service>.redeliver`, one delay queue per delay
  level `<service>.retry.<ms>` (`x-message-ttl`, dead-lettered to
  `<service>.redeliver`), and the queue `<service>.dead-letters`.

Every service declares it when it starts (`consumer.Topology`), and
`python -m fieldwork_common.topology` declares it once for a deployment (the
one-shot `topology` step of docker-compose.yml). The consumer builds its queue
with `subscriber_queue()` below, so the two declarations are identical (a
difference would make RabbitMQ answer PRECONDITION_FAILED).
"""
import argparse
import json
import logging
import os
import sys
from dataclasses import dataclass

from kombu import Connection, Exchange, Queue, binding

log = logging.getLogger(__name__)

#: Every nameko service; each publishes on its own `<service>.events`.
SERVICES = ("requests", "interventions", "timeclock", "notifications")

#: Header that names the queue a message failed in; `<service>.redeliver`
#: routes an expired retry back to exactly that queue.
QUEUE_HEADER = "x-fieldwork-queue"

#: RabbitMQ's headers exchange ignores binding arguments starting with `x-`
#: under `x-match: all` (every binding would match every message);
#: `all-with-x` (RabbitMQ >= 3.10) matches them too.
REDELIVER_MATCH = "all-with-x"

#: Retry delays in seconds when neither the nameko config nor the
#: environment sets RETRY_DELAYS: 6 retries over about a minute.
DEFAULT_RETRY_DELAYS = (1.0, 2.0, 4.0, 8.0, 16.0, 32.0)


@dataclass(frozen=True)
class Subscription:
    source: str       # the service that publishes the event
    event_type: str   # routing key on `<source>.events`
    service: str      # the subscribing service
    method: str       # its handler method

    @property
    def queue(self):
        return queue_name(self.source, self.event_type, self.service, self.method)


#: Every `@event_handler` in the system. A test checks this list against
#: the services' entrypoints; add a line here with each new handler.
SUBSCRIPTIONS = (
    Subscription("interventions", "intervention.created", "notifications", "on_intervention_created"),
    Subscription("interventions", "intervention.closed", "notifications", "on_intervention_closed"),
    Subscription("interventions", "intervention.delivered", "notifications", "on_intervention_delivered"),
    Subscription("interventions", "intervention.reopened", "notifications", "on_intervention_reopened"),
    Subscription("interventions", "visit.declared", "notifications", "on_visit_declared"),
    Subscription("interventions", "visit.disputed", "notifications", "on_visit_disputed"),
    Subscription("interventions", "visit.dispute_refused", "notifications", "on_visit_dispute_refused"),
    Subscription("interventions", "visit.arbitrated", "notifications", "on_visit_arbitrated"),
    Subscription("interventions", "visit.reminder", "notifications", "on_visit_reminder"),
    Subscription("timeclock", "incident.declared", "notifications", "on_incident_declared"),
    Subscription("timeclock", "incident.updated", "notifications", "on_incident_updated"),
    Subscription("timeclock", "conversation.message_posted", "notifications", "on_conversation_message_posted"),
    Subscription("requests", "request.created", "notifications", "on_request_created"),
    Subscription("requests", "request.action_added", "notifications", "on_request_action_added"),
    Subscription("requests", "request.closed", "notifications", "on_request_closed"),
    Subscription("requests", "request.reopened", "notifications", "on_request_reopened"),
    Subscription("interventions", "company.created", "notifications", "on_company_created"),
    Subscription("interventions", "company.updated", "notifications", "on_company_updated"),
    Subscription("interventions", "intervention.created", "requests", "on_intervention_created"),
    Subscription("interventions", "intervention.created", "timeclock", "on_intervention_created"),
    Subscription("interventions", "intervention.assigned", "requests", "on_intervention_assigned"),
    Subscription("interventions", "intervention.step_changed", "requests", "on_intervention_step_changed"),
    Subscription("interventions", "intervention.reopened", "requests", "on_intervention_reopened"),
    Subscription("interventions", "intervention.state_changed", "requests", "on_intervention_state_changed"),
    Subscription("interventions", "intervention.assigned", "timeclock", "on_intervention_assigned"),
    Subscription("interventions", "visit.planned", "timeclock", "on_visit_planned"),
    Subscription("interventions", "visit.rescheduled", "timeclock", "on_visit_rescheduled"),
    Subscription("interventions", "visit.cancelled", "timeclock", "on_visit_cancelled"),
    Subscription("interventions", "visit.declared", "timeclock", "on_visit_declared"),
    Subscription("interventions", "visit.validated", "timeclock", "on_visit_validated"),
)


# --- names and entities ------------------------------------------------------

def queue_name(source, event_type, service, method):
    """nameko's SERVICE_POOL queue name."""
    return f"evt-{source}-{event_type}--{service}.{method}"


def events_exchange(service):
    return Exchange(f"{service}.events", type="topic", durable=True, auto_delete=False)


def redeliver_exchange(service):
    return Exchange(f"{service}.redeliver", type="headers", durable=True, auto_delete=False)


def redeliver_binding(service, queue):
    return binding(redeliver_exchange(service), routing_key="",
                   arguments={"x-match": REDELIVER_MATCH, QUEUE_HEADER: queue})


def subscriber_queue(source, event_type, service, method):
    name = queue_name(source, event_type, service, method)
    return Queue(name, durable=True, auto_delete=False, exclusive=False, bindings=[
        binding(events_exchange(source), routing_key=event_type),
        redeliver_binding(service, name),
    ])


def delay_ms(delay):
    return int(round(float(delay) * 1000))


def retry_queue_name(service, delay):
    return f"{service}.retry.{delay_ms(delay)}"


def retry_queue(service, delay):
    return Queue(retry_queue_name(service, delay), durable=True, auto_delete=False,
                 queue_arguments={"x-message-ttl": delay_ms(delay),
                                  "x-dead-letter-exchange": f"{service}.redeliver"})


def dead_letter_queue_name(service):
    return f"{service}.dead-letters"


def dead_letter_queue(service):
    return Queue(dead_letter_queue_name(service), durable=True, auto_delete=False)


def parse_delays(value):
    """RETRY_DELAYS as given in the environment or nameko's config: "1,2,4",
    a number, or a list; seconds, each > 0. An empty string means no retry
    (dead-letter at the first failure)."""
    if value is None:
        return DEFAULT_RETRY_DELAYS
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        items = [value]
    elif isinstance(value, str):
        items = [part.strip() for part in value.split(",") if part.strip()]
    elif isinstance(value, (list, tuple)):
        items = list(value)
    else:
        raise ValueError(f"RETRY_DELAYS: expected seconds such as '1,2,4', got {value!r}")
    delays = []
    for item in items:
        try:
            seconds = float(item)
        except (TypeError, ValueError):
            raise ValueError(f"RETRY_DELAYS: {item!r} is not a number of seconds") from None
        if not seconds > 0 or delay_ms(seconds) < 1:
            raise ValueError(f"RETRY_DELAYS: {item!r} must be at least 0.001 s")
        delays.append(seconds)
    return tuple(delays)


def retry_delays(config=None):
    """The retry schedule: nameko config key RETRY_DELAYS, else the
    environment variable RETRY_DELAYS, else DEFAULT_RETRY_DELAYS."""
    if config is not None and config.get("RETRY_DELAYS") is not None:
        return parse_delays(config["RETRY_DELAYS"])
    return parse_delays(os.environ.get("RETRY_DELAYS"))


def service_entities(service, delays):
    """What the retry path of one subscribing service needs."""
    entities = [redeliver_exchange(service)]
    seen = set()
    for delay in delays:
        if delay_ms(delay) not in seen:
            seen.add(delay_ms(delay))
            entities.append(retry_queue(service, delay))
    entities.append(dead_letter_queue(service))
    return entities


def entities(delays=None, subscriptions=SUBSCRIPTIONS, services=SERVICES):
    """Every entity, in an order that declares exchanges before the queues
    bound to them."""
    delays = retry_delays() if delays is None else delays
    found = [events_exchange(s) for s in services]
    for service in dict.fromkeys(s.service for s in subscriptions):
        found.extend(service_entities(service, delays))
    found.extend(subscriber_queue(s.source, s.event_type, s.service, s.method)
                 for s in subscriptions)
    return found


# --- declaring ---------------------------------------------------------------

def declare_entities(channel, items):
    for entity in items:
        entity.bind(channel).declare()
    return [describe(e) for e in items]


def describe(entity):
    if isinstance(entity, Exchange):
        return f"exchange {entity.name} ({entity.type})"
    return f"queue {entity.name}"


def connect(amqp_uri, attempts=10):
    """A connection, retried with backoff (the broker may be starting)."""
    conn = Connection(amqp_uri, connect_timeout=5)
    conn.ensure_connection(max_retries=attempts, interval_start=0.5, interval_step=1,
                           interval_max=5)
    return conn


def declare(amqp_uri, delays=None, subscriptions=SUBSCRIPTIONS, services=SERVICES, attempts=10):
    """Declare the whole topology; returns what was declared."""
    items = entities(delays, subscriptions, services)
    with connect(amqp_uri, attempts) as conn:
        with conn.channel() as channel:
            return declare_entities(channel, items)


def main(argv=None):
    from fieldwork_common import config
    parser = argparse.ArgumentParser(
        prog="python -m fieldwork_common.topology",
        description="Declare Fieldwork's exchanges, queues and bindings (uses AMQP_URI and RETRY_DELAYS).")
    parser.add_argument("--quiet", action="store_true", help="print nothing on success")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    declared = declare(config.amqp_uri())
    if not args.quiet:
        print(json.dumps({"declared": declared}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
