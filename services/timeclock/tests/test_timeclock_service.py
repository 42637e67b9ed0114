from nameko.testing.services import worker_factory

from fieldwork_timeclock.models import KnownIntervention
from fieldwork_timeclock.service import TimeclockService


def test_health_pings_the_database():
    service = worker_factory(TimeclockService)
    assert service.health() == {"service": "timeclock", "status": "ok"}
    service.db.ping.assert_called_once()


def test_the_copy_keeps_owner_client_and_company():
    columns = {c.name for c in KnownIntervention.__table__.columns}
    assert {"id", "company_id", "client_id", "technician_id"} <= columns
