"""The copies of an intervention that requests and timeclock keep
(`known_interventions`) follow its reassignments (`intervention.assigned`),
through the gateway and the bus. The out-of-order cases (an older event
arriving after a newer one, a reassignment before the copy exists) are unit
tests: libs/common/tests/test_projection.py and each service's
tests/test_<service>_copies.py."""
from fieldwork_common.testing.waiting import wait_until

COPIES = ("requests", "timeclock")


def copy_of(service_db, service, intervention_id):
    rows = service_db(service, "SELECT technician_id::text, company_id::text, version "
                               "FROM known_interventions WHERE id = :i", i=intervention_id)
    return tuple(rows[0]) if rows else None


def reassign(admin, intervention, technician):
    response = admin.request("PUT", f"/interventions/{intervention['id']}/assignment",
                             json={"technician_id": technician["id"]})
    assert response.status_code == 200, response.text
    return response.json()


def wait_for_copies(service_db, intervention, technician_id, version):
    expected = (technician_id, intervention["company_id"], version)
    for service in COPIES:
        wait_until(lambda: copy_of(service_db, service, intervention["id"]) == expected,
                   timeout=30, message=f"{service}'s copy at {expected}")
        assert copy_of(service_db, service, intervention["id"]) == expected


def test_the_copies_follow_a_reassignment(world, admin, service_db):
    company = world.company()
    first, second = world.technician(company), world.technician(company)
    intervention = world.intervention(client=world.client(company), technician=first)
    assert intervention["version"] == 1
    # the copy made from intervention.created carries its version; the
    # creation-time intervention.assigned changes nothing
    wait_for_copies(service_db, intervention, first["id"], 1)

    reassigned = reassign(admin, intervention, second)
    assert reassigned["technician_id"] == second["id"]
    assert reassigned["company_id"] == company["id"]
    assert reassigned["version"] > intervention["version"]
    wait_for_copies(service_db, reassigned, second["id"], reassigned["version"])


def test_the_copies_end_at_the_last_of_several_reassignments(world, admin, service_db):
    company = world.company()
    technicians = [world.technician(company) for _ in range(3)]
    intervention = world.intervention(client=world.client(company), technician=technicians[0])
    # reassigned before the copies may even exist: an early event is retried
    # until intervention.created has made the copy, and never goes back
    current = intervention
    for technician in technicians[1:] + technicians[:1]:
        current = reassign(admin, current, technician)
    assert current["technician_id"] == technicians[0]["id"]
    assert current["version"] == intervention["version"] + 3
    wait_for_copies(service_db, current, technicians[0]["id"], current["version"])
