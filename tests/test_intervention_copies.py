"""The copy of each intervention that requests and timeclock keep follows
intervention.assigned, never going back to an older assignment (events of
different types arrive in any order). The same cases for both services.
The database is faked at the boundary: a unit of work whose session answers
the copy's stored version and records the statements."""
import uuid
from contextlib import contextmanager
from unittest.mock import MagicMock

import pytest
import sqlalchemy as sa
from nameko.testing.services import worker_factory
from sqlalchemy.dialects import postgresql

from fieldwork_common.envelope import make_envelope
from fieldwork_common.projection import CopyMissing
from fieldwork_common.testing.fakes import FakeDb

from fieldwork_requests import models as requests_models
from fieldwork_requests.service import RequestsService
from fieldwork_timeclock import models as timeclock_models
from fieldwork_timeclock.service import TimeclockService

INTERVENTION = str(uuid.uuid4())


class CopyDb(FakeDb):
    """A copy stored at version `stored` (None: no copy yet)."""

    def __init__(self, stored):
        super().__init__()
        self.statements = MagicMock(name="session")
        self.statements.execute.return_value.first.return_value = (
            None if stored is None else (stored,))

    @contextmanager
    def unit_of_work(self):
        with super().unit_of_work() as uow:
            uow.session = self.statements
            yield uow

    def executed(self, kind):
        return [call.args[0] for call in self.statements.execute.call_args_list
                if isinstance(call.args[0], kind)]


def assigned(version, technician, previous):
    return make_envelope("interventions", "intervention.assigned", INTERVENTION, {
        "id": INTERVENTION, "company_id": "c-2", "technician_id": technician,
        "previous_technician_id": previous,
        "technician": {"id": technician, "name": "T", "email": "t@example.test"},
        "at": "2026-01-01T00:00:00Z", "by": "u-1", "version": version})


@pytest.fixture(params=[(RequestsService, requests_models.KnownIntervention),
                        (TimeclockService, timeclock_models.KnownIntervention)],
                ids=["requests", "timeclock"])
def copies(request):
    return request.param


@pytest.fixture
def service(copies):
    return lambda db: worker_factory(copies[0], db=db)


def test_the_copy_keeps_the_interventions_version(copies):
    assert "version" in {c.name for c in copies[1].__table__.columns}


def test_a_reassignment_moves_the_copy(service):
    db = CopyDb(stored=1)
    service(db).on_intervention_assigned(assigned(2, "t-2", "t-1"))
    [update] = db.executed(sa.Update)
    params = update.compile(dialect=postgresql.dialect()).params
    assert (params["technician_id"], params["company_id"], params["version"]) == ("t-2", "c-2", 2)
    assert len(db.committed) == 1


def test_an_older_reassignment_arriving_late_does_not_overwrite_a_newer_copy(service):
    db = CopyDb(stored=3)   # the reassignment at version 3 came first
    service(db).on_intervention_assigned(assigned(2, "t-2", "t-1"))
    assert db.executed(sa.Update) == []
    assert len(db.committed) == 1   # handled (recorded in the inbox), not retried


def test_a_reassignment_before_the_copy_exists_is_retried(service):
    db = CopyDb(stored=None)
    with pytest.raises(CopyMissing):
        service(db).on_intervention_assigned(assigned(2, "t-2", "t-1"))
    assert db.committed == [] and len(db.rolled_back) == 1


def test_the_creation_time_assignment_is_dropped_when_no_copy_exists(service):
    db = CopyDb(stored=None)
    service(db).on_intervention_assigned(assigned(1, "t-1", None))
    assert db.executed(sa.Update) == [] and len(db.committed) == 1


def test_intervention_created_never_overwrites_a_newer_copy(service):
    db = CopyDb(stored=None)
    service(db).on_intervention_created(make_envelope(
        "interventions", "intervention.created", INTERVENTION, {
            "id": INTERVENTION, "company_id": "c-1", "client_id": "k-1", "technician_id": "t-1",
            "location": "workshop", "created_at": "2026-01-01T00:00:00Z", "version": 1,
            "client": {"id": "k-1"}}))
    [insert] = db.executed(sa.Insert)
    sql = str(insert.compile(dialect=postgresql.dialect()))
    assert "ON CONFLICT (id) DO UPDATE" in sql
    assert sql.endswith("WHERE known_interventions.version IS NULL "
                        "OR known_interventions.version < excluded.version")
