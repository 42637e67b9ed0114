"""Declaring an incident, shared by the incidents wing and the clockings
wing (combined mode: a clock-in or clock-out that carries an incident):
the reason checked, the window checked, the incident and its conversation
made and incident.declared published, in the caller's transaction."""
import uuid

import sqlalchemy as sa

from fieldwork_common.envelope import rfc3339
from fieldwork_common.errors import InvalidInput, NotFound, refuse
from fieldwork_common.serialize import as_dict, checked_text, is_uuid

from fieldwork_timeclock import settings as timeclock_settings
from fieldwork_timeclock.domain import incidents as rules
from fieldwork_timeclock.models import Conversation, Incident, IncidentEntry, IncidentReason

INCIDENT_FIELDS = ("id", "visit_id", "company_id", "client_id", "technician_id", "type_id",
                   "reason_id", "moment", "description", "state", "clocking_id", "author_id",
                   "author_role", "created_at", "state_since", "version")
REASON_BRIEF = ("id", "code", "label")
#: what the incident events add to the incident (docs/asyncapi.yaml)
INCIDENT_EVENT_EXTRAS = ("conversation_id", "reason", "intervention_id", "reference", "visit",
                         "company", "client", "technician", "type", "at", "by", "by_role",
                         "from_state", "state_reason")
MAX_TEXT = 5000


def text(value, field, required=False, limit=MAX_TEXT):
    """A text a caller sent (a description, a reason, a message), checked."""
    return checked_text(value, field, required, limit)


def incident_dict(s, incident):
    item = as_dict(incident, INCIDENT_FIELDS)
    item["reason"] = as_dict(s.get(IncidentReason, incident.reason_id), REASON_BRIEF)
    item["conversation_id"] = s.scalar(sa.select(Conversation.id).where(
        Conversation.incident_id == incident.id))
    return item


def incident_event(s, incident, visit, by, by_role, at, from_state=None, state_reason=None):
    data = incident_dict(s, incident)
    contacts = visit.contacts or {}
    data.update(intervention_id=visit.intervention_id, reference=visit.reference,
                visit={"start_at": rfc3339(visit.planned_start_at),
                       "end_at": rfc3339(visit.planned_end_at)},
                company=contacts.get("company"), client=contacts.get("client"),
                technician=contacts.get("technician"), type=contacts.get("type"),
                at=rfc3339(at), by=by, by_role=by_role, from_state=from_state,
                state_reason=state_reason)
    return data


def enabled(s, visit):
    settings = timeclock_settings.in_force(s, visit.company_id, visit.type_id)
    if not settings["incidents_enabled"]:
        raise refuse("incidents_disabled", "Incidents are not turned on for this service.",
                     status=409, setting="incidents_enabled")
    return settings


def declare(uow, visit, reason_id, description, moment, at, by, by_role, clocking_id=None):
    """The incident (open), its first history entry and its conversation,
    and incident.declared; refused (writing nothing) outside the window or
    with a reason the visit's service does not offer now."""
    s = uow.session
    enabled(s, visit)
    if not is_uuid(reason_id):
        raise NotFound("Reason not found.", {"reason_id": reason_id})
    reason = s.get(IncidentReason, reason_id)
    if reason is None or reason.company_id != visit.company_id:
        raise NotFound("Reason not found.", {"reason_id": reason_id})
    if reason.type_id != visit.type_id or not reason.active:
        raise InvalidInput("This reason is not one of the visit's service.",
                           {"reason_id": reason_id, "type_id": visit.type_id})
    description = text(description, "description")
    moment = rules.moment_of(at, visit.planned_start_at, visit.planned_end_at, visit.end_at,
                             reason.at_start, reason.at_end, moment)
    incident = Incident(id=str(uuid.uuid4()), visit_id=visit.id, company_id=visit.company_id,
                        client_id=visit.client_id, technician_id=visit.technician_id,
                        type_id=visit.type_id, reason_id=reason.id, moment=moment,
                        description=description, state="open", clocking_id=clocking_id,
                        author_id=by, author_role=by_role, created_at=at, state_since=at)
    s.add(incident)
    s.flush()
    s.add(IncidentEntry(incident_id=incident.id, from_state=None, to_state="open", by=by,
                        by_role=by_role, at=at))
    s.add(Conversation(id=str(uuid.uuid4()), incident_id=incident.id, visit_id=visit.id,
                       company_id=visit.company_id, client_id=visit.client_id,
                       technician_id=visit.technician_id, created_at=at))
    s.flush()
    uow.publish("incident.declared", incident.id, incident_event(s, incident, visit, by, by_role, at))
    return incident
