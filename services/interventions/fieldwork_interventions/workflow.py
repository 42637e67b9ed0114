"""Intervention RPCs: creation (seed 000 rules), changes, the workshop
steps and statuses, assignment, reopening and history.

Every change of an intervention takes a row lock (SELECT … FOR UPDATE), so
two concurrent changes are serialised; each one bumps `version` and
`updated_at`, writes a HistoryEntry and publishes its events in the same
unit of work."""
from datetime import datetime, timezone

import sqlalchemy as sa
from fieldwork_common.rpc import rpc

from fieldwork_common.commands import command
from fieldwork_common.envelope import rfc3339
from fieldwork_common.errors import Conflict, Forbidden, InvalidInput, NotFound
from fieldwork_common.serialize import as_dict, is_uuid, parse_instant

from fieldwork_interventions.domain import rules, steps
from fieldwork_interventions.lookups import other_company_ids, referenced, sees_company
from fieldwork_interventions.models import (
    Client, Company, Contract, Equipment, HistoryEntry, Intervention, InterventionType, Settings,
    Site, Status, Technician)

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
    "intervention.created": INTERVENTION_FIELDS + ("client", "technician", "type"),
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
}

MAX_TESTS = 100
MAX_TEST_LENGTH = 500
MAX_DIAGNOSTIC = 10000


def now():
    return datetime.now(timezone.utc)


class Workflow:
    """Mixed into InterventionsService (needs `db` and `principal`)."""

    # --- helpers ------------------------------------------------------------

    def _author(self):
        principal = self.principal
        return (principal.user_id, principal.role) if principal else ("system", "system")

    def _locked(self, session, intervention_id):
        """The intervention, locked for this transaction; NotFound if the
        caller may not see it."""
        intervention = None
        if is_uuid(intervention_id):
            intervention = session.execute(
                sa.select(Intervention).where(Intervention.id == intervention_id)
                .with_for_update().execution_options(populate_existing=True)).scalar_one_or_none()
        if intervention is None or not rules.can_see_intervention(self.principal, intervention):
            raise NotFound("Intervention not found.", {"intervention_id": intervention_id})
        return intervention

    def _changed(self, session, intervention, kind, data, at, expected_version=None):
        """Bump the version, record the change in the history."""
        if expected_version is not None and expected_version != intervention.version:
            raise Conflict("The intervention was changed by someone else; reload it and retry.",
                           {"current_version": intervention.version, "your_version": expected_version})
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

    def _company_for(self, session, technician, company_id):
        multi_company, main_company_id = self._settings(session)
        return rules.assigned_company(
            self.principal, technician, company_id, other_company_ids(session, technician.id),
            multi_company, main_company_id)

    def _assigned_event(self, intervention, technician, previous_technician_id, at):
        return {"id": intervention.id, "company_id": intervention.company_id,
                "technician_id": intervention.technician_id,
                "previous_technician_id": previous_technician_id,
                "technician": as_dict(technician, TECHNICIAN_CONTACT),
                "at": rfc3339(at), "by": self._author()[0], "version": intervention.version}

    # --- interventions ------------------------------------------------------

    @rpc
    @command
    def create_intervention(self, uow, client_id, equipment_id, type_id, location,
                            technician_id=None, description="", company_id=None, site_id=None,
                            contract_id=None):
        """Admin or technician (seed 000 rules in domain.rules).
        Publishes intervention.created and intervention.assigned."""
        principal = self.principal
        if principal is None or principal.role not in rules.CREATORS:
            raise Forbidden("Only admins and technicians create interventions.")
        s = uow.session
        if principal.role == "technician" and technician_id and technician_id != principal.technician_id:
            raise Forbidden("A technician creates interventions only for itself.",
                            {"technician_id": technician_id})
        wanted = technician_id or (principal.technician_id if principal.role == "technician" else None)
        technician = s.get(Technician, wanted) if wanted and is_uuid(wanted) else None
        client = referenced(s, Client, client_id, "client_id")
        equipment = referenced(s, Equipment, equipment_id, "equipment_id")
        kind = referenced(s, InterventionType, type_id, "type_id")
        site = referenced(s, Site, site_id, "site_id") if site_id else None
        contract = referenced(s, Contract, contract_id, "contract_id") if contract_id else None
        if company_id:
            referenced(s, Company, company_id, "company_id")
        if wanted and technician is None:
            raise InvalidInput("technician_id does not name an existing Technician.",
                               {"technician_id": wanted})
        multi_company, main_company_id = self._settings(s)
        assignment = rules.assign_on_creation(
            principal, technician=technician, client=client, equipment=equipment,
            intervention_type=kind, location=location, requested_technician_id=technician_id,
            company_id=company_id,
            technician_company_ids=other_company_ids(s, technician.id) if technician else (),
            multi_company=multi_company, main_company_id=main_company_id)
        rules.check_site(site, client)
        rules.check_contract(contract, client)
        rules.require_active(company=s.get(Company, assignment.company_id))
        if principal.role == "admin" and not rules.can_manage_master_data(
                principal, assignment.company_id):
            raise Forbidden("This technician belongs to another company.")
        at = now()
        intervention = Intervention(
            company_id=assignment.company_id, client_id=client.id, equipment_id=equipment.id,
            type_id=kind.id, technician_id=assignment.technician_id, location=location,
            site_id=site.id if site else None, contract_id=contract.id if contract else None,
            description=description or "", step=rules.first_step(location), state="open",
            tests_performed=[], created_by=principal.user_id, created_at=at, updated_at=at,
            version=1)
        s.add(intervention)
        s.flush()
        author_id, author_role = self._author()
        s.add(HistoryEntry(intervention_id=intervention.id, kind="created", at=at,
                           author_id=author_id, author_role=author_role,
                           data={"company_id": intervention.company_id,
                                 "technician_id": intervention.technician_id,
                                 "client_id": client.id, "equipment_id": equipment.id,
                                 "type_id": kind.id, "location": location,
                                 "step": intervention.step, "state": intervention.state}))
        result = as_dict(intervention, INTERVENTION_FIELDS)
        # Event-carried state: consumers (notifications) need the client's
        # contact and language without calling back.
        uow.publish("intervention.created", intervention.id, {
            **result,
            "client": as_dict(client, CLIENT_CONTACT),
            "technician": as_dict(technician, TECHNICIAN_CONTACT),
            "type": as_dict(kind, ("id", "name", "location")),
        })
        uow.publish("intervention.assigned", intervention.id,
                    self._assigned_event(intervention, technician, None, at))
        return result

    @rpc
    @command
    def update_intervention(self, uow, intervention_id, version, changes):
        """Admin, or the manager of its company, or its technician: change
        editable fields. `version` must be the current one (optimistic
        concurrency): a stale version is a Conflict, never a lost update.
        Publishes intervention.updated; history kind "fields"."""
        s = uow.session
        intervention = self._locked(s, intervention_id)
        if self.principal.role == "client":
            raise Forbidden("A client cannot change an intervention.")
        unknown = set(changes) - set(rules.EDITABLE_FIELDS)
        if unknown:
            raise InvalidInput("These fields cannot be changed here.", {"fields": sorted(unknown)})
        if not changes:
            raise InvalidInput("Nothing to change.", {"editable": list(rules.EDITABLE_FIELDS)})
        before = {name: getattr(intervention, name) for name in changes}
        for name, value in changes.items():
            setattr(intervention, name, value)
        self._changed(s, intervention, "fields", {"before": before, "after": dict(changes)}, now(),
                      expected_version=version)
        result = as_dict(intervention, INTERVENTION_FIELDS)
        uow.publish("intervention.updated", intervention.id,
                    {"id": intervention.id, "version": intervention.version, "changes": changes,
                     "updated_by": self.principal.user_id})
        return result

    @rpc
    def get_intervention(self, intervention_id):
        """Any role; a caller who may not see it gets NotFound."""
        with self.db.session() as session:
            intervention = session.get(Intervention, intervention_id) if is_uuid(intervention_id) else None
            if intervention is None or not rules.can_see_intervention(self.principal, intervention):
                raise NotFound("Intervention not found.", {"intervention_id": intervention_id})
            return as_dict(intervention, INTERVENTION_FIELDS)

    # --- workshop steps -----------------------------------------------------

    @rpc
    @command
    def change_step(self, uow, intervention_id, step, diagnostic=None, tests_performed=None,
                    pickup_at=None, pickup_kind=None, version=None):
        """Move a workshop intervention to `step` (domain/steps.py). Admin,
        the company's manager, its technician. Publishes
        intervention.step_changed, and intervention.closed (awaiting_pickup)
        or intervention.delivered (delivered)."""
        s = uow.session
        intervention = self._locked(s, intervention_id)
        if not rules.can_work_on(self.principal, intervention):
            raise Forbidden("Only staff move an intervention along its steps.")
        given = {name: value for name, value in (
            ("diagnostic", diagnostic), ("tests_performed", tests_performed),
            ("pickup_at", pickup_at), ("pickup_kind", pickup_kind)) if value is not None}
        steps.check_fields(step, given)
        if intervention.location != "workshop" or intervention.step is None:
            raise Conflict("Only workshop interventions have steps.",
                           {"location": intervention.location})
        move = steps.move(intervention.step, step)
        at = now()
        data = {"from": move.step_from, "to": move.step_to, "state": move.state}
        if move.step_to == "final_tests":
            if diagnostic is not None:
                intervention.diagnostic = _diagnostic(diagnostic)
            if tests_performed is not None:
                intervention.tests_performed = _tests(tests_performed)
            data.update(diagnostic=intervention.diagnostic,
                        tests_performed=list(intervention.tests_performed or []))
        elif move.step_to == "awaiting_pickup":
            intervention.pickup_at = _instant(pickup_at) if pickup_at is not None else None
            if pickup_kind is not None and pickup_kind not in steps.PICKUP_KINDS:
                raise InvalidInput("pickup_kind is pickup or delivery.",
                                   {"pickup_kind": pickup_kind, "allowed": list(steps.PICKUP_KINDS)})
            intervention.pickup_kind = pickup_kind or ("pickup" if pickup_at is not None else None)
            intervention.closed_at = at
            data.update(pickup_at=rfc3339(intervention.pickup_at) if intervention.pickup_at else None,
                        pickup_kind=intervention.pickup_kind)
        elif move.step_to == "delivered":
            intervention.completed_at = at
        intervention.step = move.step_to
        intervention.state = move.state
        self._changed(s, intervention, "step", data, at, expected_version=version)
        by = self._author()[0]
        uow.publish("intervention.step_changed", intervention.id, {
            "id": intervention.id, "company_id": intervention.company_id,
            "client_id": intervention.client_id, "technician_id": intervention.technician_id,
            "from_step": move.step_from, "to_step": move.step_to, "state": intervention.state,
            "at": rfc3339(at), "by": by, "version": intervention.version})
        if move.step_to in ("awaiting_pickup", "delivered"):
            company = s.get(Company, intervention.company_id)
            common = {
                "id": intervention.id, "reference": rules.reference(intervention.id),
                "client": as_dict(s.get(Client, intervention.client_id), CLIENT_CONTACT),
                "technician": as_dict(s.get(Technician, intervention.technician_id),
                                      TECHNICIAN_CONTACT),
                "equipment": as_dict(s.get(Equipment, intervention.equipment_id), EQUIPMENT_SUMMARY),
            }
            if move.step_to == "awaiting_pickup":
                uow.publish("intervention.closed", intervention.id, {
                    **common, "company": as_dict(company, COMPANY_CONTACT),
                    "pickup_at": rfc3339(intervention.pickup_at) if intervention.pickup_at else None,
                    "pickup_kind": intervention.pickup_kind,
                    "closed_at": rfc3339(at), "version": intervention.version})
            else:
                uow.publish("intervention.delivered", intervention.id, {
                    **common, "company": as_dict(company, COMPANY_CONTACT + ("survey_enabled",)),
                    "delivered_at": rfc3339(at), "version": intervention.version})
        return as_dict(intervention, INTERVENTION_FIELDS)

    # --- statuses -------------------------------------------------------------

    @rpc
    @command
    def set_status(self, uow, intervention_id, status_id, version=None):
        """Show a status of the catalog on an intervention in the workshop.
        Publishes intervention.status_changed."""
        s = uow.session
        intervention = self._locked(s, intervention_id)
        if not rules.can_work_on(self.principal, intervention):
            raise Forbidden("Only staff set an intervention's status.")
        if not steps.can_set_status(intervention.step):
            raise Conflict(f"A status is set only in the step '{steps.STATUS_STEP}'.",
                           {"step": intervention.step, "required_step": steps.STATUS_STEP})
        status = s.get(Status, status_id) if is_uuid(status_id) else None
        if status is None:
            raise InvalidInput("status_id does not name a status of the catalog.",
                               {"status_id": status_id})
        if not status.active:
            raise InvalidInput("This status is deactivated.", {"status_id": status_id})
        previous = intervention.status_id
        intervention.status_id = status.id
        at = now()
        self._changed(s, intervention, "status", {
            "previous_status_id": previous, "status_id": status.id,
            "label": status.label, "colour": status.colour}, at, expected_version=version)
        uow.publish("intervention.status_changed", intervention.id, {
            "id": intervention.id, "company_id": intervention.company_id,
            "client_id": intervention.client_id,
            "status": as_dict(status, ("id", "label", "colour")),
            "previous_status_id": previous, "at": rfc3339(at), "by": self._author()[0],
            "version": intervention.version})
        return as_dict(intervention, INTERVENTION_FIELDS)

    @rpc
    @command
    def reset_status(self, uow, intervention_id, version=None):
        """Remove the status shown (any step). Publishes intervention.status_reset."""
        s = uow.session
        intervention = self._locked(s, intervention_id)
        if not rules.can_work_on(self.principal, intervention):
            raise Forbidden("Only staff reset an intervention's status.")
        if intervention.status_id is None:
            raise Conflict("This intervention shows no status.", {"status_id": None})
        previous = intervention.status_id
        intervention.status_id = None
        at = now()
        self._changed(s, intervention, "status_reset", {"previous_status_id": previous}, at,
                      expected_version=version)
        uow.publish("intervention.status_reset", intervention.id, {
            "id": intervention.id, "company_id": intervention.company_id,
            "client_id": intervention.client_id, "previous_status_id": previous,
            "at": rfc3339(at), "by": self._author()[0], "version": intervention.version})
        return as_dict(intervention, INTERVENTION_FIELDS)

    # --- assignment and reopening --------------------------------------------

    @rpc
    @command
    def reassign_intervention(self, uow, intervention_id, technician_id, company_id=None,
                              version=None):
        """Admin, or the manager of its company: give it to another
        technician (and company, among the technician's). Publishes
        intervention.assigned."""
        s = uow.session
        intervention = self._locked(s, intervention_id)
        if not rules.can_manage_intervention(self.principal, intervention):
            raise Forbidden("Only an admin or the company's manager reassigns an intervention.")
        technician = referenced(s, Technician, technician_id, "technician_id")
        rules.require_active(technician=technician)
        if company_id:
            referenced(s, Company, company_id, "company_id")
        company = self._company_for(s, technician, company_id)
        rules.require_active(company=s.get(Company, company))
        if not sees_company(self.principal, company):
            raise Forbidden("You may not give an intervention to another company.",
                            {"company_id": company})
        if technician.id == intervention.technician_id and company == intervention.company_id:
            return as_dict(intervention, INTERVENTION_FIELDS)  # nothing changes
        previous_technician, previous_company = intervention.technician_id, intervention.company_id
        intervention.technician_id, intervention.company_id = technician.id, company
        at = now()
        self._changed(s, intervention, "assignment", {
            "from_technician_id": previous_technician, "to_technician_id": technician.id,
            "from_company_id": previous_company, "to_company_id": company}, at,
            expected_version=version)
        uow.publish("intervention.assigned", intervention.id,
                    self._assigned_event(intervention, technician, previous_technician, at))
        return as_dict(intervention, INTERVENTION_FIELDS)

    @rpc
    @command
    def reopen_intervention(self, uow, intervention_id, version=None):
        """Admin, or the manager of its company: a closed or completed
        intervention goes back to the workshop, open; its closing, completion
        and pickup dates are cleared. Publishes intervention.reopened."""
        s = uow.session
        intervention = self._locked(s, intervention_id)
        if not rules.can_manage_intervention(self.principal, intervention):
            raise Forbidden("Only an admin or the company's manager reopens an intervention.")
        step, state = steps.reopen(intervention.step, intervention.state)
        from_step, from_state = intervention.step, intervention.state
        intervention.step, intervention.state = step, state
        intervention.closed_at = intervention.completed_at = None
        intervention.pickup_at = intervention.pickup_kind = None
        at = now()
        self._changed(s, intervention, "reopened", {
            "from_step": from_step, "to_step": step, "from_state": from_state, "to_state": state},
            at, expected_version=version)
        uow.publish("intervention.reopened", intervention.id, {
            "id": intervention.id, "company_id": intervention.company_id,
            "client_id": intervention.client_id, "technician_id": intervention.technician_id,
            "from_step": from_step, "to_step": step, "state": state, "at": rfc3339(at),
            "by": self._author()[0], "version": intervention.version})
        return as_dict(intervention, INTERVENTION_FIELDS)

    # --- history ----------------------------------------------------------------

    @rpc
    def intervention_history(self, intervention_id):
        """Every change, oldest first. Admin, the company's manager, its
        technician; a client has its tracking page instead (Forbidden)."""
        with self.db.session() as session:
            intervention = session.get(Intervention, intervention_id) if is_uuid(intervention_id) else None
            if intervention is None or not rules.can_see_intervention(self.principal, intervention):
                raise NotFound("Intervention not found.", {"intervention_id": intervention_id})
            if not rules.can_work_on(self.principal, intervention):
                raise Forbidden("A client follows an intervention on its tracking page.")
            entries = session.execute(
                sa.select(HistoryEntry).where(HistoryEntry.intervention_id == intervention.id)
                .order_by(HistoryEntry.id)).scalars().all()
            return {"items": [as_dict(entry, HISTORY_FIELDS) for entry in entries]}


PICKUP_RANGE = (datetime(1970, 1, 1, tzinfo=timezone.utc), datetime(2200, 1, 1, tzinfo=timezone.utc))


def _instant(value):
    """An RFC 3339 date-time with its offset, in UTC, within PICKUP_RANGE
    (calendars and pages must be able to show it in any time zone)."""
    parsed = parse_instant(value, "pickup_at")
    if not PICKUP_RANGE[0] <= parsed < PICKUP_RANGE[1]:
        raise InvalidInput("pickup_at must be between 1970 and 2200.", {"pickup_at": value})
    return parsed


def _diagnostic(value):
    if not isinstance(value, str) or len(value) > MAX_DIAGNOSTIC:
        raise InvalidInput(f"diagnostic is a text of at most {MAX_DIAGNOSTIC} characters.",
                           {"field": "diagnostic"})
    return value


def _tests(value):
    if (not isinstance(value, list) or len(value) > MAX_TESTS
            or not all(isinstance(t, str) and 0 < len(t) <= MAX_TEST_LENGTH for t in value)):
        raise InvalidInput(f"tests_performed is a list of at most {MAX_TESTS} texts of 1 to "
                           f"{MAX_TEST_LENGTH} characters.", {"field": "tests_performed"})
    return list(value)
