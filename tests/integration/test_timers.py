"""Durable timers (fieldwork_common.timers, docs/timers.md) against real
RabbitMQ and PostgreSQL: two replicas of a small nameko service
(tests/integration/support/timer_probe) poll one timers table.

1. 200 timers due within 100 ms; one replica is killed with SIGKILL
   while they fire (with transactions open): every timer's effect (an `effects` row and an outbox
   event, written in the timer's transaction) exists exactly once, and the
   survivor fires what the dead one had in flight. The killed replica
   starts again and polls.
2. A cancelled timer never fires; a moved one fires once, at its new time,
   with its new payload; cancelling a fired one answers False.
3. A handler that fails is retried with growing delays and fires once when
   it succeeds; one that keeps failing is `failed` after TIMER_MAX_ATTEMPTS,
   with its error, until an operator retries it (`python -m
   fieldwork_common.timers retry`).

The figures of test 1 are printed and kept in var/timer-figures.json.
"""
import json
import os
import signal
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from nameko.standalone.rpc import ClusterRpcProxy
from sqlalchemy.pool import NullPool

from conftest import record_figures
from fieldwork_common.db import engine_url
from fieldwork_common.testing import servers as servers_mod
from fieldwork_common.testing.platform import REPO, Process
from fieldwork_common.testing.waiting import wait_until

SUPPORT = Path(__file__).parent / "support"
FIGURES = REPO / "var" / "timer-figures.json"
SERVICE = "timer_probe"
TIMERS = 200
WORK_MS = 20          # each probe.effect handler holds its transaction this long
POLL = 0.2            # TIMER_POLL of the replicas
RETRY_BASE = 0.2      # TIMER_RETRY_BASE
MAX_ATTEMPTS = 3      # TIMER_MAX_ATTEMPTS


class Sql:
    def __init__(self, url):
        self.engine = sa.create_engine(engine_url(url), poolclass=NullPool)

    def __call__(self, sql, **params):
        with self.engine.begin() as conn:
            result = conn.execute(sa.text(sql), params)
            return result.all() if result.returns_rows else []

    def scalar(self, sql, **params):
        return self(sql, **params)[0][0]


class Probe:
    """Replicas of the probe service, its RPC and its database."""

    def __init__(self, iso, log_dir):
        self.iso = iso
        self.log_dir = log_dir
        self.replicas = {}
        self.log_offsets = {}   # where each replica's current run starts in its log
        self.sql = Sql(iso.database_url(SERVICE))
        config = log_dir / "timer_probe.yml"
        log_dir.mkdir(parents=True, exist_ok=True)
        config.write_text("AMQP_URI: ${AMQP_URI}\nLOGGING:\n  version: 1\n  handlers:\n"
                          "    console:\n      class: logging.StreamHandler\n"
                          "  root:\n    level: INFO\n    handlers: [console]\n")
        self.config = config
        self._rpc = ClusterRpcProxy({"AMQP_URI": iso.amqp_uri}, timeout=20)
        self.rpc = None

    def start(self, name):
        log_path = self.log_dir / f"{name}.log"
        self.log_offsets[name] = log_path.stat().st_size if log_path.exists() else 0
        env = {**os.environ, **self.iso.environment((SERVICE,)), "PYTHONPATH": str(SUPPORT),
               "PYTHONUNBUFFERED": "1", "TIMER_POLL": str(POLL),
               "TIMER_RETRY_BASE": str(RETRY_BASE), "TIMER_MAX_ATTEMPTS": str(MAX_ATTEMPTS)}
        proc = Process(name, [str(Path(sys.executable).parent / "nameko"), "run", "--config",
                              str(self.config), "timer_probe.service"],
                       SUPPORT, env, log_path).start()
        self.replicas[name] = proc
        return proc

    def wait_up(self):
        if self.rpc is None:
            self.rpc = self._rpc.start()

        def up():
            for proc in self.replicas.values():
                if not proc.alive:
                    raise RuntimeError(f"{proc.name} exited:\n{proc.log_tail()}")
            # every replica has started its poller (it logs it once started)
            return all("fired every" in proc.log_path.read_bytes()[self.log_offsets[name]:].decode(
                errors="replace") for name, proc in self.replicas.items())
        wait_until(up, timeout=60, interval=0.1, message="the probe replicas polling")
        wait_until(lambda: self._healthy(), timeout=30, interval=0.1, message="the probe's RPC")

    def _healthy(self):
        try:
            return self.rpc.timer_probe.health()["status"] == "ok"
        except Exception:
            return False

    def stop(self):
        if self.rpc is not None:
            self._rpc.stop()
        for proc in self.replicas.values():
            proc.stop()
        self.sql.engine.dispose()


@pytest.fixture(scope="module")
def probe(servers):
    iso = servers_mod.Isolation.create(servers)
    p = Probe(iso, REPO / "var" / "test-logs" / iso.run_id / "timers")
    try:
        p.start("probe-a")
        p.wait_up()   # the first replica migrates; then the second starts
        p.start("probe-b")
        p.wait_up()
        yield p
    finally:
        p.stop()
        iso.destroy()


def record(name, figures):
    record_figures(FIGURES, name, figures)


def tag():
    return uuid.uuid4().hex[:8]


def test_200_timers_fire_exactly_once_when_a_replica_is_killed(probe):
    run = tag()
    keys = [f"{run}-{i:03d}" for i in range(TIMERS)]
    a, b = probe.replicas["probe-a"], probe.replicas["probe-b"]
    # all due within 100 ms, 1.5 s from now: both replicas fire at full speed
    probe.rpc.timer_probe.schedule([
        {"kind": "probe.effect", "key": key, "due_in": 1.5 + (i % 10) * 0.01,
         "payload": {"work_ms": WORK_MS, "n": i}} for i, key in enumerate(keys)])
    scheduled_at = time.monotonic()
    effects = lambda: probe.sql.scalar(  # noqa: E731
        "SELECT count(*) FROM effects WHERE key LIKE :p", p=f"{run}-%")

    # kill -9 replica a once both have fired a good part, while a fires
    def both_fired_some():
        by = dict(probe.sql("SELECT replica, count(*) FROM effects WHERE key LIKE :p GROUP BY replica",
                            p=f"{run}-%"))
        return by.get(a.popen.pid, 0) >= 20 and by.get(b.popen.pid, 0) >= 20 and by
    wait_until(both_fired_some, timeout=30, interval=0.005, message="both replicas firing")
    # a's transactions that hold a timer at this instant (claimed, handler running)
    in_flight = probe.sql.scalar(
        "SELECT count(DISTINCT a.pid) FROM pg_stat_activity a JOIN pg_locks l ON l.pid = a.pid "
        "JOIN pg_class c ON c.oid = l.relation WHERE a.application_name = :n "
        "AND c.relname = 'timers' AND a.xact_start IS NOT NULL",
        n=f"fieldwork-{SERVICE}-{a.popen.pid}")
    killed_pid = a.popen.pid
    a.kill()
    assert in_flight >= 1, "the kill should land while the replica holds timers"
    killed_at = time.monotonic()
    done_before_kill = effects()
    by_replica_at_kill = dict(probe.sql(
        "SELECT replica, count(*) FROM effects WHERE key LIKE :p GROUP BY replica", p=f"{run}-%"))

    wait_until(lambda: probe.sql.scalar(
        "SELECT count(*) FROM timers WHERE key LIKE :p AND status = 'fired'", p=f"{run}-%") == TIMERS,
        timeout=60, interval=0.05, message=f"{TIMERS} timers fired")
    finished_at = time.monotonic()

    per_key = dict(probe.sql("SELECT key, count(*) FROM effects WHERE key LIKE :p GROUP BY key",
                             p=f"{run}-%"))
    assert sorted(per_key) == keys, f"missing: {sorted(set(keys) - set(per_key))}"
    assert set(per_key.values()) == {1}, {k: n for k, n in per_key.items() if n != 1}
    events = dict(probe.sql("SELECT aggregate_id, count(*) FROM outbox WHERE event_type = 'probe.fired' "
                            "AND aggregate_id LIKE :p GROUP BY aggregate_id", p=f"{run}-%"))
    assert sorted(events) == keys and set(events.values()) == {1}
    by_replica = dict(probe.sql(
        "SELECT replica, count(*) FROM effects WHERE key LIKE :p GROUP BY replica", p=f"{run}-%"))
    assert set(by_replica) == {killed_pid, b.popen.pid}
    # nothing from the dead replica after its death: what it had in flight was
    # rolled back, and fired by the survivor
    assert by_replica[killed_pid] == by_replica_at_kill[killed_pid]
    lateness = [float(row[0]) for row in probe.sql(
        "SELECT extract(epoch FROM e.at - t.due_at) FROM effects e JOIN timers t "
        "ON t.kind = e.kind AND t.key = e.key WHERE e.key LIKE :p", p=f"{run}-%")]
    attempts = dict(probe.sql("SELECT attempts, count(*) FROM timers WHERE key LIKE :p GROUP BY attempts",
                              p=f"{run}-%"))
    assert attempts == {1: TIMERS}  # an attempt cut by the kill was rolled back with its mark

    # the killed replica starts again and takes its share of new timers
    probe.start("probe-a")
    probe.wait_up()
    record("timers_kill_9_one_of_two_replicas", {
        "timers": TIMERS, "handler_work_ms": WORK_MS, "timer_poll_s": POLL,
        "effects_before_kill": done_before_kill,
        "fired_by_killed_replica": by_replica[killed_pid],
        "fired_by_survivor": by_replica[b.popen.pid],
        "timers_in_flight_in_killed_replica_at_kill": in_flight,
        "survivor_finished_s_after_kill": round(finished_at - killed_at, 2),
        "all_fired_s_after_scheduling": round(finished_at - scheduled_at, 2),
        "lateness_p50_s": round(statistics.median(lateness), 3),
        "lateness_max_s": round(max(lateness), 3),
        "effects_per_timer": sorted(set(per_key.values())),
        "missing": len(set(keys) - set(per_key)),
    })


def test_a_cancelled_timer_never_fires_and_a_moved_one_fires_once_at_its_new_time(probe):
    run = tag()
    cancelled, moved, earlier, control = (f"{run}-{n}" for n in ("cancelled", "moved", "earlier", "control"))
    rpc = probe.rpc.timer_probe
    rpc.schedule([{"kind": "probe.effect", "key": cancelled, "due_in": 1.5, "payload": {"v": 1}},
                  {"kind": "probe.effect", "key": moved, "due_in": 1.5, "payload": {"v": 1}},
                  {"kind": "probe.effect", "key": earlier, "due_in": 3600, "payload": {"v": 1}}])
    assert rpc.cancel("probe.effect", cancelled) is True
    assert rpc.cancel("probe.effect", f"{run}-unknown") is False
    # moved later, with a new payload; another moved from an hour to now
    rpc.schedule([{"kind": "probe.effect", "key": moved, "due_in": 3.0, "payload": {"v": 2}},
                  {"kind": "probe.effect", "key": earlier, "due_in": 0, "payload": {"v": 2}},
                  {"kind": "probe.effect", "key": control, "due_in": 3.5}])
    [(moved_due,)] = probe.sql("SELECT due_at FROM timers WHERE key = :k", k=moved)

    # once the control timer (due after all the others) has fired, every other
    # one had its chance
    wait_until(lambda: probe.sql("SELECT 1 FROM effects WHERE key = :k", k=control), timeout=30,
               message="the control timer fired")
    rows = {r.key: r for r in probe.sql(
        "SELECT key, count(*) AS n, min(at) AS at, min(payload->>'v') AS v FROM effects "
        "WHERE key LIKE :p GROUP BY key", p=f"{run}-%")}
    assert cancelled not in rows
    assert probe.sql("SELECT status FROM timers WHERE key = :k", k=cancelled) == [("cancelled",)]
    assert rows[moved].n == 1 and rows[moved].v == "2" and rows[moved].at >= moved_due
    assert rows[earlier].n == 1 and rows[earlier].v == "2"
    # too late to cancel a fired timer: False, and its effect stays
    assert rpc.cancel("probe.effect", moved) is False
    assert probe.sql("SELECT status FROM timers WHERE key = :k", k=moved) == [("fired",)]


def test_a_failing_handler_is_retried_then_left_failed_for_an_operator(probe):
    run = tag()
    flaky, broken = f"{run}-flaky", f"{run}-broken"
    rpc = probe.rpc.timer_probe
    rpc.schedule([{"kind": "probe.flaky", "key": flaky, "due_in": 0, "payload": {"succeed_at": 3}},
                  {"kind": "probe.until_fixed", "key": broken, "due_in": 0}])

    fired = wait_until(lambda: probe.sql("SELECT status, attempts, last_error FROM timers "
                                         "WHERE key = :k AND status = 'fired'", k=flaky),
                       timeout=30, message="the flaky timer fired")
    assert fired == [("fired", 3, None)]
    # the effects of the failed attempts were rolled back with them
    assert probe.sql("SELECT attempt FROM effects WHERE key = :k", k=flaky) == [(3,)]

    [failed] = wait_until(lambda: probe.sql(
        "SELECT id, status, attempts, last_error, extract(epoch FROM updated_at - due_at) AS span "
        "FROM timers WHERE key = :k AND status = 'failed'", k=broken), timeout=30,
        message="the broken timer failed")
    assert failed.attempts == MAX_ATTEMPTS
    assert failed.last_error == "ProbeFailure: not fixed yet"
    # two waits, RETRY_BASE then twice that, between the three attempts
    assert failed.span >= RETRY_BASE * 3
    assert probe.sql("SELECT 1 FROM effects WHERE key = :k", k=broken) == []

    # the operator fixes the cause and retries it from the command line
    env = {**os.environ, f"{SERVICE.upper()}_DATABASE_URL": probe.iso.database_url(SERVICE)}
    cli = [sys.executable, "-m", "fieldwork_common.timers"]
    listed = subprocess.run(cli + ["list", SERVICE, "--status", "failed", "--kind", "probe.until_fixed"],
                            env=env, capture_output=True, text=True, timeout=60)
    assert listed.returncode == 0, listed.stderr
    assert failed.id in [json.loads(line)["id"] for line in listed.stdout.splitlines()]
    probe.sql("INSERT INTO fixes (key) VALUES (:k)", k=broken)
    retried = subprocess.run(cli + ["retry", SERVICE, str(failed.id)], env=env, capture_output=True,
                             text=True, timeout=60)
    assert retried.returncode == 0 and json.loads(retried.stdout) == {"id": failed.id, "retry": True}
    wait_until(lambda: probe.sql("SELECT 1 FROM effects WHERE key = :k", k=broken), timeout=30,
               message="the fixed timer fired")
    assert probe.sql("SELECT status, attempts FROM timers WHERE key = :k", k=broken) == [("fired", 1)]
    again = subprocess.run(cli + ["retry", SERVICE, str(failed.id)], env=env, capture_output=True,
                           text=True, timeout=60)
    assert again.returncode == 1  # fired: nothing to retry


def test_a_replica_stopped_with_sigterm_finishes_what_it_fires(probe):
    """SIGTERM (a deploy, a scale-down): the replica stops claiming, lets its
    handlers in flight commit, and exits 0; the other replica fires the rest."""
    run = tag()
    keys = [f"{run}-{i:02d}" for i in range(40)]
    probe.rpc.timer_probe.schedule([{"kind": "probe.effect", "key": key, "due_in": 1.0,
                                     "payload": {"work_ms": 50}} for key in keys])
    a = probe.replicas["probe-a"]
    wait_until(lambda: probe.sql("SELECT 1 FROM effects WHERE key LIKE :p AND replica = :r",
                                 p=f"{run}-%", r=a.popen.pid), timeout=30, interval=0.005,
               message="replica a firing")
    a.signal(signal.SIGTERM)
    assert a.popen.wait(30) == 0
    wait_until(lambda: probe.sql.scalar("SELECT count(*) FROM timers WHERE key LIKE :p AND status = 'fired'",
                                        p=f"{run}-%") == len(keys), timeout=30, message="all fired")
    per_key = dict(probe.sql("SELECT key, count(*) FROM effects WHERE key LIKE :p GROUP BY key",
                             p=f"{run}-%"))
    assert sorted(per_key) == keys and set(per_key.values()) == {1}
    probe.start("probe-a")
    probe.wait_up()


def test_upgrading_notifications_gives_each_scheduled_survey_its_timer(servers):
    """Surveys scheduled by the poll that timers replace keep their due time."""
    from alembic import command
    from alembic.config import Config

    from fieldwork_common.db import ensure_database
    iso = servers_mod.Isolation.create(servers)
    url = iso.database_url("notifications")
    try:
        ensure_database(url)
        engine = sa.create_engine(engine_url(url), poolclass=NullPool)
        cfg = Config()
        cfg.set_main_option("script_location", "fieldwork_notifications:migrations")
        with engine.connect() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "0002")
            conn.execute(sa.text(
                "INSERT INTO surveys (id, event_id, intervention_id, recipient, language, due_at, status) "
                "VALUES (gen_random_uuid(), gen_random_uuid(), gen_random_uuid(), 'a@x.test', 'fr', "
                "'2030-01-01T10:00:00Z', :s)"), [{"s": "scheduled"}, {"s": "sent"}, {"s": "cancelled"}])
            conn.commit()
            command.upgrade(cfg, "head")
            conn.commit()
            rows = conn.execute(sa.text(
                "SELECT t.kind, t.status, t.due_at = s.due_at, t.next_attempt_at = s.due_at, s.status "
                "FROM timers t JOIN surveys s ON s.id::text = t.key")).all()
        engine.dispose()
        assert rows == [("survey.due", "pending", True, True, "scheduled")]
    finally:
        iso.destroy()
