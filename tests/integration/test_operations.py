"""Operators handle dead letters through the gateway (issue 3: "an admin
endpoint in the gateway"): a handler fails for one event, the event ends in
the service's dead letters after its retries, the admin lists it, fixes the
cause and replays it; the event is then handled once."""
import uuid

import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from fieldwork_common.db import engine_url
from fieldwork_common.testing.waiting import wait_until


def test_only_admins_see_dead_letters(world, admin):
    listing = admin.get("/admin/dead-letters")
    assert listing.status_code == 200, listing.text
    assert set(listing.json()["services"]) == {"requests", "interventions", "timeclock", "notifications"}
    manager = world.login_for("manager", company_id=world.company()["id"])
    assert manager.get("/admin/dead-letters").status_code == 403
    assert admin.get("/admin/dead-letters?service=billing").status_code == 400
    assert admin.post("/admin/dead-letters/replay", {"service": "timeclock"}).status_code == 400


def test_a_dead_letter_is_listed_replayed_after_the_fix_and_handled_once(isolation, world, admin, service_db):
    engine = sa.create_engine(engine_url(isolation.database_url("timeclock")), poolclass=NullPool,
                              isolation_level="AUTOCOMMIT")
    marker = f"refuse_{uuid.uuid4().hex[:8]}"
    # The cause an operator will fix: timeclock's database refuses the copy of
    # interventions described with this marker.
    with engine.connect() as conn:
        conn.execute(sa.text(f"""
            CREATE FUNCTION {marker}() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN RAISE EXCEPTION 'refused by the test'; END $$;"""))
    company = world.company()
    client = world.client(company)
    with engine.connect() as conn:
        conn.execute(sa.text(
            f"CREATE TRIGGER {marker} BEFORE INSERT ON known_interventions FOR EACH ROW "
            f"WHEN (NEW.client_id = '{client['id']}') EXECUTE FUNCTION {marker}()"))
    try:
        intervention = world.intervention(client=client, technician=world.technician(company))

        def dead_letter():
            letters = admin.get("/admin/dead-letters?service=timeclock").json()["services"]["timeclock"]
            return next((d for d in letters if d["envelope"]["aggregate_id"] == intervention["id"]), None)
        letter = wait_until(dead_letter, timeout=30, interval=0.2, message="the dead letter")
        assert letter["event_type"] == "intervention.created"
        assert letter["attempts"] == 3  # the first try and two retries (RETRY_DELAYS=0.2,0.5)
        assert "refused by the test" in letter["last_error"]
        # requests handled the same event: one failing consumer does not block the others
        assert service_db("requests", "SELECT count(*) FROM known_interventions WHERE id = :i",
                          i=intervention["id"])[0][0] == 1
    finally:
        with engine.connect() as conn:
            conn.execute(sa.text(f"DROP TRIGGER IF EXISTS {marker} ON known_interventions"))
            conn.execute(sa.text(f"DROP FUNCTION IF EXISTS {marker}()"))
        engine.dispose()

    replay = admin.post("/admin/dead-letters/replay", {"service": "timeclock", "ids": [letter["id"]]})
    assert replay.status_code == 200, replay.text
    assert [r["id"] for r in replay.json()["replayed"]] == [letter["id"]]
    wait_until(lambda: service_db("timeclock", "SELECT count(*) FROM known_interventions WHERE id = :i",
                                  i=intervention["id"])[0][0] == 1, message="handled after the replay")
    assert dead_letter() is None
    again = admin.post("/admin/dead-letters/replay", {"service": "timeclock", "ids": [letter["id"]]})
    assert again.json()["not_found"] == [letter["id"]]


def test_the_email_log_is_paginated_with_a_cursor(world, admin, smtp):
    company = world.company()
    client = world.client(company)
    technician = world.technician(company)
    for _ in range(3):
        world.intervention(client=client, technician=technician)
    smtp.wait_for(client["email"], count=3)
    seen, after = [], None
    while True:
        path = f"/admin/emails?recipient={client['email']}&limit=2" + (f"&after={after}" if after else "")
        page = admin.get(path)
        assert page.status_code == 200, page.text
        seen += [e["id"] for e in page.json()["items"]]
        after = page.json()["next_cursor"]
        if after is None:
            break
    assert len(seen) == len(set(seen)) == 3
    assert admin.get(f"/admin/emails?after={uuid.uuid4()}").status_code == 400
    assert admin.get("/admin/emails?limit=0").status_code == 400
