"""The service's entrypoints with nameko's worker_factory: the database is
replaced at the boundary by a fake unit of work, so these run without
broker or database."""
import time

import pytest
from nameko.testing.services import worker_factory

from fieldwork_common.db import CallContext
from fieldwork_common.errors import Forbidden, InvalidInput, Unavailable
from fieldwork_common.principal import Principal
from fieldwork_common.testing.fakes import FakeDb
from fieldwork_interventions.service import InterventionsService


def service_for(role, call=None, **links):
    db = FakeDb(call)
    return worker_factory(InterventionsService, db=db,
                          principal=Principal(user_id="u", role=role, **links)), db


@pytest.mark.parametrize("role", ["manager", "client"])
def test_creation_is_refused_and_nothing_is_written(role):
    service, db = service_for(role, company_id="c")
    with pytest.raises(Forbidden):
        service.create_intervention(client_id="c", equipment_id="e", type_id="t",
                                    location="workshop")
    assert db.committed == []


def test_master_data_is_configured_by_admins_only():
    service, db = service_for("manager", company_id="c")
    with pytest.raises(Forbidden):
        service.create_company("Shop")
    with pytest.raises(Forbidden):
        service.create_intervention_type("Repair", "workshop")
    assert db.committed == []


def test_an_admin_creates_a_company_and_its_event_in_one_unit_of_work():
    service, db = service_for("admin")
    service.create_company("Shop")
    [uow] = db.committed
    assert [event_type for event_type, _, _ in uow.events] == ["company.created"]


def test_a_client_gets_one_of_the_email_languages():
    service, db = service_for("admin")
    with pytest.raises(InvalidInput) as caught:
        service.create_client("A", "a@example.test", "c", locale="de")
    assert caught.value.details["allowed"] == ["fr", "en"]
    assert db.committed == []


def test_a_command_whose_caller_stopped_waiting_is_not_run():
    service, db = service_for("admin", call=CallContext(deadline=time.time() - 1))
    with pytest.raises(Unavailable) as caught:
        service.create_company("Shop")
    assert caught.value.details == {"reason": "deadline_passed"}
    assert db.committed == [] and db.rolled_back == []


def test_the_response_is_remembered_under_the_idempotency_key():
    service, db = service_for("admin", call=CallContext(idempotency_key="k1", request_hash="h"))
    result = service.create_company("Shop")
    [uow] = db.committed
    assert uow.remembered == {"create_company:k1": result}


def test_health_pings_the_database():
    service = worker_factory(InterventionsService)
    assert service.health() == {"service": "interventions", "status": "ok"}
    service.db.ping.assert_called_once()
