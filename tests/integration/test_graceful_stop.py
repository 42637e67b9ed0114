"""SIGTERM lets in-flight work finish and acks nothing unfinished (issue 3,
"Graceful stop"): the local runner and the Dockerfiles deliver SIGTERM to
the nameko process itself (exec form, no shell)."""
import signal
import threading
import time
import uuid

import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from fieldwork_common.db import engine_url
from fieldwork_common.testing.waiting import wait_until


def test_sigterm_finishes_the_call_in_flight_and_leaves_the_rest_queued(platform, isolation, world, admin,
                                                                        service_db):
    company = world.company()
    client = world.client(company)
    base = {"client_id": client["id"], "equipment_id": world.equipment(client)["id"],
            "type_id": world.intervention_type()["id"],
            "technician_id": world.technician(company)["id"], "location": "workshop"}
    tag = uuid.uuid4().hex[:8]
    in_flight_body = {**base, "description": f"in flight {tag}"}
    queued_body = {**base, "description": f"queued {tag}"}
    old = platform.processes["interventions"]
    engine = sa.create_engine(engine_url(isolation.database_url("interventions")), poolclass=NullPool)
    answers = {}
    with engine.connect() as conn:
        # hold the service inside its transaction
        conn.execute(sa.text("LOCK TABLE interventions IN SHARE ROW EXCLUSIVE MODE"))
        first = threading.Thread(target=lambda: answers.update(
            in_flight=admin.post("/interventions", in_flight_body)))
        first.start()
        wait_until(lambda: conn.execute(sa.text(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
            "AND application_name = :a"), {"a": f"fieldwork-interventions-{old.popen.pid}"}).scalar(),
            timeout=10, message="the create blocked in its transaction")
        old.signal(signal.SIGTERM)
        stopping_at = time.monotonic()
        # sent while the service stops: it must not be taken and dropped
        second = threading.Thread(target=lambda: answers.update(
            queued=admin.post("/interventions", queued_body)))
        second.start()
        conn.rollback()  # release: the call in flight can finish
    engine.dispose()
    first.join(30)
    old.popen.wait(30)
    stopped_in = time.monotonic() - stopping_at
    assert answers["in_flight"].status_code == 201, answers["in_flight"].text
    assert old.popen.returncode == 0, old.log_tail()
    replacement = platform.process("interventions").start()
    platform.processes["interventions"] = replacement
    second.join(30)
    print(f"\nstopped {stopped_in:.2f}s after SIGTERM; queued create answered "
          f"{answers['queued'].status_code}")
    counts = {body["description"]: service_db(
        "interventions", "SELECT count(*) FROM interventions WHERE description = :d",
        d=body["description"])[0][0] for body in (in_flight_body, queued_body)}
    assert counts[in_flight_body["description"]] == 1
    # the request sent during the stop was either run by the replacement
    # (201), or refused past its deadline (503) — never half-done, never twice
    if answers["queued"].status_code == 201:
        assert counts[queued_body["description"]] == 1
    else:
        assert answers["queued"].status_code == 503, answers["queued"].text
        assert counts[queued_body["description"]] == 0
    wait_until(lambda: admin.get("/health").status_code == 200, timeout=30, message="healthy again")
