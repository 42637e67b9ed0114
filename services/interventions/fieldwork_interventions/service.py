"""The interventions service: master data and interventions.

Every RPC takes the caller's principal from the context (put there by the
gateway) and checks object-level access itself. Every change is committed
with its events in one transaction (outbox).
"""
import logging

import sqlalchemy as sa
from fieldwork_common.rpc import rpc

from fieldwork_common import operations  # a module: `nameko run` must not see the mixin as a service
from fieldwork_common.commands import command
from fieldwork_common.consumer import Topology
from fieldwork_common.db import Database
from fieldwork_common.errors import Conflict, Forbidden, InvalidInput, NotFound
from fieldwork_common.principal import CurrentPrincipal
from fieldwork_common.serialize import as_dict, is_uuid

from fieldwork_interventions import SERVICE_NAME
from fieldwork_interventions.domain import rules
from fieldwork_interventions.models import (
    Client, Company, Equipment, Intervention, InterventionType, Technician)

log = logging.getLogger(__name__)

COMPANY_FIELDS = ("id", "name", "created_at")
TECHNICIAN_FIELDS = ("id", "name", "email", "company_id", "created_at")
CLIENT_FIELDS = ("id", "name", "email", "company_id", "locale", "created_at")
TYPE_FIELDS = ("id", "name", "location", "created_at")
EQUIPMENT_FIELDS = ("id", "client_id", "kind", "brand", "model", "serial_number", "created_at")
INTERVENTION_FIELDS = ("id", "company_id", "client_id", "equipment_id", "type_id",
                       "technician_id", "location", "description", "step", "state",
                       "created_by", "created_at", "version")


def _require_admin(principal, company_id=None):
    if not rules.can_manage_master_data(principal, company_id):
        raise Forbidden("Only an admin of this company may do this.")


def _get(session, model, object_id, field):
    obj = session.get(model, object_id) if is_uuid(object_id) else None
    if obj is None:
        raise NotFound(f"{model.__name__} not found.", {field: object_id})
    return obj



def _referenced(session, model, object_id, field):
    """A reference in a command: a missing one is bad input (400), not 404."""
    obj = session.get(model, object_id) if is_uuid(object_id) else None
    if obj is None:
        raise InvalidInput(f"{field} does not name an existing {model.__name__}.",
                           {field: object_id})
    return obj


class InterventionsService(operations.Operations):
    name = SERVICE_NAME

    db = Database(SERVICE_NAME, "fieldwork_interventions:migrations")
    principal = CurrentPrincipal()
    topology = Topology()

    # --- master data (admins configure) -------------------------------

    @rpc
    @command
    def create_company(self, uow, name):
        """Admin. Publishes company.created."""
        _require_admin(self.principal)
        company = Company(name=name)
        uow.session.add(company)
        uow.session.flush()
        result = as_dict(company, COMPANY_FIELDS)
        uow.publish("company.created", company.id, result)
        return result

    @rpc
    def get_company(self, company_id):
        with self.db.session() as session:
            company = _get(session, Company, company_id, "company_id")
            if not self._sees_company(company.id):
                raise NotFound("Company not found.", {"company_id": company_id})
            return as_dict(company, COMPANY_FIELDS)

    @rpc
    @command
    def create_technician(self, uow, name, email, company_id):
        """Admin. Publishes technician.created."""
        _require_admin(self.principal, company_id)
        _referenced(uow.session, Company, company_id, "company_id")
        technician = Technician(name=name, email=email, company_id=company_id)
        uow.session.add(technician)
        uow.session.flush()
        result = as_dict(technician, TECHNICIAN_FIELDS)
        uow.publish("technician.created", technician.id, result)
        return result

    @rpc
    def get_technician(self, technician_id):
        with self.db.session() as session:
            technician = _get(session, Technician, technician_id, "technician_id")
            p = self.principal
            visible = (self._sees_company(technician.company_id) if p.role in ("admin", "manager")
                       else p.role == "technician" and p.technician_id == technician.id)
            if not visible:
                raise NotFound("Technician not found.", {"technician_id": technician_id})
            return as_dict(technician, TECHNICIAN_FIELDS)

    @rpc
    @command
    def create_client(self, uow, name, email, company_id, locale="fr"):
        """Admin. Publishes client.created."""
        _require_admin(self.principal, company_id)
        if locale not in rules.LOCALES:
            raise InvalidInput("Unknown locale.", {"locale": locale, "allowed": list(rules.LOCALES)})
        _referenced(uow.session, Company, company_id, "company_id")
        client = Client(name=name, email=email, company_id=company_id, locale=locale)
        uow.session.add(client)
        uow.session.flush()
        result = as_dict(client, CLIENT_FIELDS)
        uow.publish("client.created", client.id, result)
        return result

    @rpc
    def get_client(self, client_id):
        with self.db.session() as session:
            client = _get(session, Client, client_id, "client_id")
            p = self.principal
            visible = (self._sees_company(client.company_id) if p.role in ("admin", "manager")
                       else p.role == "client" and p.client_id == client.id)
            if not visible:
                raise NotFound("Client not found.", {"client_id": client_id})
            return as_dict(client, CLIENT_FIELDS)

    @rpc
    @command
    def create_intervention_type(self, uow, name, location):
        """Admin. Publishes intervention_type.created."""
        _require_admin(self.principal)
        if location not in rules.LOCATIONS:
            raise InvalidInput("Unknown location.", {"location": location,
                                                     "allowed": list(rules.LOCATIONS)})
        kind = InterventionType(name=name, location=location)
        uow.session.add(kind)
        uow.session.flush()
        result = as_dict(kind, TYPE_FIELDS)
        uow.publish("intervention_type.created", kind.id, result)
        return result

    @rpc
    @command
    def create_equipment(self, uow, client_id, kind, brand=None, model=None, serial_number=None):
        """Admin. Publishes equipment.created."""
        _require_admin(self.principal)
        client = _referenced(uow.session, Client, client_id, "client_id")
        _require_admin(self.principal, client.company_id)
        equipment = Equipment(client_id=client_id, kind=kind, brand=brand, model=model,
                              serial_number=serial_number)
        uow.session.add(equipment)
        uow.session.flush()
        result = as_dict(equipment, EQUIPMENT_FIELDS)
        uow.publish("equipment.created", equipment.id, result)
        return result

    @rpc
    def get_equipment(self, equipment_id):
        with self.db.session() as session:
            equipment = _get(session, Equipment, equipment_id, "equipment_id")
            client = session.get(Client, equipment.client_id)
            p = self.principal
            visible = (self._sees_company(client.company_id) if p.role in ("admin", "manager")
                       else p.role == "client" and p.client_id == client.id
                       or p.role == "technician")
            if not visible:
                raise NotFound("Equipment not found.", {"equipment_id": equipment_id})
            return as_dict(equipment, EQUIPMENT_FIELDS)

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
        client = _referenced(s, Client, client_id, "client_id")
        equipment = _referenced(s, Equipment, equipment_id, "equipment_id")
        kind = _referenced(s, InterventionType, type_id, "type_id")
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

    def _sees_company(self, company_id):
        p = self.principal
        if p is None:
            return False
        if p.role == "admin":
            return p.company_id is None or p.company_id == company_id
        return p.company_id == company_id
