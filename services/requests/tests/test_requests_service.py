from nameko.testing.services import worker_factory

from fieldwork_requests.models import KnownIntervention
from fieldwork_requests.service import RequestsService


def test_health_pings_the_database():
    service = worker_factory(RequestsService)
    assert service.health() == {"service": "requests", "status": "ok"}
    service.db.ping.assert_called_once()


def test_the_copy_keeps_owner_client_and_company():
    columns = {c.name for c in KnownIntervention.__table__.columns}
    assert {"id", "company_id", "client_id", "technician_id"} <= columns
