"""The workshop wing (seed 000): the five steps, the statuses of the
catalog, reopening."""
from datetime import datetime, timezone

from fieldwork_common.rpc import rpc

from fieldwork_common.commands import command
from fieldwork_common.envelope import rfc3339
from fieldwork_common.errors import Conflict, Forbidden, InvalidInput
from fieldwork_common.serialize import as_dict, parse_instant

from fieldwork_interventions.access import resolve
from fieldwork_interventions.changes import (
    CLIENT_CONTACT, COMPANY_CONTACT, EQUIPMENT_SUMMARY, TECHNICIAN_CONTACT, Change,
    InterventionChanges, now)
from fieldwork_interventions.domain import rules
from fieldwork_interventions.domain import workshop as steps
from fieldwork_interventions.models import Client, Company, Equipment, Technician


MAX_TESTS = 100
MAX_TEST_LENGTH = 500
MAX_DIAGNOSTIC = 10000


class Workshop(InterventionChanges):
    """Mixed into InterventionsService (needs `db` and `principal`)."""

    @rpc
    @command
    def change_step(self, uow, intervention_id, step, diagnostic=None, tests_performed=None,
                    pickup_at=None, pickup_kind=None, version=None):
        """Move a workshop intervention to `step` (domain/workshop.py). Admin,
        the company's manager, its technician. Publishes
        intervention.step_changed, and intervention.closed (awaiting_pickup)
        or intervention.delivered (delivered)."""
        given = {name: value for name, value in (
            ("diagnostic", diagnostic), ("tests_performed", tests_performed),
            ("pickup_at", pickup_at), ("pickup_kind", pickup_kind)) if value is not None}

        def decide(s, intervention):
            if not rules.can_work_on(self.principal, intervention):
                raise Forbidden("Only staff move an intervention along its steps.")
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
                                       {"pickup_kind": pickup_kind,
                                        "allowed": list(steps.PICKUP_KINDS)})
                intervention.pickup_kind = pickup_kind or ("pickup" if pickup_at is not None else None)
                intervention.closed_at = at
                data.update(pickup_at=rfc3339(intervention.pickup_at) if intervention.pickup_at
                            else None, pickup_kind=intervention.pickup_kind)
            elif move.step_to == "delivered":
                intervention.completed_at = at
            intervention.step, intervention.state = move.step_to, move.state
            return Change("step", data, at=at,
                          events=lambda i: self._step_events(s, i, move, at))
        return self._change(uow, intervention_id, decide, version)

    def _step_events(self, s, intervention, move, at):
        """intervention.step_changed, and what notifications needs to email
        the client when it closes (awaiting_pickup) or is delivered."""
        events = [("intervention.step_changed", {
            "id": intervention.id, "company_id": intervention.company_id,
            "client_id": intervention.client_id, "technician_id": intervention.technician_id,
            "from_step": move.step_from, "to_step": move.step_to, "state": intervention.state,
            "at": rfc3339(at), "by": self._author()[0], "version": intervention.version})]
        if move.step_to not in ("awaiting_pickup", "delivered"):
            return events
        company = s.get(Company, intervention.company_id)
        common = {
            "id": intervention.id, "reference": rules.reference(intervention.id),
            "client": as_dict(s.get(Client, intervention.client_id), CLIENT_CONTACT),
            "technician": as_dict(s.get(Technician, intervention.technician_id), TECHNICIAN_CONTACT),
            "equipment": as_dict(s.get(Equipment, intervention.equipment_id), EQUIPMENT_SUMMARY),
        }
        if move.step_to == "awaiting_pickup":
            events.append(("intervention.closed", {
                **common, "company": as_dict(company, COMPANY_CONTACT),
                "pickup_at": rfc3339(intervention.pickup_at) if intervention.pickup_at else None,
                "pickup_kind": intervention.pickup_kind,
                "closed_at": rfc3339(at), "version": intervention.version}))
        else:
            events.append(("intervention.delivered", {
                **common, "company": as_dict(company, COMPANY_CONTACT + ("survey_enabled",)),
                "delivered_at": rfc3339(at), "version": intervention.version}))
        return events

    @rpc
    @command
    def set_status(self, uow, intervention_id, status_id, version=None):
        """Show a status of the catalog on an intervention in the workshop.
        Publishes intervention.status_changed."""
        def decide(s, intervention):
            if not rules.can_work_on(self.principal, intervention):
                raise Forbidden("Only staff set an intervention's status.")
            if not steps.can_set_status(intervention.step):
                raise Conflict(f"A status is set only in the step '{steps.STATUS_STEP}'.",
                               {"step": intervention.step, "required_step": steps.STATUS_STEP})
            status = resolve(s, self.principal, "status", status_id, "status_id")
            previous, intervention.status_id = intervention.status_id, status.id
            at = now()
            return Change("status", {"previous_status_id": previous, "status_id": status.id,
                                     "label": status.label, "colour": status.colour}, at=at,
                          events=lambda i: [("intervention.status_changed", {
                              "id": i.id, "company_id": i.company_id, "client_id": i.client_id,
                              "status": as_dict(status, ("id", "label", "colour")),
                              "previous_status_id": previous, "at": rfc3339(at),
                              "by": self._author()[0], "version": i.version})])
        return self._change(uow, intervention_id, decide, version)

    @rpc
    @command
    def reset_status(self, uow, intervention_id, version=None):
        """Remove the status shown (any step). Publishes intervention.status_reset."""
        def decide(s, intervention):
            if not rules.can_work_on(self.principal, intervention):
                raise Forbidden("Only staff reset an intervention's status.")
            if intervention.status_id is None:
                raise Conflict("This intervention shows no status.", {"status_id": None})
            previous, intervention.status_id = intervention.status_id, None
            at = now()
            return Change("status_reset", {"previous_status_id": previous}, at=at,
                          events=lambda i: [("intervention.status_reset", {
                              "id": i.id, "company_id": i.company_id, "client_id": i.client_id,
                              "previous_status_id": previous, "at": rfc3339(at),
                              "by": self._author()[0], "version": i.version})])
        return self._change(uow, intervention_id, decide, version)

    @rpc
    @command
    def reopen_intervention(self, uow, intervention_id, version=None):
        """Admin, or the manager of its company: a closed or completed
        intervention goes back to the workshop, open; its closing, completion
        and pickup dates are cleared. Publishes intervention.reopened."""
        def decide(s, intervention):
            if not rules.can_manage_intervention(self.principal, intervention):
                raise Forbidden("Only an admin or the company's manager reopens an intervention.")
            step, state = steps.reopen(intervention.step, intervention.state)
            from_step, from_state = intervention.step, intervention.state
            intervention.step, intervention.state = step, state
            intervention.closed_at = intervention.completed_at = None
            intervention.pickup_at = intervention.pickup_kind = None
            at = now()
            return Change("reopened", {"from_step": from_step, "to_step": step,
                                       "from_state": from_state, "to_state": state}, at=at,
                          events=lambda i: [("intervention.reopened", {
                              "id": i.id, "company_id": i.company_id, "client_id": i.client_id,
                              "technician_id": i.technician_id, "from_step": from_step,
                              "to_step": step, "state": state, "at": rfc3339(at),
                              "by": self._author()[0], "version": i.version})])
        return self._change(uow, intervention_id, decide, version)

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
