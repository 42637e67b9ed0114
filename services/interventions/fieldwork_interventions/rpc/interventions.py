"""The interventions wing: creation (seed 000 rules in domain/rules.py),
reading, changes of editable fields, assignment, history."""
import sqlalchemy as sa
from fieldwork_common.rpc import rpc

from fieldwork_common.commands import command
from fieldwork_common.errors import Forbidden, InvalidInput
from fieldwork_common.serialize import as_dict

from fieldwork_interventions.access import (other_company_ids, resolve, resolve_optional, visible,
                                            sees_company)
from fieldwork_interventions.changes import (
    CLIENT_CONTACT, COMPANY_CONTACT, HISTORY_FIELDS, INTERVENTION_FIELDS, TECHNICIAN_CONTACT, Change,
    InterventionChanges, now)
from fieldwork_interventions.domain import rules
from fieldwork_interventions.models import Client, Company, HistoryEntry, Intervention


class Interventions(InterventionChanges):
    """Mixed into InterventionsService (needs `db` and `principal`)."""

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
        # every id of the body, in the caller's scope (404), active (400)
        client = resolve(s, principal, "client", client_id, "client_id")
        equipment = resolve(s, principal, "equipment", equipment_id, "equipment_id")
        kind = resolve(s, principal, "intervention_type", type_id, "type_id")
        site = resolve_optional(s, principal, "site", site_id, "site_id")
        contract = resolve_optional(s, principal, "contract", contract_id, "contract_id")
        resolve_optional(s, principal, "company", company_id, "company_id", active=False)
        technician = resolve_optional(s, principal, "technician", wanted, "technician_id")
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
            "company": as_dict(s.get(Company, intervention.company_id), COMPANY_CONTACT),
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
        def decide(s, intervention):
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
            return Change("fields", {"before": before, "after": dict(changes)},
                          events=lambda i: [("intervention.updated", {
                              "id": i.id, "version": i.version, "changes": changes,
                              "updated_by": self.principal.user_id})])
        return self._change(uow, intervention_id, decide, version)

    @rpc
    def get_intervention(self, intervention_id):
        """Any role; a caller who may not see it gets NotFound."""
        with self.db.session() as session:
            return as_dict(visible(session, self.principal, "intervention", intervention_id),
                           INTERVENTION_FIELDS)

    @rpc
    @command
    def reassign_intervention(self, uow, intervention_id, technician_id, company_id=None,
                              version=None):
        """Admin, or the manager of its company: give it to another
        technician, who must work for the client's company (the intervention
        stays in it). Publishes intervention.assigned."""
        def decide(s, intervention):
            if not rules.can_manage_intervention(self.principal, intervention):
                raise Forbidden("Only an admin or the company's manager reassigns an intervention.")
            technician = resolve(s, self.principal, "technician", technician_id, "technician_id")
            resolve_optional(s, self.principal, "company", company_id, "company_id", active=False)
            client = s.get(Client, intervention.client_id)
            company = self._company_for(s, technician, company_id, client.company_id)
            rules.require_active(company=s.get(Company, company))
            if not sees_company(self.principal, company):
                raise Forbidden("You may not give an intervention to another company.",
                                {"company_id": company})
            if technician.id == intervention.technician_id and company == intervention.company_id:
                return None  # nothing changes
            previous_technician, previous_company = intervention.technician_id, intervention.company_id
            intervention.technician_id, intervention.company_id = technician.id, company
            at = now()
            return Change("assignment", {
                "from_technician_id": previous_technician, "to_technician_id": technician.id,
                "from_company_id": previous_company, "to_company_id": company}, at=at,
                events=lambda i: [("intervention.assigned", self._assigned_event(
                    i, technician, previous_technician, at))])
        return self._change(uow, intervention_id, decide, version)

    @rpc
    def intervention_history(self, intervention_id):
        """Every change, oldest first. Admin, the company's manager, its
        technician; a client has its tracking page instead (Forbidden)."""
        with self.db.session() as session:
            intervention = visible(session, self.principal, "intervention", intervention_id)
            if not rules.can_work_on(self.principal, intervention):
                raise Forbidden("A client follows an intervention on its tracking page.")
            entries = session.execute(
                sa.select(HistoryEntry).where(HistoryEntry.intervention_id == intervention.id)
                .order_by(HistoryEntry.id)).scalars().all()
            return {"items": [as_dict(entry, HISTORY_FIELDS) for entry in entries]}
