"""Intervention RPCs: creation (seed 000 rules), changes, the workshop
steps and statuses, history, lists, calendar and tracking."""
import sqlalchemy as sa
from fieldwork_common.rpc import rpc

from fieldwork_common.commands import command
from fieldwork_common.errors import Conflict, Forbidden, InvalidInput, NotFound
from fieldwork_common.serialize import as_dict, is_uuid

from fieldwork_interventions.domain import rules
from fieldwork_interventions.lookups import get, referenced, require_admin, sees_company
from fieldwork_interventions.models import (
    Client, Equipment, Intervention, InterventionType, Technician)

INTERVENTION_FIELDS = ("id", "company_id", "client_id", "equipment_id", "type_id",
                       "technician_id", "location", "description", "step", "state",
                       "created_by", "created_at", "version")


class Workflow:
    """Mixed into InterventionsService (needs `db` and `principal`)."""

    # --- interventions --------------------------------------------------

    @rpc
    @command
    def create_intervention(self, uow, client_id, equipment_id, type_id, location,
                            technician_id=None, description=""):
        """Admin or technician (seed 000 rules in domain.rules).
        Publishes intervention.created."""
        principal = self.principal
        if principal is None or principal.role not in rules.CREATORS:
            raise Forbidden("Only admins and technicians create interventions.")
        s = uow.session
        wanted = technician_id or (principal.technician_id if principal.role == "technician" else None)
        technician = s.get(Technician, wanted) if wanted and is_uuid(wanted) else None
        client = referenced(s, Client, client_id, "client_id")
        equipment = referenced(s, Equipment, equipment_id, "equipment_id")
        kind = referenced(s, InterventionType, type_id, "type_id")
        if wanted and technician is None:
            raise InvalidInput("technician_id does not name an existing Technician.",
                               {"technician_id": wanted})
        assignment = rules.assign_on_creation(
            principal, technician=technician, client=client, equipment=equipment,
            intervention_type=kind, location=location, requested_technician_id=technician_id)
        if principal.role == "admin" and not rules.can_manage_master_data(
                principal, assignment.company_id):
            raise Forbidden("This technician belongs to another company.")
        intervention = Intervention(
            company_id=assignment.company_id, client_id=client.id, equipment_id=equipment.id,
            type_id=kind.id, technician_id=assignment.technician_id, location=location,
            description=description or "", step=rules.first_step(location),
            created_by=principal.user_id)
        s.add(intervention)
        s.flush()  # server defaults (created_at) come back with the INSERT (RETURNING)
        result = as_dict(intervention, INTERVENTION_FIELDS)
        # Event-carried state: consumers (notifications) need the client's
        # contact and language without calling back.
        uow.publish("intervention.created", intervention.id, {
            **result,
            "client": as_dict(client, ("id", "name", "email", "locale")),
            "technician": as_dict(technician, ("id", "name", "email")),
            "type": as_dict(kind, ("id", "name", "location")),
        })
        return result

    @rpc
    @command
    def update_intervention(self, uow, intervention_id, version, changes):
        """Admin, or the manager of its company, or its technician: change
        editable fields. `version` must be the current one (optimistic
        concurrency): a stale version is a Conflict, never a lost update.
        Publishes intervention.updated."""
        s = uow.session
        intervention = s.get(Intervention, intervention_id) if is_uuid(intervention_id) else None
        if intervention is None or not rules.can_see_intervention(self.principal, intervention):
            raise NotFound("Intervention not found.", {"intervention_id": intervention_id})
        if self.principal.role == "client":
            raise Forbidden("A client cannot change an intervention.")
        unknown = set(changes) - set(rules.EDITABLE_FIELDS)
        if unknown:
            raise InvalidInput("These fields cannot be changed here.", {"fields": sorted(unknown)})
        updated = s.execute(
            sa.update(Intervention)
            .where(Intervention.id == intervention.id, Intervention.version == version)
            .values(**changes, version=Intervention.version + 1)
            .returning(Intervention.version)).first()
        if updated is None:
            s.refresh(intervention)
            raise Conflict("The intervention was changed by someone else; reload it and retry.",
                           {"current_version": intervention.version, "your_version": version})
        s.refresh(intervention)
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
