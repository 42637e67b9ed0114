"""The outbox is each service's event log: `python -m fieldwork_common.eventlog`
lists it and has events published again, and a republished event reaches a
plain AMQP consumer again with the same event_id, while a service that
already handled it (notifications) does nothing twice."""
import json
import os
import socket
import subprocess
import sys
import time

import pytest
from kombu import Connection, Consumer, Exchange, Queue

from fieldwork_common import eventlog as eventlog_mod
from fieldwork_common.outbox import outbox as outbox_table
from fieldwork_common.testing.platform import REPO
from fieldwork_common.testing.waiting import wait_until

EXCHANGE = Exchange("interventions.events", type="topic", durable=True)
NOTIFICATIONS_QUEUE = "evt-interventions-intervention.created--notifications.on_intervention_created"


def eventlog(isolation, *args):
    """Runs the CLI as an operator would, against this run's databases."""
    env = {**os.environ, **isolation.environment(("interventions",))}
    done = subprocess.run([sys.executable, "-m", "fieldwork_common.eventlog", *args],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
    return done


def lines(done):
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines() if line.strip()]


class Subscriber:
    """An exclusive queue of our own bound to intervention.created."""

    def __init__(self, amqp_uri):
        self.connection = Connection(amqp_uri)
        self.connection.ensure_connection(max_retries=3)
        channel = self.connection.channel()
        self.queue = Queue(exclusive=True, auto_delete=True, exchange=EXCHANGE,
                           routing_key="intervention.created")
        self.consumer = Consumer(channel, queues=[self.queue], callbacks=[self._on_message],
                                 accept=["json"])
        self.consumer.consume()
        self.bodies = []

    def _on_message(self, body, message):
        self.bodies.append(body)
        message.ack()

    def drain_until(self, condition, timeout, what):
        def step():
            found = condition(self.bodies)
            if found:
                return found
            try:
                self.connection.drain_events(timeout=0.2)
            except socket.timeout:
                pass
            return condition(self.bodies)
        return wait_until(step, timeout, interval=0, message=what)

    def close(self):
        self.connection.release()


@pytest.fixture
def subscriber(isolation, platform):
    sub = Subscriber(isolation.amqp_uri)
    yield sub
    sub.close()


def about(aggregate_id):
    return lambda bodies: [b for b in bodies if b.get("aggregate_id") == aggregate_id]


def test_list_then_republish_an_intervention_event(isolation, world, subscriber, smtp,
                                                   service_db):
    company = world.company()
    client = world.client(company)
    intervention = world.intervention(client=client, technician=world.technician(company))
    iid = intervention["id"]

    # the original event reaches our queue, and notifications emails the client once
    [first] = subscriber.drain_until(about(iid), 20, "the intervention.created event")
    smtp.wait_for(client["email"])

    # list: the event log of this aggregate, with when the broker confirmed it
    log = eventlog_mod.EventLog(isolation.database_url("interventions"))
    wait_until(lambda: all(e["published_at"] for e in log.list(iid)), 20, interval=0.1,
               message="the event marked published")
    listed = lines(eventlog(isolation, "list", "interventions", "--aggregate", iid))
    # a creation publishes the intervention and its first assignment, in that order
    assert [e["event_type"] for e in listed] == ["intervention.created", "intervention.assigned"]
    entry = listed[0]
    assert entry["event_id"] == first["event_id"]
    assert entry["aggregate_id"] == iid and entry["producer"] == "interventions"
    assert entry["data"]["client"]["email"] == client["email"]
    assert isinstance(entry["sequence"], int) and entry["published_at"].endswith("Z")
    # the filters: by type, since, limit
    by_type = lines(eventlog(isolation, "list", "interventions", "--type", "intervention.created",
                             "--since", entry["occurred_at"]))
    assert entry["event_id"] in [e["event_id"] for e in by_type]
    assert all(e["event_type"] == "intervention.created" for e in by_type)
    assert len(lines(eventlog(isolation, "list", "interventions", "--limit", "2"))) == 2
    assert lines(eventlog(isolation, "list", "interventions", "--aggregate", iid,
                          "--since", "2999-01-01")) == []

    # republish: marked unpublished; the running relay publishes it again
    marked = lines(eventlog(isolation, "republish", "interventions", "--aggregate", iid,
                            "--type", "intervention.created"))
    assert [(m["event_id"], m["published_at"]) for m in marked] == [(first["event_id"], None)]
    again = subscriber.drain_until(lambda bodies: len(about(iid)(bodies)) >= 2 and about(iid)(bodies),
                                   20, "the republished event")
    assert [b["event_id"] for b in again] == [first["event_id"]] * 2
    assert again[1] == again[0]  # the very same envelope
    wait_until(lambda: all(e["published_at"] for e in log.list(iid)), 20, interval=0.1,
               message="the republished event marked published again")
    log.close()

    # notifications got it too (every queue bound to the exchange did, when
    # our own did): wait until its queue holds no ready message, then until
    # it has handled an event published after it (a second intervention,
    # relayed after the republished one), and the client still has 1 email.
    republished_at = time.monotonic()
    wait_until(lambda: _ready(isolation, NOTIFICATIONS_QUEUE) == 0, 10,
               message="notifications took the republished event")
    later_client = world.client(company)
    later = world.intervention(client=later_client, technician=world.technician(company))
    smtp.wait_for(later_client["email"])
    assert len(smtp.to(client["email"])) == 1
    inbox = service_db("notifications", "SELECT count(*) FROM inbox WHERE event_id = :e",
                       e=first["event_id"])
    assert inbox[0][0] == 1
    emails = service_db("notifications", "SELECT count(*), min(attempts), max(status) "
                        "FROM emails WHERE event_id = :e", e=first["event_id"])
    assert tuple(emails[0]) == (1, 1, "sent")
    print(f"\nevent log: republished {first['event_id']} consumed again by our queue; "
          f"notifications: 1 email, 1 send attempt; later event {later['id'][:8]} emailed "
          f"{time.monotonic() - republished_at:.2f}s after")


def test_republish_by_id_and_errors(isolation, world, monkeypatch, capsys):
    """The same CLI, called in-process (`main(argv)`) to keep the test short."""
    monkeypatch.setenv("INTERVENTIONS_DATABASE_URL", isolation.database_url("interventions"))

    def cli(*argv):
        try:
            code = eventlog_mod.main(list(argv))
        except SystemExit as exc:  # argparse refusals
            code = exc.code
        out, err = capsys.readouterr()
        return code, [json.loads(line) for line in out.splitlines()], err

    intervention = world.intervention()
    code, [entry], _ = cli("list", "interventions", "--aggregate", intervention["id"],
                           "--type", "intervention.created")
    assert code == 0
    code, marked, _ = cli("republish", "interventions", "--id", entry["event_id"])
    assert code == 0 and [m["event_id"] for m in marked] == [entry["event_id"]]
    code, after, _ = cli("list", "interventions", "--after", str(entry["sequence"] - 1),
                         "--limit", "1")
    assert code == 0 and [e["event_id"] for e in after] == [entry["event_id"]]

    unknown = "00000000-0000-4000-8000-000000000000"
    code, _, err = cli("republish", "interventions", "--id", unknown)
    assert code == 1 and unknown in err
    code, _, err = cli("republish", "interventions", "--id", "not-a-uuid")
    assert code == 2 and "UUID" in err
    code, _, _ = cli("list", "gateway")
    assert code == 2  # the gateway has no event log
    code, _, _ = cli("republish", "interventions")
    assert code == 2  # --id or --aggregate is required
    code, _, _ = cli("list", "interventions", "--since", "yesterday")
    assert code == 2


def _ready(isolation, queue_name):
    """Messages ready in a queue, now (a passive declare is answered by the
    queue itself, not from sampled statistics)."""
    with Connection(isolation.amqp_uri) as conn:
        _, count, _ = conn.default_channel.queue_declare(queue=queue_name, passive=True)
        return count


def test_the_cli_reads_the_outbox_columns_the_services_write():
    """eventlog declares the outbox columns itself (no nameko import)."""
    mine = {c.name: type(c.type) for c in eventlog_mod.outbox.columns}
    real = {c.name: type(c.type) for c in outbox_table.columns}
    assert mine == real
