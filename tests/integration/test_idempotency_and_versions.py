"""Issue 3: Idempotency-Key on mutating calls (test 5: a replica killed
mid-call), and optimistic concurrency on updates (test 7)."""
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from fieldwork_common.db import engine_url
from fieldwork_common.testing.waiting import wait_until


def intervention_body(world):
    company = world.company()
    client = world.client(company)
    return {"client_id": client["id"], "equipment_id": world.equipment(client)["id"],
            "type_id": world.intervention_type()["id"],
            "technician_id": world.technician(company)["id"], "location": "workshop",
            "description": f"idempotency {uuid.uuid4().hex[:8]}"}


def count_interventions(service_db, description):
    return service_db("interventions", "SELECT count(*) FROM interventions WHERE description = :d",
                      d=description)[0][0]


def test_the_same_key_and_body_return_the_first_answer_and_change_nothing(world, admin, service_db):
    body = intervention_body(world)
    key = {"Idempotency-Key": uuid.uuid4().hex}
    first = admin.post("/interventions", body, headers=key)
    second = admin.post("/interventions", body, headers=key)
    assert (first.status_code, second.status_code) == (201, 201), second.text
    assert first.json() == second.json()
    assert count_interventions(service_db, body["description"]) == 1
    events = service_db("interventions", "SELECT count(*) FROM outbox WHERE event_type = "
                        "'intervention.created' AND aggregate_id = :a", a=first.json()["id"])
    assert events[0][0] == 1


def test_the_same_key_with_another_body_is_409(world, admin, service_db):
    body = intervention_body(world)
    key = {"Idempotency-Key": uuid.uuid4().hex}
    assert admin.post("/interventions", body, headers=key).status_code == 201
    response = admin.post("/interventions", {**body, "description": body["description"] + "!"}, headers=key)
    assert response.status_code == 409
    assert response.json()["error"]["details"] == {"reason": "idempotency_key_reused"}
    assert count_interventions(service_db, body["description"] + "!") == 0


def test_without_a_key_each_post_is_a_new_intervention(world, admin, service_db):
    body = intervention_body(world)
    assert admin.post("/interventions", body).json()["id"] != admin.post("/interventions", body).json()["id"]
    assert count_interventions(service_db, body["description"]) == 2


def test_concurrent_retries_with_one_key_create_one_intervention(world, admin, service_db):
    body = intervention_body(world)
    key = {"Idempotency-Key": uuid.uuid4().hex}
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: admin.post("/interventions", body, headers=key), range(8)))
    assert {a.status_code for a in answers} == {201}
    assert len({a.json()["id"] for a in answers}) == 1
    assert count_interventions(service_db, body["description"]) == 1


def _queue_consumers(isolation, queue):
    return next((q.get("consumers", 0) for q in isolation.queues() if q["name"] == queue), 0)


def test_a_replica_killed_mid_call_and_a_client_retry_make_one_intervention(
        platform, isolation, world, admin, service_db):
    """Test 5: two replicas of interventions. The test holds a lock on the
    interventions table, so the replica that takes the request blocks inside
    its transaction; it is killed with SIGKILL there. RabbitMQ redelivers the
    request to the other replica; the client, meanwhile, retries with the same
    key. Exactly one intervention exists and both answers carry its id."""
    second = platform.process("interventions").start()
    replicas = [platform.processes["interventions"], second]
    try:
        wait_until(lambda: _queue_consumers(isolation, "rpc-interventions") == 2, timeout=60,
                   message="two interventions replicas consuming")
        body = intervention_body(world)
        key = {"Idempotency-Key": uuid.uuid4().hex}
        engine = sa.create_engine(engine_url(isolation.database_url("interventions")), poolclass=NullPool)
        answers = {}
        with engine.connect() as conn:
            conn.execute(sa.text("LOCK TABLE interventions IN SHARE ROW EXCLUSIVE MODE"))
            first = threading.Thread(target=lambda: answers.update(
                first=admin.post("/interventions", body, headers=key)))
            first.start()
            blocked = wait_until(lambda: conn.execute(sa.text(
                "SELECT application_name FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                "AND application_name LIKE 'fieldwork-interventions-%'")).scalars().first(),
                timeout=10, message="a replica blocked inside its transaction")
            pid = int(blocked.rsplit("-", 1)[1])
            [victim] = [r for r in replicas if r.popen.pid == pid]
            started = time.monotonic()
            victim.kill()
            conn.rollback()  # releases the lock
        engine.dispose()
        first.join(30)
        retry = admin.post("/interventions", body, headers=key)
        recovery = time.monotonic() - started
        print(f"\nkilled replica pid {pid} mid-transaction; answers "
              f"{answers['first'].status_code}/{retry.status_code} in {recovery:.2f}s after the kill")
        assert answers["first"].status_code == 201, answers["first"].text
        assert retry.status_code == 201, retry.text
        assert answers["first"].json()["id"] == retry.json()["id"]
        assert count_interventions(service_db, body["description"]) == 1
        survivor = second if victim is replicas[0] else replicas[0]
        platform.processes["interventions"] = survivor
    finally:
        for replica in replicas:
            if replica is not platform.processes["interventions"]:
                replica.stop()


def test_two_concurrent_updates_with_the_same_version_one_wins_one_gets_409(world, admin, service_db):
    """Test 7."""
    created = admin.post("/interventions", intervention_body(world)).json()
    path = f"/interventions/{created['id']}"
    etag = admin.get(path).headers["ETag"]
    barrier = threading.Barrier(2)

    def update(text):
        barrier.wait(10)
        return admin.request("PATCH", path, json={"description": text}, headers={"If-Match": etag})

    with ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(update, ["first writer", "second writer"]))
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [200, 409], [a.text for a in answers]
    winner = next(a for a in answers if a.status_code == 200).json()
    loser = next(a for a in answers if a.status_code == 409).json()["error"]
    assert loser["details"] == {"current_version": 2, "your_version": 1}
    current = admin.get(path)
    assert current.json()["description"] == winner["description"]
    assert current.json()["version"] == 2 and current.headers["ETag"] == '"2"'
    updates = service_db("interventions", "SELECT count(*) FROM outbox WHERE event_type = "
                         "'intervention.updated' AND aggregate_id = :a", a=created["id"])
    assert updates[0][0] == 1


def test_a_stale_version_never_overwrites(world, admin):
    created = admin.post("/interventions", intervention_body(world)).json()
    path = f"/interventions/{created['id']}"
    assert admin.request("PATCH", path, json={"description": "v2", "version": 1}).status_code == 200
    stale = admin.request("PATCH", path, json={"description": "lost?", "version": 1})
    assert stale.status_code == 409
    assert admin.get(path).json()["description"] == "v2"


@pytest.mark.parametrize("role", ["client"])
def test_a_client_cannot_update(world, role):
    company = world.company()
    client = world.client(company)
    created = world.intervention(client=client)
    customer = world.login_for("client", client_id=client["id"])
    response = customer.request("PATCH", f"/interventions/{created['id']}",
                                json={"description": "mine now", "version": 1})
    assert response.status_code == 403


def test_a_login_created_twice_with_one_key_is_created_once(world, admin):
    client = world.client(world.company())
    body = {"email": f"idem-{uuid.uuid4().hex[:6]}@example.test", "password": "long-enough",
            "role": "client", "client_id": client["id"]}
    key = {"Idempotency-Key": uuid.uuid4().hex}
    first, second = admin.post("/users", body, headers=key), admin.post("/users", body, headers=key)
    assert (first.status_code, second.status_code) == (201, 201), second.text
    assert first.json() == second.json()
    assert admin.post("/users", body).status_code == 409  # without the key: a new request
