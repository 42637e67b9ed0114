"""Master data RPCs (admins configure; managers read; technicians and
clients see what concerns them): companies, technicians, clients, sites,
equipment, contracts, intervention types, the catalog of statuses and the
platform settings."""
import sqlalchemy as sa
from fieldwork_common.rpc import rpc

from fieldwork_common.commands import command
from fieldwork_common.errors import Conflict, Forbidden, InvalidInput, NotFound
from fieldwork_common.serialize import as_dict, is_uuid

from fieldwork_interventions.domain import rules
from fieldwork_interventions.lookups import get, referenced, require_admin, sees_company
from fieldwork_interventions.models import (
    Client, Company, Equipment, InterventionType, Technician)

COMPANY_FIELDS = ("id", "name", "created_at")
TECHNICIAN_FIELDS = ("id", "name", "email", "company_id", "created_at")
CLIENT_FIELDS = ("id", "name", "email", "company_id", "locale", "created_at")
TYPE_FIELDS = ("id", "name", "location", "created_at")
EQUIPMENT_FIELDS = ("id", "client_id", "kind", "brand", "model", "serial_number", "created_at")



class MasterData:
    """Mixed into InterventionsService (needs `db` and `principal`)."""

    # --- master data (admins configure) -------------------------------

    @rpc
    @command
    def create_company(self, uow, name):
        """Admin. Publishes company.created."""
        require_admin(self.principal)
        company = Company(name=name)
        uow.session.add(company)
        uow.session.flush()
        result = as_dict(company, COMPANY_FIELDS)
        uow.publish("company.created", company.id, result)
        return result

    @rpc
    def get_company(self, company_id):
        with self.db.session() as session:
            company = get(session, Company, company_id, "company_id")
            if not sees_company(self.principal, company.id):
                raise NotFound("Company not found.", {"company_id": company_id})
            return as_dict(company, COMPANY_FIELDS)

    @rpc
    @command
    def create_technician(self, uow, name, email, company_id):
        """Admin. Publishes technician.created."""
        require_admin(self.principal, company_id)
        referenced(uow.session, Company, company_id, "company_id")
        technician = Technician(name=name, email=email, company_id=company_id)
        uow.session.add(technician)
        uow.session.flush()
        result = as_dict(technician, TECHNICIAN_FIELDS)
        uow.publish("technician.created", technician.id, result)
        return result

    @rpc
    def get_technician(self, technician_id):
        with self.db.session() as session:
            technician = get(session, Technician, technician_id, "technician_id")
            p = self.principal
            visible = (sees_company(self.principal, technician.company_id) if p.role in ("admin", "manager")
                       else p.role == "technician" and p.technician_id == technician.id)
            if not visible:
                raise NotFound("Technician not found.", {"technician_id": technician_id})
            return as_dict(technician, TECHNICIAN_FIELDS)

    @rpc
    @command
    def create_client(self, uow, name, email, company_id, locale="fr"):
        """Admin. Publishes client.created."""
        require_admin(self.principal, company_id)
        if locale not in rules.LOCALES:
            raise InvalidInput("Unknown locale.", {"locale": locale, "allowed": list(rules.LOCALES)})
        referenced(uow.session, Company, company_id, "company_id")
        client = Client(name=name, email=email, company_id=company_id, locale=locale)
        uow.session.add(client)
        uow.session.flush()
        result = as_dict(client, CLIENT_FIELDS)
        uow.publish("client.created", client.id, result)
        return result

    @rpc
    def get_client(self, client_id):
        with self.db.session() as session:
            client = get(session, Client, client_id, "client_id")
            p = self.principal
            visible = (sees_company(self.principal, client.company_id) if p.role in ("admin", "manager")
                       else p.role == "client" and p.client_id == client.id)
            if not visible:
                raise NotFound("Client not found.", {"client_id": client_id})
            return as_dict(client, CLIENT_FIELDS)

    @rpc
    @command
    def create_intervention_type(self, uow, name, location):
        """Admin. Publishes intervention_type.created."""
        require_admin(self.principal)
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
        require_admin(self.principal)
        client = referenced(uow.session, Client, client_id, "client_id")
        require_admin(self.principal, client.company_id)
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
            equipment = get(session, Equipment, equipment_id, "equipment_id")
            client = session.get(Client, equipment.client_id)
            p = self.principal
            visible = (sees_company(self.principal, client.company_id) if p.role in ("admin", "manager")
                       else p.role == "client" and p.client_id == client.id
                       or p.role == "technician")
            if not visible:
                raise NotFound("Equipment not found.", {"equipment_id": equipment_id})
            return as_dict(equipment, EQUIPMENT_FIELDS)

