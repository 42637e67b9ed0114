"""What every change of an intervention shares, whichever wing makes it:
the record as answered and as events carry it, and the one way it changes
(`_change`): lock it, check who, let the wing decide, check the version,
bump it, write the history entry, publish the events, answer.

Every change takes a row lock (SELECT … FOR UPDATE), so two concurrent
changes are serialised; each bumps `version` and `updated_at`, writes a
HistoryEntry and publishes its events in the same unit of work."""
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Callable

from fieldwork_common.envelope import rfc3339
from fieldwork_common.errors import Conflict
from fieldwork_common.serialize import as_dict

from fieldwork_interventions.access import other_company_ids, visible
from fieldwork_interventions.domain import rules
from fieldwork_interventions.models import HistoryEntry, Settings

INTERVENTION_FIELDS = ("id", "company_id", "client_id", "equipment_id", "type_id",
                       "technician_id", "site_id", "contract_id", "location", "description",
                       "step", "state", "status_id", "diagnostic", "tests_performed",
                       "pickup_at", "pickup_kind", "closed_at", "completed_at",
                       "created_by", "created_at", "updated_at", "version")

# what events carry of the records an intervention points at
COMPANY_CONTACT = ("id", "name", "email", "phone", "address")
CLIENT_CONTACT = ("id", "name", "email", "locale")
TECHNICIAN_CONTACT = ("id", "name", "email")
EQUIPMENT_SUMMARY = ("id", "kind", "brand", "model", "serial_number")
HISTORY_FIELDS = ("id", "kind", "data", "author_id", "author_role", "at")

# the keys of each workflow event's `data` (docs/asyncapi.yaml documents the same)
EVENT_FIELDS = {
    "intervention.created": INTERVENTION_FIELDS + ("company", "client", "technician", "type"),
    "intervention.updated": ("id", "version", "changes", "updated_by"),
    "intervention.assigned": ("id", "company_id", "technician_id", "previous_technician_id",
                              "technician", "at", "by", "version"),
    "intervention.step_changed": ("id", "company_id", "client_id", "technician_id", "from_step",
                                  "to_step", "state", "at", "by", "version"),
    "intervention.closed": ("id", "reference", "company", "client", "technician", "equipment",
                            "pickup_at", "pickup_kind", "closed_at", "version"),
    "intervention.delivered": ("id", "reference", "company", "client", "technician", "equipment",
                               "delivered_at", "version"),
    "intervention.status_changed": ("id", "company_id", "client_id", "status", "previous_status_id",
                                    "at", "by", "version"),
    "intervention.status_reset": ("id", "company_id", "client_id", "previous_status_id", "at", "by",
                                  "version"),
    "intervention.reopened": ("id", "company_id", "client_id", "technician_id", "from_step",
                              "to_step", "state", "at", "by", "version"),
    "intervention.file_attached": ("id", "company_id", "client_id", "technician_id", "file_id",
                                   "kind", "content_type", "visible_to_client", "at", "by"),
}


def now():
    return datetime.now(timezone.utc)


@dataclass
class Change:
    """What a wing decided: the history entry's kind and data, and the
    events to publish once the version is bumped (`events(intervention)`
    answers [(event type, data)]). `at`: when it happened."""
    kind: str
    data: dict
    events: Callable = lambda intervention: []
    at: datetime = field(default_factory=now)


class InterventionChanges:
    """Mixed into the wings' RPC classes (needs `db` and `principal`)."""

    def _change(self, uow, intervention_id, decide, version=None, versioned=True):
        """Lock → check → decide → version → history → outbox → answer.
        `decide(session, intervention)` checks the caller's rights and the
        rules, changes the intervention and answers a Change (or None: nothing
        changes, nothing is recorded). `versioned=False`: what changes is
        beside the intervention's own fields (its attachments), so its
        version and ETag stay; the history still records it."""
        s = uow.session
        intervention = self._locked(s, intervention_id)
        change = decide(s, intervention)
        if change is not None:
            self._changed(s, intervention, change.kind, change.data, change.at,
                          expected_version=version, versioned=versioned)
            for event_type, data in change.events(intervention):
                uow.publish(event_type, intervention.id, data)
        return as_dict(intervention, INTERVENTION_FIELDS)

    def _author(self):
        principal = self.principal
        return (principal.user_id, principal.role) if principal else ("system", "system")

    def _locked(self, session, intervention_id):
        """The intervention, locked for this transaction; NotFound if the
        caller may not see it."""
        return visible(session, self.principal, "intervention", intervention_id, lock=True)

    def _changed(self, session, intervention, kind, data, at, expected_version=None,
                 versioned=True):
        """Bump the version, record the change in the history."""
        if expected_version is not None and expected_version != intervention.version:
            raise Conflict("The intervention was changed by someone else; reload it and retry.",
                           {"current_version": intervention.version, "your_version": expected_version})
        if versioned:
            intervention.version = intervention.version + 1
            intervention.updated_at = at
        author_id, author_role = self._author()
        session.add(HistoryEntry(intervention_id=intervention.id, kind=kind, data=data,
                                 author_id=author_id, author_role=author_role, at=at))
        session.flush()

    def _settings(self, session):
        settings = session.get(Settings, 1)
        if settings is None:
            return True, None
        return bool(settings.multi_company), settings.main_company_id

    def _company_for(self, session, technician, company_id, client_company_id):
        multi_company, main_company_id = self._settings(session)
        return rules.assigned_company(
            technician, company_id, other_company_ids(session, technician.id), client_company_id,
            multi_company, main_company_id)

    def _assigned_event(self, intervention, technician, previous_technician_id, at):
        return {"id": intervention.id, "company_id": intervention.company_id,
                "technician_id": intervention.technician_id,
                "previous_technician_id": previous_technician_id,
                "technician": as_dict(technician, TECHNICIAN_CONTACT),
                "at": rfc3339(at), "by": self._author()[0], "version": intervention.version}
