"""Fault injection: what the platform guarantees when a process dies or a
server goes away (docs/reliability.md).

1. kill -9 notifications while it works through 1,000 events, restart it:
   every email delivered, none twice (or, if the kill lands between the SMTP
   server's 250 and the `sent` commit, a resend of that one email with the
   same Message-ID: at-least-once, bounded by the sends in flight).
2. cut the interventions service's RabbitMQ connection while interventions
   are created through the gateway (for 2 s, shorter than the gateway's RPC
   timeout, and 4 s, longer): every acknowledged creation has its event
   consumed once, no event exists for what was not created, a retry with the
   same Idempotency-Key converges on exactly one intervention per attempt,
   and the service survives the cut without a restart.
3. cut PostgreSQL under every service and the gateway: clean 5xx while cut,
   2xx again within 10 s of the restore, nothing restarted.

These tests run their own platforms (their own vhost, databases and SMTP
sink) because they break things. Each prints its figures and records them
in var/reliability-figures.json under the test's name.
"""
import collections
import json
import socket
import threading
import time
import uuid
from urllib.parse import urlsplit, urlunsplit

import pytest
import requests
import sqlalchemy as sa
from kombu import Connection, Consumer, Exchange, Queue
from sqlalchemy.pool import NullPool

from conftest import record_figures
from fieldwork_common.db import engine_url
from fieldwork_common.envelope import make_envelope
from fieldwork_common.testing import servers as servers_mod
from fieldwork_common.testing.platform import ALL_SERVICES, REPO, LocalPlatform
from fieldwork_common.testing.smtp import SmtpSink, free_port
from fieldwork_common.testing.tcpproxy import TcpProxy
from fieldwork_common.testing.waiting import wait_until

FIGURES = REPO / "var" / "reliability-figures.json"


def record(test_name, figures):
    record_figures(FIGURES, test_name, figures)
EXCHANGE = Exchange("interventions.events", type="topic", durable=True)
NOTIFICATIONS_QUEUE = "evt-interventions-intervention.created--notifications.on_intervention_created"
ADMIN_EMAIL = "admin@faults.fieldwork"
ADMIN_PASSWORD = "faults-admin-password"
JWT_SECRET = "fault-injection-secret-of-at-least-32-bytes"
DRIVER_TEXT = ("psycopg2", "OperationalError", "Traceback", "sqlalchemy", "server closed")
MAX_WORKERS = 10  # nameko's default, the services' config.yml


# --- figures ----------------------------------------------------------------------

# --- helpers ----------------------------------------------------------------------

class Sql:
    """Direct (never proxied) reads of a service's database."""

    def __init__(self, url):
        self.engine = sa.create_engine(engine_url(url), poolclass=NullPool)

    def __call__(self, sql, **params):
        with self.engine.connect() as conn:
            return conn.execute(sa.text(sql), params).all()

    def scalar(self, sql, **params):
        return self(sql, **params)[0][0]

    def close(self):
        self.engine.dispose()


def via(url, proxy):
    """`url` with its host and port replaced by the proxy's."""
    parts = urlsplit(url)
    auth = parts.netloc.rpartition("@")[0]
    netloc = (auth + "@" if auth else "") + f"127.0.0.1:{proxy.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def host_port(url, default_port):
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or default_port


def queue_state(amqp_uri, name):
    """(messages ready, consumers) of a queue now (a passive declare is
    answered by the queue itself, not from sampled statistics), or None if
    the queue does not exist."""
    try:
        with Connection(amqp_uri) as conn:
            _, ready, consumers = conn.default_channel.queue_declare(queue=name, passive=True)
            return ready, consumers
    except Exception as exc:  # 404 NOT_FOUND closes the channel
        if "NOT_FOUND" in str(exc) or "404" in str(exc):
            return None
        raise


def queue_ready(amqp_uri, name):
    state = queue_state(amqp_uri, name)
    return None if state is None else state[0]


def start_processes(platform, extra_env_by_name, order):
    for name in order:
        platform.processes[name] = platform.process(name, extra_env_by_name.get(name)).start()


class Supervisor:
    """What docker-compose.yml's `restart: unless-stopped` does for the
    platform's processes: one that exits on its own is started again. Every
    such exit is recorded (name, exit code, when) as a crash."""

    def __init__(self, platform):
        self.platform = platform
        self.crashes = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def start(self):
        self._thread.start()
        return self

    def _watch(self):
        while not self._stop.wait(0.1):
            for name, proc in list(self.platform.processes.items()):
                if proc.popen is not None and not proc.alive and not proc.terminating:
                    self.crashes.append({"process": name, "exit_code": proc.popen.returncode,
                                         "at": time.monotonic()})
                    proc.start()

    def crashes_since(self, moment):
        return [c for c in self.crashes if c["at"] >= moment]

    def stop(self):
        self._stop.set()
        self._thread.join(5)


class Subscriber:
    """A plain AMQP consumer: an exclusive queue bound to
    intervention.created, connected straight to RabbitMQ (no proxy). It
    drains on a thread of its own."""

    def __init__(self, amqp_uri):
        self.connection = Connection(amqp_uri)
        self.connection.ensure_connection(max_retries=3)
        self.queue = Queue(f"faults-{uuid.uuid4().hex[:8]}", exchange=EXCHANGE,
                           routing_key="intervention.created", exclusive=True, auto_delete=True)
        self.consumer = Consumer(self.connection.channel(), queues=[self.queue],
                                 callbacks=[self._on_message], accept=["json"])
        self.consumer.consume()
        self.bodies = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._drain, daemon=True)
        self._thread.start()

    def _on_message(self, body, message):
        with self._lock:
            self.bodies.append(body)
        message.ack()

    def _drain(self):
        while not self._stop.is_set():
            try:
                self.connection.drain_events(timeout=0.2)
            except socket.timeout:
                pass

    def received(self):
        with self._lock:
            return list(self.bodies)

    def close(self):
        self._stop.set()
        self._thread.join(5)
        self.connection.release()


def intervention_data(i, email, run):
    """A well-formed intervention.created payload (docs/asyncapi.yaml)."""
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    iid, company, client, tech, kind, equipment = (str(uuid.uuid4()) for _ in range(6))
    return {
        "id": iid, "company_id": company, "client_id": client, "equipment_id": equipment,
        "type_id": kind, "technician_id": tech, "location": "workshop",
        "description": f"fault test {run} #{i}", "step": "picked_up", "state": "open",
        "created_by": str(uuid.uuid4()), "created_at": now, "version": 1,
        "client": {"id": client, "name": f"Client {i}", "email": email,
                   "locale": "en" if i % 2 else "fr"},
        "technician": {"id": tech, "name": f"Tech {i}", "email": f"tech-{i}-{run}@example.test"},
        "type": {"id": kind, "name": "Repair", "location": "workshop"},
    }


# --- Test 1: kill -9 notifications mid-stream -----------------------------------------

EVENTS = 1000


@pytest.fixture(scope="module")
def notifications_only(servers, interventions_stub):
    """notifications alone (and a stand-in interventions answering its
    tracking-token RPC), in a vhost and database of its own, with its own
    SMTP sink."""
    iso = servers_mod.Isolation.create(servers)
    sink = SmtpSink().start()
    env = {**iso.environment(("notifications",)), "SMTP_HOST": sink.host,
           "SMTP_PORT": str(sink.port), "LOG_LEVEL": "WARNING"}
    plat = LocalPlatform(env=env, log_dir=REPO / "var" / "test-logs" / iso.run_id / "kill",
                         gateway_port=free_port())
    sql = Sql(iso.database_url("notifications"))
    try:
        interventions_stub(iso.amqp_uri, plat.log_dir / "interventions-stub.log")
        plat.processes["notifications"] = plat.process("notifications").start()

        def queue_exists():
            proc = plat.processes["notifications"]
            if not proc.alive:
                raise RuntimeError(f"notifications exited:\n{proc.log_tail()}")
            state = queue_state(iso.amqp_uri, NOTIFICATIONS_QUEUE)
            return state is not None and state[1] >= 1
        wait_until(queue_exists, 60, interval=0.2,
                   message="the notifications queue, with its consumer")
        yield plat, iso, sink, sql
    finally:
        plat.stop()
        sql.close()
        sink.stop()
        iso.destroy()


def test_kill_9_notifications_mid_stream_loses_and_doubles_nothing(notifications_only, request):
    plat, iso, sink, sql = notifications_only
    run = iso.run_id
    recipients = [f"client-{i:04d}-{run}@example.test" for i in range(EVENTS)]
    envelopes = [make_envelope("interventions", "intervention.created", d["id"], d)
                 for d in (intervention_data(i, email, run) for i, email in enumerate(recipients))]

    # No publisher confirms (one round trip each): the messages of one
    # channel are handled in order, so once the connection is closed cleanly
    # (close-ok received) the broker has routed every one of them.
    started = time.monotonic()
    with Connection(iso.amqp_uri) as conn:
        producer = conn.Producer(serializer="json")
        for envelope in envelopes:
            producer.publish(envelope, exchange=EXCHANGE, routing_key="intervention.created",
                             delivery_mode=2, message_id=envelope["event_id"], declare=[])
    published_s = time.monotonic() - started

    # "about half handled": 500 emails recorded as sent, then SIGKILL
    sent = lambda: sql.scalar("SELECT count(*) FROM emails WHERE status = 'sent'")  # noqa: E731
    wait_until(lambda: sent() >= EVENTS // 2, 60, interval=0.01, message="500 emails sent")
    plat.processes["notifications"].kill()
    killed_at = time.monotonic()

    # the state the restart finds: what PostgreSQL committed, what SMTP got
    sent_rows = {r[0] for r in sql("SELECT id::text FROM emails WHERE status = 'sent'")}
    rows_at_kill = sql.scalar("SELECT count(*) FROM emails")
    inbox_at_kill = sql.scalar("SELECT count(*) FROM inbox")
    delivered_at_kill = {_message_key(m) for _, m in sink.messages[:]}
    # delivered by SMTP but not recorded as sent: the kill fell between the
    # server's 250 and the commit; only these may be sent again
    in_flight = delivered_at_kill - sent_rows

    plat.processes["notifications"] = plat.process("notifications").start()
    restarted_at = time.monotonic()

    def all_delivered_and_recorded():
        got = {r for rcpts, _ in sink.messages[:] for r in rcpts}
        return (len(got & set(recipients)) == EVENTS
                and sql.scalar("SELECT count(*) FROM emails WHERE status = 'sent'") == EVENTS)
    wait_until(all_delivered_and_recorded, 60, interval=0.1,
               message=f"{EVENTS} distinct recipients emailed and recorded sent")
    done_s = time.monotonic() - restarted_at

    messages = [(rcpts, m) for rcpts, m in sink.messages[:]]
    by_recipient = collections.Counter(r for rcpts, _ in messages for r in rcpts)
    ids_by_recipient = collections.defaultdict(set)
    for rcpts, m in messages:
        for r in rcpts:
            ids_by_recipient[r].add(m["Message-ID"])
    by_message_id = collections.Counter(m["Message-ID"] for _, m in messages)
    dup_recipients = {r: n for r, n in by_recipient.items() if n > 1}
    dup_ids = {k: n for k, n in by_message_id.items() if n > 1}
    resent = {k.strip("<>").split("@")[0] for k in dup_ids}
    rows = sql("SELECT status, count(*), sum(attempts) FROM emails GROUP BY status")

    record(request.node.name, {
        "events": EVENTS,
        "publish_1000_events_s": round(published_s, 2),
        "sent_rows_at_kill": len(sent_rows),
        "email_rows_at_kill": rows_at_kill,
        "inbox_rows_at_kill": inbox_at_kill,
        "smtp_messages_at_kill": len(delivered_at_kill),
        "in_flight_at_kill": len(in_flight),  # delivered by SMTP, not recorded sent
        "kill_to_restart_s": round(restarted_at - killed_at, 2),
        "restart_to_all_delivered_s": round(done_s, 2),
        "smtp_messages_total": len(messages),
        "distinct_recipients": len(by_recipient),
        "duplicate_recipients": len(dup_recipients),
        "duplicate_message_ids": len(dup_ids),
        "email_rows_by_status": {s: {"rows": n, "attempts": int(a)} for s, n, a in rows},
    })

    assert set(by_recipient) == set(recipients)          # every one of the 1,000 delivered
    assert all(len(ids) == 1 for ids in ids_by_recipient.values())  # one Message-ID per event
    assert sql.scalar("SELECT count(*) FROM emails") == EVENTS
    assert sql.scalar("SELECT count(*) FROM inbox") == EVENTS
    # at-least-once, bounded: only an email the SMTP server had accepted when
    # the kill landed, and not yet recorded sent, can go out a second time
    assert set(dup_recipients) == {r for r, ids in ids_by_recipient.items()
                                   if ids & set(dup_ids)}
    assert resent <= in_flight, (resent, in_flight)
    assert all(n == 2 for n in dup_ids.values())
    assert len(in_flight) <= MAX_WORKERS


def _message_key(message):
    """The email row's id, from the Message-ID `<id@fieldwork.local>`."""
    return message["Message-ID"].strip("<>").split("@")[0]


# --- the platform behind proxies (tests 2 and 3) ----------------------------------------

class FaultPlatform:
    def __init__(self, plat, iso, sink, pg_proxy, amqp_proxy, supervisor):
        self.plat, self.iso, self.sink = plat, iso, sink
        self.supervisor = supervisor
        self.pg_proxy, self.amqp_proxy = pg_proxy, amqp_proxy
        self.base_url = plat.base_url
        self.token = None

    def login(self):
        response = requests.post(self.base_url + "/auth/token",
                                 json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}, timeout=30)
        assert response.status_code == 200, response.text
        self.token = response.json()["access_token"]
        return self.token

    def call(self, method, path, json=None, timeout=30):
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        return requests.request(method, self.base_url + path, json=json, headers=headers,
                                timeout=timeout)

    def created(self, path, body):
        response = self.call("POST", path, body)
        assert response.status_code == 201, response.text
        return response.json()

    def master_data(self):
        """A company, client, technician, type and equipment to create
        interventions with."""
        tag = uuid.uuid4().hex[:6]
        company = self.created("/companies", {"name": f"Faults {tag}"})
        client = self.created("/clients", {"name": f"Client {tag}", "email": f"c-{tag}@example.test",
                                           "company_id": company["id"], "locale": "fr"})
        tech = self.created("/technicians", {"name": f"Tech {tag}", "email": f"t-{tag}@example.test",
                                             "company_id": company["id"]})
        kind = self.created("/intervention-types", {"name": f"Repair {tag}", "location": "workshop"})
        equipment = self.created("/equipment", {"client_id": client["id"], "kind": "laptop"})
        return {"client_id": client["id"], "equipment_id": equipment["id"], "type_id": kind["id"],
                "technician_id": tech["id"], "location": "workshop"}


@pytest.fixture(scope="module")
def behind_proxies(servers, seaweed):
    """The whole platform, in a vhost and databases of its own; every
    process reaches PostgreSQL through `pg_proxy`, and the interventions
    service reaches RabbitMQ through `amqp_proxy` (same vhost). Files go
    to the session's SeaweedFS."""
    iso = servers_mod.Isolation.create(servers)
    sink = SmtpSink().start()
    pg_proxy = TcpProxy(*host_port(servers.postgres_url, 5432)).start()
    amqp_proxy = TcpProxy(*host_port(servers.amqp_uri, 5672)).start()
    env = {**{k: via(v, pg_proxy) if k.endswith("_DATABASE_URL") else v
              for k, v in iso.environment(ALL_SERVICES).items()},
           "POSTGRES_URL": via(servers.postgres_url, pg_proxy), **seaweed.environment(),
           "SMTP_HOST": sink.host, "SMTP_PORT": str(sink.port),
           "JWT_SECRET": JWT_SECRET, "ADMIN_EMAIL": ADMIN_EMAIL, "ADMIN_PASSWORD": ADMIN_PASSWORD,
           "RPC_TIMEOUT": "3", "HEALTH_TIMEOUT": "2", "GATEWAY_HOST": "127.0.0.1",
           "GATEWAY_WORKERS": "2", "GATEWAY_THREADS": "8", "LOG_LEVEL": "WARNING"}
    plat = LocalPlatform(env=env, log_dir=REPO / "var" / "test-logs" / iso.run_id / "proxied",
                         gateway_port=free_port())
    supervisor = Supervisor(plat)
    try:
        start_processes(plat, {"interventions": {"AMQP_URI": via(iso.amqp_uri, amqp_proxy)}},
                        ALL_SERVICES)
        plat.wait_healthy(120)
        supervisor.start()
        fault = FaultPlatform(plat, iso, sink, pg_proxy, amqp_proxy, supervisor)
        fault.login()
        yield fault
    finally:
        supervisor.stop()
        plat.stop()
        pg_proxy.stop()
        amqp_proxy.stop()
        sink.stop()
        iso.destroy()


# --- Test 3: cut PostgreSQL ---------------------------------------------------------------

def test_postgres_cut_answers_clean_503_and_recovers_without_restart(behind_proxies, request):
    fp = behind_proxies
    base = fp.master_data()
    known = fp.created("/interventions", {**base, "description": "before the cut"})
    pids = {name: p.popen.pid for name, p in fp.plat.processes.items()}
    baseline = {}
    for name, (method, path, body) in {
            "POST /interventions": ("POST", "/interventions", {**base, "description": "baseline"}),
            "GET /interventions/{id}": ("GET", f"/interventions/{known['id']}", None)}.items():
        t0 = time.monotonic()
        assert fp.call(method, path, body).status_code < 300
        baseline[name] = round(time.monotonic() - t0, 3)
    t0 = time.monotonic()
    fp.login()
    baseline["POST /auth/token"] = round(time.monotonic() - t0, 3)
    test_started = time.monotonic()

    closed = fp.pg_proxy.cut()
    cut_at = time.monotonic()
    probes = {
        "POST /interventions": lambda: fp.call("POST", "/interventions",
                                               {**base, "description": "during the cut"}),
        "GET /interventions/{id}": lambda: fp.call("GET", f"/interventions/{known['id']}"),
        "POST /companies": lambda: fp.call("POST", "/companies", {"name": "during the cut"}),
        "POST /auth/token": lambda: requests.post(
            fp.base_url + "/auth/token", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD},
            timeout=30),
        "GET /health": lambda: fp.call("GET", "/health"),
    }
    answers = {}
    for _ in range(3):  # several rounds: pooled connections die one by one
        for name, probe in probes.items():
            response = probe()
            answers.setdefault(name, []).append((response.status_code, response.text))
    cut_answers_s = time.monotonic() - cut_at

    fp.pg_proxy.restore()
    restored_at = time.monotonic()
    first_2xx = {}

    def recovered():
        for name, probe in (("POST /interventions", probes["POST /interventions"]),
                            ("GET /interventions/{id}", probes["GET /interventions/{id}"]),
                            ("POST /auth/token", probes["POST /auth/token"])):
            if name not in first_2xx:
                response = probe()
                answers.setdefault(name + " (after restore)", []).append(
                    (response.status_code, response.text))
                if 200 <= response.status_code < 300:
                    first_2xx[name] = round(time.monotonic() - restored_at, 3)
        return len(first_2xx) == 3
    wait_until(recovered, 10, interval=0.05, message="2xx again after the restore")
    recovery_s = max(first_2xx.values())

    # an intervention made after the restore is relayed and emailed too
    after = fp.created("/interventions", {**base, "description": "after the restore"})
    interventions_db = Sql(fp.iso.database_url("interventions"))
    try:
        wait_until(lambda: interventions_db.scalar(
            "SELECT count(*) FROM outbox WHERE published_at IS NULL") == 0, 20, interval=0.05,
            message="the outbox drained after the restore")
    finally:
        interventions_db.close()
    event_after_restore_s = time.monotonic() - restored_at

    statuses = {name: collections.Counter(code for code, _ in got) for name, got in answers.items()}
    record(request.node.name, {
        "connections_closed_by_cut": closed,
        "connections_refused_while_cut": fp.pg_proxy.refused,
        "probe_rounds_while_cut_s": round(cut_answers_s, 2),
        "statuses": {name: dict(c) for name, c in statuses.items()},
        "latency_before_cut_s": baseline,
        "first_2xx_after_restore_s": first_2xx,
        "recovery_s": recovery_s,  # restore -> every probe answered 2xx
        "process_crashes": fp.supervisor.crashes_since(test_started),
        "restore_to_outbox_drained_s": round(event_after_restore_s, 2),
    })

    for name, got in answers.items():
        if "after restore" in name:
            continue
        for code, text in got:
            assert code >= 500, (name, code, text)
            body = json.loads(text)
            assert set(body) == {"error"} and {"code", "message"} <= set(body["error"]), (name, text)
            leaked = [word for word in DRIVER_TEXT if word.lower() in text.lower()]
            assert not leaked, (name, code, text)
    for name in ("POST /interventions", "GET /interventions/{id}", "POST /companies",
                 "POST /auth/token", "GET /health"):
        assert {code for code, _ in answers[name]} == {503}, (name, answers[name])
    assert recovery_s <= 10
    assert fp.supervisor.crashes_since(test_started) == []
    assert {name: p.popen.pid for name, p in fp.plat.processes.items()} == pids
    assert all(p.alive for p in fp.plat.processes.values())
    assert after["id"]


# --- Test 2: cut the interventions service's RabbitMQ connection -------------------------

ATTEMPTS = 200
THREADS = 8


@pytest.mark.parametrize("cut_seconds", [2.0, 4.0], ids=["cut_2s", "cut_4s"])
def test_amqp_cut_under_load_every_acknowledged_creation_is_published_once(
        behind_proxies, cut_seconds, request):
    """2 s: shorter than the gateway's RPC_TIMEOUT (3 s), the requests in
    flight wait and succeed; 4 s: longer, they answer 503 and the deadline
    they carry must keep the service from running them afterwards.

    Every attempt carries an Idempotency-Key of its own; after the run, each
    attempt that did not get a 2xx is retried with the same key and body, as
    a client should: in the end every attempt has exactly one intervention."""
    fp = behind_proxies
    base = fp.master_data()
    prefix = f"amqp-cut-{uuid.uuid4().hex[:6]}"
    subscriber = Subscriber(fp.iso.amqp_uri)  # bound before the run
    interventions_db = Sql(fp.iso.database_url("interventions"))
    requests_db = Sql(fp.iso.database_url("requests"))

    lock = threading.Lock()
    next_attempt = iter(range(ATTEMPTS))
    results = {}  # attempt -> (status, id if 201, answered at, error body, sent at)
    successes = [0]

    def create(session, attempt):
        sent_at = time.monotonic()
        try:
            response = session.post(
                fp.base_url + "/interventions", timeout=30,
                headers={"Idempotency-Key": f"{prefix}-{attempt:03d}"},
                json={**base, "description": f"{prefix}-{attempt:03d}"})
            status = response.status_code
            body = response.json() if response.headers.get(
                "content-type", "").startswith("application/json") else {}
        except requests.RequestException as exc:
            status, body = type(exc).__name__, {}
        return (status, body.get("id") if status == 201 else None, time.monotonic(),
                body if status != 201 else None, sent_at)

    def new_session():
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {fp.token}"
        return session

    def client():
        session = new_session()
        while True:
            with lock:
                attempt = next(next_attempt, None)
            if attempt is None:
                return
            result = create(session, attempt)
            with lock:
                results[attempt] = result
                if result[0] == 201:
                    successes[0] += 1

    def prefixed():
        return interventions_db("SELECT id::text, description FROM interventions "
                                "WHERE description LIKE :p", p=prefix + "%")

    def settled():
        existing = {r[0] for r in prefixed()}
        seen = {b["aggregate_id"] for b in subscriber.received()}
        known = {r[0] for r in requests_db("SELECT id::text FROM known_interventions")}
        everything = {r[0] for r in interventions_db("SELECT id::text FROM interventions")}
        return (interventions_db.scalar(
                    "SELECT count(*) FROM outbox WHERE published_at IS NULL") == 0
                and queue_ready(fp.iso.amqp_uri, "rpc-interventions") == 0
                and existing <= seen and everything <= known)

    def by_attempt(rows):
        found = collections.defaultdict(list)
        for iid, description in rows:
            found[int(description.rsplit("-", 1)[1])].append(iid)
        return found

    try:
        started = time.monotonic()
        threads = [threading.Thread(target=client, daemon=True) for _ in range(THREADS)]
        for t in threads:
            t.start()
        wait_until(lambda: successes[0] >= 50, 30, interval=0.005, message="50 creations")
        closed = fp.amqp_proxy.cut()
        cut_at = time.monotonic()
        successes_at_cut = successes[0]
        wait_until(lambda: time.monotonic() - cut_at >= cut_seconds, cut_seconds + 3,
                   interval=0.05, message=f"{cut_seconds:g} s of cut")
        fp.amqp_proxy.restore()
        restored_at = time.monotonic()
        for t in threads:
            t.join(60)
        attempts_done_s = time.monotonic() - started
        assert len(results) == ATTEMPTS
        wait_until(settled, 40, interval=0.1, message="outbox drained and every event consumed")
        settled_s = time.monotonic() - restored_at
        before_retries = by_attempt(prefixed())

        # the client's part: retry what failed, same key, same body
        session = new_session()
        retried = {}
        for attempt in sorted(a for a, r in results.items() if r[0] != 201):
            retried[attempt] = wait_until(
                lambda: (r := create(session, attempt))[0] == 201 and r, 20, interval=0.2,
                message=f"the retry of attempt {attempt}")
        wait_until(settled, 40, interval=0.1, message="settled after the retries")
    finally:
        subscriber.close()

    rows = prefixed()
    after_retries = by_attempt(rows)
    all_interventions = {r[0] for r in interventions_db("SELECT id::text FROM interventions")}
    outbox_created = interventions_db(
        "SELECT aggregate_id, count(*) FROM outbox WHERE event_type = 'intervention.created' "
        "GROUP BY aggregate_id")
    known = {r[0] for r in requests_db("SELECT id::text FROM known_interventions")}
    requests_inbox = requests_db("SELECT count(*), count(DISTINCT event_id) FROM inbox "
                                 "WHERE consumer = 'requests.on_intervention_created'")[0]
    interventions_db.close()
    requests_db.close()

    bodies = [b for b in subscriber.received()
              if b["data"].get("description", "").startswith(prefix)]
    events_by_aggregate = collections.defaultdict(list)
    for b in bodies:
        events_by_aggregate[b["aggregate_id"]].append(b["event_id"])

    ok = {a: r[1] for a, r in results.items() if r[0] == 201}
    failed = {a: r for a, r in results.items() if r[0] != 201}
    status_counts = collections.Counter(str(r[0]) for r in results.values())
    failed_but_exists = [a for a in failed if before_retries.get(a)]
    retry_returned_existing = [a for a in failed_but_exists
                               if retried[a][1] in before_retries[a]]
    written_twice = {a: ids for a, ids in after_retries.items() if len(ids) > 1}
    redelivered_events = sum(len(ids) - len(set(ids)) for ids in events_by_aggregate.values())
    crashes = fp.supervisor.crashes_since(started)
    latencies = sorted(r[2] - r[4] for r in results.values())
    during_cut = [r[2] - r[4] for r in results.values() if r[4] <= restored_at and r[2] >= cut_at]
    first_ok_after_restore = min((r[2] - restored_at for r in results.values()
                                  if r[0] == 201 and r[2] > restored_at), default=None)
    error_codes = collections.Counter((r[3] or {}).get("error", {}).get("code")
                                      for r in failed.values())

    record(request.node.name, {
        "attempts": ATTEMPTS, "client_threads": THREADS,
        "successes_when_cut": successes_at_cut,
        "connections_closed_by_cut": closed,
        "connections_refused_while_cut": fp.amqp_proxy.refused,
        "cut_s": round(restored_at - cut_at, 2),
        "statuses": dict(status_counts),
        "error_codes": {str(k): v for k, v in error_codes.items()},
        "first_2xx_after_restore_s": round(first_ok_after_restore, 3)
        if first_ok_after_restore is not None else None,
        "attempts_done_s": round(attempts_done_s, 2),
        "latency_p50_s": round(latencies[len(latencies) // 2], 3),
        "requests_spanning_the_cut": len(during_cut),
        "slowest_request_spanning_the_cut_s": round(max(during_cut), 2) if during_cut else None,
        "restore_to_settled_s": round(settled_s, 2),
        "interventions_before_retries": sum(len(v) for v in before_retries.values()),
        "failed_but_intervention_exists": len(failed_but_exists),
        "retried_with_same_key": len(retried),
        "retry_returned_the_existing_intervention": len(retry_returned_existing),
        "interventions_after_retries": len(rows),
        "attempts_written_twice": len(written_twice),
        "events_consumed_by_plain_queue": len(bodies),
        "duplicate_deliveries_same_event_id": redelivered_events,
        "process_crashes": [{**c, "at": round(c["at"] - cut_at, 2)} for c in crashes],
    })

    existing = {iid for iid, _ in rows}
    # every 2xx id (first answers and retries) exists, with exactly one
    # intervention.created event
    final_ids = {**ok, **{a: r[1] for a, r in retried.items()}}
    assert set(final_ids.values()) <= existing
    for iid in final_ids.values():
        assert len(set(events_by_aggregate[iid])) == 1, (iid, events_by_aggregate[iid])
    # every event is about an intervention that exists; every one has one event
    assert set(events_by_aggregate) == existing
    assert all(len(set(ids)) == 1 for ids in events_by_aggregate.values())
    assert {a: n for a, n in outbox_created if n != 1} == {}
    # the service with effects consumed each event once, and knows exactly
    # the interventions that exist
    assert known == all_interventions
    assert requests_inbox[0] == requests_inbox[1] == len(all_interventions)
    # with its Idempotency-Key retried, every attempt made exactly one
    # intervention, the one its 2xx names (a 503 that had committed answers
    # the stored response on the retry)
    assert {a: ids for a, ids in after_retries.items()} == {a: [i] for a, i in final_ids.items()}
    assert retry_returned_existing == failed_but_exists
    assert status_counts["201"] >= 50
    # and the service rode out the cut: no restart needed, and every failed
    # request answered a clean 503
    assert crashes == [], (
        "a process exited when its RabbitMQ connection was cut (restarted here as "
        "docker compose's restart policy would): see docs/reliability.md, "
        f"'Known problems'. {[{**c, 'at': round(c['at'] - cut_at, 2)} for c in crashes]}")
    assert all(r[0] == 503 for r in failed.values()), failed
