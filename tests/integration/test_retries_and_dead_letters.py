"""Bounded retries, dead letters and the declared topology (issue 3, tests 4
and 6), against real RabbitMQ and PostgreSQL, with the services as OS
processes (the commands docker-compose.yml names).

Each scenario runs in a vhost and databases of its own (`Isolation`), so a
fresh vhost really is fresh and short retry delays (RETRY_DELAYS) do not
leak into the session's platform. Events are published the way any AMQP
client would: kombu, to `interventions.events`, routing key = event type,
with publisher confirms and `mandatory` (an event no queue takes is an
error here, not a silent drop).

How a real handler is made to fail without a test-only code path: a faulty
trigger in the subscriber's own database refuses the row of one
intervention (and counts, in a sequence, which survives the rollback, how
many times it was asked). "The fix" is dropping the trigger; the operator
then replays the dead letter.
"""
import importlib
import inspect
import json
import os
import subprocess
import sys
import time
import uuid
from datetime import datetime

import pytest
import sqlalchemy as sa
import yaml
from amqp.exceptions import NotFound
from kombu import Connection, Producer
from nameko.events import EventHandler as NamekoEventHandler

from fieldwork_common import consumer, topology
from fieldwork_common.db import engine_url
from fieldwork_common.deadletters import list_dead_letters, replay
from fieldwork_common.envelope import make_envelope, rfc3339, utc_now
from fieldwork_common.testing.platform import REPO, LocalPlatform
from fieldwork_common.testing.servers import Isolation
from fieldwork_common.testing.smtp import free_port
from fieldwork_common.testing.waiting import wait_until

DELAYS = (0.5, 1.0, 2.0)
SERVICE = "timeclock"
CONSUMER = "timeclock.on_intervention_created"
QUEUE = topology.queue_name("interventions", "intervention.created", "timeclock",
                            "on_intervention_created")
REQUESTS_QUEUE = topology.queue_name("interventions", "intervention.created", "requests",
                                     "on_intervention_created")
DEAD_LETTERS = topology.dead_letter_queue_name(SERVICE)
SERVICE_MODULES = {
    "requests": "fieldwork_requests.service",
    "interventions": "fieldwork_interventions.service",
    "timeclock": "fieldwork_timeclock.service",
    "notifications": "fieldwork_notifications.service",
}


def figures(title, **values):
    print(f"\nFIGURES {title}: " + ", ".join(f"{k}={v}" for k, v in values.items()))


# --- helpers -----------------------------------------------------------------

class Broker:
    """A plain AMQP client on one vhost."""

    def __init__(self, amqp_uri):
        self.conn = Connection(amqp_uri, transport_options={"confirm_publish": True})
        self.conn.ensure_connection(max_retries=3)
        self.channel = self.conn.channel()
        self.producer = Producer(self.conn.channel())

    def publish(self, envelope, exchange="interventions.events"):
        self.producer.publish(
            envelope, exchange=exchange, routing_key=envelope["event_type"], serializer="json",
            delivery_mode=2, mandatory=True, retry=False, confirm_timeout=10,
            message_id=envelope["event_id"],
            headers={"nameko.correlation_id": envelope["correlation_id"]})

    def counts(self, queue):
        """(ready messages, consumers), or None when the queue does not exist."""
        try:
            _, messages, consumers = self.channel.queue_declare(queue=queue, passive=True)
        except NotFound:
            self.channel = self.conn.channel()
            return None
        return messages, consumers

    def close(self):
        self.conn.release()


class ServiceDb:
    def __init__(self, url):
        # one kept connection: tests poll every 10 ms, and a new PostgreSQL
        # backend per poll would slow the service under test
        self.engine = sa.create_engine(engine_url(url), pool_size=1, max_overflow=1,
                                       isolation_level="AUTOCOMMIT")

    def run(self, sql, **params):
        with self.engine.connect() as conn:
            result = conn.execute(sa.text(sql), params)
            return result.all() if result.returns_rows else []

    def scalar(self, sql, **params):
        rows = self.run(sql, **params)
        return rows[0][0] if rows else None

    def known(self, ids):
        return self.scalar("SELECT count(*) FROM known_interventions WHERE id::text = ANY(:ids)",
                           ids=list(ids))

    def inbox(self, event_ids, consumer_name):
        return self.scalar("SELECT count(*) FROM inbox WHERE consumer = :c AND event_id::text = ANY(:ids)",
                           c=consumer_name, ids=list(event_ids))

    def dispose(self):
        self.engine.dispose()


class FaultyTrigger:
    """A fault in the service's own database: inserting the given
    interventions raises. `attempts` counts the refusals (a sequence is not
    rolled back with the failed transaction)."""

    def __init__(self, db, ids):
        self.db = db
        self.tag = uuid.uuid4().hex[:8]
        id_list = ", ".join(f"'{uuid.UUID(i)}'" for i in ids)  # uuids only: safe to inline
        db.run(f"CREATE SEQUENCE refusals_{self.tag}")
        db.run(f"""
            CREATE FUNCTION refuse_{self.tag}() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                PERFORM nextval('refusals_{self.tag}');
                RAISE EXCEPTION 'known_interventions refused % (faulty trigger)', NEW.id;
            END $$""")
        db.run(f"""
            CREATE TRIGGER refuse_{self.tag} BEFORE INSERT OR UPDATE ON known_interventions
            FOR EACH ROW WHEN (NEW.id IN ({id_list})) EXECUTE FUNCTION refuse_{self.tag}()""")

    @property
    def attempts(self):
        value, called = self.db.run(f"SELECT last_value, is_called FROM refusals_{self.tag}")[0]
        return value if called else 0

    def fix(self):
        self.db.run(f"DROP TRIGGER refuse_{self.tag} ON known_interventions")


def intervention_event():
    intervention_id = str(uuid.uuid4())
    return make_envelope("interventions", "intervention.created", intervention_id, {
        "id": intervention_id, "company_id": str(uuid.uuid4()), "client_id": str(uuid.uuid4()),
        "technician_id": str(uuid.uuid4()), "location": "workshop", "step": "picked_up",
        "created_at": rfc3339(utc_now()),
    })


def start_service(platform, name, broker, timeout=60):
    """Start one service and wait until it consumes every queue it subscribes."""
    proc = platform.process(name).start()
    platform.processes[name] = proc
    queues = [s.queue for s in topology.SUBSCRIPTIONS if s.service == name]

    def consuming():
        if not proc.alive:
            raise AssertionError(f"{name} exited with {proc.popen.returncode}:\n{proc.log_tail()}")
        return all((broker.counts(q) or (0, 0))[1] >= 1 for q in queues)
    wait_until(consuming, timeout, interval=0.1, message=f"{name} consuming {queues}")
    return proc


def parse_time(text):
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def deadletters_cli(amqp_uri, *args):
    result = subprocess.run([sys.executable, "-m", "fieldwork_common.deadletters", *args],
                            env={**os.environ, "AMQP_URI": amqp_uri}, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode in (0, 1), result.stderr
    return result.returncode, json.loads(result.stdout)


@pytest.fixture(scope="module")
def retrying(servers):
    """timeclock alone, in a vhost of its own, with short retry delays."""
    iso = Isolation.create(servers)
    env = {**iso.environment([SERVICE]), "RETRY_DELAYS": ",".join(str(d) for d in DELAYS)}
    platform = LocalPlatform(env=env, log_dir=REPO / "var" / "test-logs" / f"{iso.run_id}-retries",
                             gateway_port=free_port())
    broker = db = None
    try:
        topology.declare(iso.amqp_uri, DELAYS)  # so that the broker helper can watch the queues
        broker = Broker(iso.amqp_uri)
        start_service(platform, SERVICE, broker)
        db = ServiceDb(iso.database_url(SERVICE))
        # warm up (database pool, channels), as a platform that has been running
        warm = [intervention_event() for _ in range(20)]
        for envelope in warm:
            broker.publish(envelope)
        wait_until(lambda: db.known([e["aggregate_id"] for e in warm]) == 20, 30, message="warm-up")
        yield iso, broker, db
    finally:
        platform.stop()
        if broker:
            broker.close()
        if db:
            db.dispose()
        iso.destroy()


def queues_drained(broker):
    """Nothing waiting in the subscriber queue nor in a delay queue."""
    names = [QUEUE] + [topology.retry_queue_name(SERVICE, d) for d in DELAYS]
    return all(broker.counts(name)[0] == 0 for name in names)


def dead_letter_ids(iso):
    return [letter["id"] for letter in list_dead_letters(iso.amqp_uri, SERVICE)]


# --- test 4: a poison event ----------------------------------------------------

def test_a_poison_event_is_retried_with_growing_delays_dead_lettered_and_replayed_once(retrying):
    iso, broker, db = retrying
    poison = intervention_event()
    good = [intervention_event() for _ in range(100)]
    fault = FaultyTrigger(db, [poison["aggregate_id"]])
    dead_before = broker.counts(DEAD_LETTERS)[0]

    refusals = []  # (seconds since publish, refusals so far), seen from the database

    def refused(times):
        count = fault.attempts
        if not refusals or refusals[-1][1] != count:
            refusals.append((time.monotonic() - started, count))
        return count >= times

    def dead_lettered():
        refused(0)
        return broker.counts(DEAD_LETTERS)[0] > dead_before

    started = time.monotonic()
    broker.publish(poison)
    wait_until(lambda: refused(1), timeout=10, interval=0.01, message="the first failure")
    published_good = time.monotonic()
    for envelope in good:
        broker.publish(envelope)
    wait_until(dead_lettered, timeout=30, interval=0.01, message="the poison event in the dead letters")
    time_to_dlq = time.monotonic() - started

    # it failed 1 + N times, with growing delays between the attempts
    [letter] = [l for l in list_dead_letters(iso.amqp_uri, SERVICE) if l["id"] == poison["event_id"]]
    assert letter["event_type"] == "intervention.created"
    assert letter["queue"] == QUEUE
    assert letter["original_exchange"] == "interventions.events"
    assert letter["original_routing_key"] == "intervention.created"
    assert letter["attempts"] == len(DELAYS) + 1
    assert "refused" in letter["last_error"] and letter["last_error"].split(":")[0].endswith("Error")
    assert letter["envelope"] == poison
    assert fault.attempts == len(DELAYS) + 1
    failed_at = [parse_time(t) for t in letter["failed_at"]]
    assert len(failed_at) == len(DELAYS) + 1
    gaps = [(b - a).total_seconds() for a, b in zip(failed_at, failed_at[1:])]
    for gap, delay in zip(gaps, DELAYS):
        assert gap >= delay, f"retried after {gap:.3f}s, before its delay of {delay}s"
    assert all(later > earlier for earlier, later in zip(gaps, gaps[1:])), gaps
    seen = [t for t, n in refusals if n > 0]
    seen_gaps = [b - a for a, b in zip(seen, seen[1:])]
    assert len(seen) == len(DELAYS) + 1, refusals
    assert all(b > a for a, b in zip(seen_gaps, seen_gaps[1:])), refusals
    for gap, delay in zip(seen_gaps, DELAYS):
        assert gap >= delay - 0.02, refusals  # polled every 10 ms

    # listing consumed nothing
    assert poison["event_id"] in dead_letter_ids(iso)
    assert broker.counts(DEAD_LETTERS)[0] == dead_before + 1

    # the 100 good events behind it were all handled meanwhile, before it was dead-lettered
    good_ids = [e["event_id"] for e in good]
    assert db.inbox(good_ids, CONSUMER) == 100
    first_good = db.scalar("SELECT min(handled_at) FROM inbox WHERE consumer = :c AND event_id::text = ANY(:ids)",
                           c=CONSUMER, ids=good_ids)
    last_good = db.scalar("SELECT max(handled_at) FROM inbox WHERE consumer = :c AND event_id::text = ANY(:ids)",
                          c=CONSUMER, ids=good_ids)
    assert last_good < parse_time(letter["dead_lettered_at"])
    assert db.known([e["aggregate_id"] for e in good]) == 100
    assert db.known([poison["aggregate_id"]]) == 0

    # the fix, then the replay: handled exactly once
    fault.fix()
    replay_started = time.monotonic()
    result = replay(iso.amqp_uri, SERVICE, ids=[poison["event_id"]])
    assert result == {"replayed": [{"id": poison["event_id"], "queue": QUEUE}], "not_found": [],
                      "failed": [], "remaining": dead_before}
    wait_until(lambda: db.known([poison["aggregate_id"]]) == 1, 20,
               message="the replayed event handled")
    replay_to_handled = time.monotonic() - replay_started
    wait_until(lambda: queues_drained(broker), 20, message="every queue drained")
    assert db.inbox([poison["event_id"]], CONSUMER) == 1
    assert db.inbox(good_ids + [poison["event_id"]], CONSUMER) == 101
    assert db.known([e["aggregate_id"] for e in good + [poison]]) == 101
    assert fault.attempts == len(DELAYS) + 1, "no failure after the fix"
    assert poison["event_id"] not in dead_letter_ids(iso)
    duplicates = db.scalar(
        "SELECT count(*) FROM (SELECT event_id FROM inbox GROUP BY event_id, consumer HAVING count(*) > 1) d")

    figures("poison event",
            retry_delays_s=list(DELAYS),
            attempts=letter["attempts"],
            gaps_between_attempts_s=[round(g, 3) for g in gaps],
            gaps_seen_from_db_s=[round(g, 3) for g in seen_gaps],
            time_to_dead_letters_s=round(time_to_dlq, 3),
            first_failure_to_dead_letter_s=round(
                (parse_time(letter["dead_lettered_at"]) - failed_at[0]).total_seconds(), 3),
            good_events_handled_before_dlq=db.inbox(good_ids, CONSUMER),
            good_events_handled_in_s=round((last_good - first_good).total_seconds(), 3),
            good_published_after_first_failure_s=round(published_good - started, 3),
            last_good_before_dlq_by_s=round(
                (parse_time(letter["dead_lettered_at"]) - last_good).total_seconds(), 3),
            replay_to_handled_s=round(replay_to_handled, 3),
            handled_after_replay=db.inbox([poison["event_id"]], CONSUMER),
            duplicates=duplicates)


def test_an_operator_lists_and_replays_dead_letters_one_by_one_or_all(retrying):
    iso, broker, db = retrying
    first, second = intervention_event(), intervention_event()
    fault = FaultyTrigger(db, [first["aggregate_id"], second["aggregate_id"]])
    ours = {first["event_id"], second["event_id"]}
    broker.publish(first)
    broker.publish(second)
    wait_until(lambda: ours <= set(dead_letter_ids(iso)), 30, interval=0.1, message="two dead letters")

    code, listed = deadletters_cli(iso.amqp_uri, "list", SERVICE)
    assert code == 0
    listed = [l for l in listed if l["id"] in ours]
    assert sorted(l["id"] for l in listed) == sorted(ours)
    assert {l["attempts"] for l in listed} == {len(DELAYS) + 1}
    others = len(dead_letter_ids(iso)) - 2

    fault.fix()
    code, result = deadletters_cli(iso.amqp_uri, "replay", SERVICE, "--id", first["event_id"])
    assert code == 0 and result["replayed"] == [{"id": first["event_id"], "queue": QUEUE}]
    assert result["remaining"] == others + 1
    wait_until(lambda: db.known([first["aggregate_id"]]) == 1, 20, message="the first replayed")
    code, listed = deadletters_cli(iso.amqp_uri, "list", SERVICE)
    assert [l["id"] for l in listed if l["id"] in ours] == [second["event_id"]], "the other one stays"

    code, result = deadletters_cli(iso.amqp_uri, "replay", SERVICE, "--id", str(uuid.uuid4()))
    assert code == 1 and result["replayed"] == [] and len(result["not_found"]) == 1

    code, result = deadletters_cli(iso.amqp_uri, "replay", SERVICE, "--all")
    assert code == 0 and second["event_id"] in [r["id"] for r in result["replayed"]]
    wait_until(lambda: db.known([second["aggregate_id"]]) == 1, 20, message="the second replayed")
    wait_until(lambda: queues_drained(broker), 20, message="every queue drained")
    assert db.inbox(sorted(ours), CONSUMER) == 2
    assert not ours & set(dead_letter_ids(iso))


def test_the_rpc_helpers_list_and_replay(retrying):
    iso, broker, db = retrying
    event = intervention_event()
    fault = FaultyTrigger(db, [event["aggregate_id"]])
    broker.publish(event)
    wait_until(lambda: event["event_id"] in dead_letter_ids(iso), 30, interval=0.1, message="a dead letter")
    listed = consumer.rpc_list_dead_letters(SERVICE, iso.amqp_uri)
    assert event["event_id"] in [l["id"] for l in listed]
    json.dumps(listed)  # travels over RPC as JSON
    fault.fix()
    result = consumer.rpc_replay_dead_letters(SERVICE, iso.amqp_uri, [event["event_id"]])
    assert [r["id"] for r in result["replayed"]] == [event["event_id"]]
    wait_until(lambda: db.known([event["aggregate_id"]]) == 1, 20, message="replayed over RPC helper")


# --- test 6: an event published before its subscriber ever started ---------------

@pytest.mark.parametrize("declared_by", ["topology step", "another service"])
def test_an_event_published_before_its_subscriber_first_started_is_handled_once(servers, declared_by):
    iso = Isolation.create(servers)  # a fresh vhost: nothing declared yet
    platform = LocalPlatform(env=iso.environment(["requests", "timeclock"]),
                             log_dir=REPO / "var" / "test-logs" / f"{iso.run_id}-topology",
                             gateway_port=free_port())
    broker = db = None
    try:
        started = time.monotonic()
        if declared_by == "topology step":
            # the one-shot step of docker-compose.yml, with its very command
            command = yaml.safe_load((REPO / "docker-compose.yml").read_text())["services"]["topology"]["command"]
            assert command[0] == "python"
            done = subprocess.run([sys.executable, *command[1:]], env={**os.environ, "AMQP_URI": iso.amqp_uri},
                                  capture_output=True, text=True, timeout=60)
            assert done.returncode == 0, done.stderr
            broker = Broker(iso.amqp_uri)
        else:
            broker = Broker(iso.amqp_uri)
            start_service(platform, "timeclock", broker)  # declares everything at start
        declared_in = time.monotonic() - started

        assert broker.counts(REQUESTS_QUEUE) == (0, 0), "requests has never run"
        event = intervention_event()
        broker.publish(event)  # mandatory: raises if no queue took it
        wait_until(lambda: broker.counts(REQUESTS_QUEUE)[0] == 1, 10, message="the event kept for requests")

        start_service(platform, "requests", broker)
        db = ServiceDb(iso.database_url("requests"))
        handled_from = time.monotonic()
        wait_until(lambda: db.known([event["aggregate_id"]]) == 1, 30, message="requests handled it")
        wait_until(lambda: broker.counts(REQUESTS_QUEUE) == (0, 1), 10, message="its queue drained")
        assert db.inbox([event["event_id"]], "requests.on_intervention_created") == 1
        assert db.known([event["aggregate_id"]]) == 1
        figures(f"early event ({declared_by})", declared_in_s=round(declared_in, 3),
                handled_after_consumer_ready_s=round(time.monotonic() - handled_from, 3),
                handled=db.inbox([event["event_id"]], "requests.on_intervention_created"))
    finally:
        platform.stop()
        if broker:
            broker.close()
        if db:
            db.dispose()
        iso.destroy()


# --- the declared list matches the code -----------------------------------------

def service_classes():
    for service, module_name in SERVICE_MODULES.items():
        module = importlib.import_module(module_name)
        [cls] = [c for _, c in inspect.getmembers(module, inspect.isclass)
                 if c.__module__ == module.__name__ and getattr(c, "name", None) == service]
        yield service, cls


def test_the_declared_topology_lists_every_event_handler_of_the_services():
    found, plain = set(), []
    for service, cls in service_classes():
        for method_name, method in inspect.getmembers(cls, inspect.isfunction):
            for entrypoint in getattr(method, "nameko_entrypoints", ()):
                if isinstance(entrypoint, NamekoEventHandler):
                    if not isinstance(entrypoint, consumer.EventHandler):
                        plain.append(f"{service}.{method_name}")
                    found.add(topology.Subscription(entrypoint.source_service, entrypoint.event_type,
                                                    service, method_name))
    assert plain == [], "use fieldwork_common.consumer.event_handler (retries, dead letters)"
    assert found == set(topology.SUBSCRIPTIONS), (
        "topology.SUBSCRIPTIONS differs from the services' handlers: "
        f"missing {sorted(map(str, found - set(topology.SUBSCRIPTIONS)))}, "
        f"stale {sorted(map(str, set(topology.SUBSCRIPTIONS) - found))}")


def test_every_subscribing_service_declares_the_topology_at_start():
    subscribers = {s.service for s in topology.SUBSCRIPTIONS}
    for service, cls in service_classes():
        if service in subscribers:
            assert any(isinstance(v, consumer.Topology) for v in vars(cls).values()), service
