"""SMTP failures (issue 3): an email that cannot be sent is retried with
growing delays; after its last attempt it is `dead`, listed for operators,
who resend it once the mail server is back. Each email reaches the server
once."""
import json
import os
import time
import uuid

import pytest
import sqlalchemy as sa
from kombu import Connection, Exchange
from nameko.standalone.rpc import ClusterRpcProxy
from sqlalchemy.pool import NullPool

from fieldwork_common import errors as _typed_errors  # noqa: F401  (remote errors come back typed)
from fieldwork_common.db import engine_url
from fieldwork_common.envelope import make_envelope
from fieldwork_common.principal import Principal
from fieldwork_common.testing import servers as servers_mod
from fieldwork_common.testing.platform import REPO, LocalPlatform
from fieldwork_common.testing.smtp import SmtpSink, free_port
from fieldwork_common.testing.tcpproxy import TcpProxy
from fieldwork_common.testing.waiting import wait_until

ADMIN = Principal(user_id="test-admin", role="admin")


@pytest.fixture(scope="module")
def mail(servers, interventions_stub):
    """notifications alone (and a stand-in interventions answering its
    tracking-token RPC), its SMTP server behind a proxy the test cuts."""
    isolation = servers_mod.Isolation.create(servers)
    sink = SmtpSink().start()
    proxy = TcpProxy(sink.host, sink.port).start()
    env = {**isolation.environment(["notifications"]), "SMTP_HOST": "127.0.0.1",
           "SMTP_PORT": str(proxy.port), "EMAIL_RETRY_BASE": "0.3", "EMAIL_RETRY_POLL": "0.2",
           "EMAIL_MAX_ATTEMPTS": "3", "RETRY_DELAYS": "0.2"}
    platform = LocalPlatform(env=env, log_dir=REPO / "var" / "test-logs" / isolation.run_id,
                             gateway_port=free_port())
    rpc = ClusterRpcProxy({"AMQP_URI": isolation.amqp_uri}, timeout=10,
                          context_data={"principal": ADMIN.to_json()})
    engine = sa.create_engine(engine_url(isolation.database_url("notifications")), poolclass=NullPool)
    try:
        interventions_stub(isolation.amqp_uri, platform.log_dir / "interventions-stub.log")
        platform.start(names=["notifications"], wait=False)
        cluster = rpc.start()

        def healthy():
            try:
                return cluster.notifications.health()["status"] == "ok"
            except Exception:
                if not platform.processes["notifications"].alive:
                    raise RuntimeError(platform.processes["notifications"].log_tail())
                return False
        wait_until(healthy, timeout=60, interval=0.2, message="notifications up")

        class Mail:
            pass
        m = Mail()
        m.sink, m.proxy, m.rpc, m.isolation = sink, proxy, cluster, isolation

        def emails(recipient):
            with engine.connect() as conn:
                return conn.execute(sa.text(
                    "SELECT id::text, status, attempts, next_attempt_at FROM emails WHERE recipient = :r"),
                    {"r": recipient}).all()
        m.emails = emails

        def recorded_parts(recipient):
            with engine.connect() as conn:
                return conn.execute(sa.text(
                    "SELECT body, html_body FROM emails WHERE recipient = :r"), {"r": recipient}).one()
        m.recorded_parts = recorded_parts
        yield m
    finally:
        rpc.stop()
        platform.stop()
        engine.dispose()
        proxy.stop()
        sink.stop()
        isolation.destroy()


def announce(mail, recipient):
    """An intervention.created event as the interventions service publishes it."""
    iid = str(uuid.uuid4())
    envelope = make_envelope("interventions", "intervention.created", iid, {
        "id": iid, "location": "workshop", "description": "",
        "client": {"id": str(uuid.uuid4()), "name": "Client", "email": recipient, "locale": "fr"},
        "technician": {"id": str(uuid.uuid4()), "name": "Tech", "email": "t@example.test"},
        "type": {"id": str(uuid.uuid4()), "name": "Repair", "location": "workshop"}})
    with Connection(mail.isolation.amqp_uri, transport_options={"confirm_publish": True}) as conn:
        conn.Producer(serializer="json").publish(
            envelope, exchange=Exchange("interventions.events", "topic", durable=True),
            routing_key="intervention.created", delivery_mode=2)


def test_a_mail_server_outage_delays_the_email_and_it_arrives_once(mail):
    recipient = f"outage-{uuid.uuid4().hex[:8]}@example.test"
    mail.proxy.cut()
    try:
        announce(mail, recipient)
        [row] = wait_until(lambda: [r for r in mail.emails(recipient) if r.status == "failed"],
                           timeout=20, message="a failed attempt")
        assert row.attempts >= 1
    finally:
        mail.proxy.restore()
    started = time.monotonic()
    mail.sink.wait_for(recipient, timeout=20)
    print(f"\nsent {time.monotonic() - started:.2f}s after the mail server came back")
    wait_until(lambda: mail.emails(recipient)[0].status == "sent", message="marked sent")
    assert len(mail.sink.to(recipient)) == 1


def test_an_email_that_fails_every_attempt_is_dead_until_an_operator_resends_it(mail):
    recipient = f"dead-{uuid.uuid4().hex[:8]}@example.test"
    mail.proxy.cut()
    attempts_seen = []
    try:
        announce(mail, recipient)

        def dead():
            rows = mail.emails(recipient)
            if rows and (not attempts_seen or attempts_seen[-1][0] != rows[0].attempts):
                attempts_seen.append((rows[0].attempts, time.monotonic()))
            return rows and rows[0].status == "dead" and rows[0]
        row = wait_until(dead, timeout=30, interval=0.02, message="the email dead after 3 attempts")
        assert row.attempts == 3
        gaps = [b[1] - a[1] for a, b in zip(attempts_seen, attempts_seen[1:])]
        print(f"\nattempts {[a for a, _ in attempts_seen]}, gaps {[round(g, 2) for g in gaps]} s")
        assert gaps == sorted(gaps), "the delays between attempts grow"
        listed = mail.rpc.notifications.list_emails(recipient=recipient, status="dead")
        assert [e["id"] for e in listed["items"]] == [row.id] and listed["next_cursor"] is None
    finally:
        mail.proxy.restore()
    # a dead email waits for an operator: nothing is sent by itself
    assert mail.emails(recipient)[0].status == "dead" and mail.sink.to(recipient) == []
    resent = mail.rpc.notifications.resend_email(row.id)
    assert resent["status"] == "sent"
    [message] = mail.sink.wait_for(recipient)
    # the resend is the email recorded at first: both parts, as rendered then
    assert message.get_content_type() == "multipart/alternative"
    recorded = mail.recorded_parts(recipient)
    for kind, kept in (("plain", recorded.body), ("html", recorded.html_body)):
        assert message.get_body((kind,)).get_content().replace("\r\n", "\n").strip() == kept.strip()
    with pytest.raises(_typed_errors.Conflict):
        mail.rpc.notifications.resend_email(row.id)
    assert len(mail.sink.to(recipient)) == 1


def test_operators_resend_a_dead_email_from_the_command_line(mail):
    import subprocess
    import sys
    recipient = f"cli-{uuid.uuid4().hex[:8]}@example.test"
    mail.proxy.cut()
    try:
        announce(mail, recipient)
        row = wait_until(lambda: (rows := mail.emails(recipient)) and rows[0].status == "dead" and rows[0],
                         timeout=30, message="the email dead")
    finally:
        mail.proxy.restore()
    env = {**os.environ, "NOTIFICATIONS_DATABASE_URL": mail.isolation.database_url("notifications")}
    cli = [sys.executable, "-m", "fieldwork_notifications.emails_cli"]
    listed = subprocess.run(cli + ["list", "--status", "dead", "--recipient", recipient], env=env,
                            capture_output=True, text=True, timeout=60)
    assert listed.returncode == 0, listed.stderr
    assert [json.loads(line)["id"] for line in listed.stdout.splitlines()] == [row.id]
    resent = subprocess.run(cli + ["resend", row.id], env=env, capture_output=True, text=True, timeout=60)
    assert resent.returncode == 0 and json.loads(resent.stdout) == {"id": row.id, "resend": True}
    assert len(mail.sink.wait_for(recipient)) == 1  # the running service sent it
    again = subprocess.run(cli + ["resend", row.id], env=env, capture_output=True, text=True, timeout=60)
    assert again.returncode == 1  # sent already: nothing to resend
    assert len(mail.sink.to(recipient)) == 1
