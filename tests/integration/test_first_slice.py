"""The first end-to-end slice (issue 2): admin → master data → intervention
→ event → email over SMTP; object access by role; every service wired to
the bus."""
from conftest import text_of
from fieldwork_common.testing.waiting import wait_until


def test_admin_creates_an_intervention_and_the_client_is_emailed_in_french(world, admin, smtp):
    company = world.company()
    client = world.client(company)  # locale defaults to French
    intervention = world.intervention(client=client, technician=world.technician(company))

    assert intervention["client_id"] == client["id"]
    assert intervention["company_id"] == company["id"]
    assert intervention["step"] == "picked_up"
    [message] = smtp.wait_for(client["email"])
    assert intervention["id"][:8].upper() in message["Subject"]
    assert "enregistrée" in message["Subject"]
    assert "Bonjour" in text_of(message)


def test_an_english_client_gets_the_email_in_english(world, smtp):
    company = world.company()
    client = world.client(company, locale="en")
    world.intervention(client=client, technician=world.technician(company))
    [message] = smtp.wait_for(client["email"])
    assert "registered" in message["Subject"]
    assert text_of(message).startswith("Hello")


def test_the_email_is_recorded_as_sent(world, service_db, smtp):
    company = world.company()
    client = world.client(company)
    intervention = world.intervention(client=client, technician=world.technician(company))
    smtp.wait_for(client["email"])
    rows = wait_until(lambda: service_db(
        "notifications", "SELECT status, template, language FROM emails WHERE recipient = :r "
        "AND status = 'sent'", r=client["email"]), message="email row marked sent")
    assert [tuple(r) for r in rows] == [("sent", "intervention_created", "fr")]
    assert intervention["id"]


def test_the_client_sees_its_intervention_and_nobody_else_does(world):
    company = world.company()
    client = world.client(company)
    intervention = world.intervention(client=client, technician=world.technician(company))
    path = f"/interventions/{intervention['id']}"

    owner = world.login_for("client", client_id=client["id"])
    response = owner.get(path)
    assert response.status_code == 200, response.text
    assert response.json()["id"] == intervention["id"]

    other_client = world.login_for("client", client_id=world.client(company)["id"])
    assert other_client.get(path).status_code == 404

    other_company = world.company()
    foreign_tech = world.login_for("technician", technician_id=world.technician(other_company)["id"])
    response = foreign_tech.get(path)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_the_assigned_technician_sees_it(world):
    company = world.company()
    technician = world.technician(company)
    intervention = world.intervention(technician=technician)
    tech = world.login_for("technician", technician_id=technician["id"])
    assert tech.get(f"/interventions/{intervention['id']}").status_code == 200


def test_requests_and_timeclock_keep_a_copy_of_each_new_intervention(world, service_db):
    intervention = world.intervention()
    for service in ("requests", "timeclock"):
        [row] = wait_until(lambda: service_db(
            service, "SELECT id::text, client_id::text, technician_id::text FROM known_interventions "
            "WHERE id = :i", i=intervention["id"]), message=f"{service} copy")
        assert tuple(row) == (intervention["id"], intervention["client_id"],
                              intervention["technician_id"])
