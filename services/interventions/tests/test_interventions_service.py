"""The service's entrypoints with nameko's worker_factory: dependencies are
replaced at the boundary, so these run without broker or database."""
import pytest
from nameko.testing.services import worker_factory

from fieldwork_common.errors import Forbidden
from fieldwork_common.principal import Principal
from fieldwork_interventions.service import InterventionsService


@pytest.mark.parametrize("role", ["manager", "client"])
def test_creation_is_refused_before_touching_the_database(role):
    service = worker_factory(InterventionsService,
                             principal=Principal(user_id="u", role=role, company_id="c"))
    with pytest.raises(Forbidden):
        service.create_intervention(client_id="c", equipment_id="e", type_id="t",
                                    location="workshop")
    service.db.unit_of_work.assert_not_called()


def test_master_data_is_configured_by_admins_only():
    service = worker_factory(InterventionsService,
                             principal=Principal(user_id="u", role="manager", company_id="c"))
    with pytest.raises(Forbidden):
        service.create_company("Shop")
    with pytest.raises(Forbidden):
        service.create_intervention_type("Repair", "workshop")
    service.db.unit_of_work.assert_not_called()


def test_health_pings_the_database():
    service = worker_factory(InterventionsService)
    assert service.health() == {"service": "interventions", "status": "ok"}
    service.db.ping.assert_called_once()


def test_a_client_gets_one_of_the_email_languages():
    from fieldwork_common.errors import InvalidInput
    service = worker_factory(InterventionsService, principal=Principal(user_id="a", role="admin"))
    with pytest.raises(InvalidInput) as caught:
        service.create_client("A", "a@example.test", "c", locale="de")
    assert caught.value.details["allowed"] == ["fr", "en"]
    service.db.unit_of_work.assert_not_called()
