"""This service's copy of visits, fed by the visit events of interventions
(each carries the whole visit): enough to check who may clock on which
visit, when it is planned and where it takes place, without calling the
interventions service. A copy never goes back to an older version (events
of different types arrive in any order); the place of the visit (the
client's home or its site) is made with the first visit there."""
import secrets

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert

from fieldwork_common.consumer import event_handler
from fieldwork_common.serialize import parse_instant

from fieldwork_timeclock.models import KnownVisit, Place

#: the events that set the planning's times (the others carry the worker's)
PLANNING_EVENTS = ("visit.planned", "visit.rescheduled")
#: the names and addresses kept for the incident and message emails
CONTACTS = ("company", "client", "technician", "type")


def place_for(session, company_id, client_id, site_id):
    """The place's id, made (with a new signing key) if it is new."""
    session.execute(insert(Place).values(
        id=sa.func.gen_random_uuid(), company_id=company_id, client_id=client_id,
        site_id=site_id, key=secrets.token_bytes(32)).on_conflict_do_nothing())
    return session.scalar(sa.select(Place.id).where(
        Place.client_id == client_id,
        Place.site_id.is_(None) if site_id is None else Place.site_id == site_id))


def follow_visit(db, envelope, consumer):
    """Upsert the copy from a visit event when it is newer than the copy."""
    data = envelope["data"]
    with db.unit_of_work() as uow:
        if not uow.first_time(envelope, consumer):
            return False
        s = uow.session
        start, end = parse_instant(data["start_at"], "start_at"), parse_instant(data["end_at"], "end_at")
        values = {"intervention_id": data["intervention_id"], "company_id": data["company_id"],
                  "client_id": data["client_id"], "technician_id": data["technician_id"],
                  "type_id": data["type_id"], "site_id": data.get("site_id"),
                  "state": data["state"], "start_at": start, "end_at": end,
                  "reference": data.get("reference"), "version": data["version"],
                  "contacts": {name: data.get(name) for name in CONTACTS},
                  "updated_at": sa.func.now()}
        values["place_id"] = place_for(s, data["company_id"], data["client_id"], data.get("site_id"))
        planning = envelope["event_type"] in PLANNING_EVENTS
        # a copy made from a later event than the planning keeps its times as planned ones
        statement = insert(KnownVisit).values(id=data["id"], planned_start_at=start,
                                              planned_end_at=end, **values)
        changes = dict(values)
        if planning:
            changes.update(planned_start_at=start, planned_end_at=end)
        s.execute(statement.on_conflict_do_update(
            index_elements=[KnownVisit.id], set_=changes,
            where=KnownVisit.version < statement.excluded.version))
    return True


class FollowsVisits:
    """Mixed into the service (needs `name` and `db`)."""

    @event_handler("interventions", "visit.planned")
    def on_visit_planned(self, envelope):
        follow_visit(self.db, envelope, f"{self.name}.on_visit_planned")

    @event_handler("interventions", "visit.rescheduled")
    def on_visit_rescheduled(self, envelope):
        follow_visit(self.db, envelope, f"{self.name}.on_visit_rescheduled")

    @event_handler("interventions", "visit.cancelled")
    def on_visit_cancelled(self, envelope):
        follow_visit(self.db, envelope, f"{self.name}.on_visit_cancelled")

    @event_handler("interventions", "visit.declared")
    def on_visit_declared(self, envelope):
        follow_visit(self.db, envelope, f"{self.name}.on_visit_declared")

    @event_handler("interventions", "visit.validated")
    def on_visit_validated(self, envelope):
        follow_visit(self.db, envelope, f"{self.name}.on_visit_validated")
