"""Visits as the read side shows them beside the workshop's pickups: the
calendar, its ICS feeds and the client's tracking (shared code under the
reads and visits wings, DESIGN.md §6)."""
import sqlalchemy as sa
from fieldwork_common import ics
from fieldwork_common.envelope import rfc3339

from fieldwork_interventions.domain import rules
from fieldwork_interventions.models import Client, InterventionType, Technician, Visit

VISIT_LABELS = {"planned": "Visite", "done": "Visite réalisée", "disputed": "Visite contestée",
                "arbitration": "Visite à arbitrer", "validated": "Visite validée"}


def visits(session, *conditions):
    """The visits (not cancelled) that match, in time order, with the names shown."""
    return session.execute(
        sa.select(Visit, Client.name.label("client_name"), Client.address.label("client_address"),
                  Technician.name.label("technician_name"), InterventionType.name.label("type_name"))
        .join(Client, Client.id == Visit.client_id)
        .join(Technician, Technician.id == Visit.technician_id)
        .join(InterventionType, InterventionType.id == Visit.type_id)
        .where(Visit.state != "cancelled", *conditions)
        .order_by(Visit.start_at, Visit.id)).all()


def calendar_item(row):
    v = row.Visit
    return {"visit_id": v.id, "intervention_id": v.intervention_id,
            "reference": rules.reference(v.intervention_id), "start_at": rfc3339(v.start_at),
            "end_at": rfc3339(v.end_at), "state": v.state, "company_id": v.company_id,
            "technician": {"id": v.technician_id, "name": row.technician_name},
            "client": {"id": v.client_id, "name": row.client_name},
            "type": {"id": v.type_id, "name": row.type_name}}


def feed_event(row):
    """One VEVENT per visit: a stable UID, SEQUENCE = the visit's version
    (a rescheduled visit moves in the subscribed calendar)."""
    v = row.Visit
    summary = f"{VISIT_LABELS.get(v.state, 'Visite')} {rules.reference(v.intervention_id)} · " \
              f"{row.client_name}"
    description = "\n".join(part for part in (row.type_name, row.technician_name, v.mission_order)
                            if part)
    return ics.CalendarEvent(uid=f"{v.id}-visit@fieldwork", start=v.start_at, summary=summary,
                             description=description, location=row.client_address or "",
                             duration=v.end_at - v.start_at, sequence=v.version)


def tracking_visits(session, intervention_id):
    """What the client's tracking page shows of an intervention's visits."""
    return [{"start_at": rfc3339(row.Visit.start_at), "end_at": rfc3339(row.Visit.end_at),
             "state": row.Visit.state, "technician_name": row.technician_name,
             "km": float(row.Visit.km) if row.Visit.km is not None else None}
            for row in visits(session, Visit.intervention_id == intervention_id)]
