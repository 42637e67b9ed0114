"""Master data RPCs (admins configure; managers read; technicians and
clients see what concerns them): companies, technicians, clients, sites,
equipment, contracts, intervention types, the catalog of statuses and the
platform settings.

Every kind has create_<kind>, get_<kind>, update_<kind>(id, version,
changes), delete_<kind>(id) and list_<kinds>(filters, limit, after). A
record the caller may not see is NotFound (404); writes are for admins (an
admin of a company: that company's records; companies, types, statuses and
settings: global admins). A record anything references is never deleted,
only deactivated (`active` false); it stays readable.

Events: <kind>.created and <kind>.updated carry the full record,
<kind>.deleted carries {id}; settings.updated carries the settings.
"""

import sqlalchemy as sa
from fieldwork_common.rpc import rpc

from fieldwork_common.commands import command
from fieldwork_common.errors import Conflict, Forbidden, InvalidInput
from fieldwork_common.pagination import page
from fieldwork_common.serialize import as_dict

from fieldwork_interventions.changes import CLIENT_CONTACT, COMPANY_CONTACT
from fieldwork_interventions.domain import masterdata as md
from fieldwork_interventions.domain import rules
from fieldwork_interventions.access import (
    LABELS, MODELS, other_company_ids, require_admin, require_global_admin, require_writer,
    resolve, resolve_filter, scope, technicians_of, visible)
from fieldwork_interventions.models import (
    Client, Company, Contract, Equipment, File, Intervention, InterventionType, Settings, Site,
    Status, Technician, technician_companies)

#: what resolve_references resolves for other services (requests, timeclock)
REFERABLE = ("company", "technician", "client", "site", "equipment", "contract",
             "intervention_type", "intervention", "visit", "file")

# The records as the API answers them and as <kind>.created / <kind>.updated carry them.
COMPANY_FIELDS = ("id", "name", "email", "phone", "address", "survey_enabled",
                  "portal_validation", "validation_reminder_days", "tacit_validation",
                  "max_visit_km", "active", "created_at", "version")
TECHNICIAN_FIELDS = ("id", "name", "email", "phone", "company_id", "company_ids", "active",
                     "created_at", "version")
CLIENT_FIELDS = ("id", "name", "email", "phone", "address", "company_id", "locale", "active",
                 "created_at", "version")
SITE_FIELDS = ("id", "client_id", "name", "address", "active", "created_at", "version")
TYPE_FIELDS = ("id", "name", "location", "active", "created_at", "version")
EQUIPMENT_FIELDS = ("id", "client_id", "site_id", "kind", "brand", "model", "serial_number",
                    "active", "created_at", "version")
CONTRACT_FIELDS = ("id", "client_id", "company_id", "reference", "billable", "state", "starts_on",
                   "ends_on", "active", "created_at", "version")
STATUS_FIELDS = ("id", "label", "colour", "position", "active", "created_at", "version")
SETTINGS_FIELDS = ("multi_company", "main_company_id", "version")
DELETED_FIELDS = ("id",)

FIELDS = {"company": COMPANY_FIELDS, "technician": TECHNICIAN_FIELDS, "client": CLIENT_FIELDS,
          "site": SITE_FIELDS, "equipment": EQUIPMENT_FIELDS, "contract": CONTRACT_FIELDS,
          "intervention_type": TYPE_FIELDS, "status": STATUS_FIELDS}



# --- records ----------------------------------------------------------------------

def record(session, kind, obj, others=None):
    """The record as answered and published. A technician's `others` (the
    companies it also works for) are read unless given (a list reads them
    for the whole page at once)."""
    if kind == "technician":
        result = as_dict(obj, tuple(f for f in TECHNICIAN_FIELDS if f != "company_ids"))
        if others is None:
            others = other_company_ids(session, obj.id)
        result["company_ids"] = md.company_ids(obj.company_id, others)
        return {f: result[f] for f in TECHNICIAN_FIELDS}
    return as_dict(obj, FIELDS[kind])


def records(session, kind, rows):
    """`record` for a page of rows, with one query for the technicians'
    other companies instead of one per row."""
    if kind != "technician" or not rows:
        return [record(session, kind, row) for row in rows]
    others = {}
    for technician_id, company_id in session.execute(
            sa.select(technician_companies.c.technician_id, technician_companies.c.company_id)
            .where(technician_companies.c.technician_id.in_([row.id for row in rows]))):
        others.setdefault(technician_id, []).append(company_id)
    return [record(session, kind, row, others.get(row.id, ())) for row in rows]


def references(session, kind, obj):
    """{what: count} of the records that point at `obj`."""
    def count(model, *conds):
        return session.scalar(sa.select(sa.func.count()).select_from(model).where(*conds)) or 0

    if kind == "company":
        return {"technicians": count(Technician, Technician.company_id == obj.id)
                + count(technician_companies, technician_companies.c.company_id == obj.id),
                "clients": count(Client, Client.company_id == obj.id),
                "contracts": count(Contract, Contract.company_id == obj.id),
                "interventions": count(Intervention, Intervention.company_id == obj.id),
                "files": count(File, File.company_id == obj.id),
                "settings": count(Settings, Settings.main_company_id == obj.id)}
    if kind == "technician":
        return {"interventions": count(Intervention, Intervention.technician_id == obj.id)}
    if kind == "client":
        return {"sites": count(Site, Site.client_id == obj.id),
                "equipment": count(Equipment, Equipment.client_id == obj.id),
                "contracts": count(Contract, Contract.client_id == obj.id),
                "interventions": count(Intervention, Intervention.client_id == obj.id)}
    if kind == "site":
        return {"equipment": count(Equipment, Equipment.site_id == obj.id),
                "interventions": count(Intervention, Intervention.site_id == obj.id)}
    if kind == "equipment":
        return {"interventions": count(Intervention, Intervention.equipment_id == obj.id)}
    if kind == "contract":
        return {"interventions": count(Intervention, Intervention.contract_id == obj.id)}
    if kind == "intervention_type":
        return {"interventions": count(Intervention, Intervention.type_id == obj.id)}
    if kind == "status":
        return {"interventions": count(Intervention, Intervention.status_id == obj.id)}
    return {}


def _bool(field, value):
    if value is None or isinstance(value, bool):
        return value
    raise InvalidInput(f"{field} must be true or false.", {field: value})


class MasterData:
    """Mixed into InterventionsService (needs `db` and `principal`)."""

    # --- shared machinery ----------------------------------------------------

    def _get(self, kind, object_id):
        with self.db.session() as session:
            return record(session, kind, visible(session, self.principal, kind, object_id))

    def _created(self, uow, kind, obj):
        uow.session.add(obj)
        uow.session.flush()  # server defaults (created_at) come back with the INSERT
        result = record(uow.session, kind, obj)
        uow.publish(f"{kind}.created", obj.id, result)
        return result

    def _update(self, uow, kind, object_id, version, changes, check=None):
        """PATCH: lock the row, check who, what and the version, apply,
        publish <kind>.updated with the full record."""
        require_writer(self.principal)
        md.check_changes(kind, changes)
        s = uow.session
        obj = visible(s, self.principal, kind, object_id, lock=True)
        self._may_write(kind, obj)
        md.check_version(kind, obj.version, version)
        changes = dict(changes)
        if "active" in changes:
            changes["active"] = _bool("active", changes["active"])
        if check is not None:
            changes = check(s, obj, changes)
        for key, value in changes.items():
            setattr(obj, key, value)
        obj.version = obj.version + 1
        s.flush()
        result = record(s, kind, obj)
        uow.publish(f"{kind}.updated", obj.id, result)
        return result

    def _may_write(self, kind, obj):
        p = self.principal
        if kind in ("company",):
            require_admin(p, obj.id)
        elif kind in ("technician", "client", "contract"):
            require_admin(p, obj.company_id)
        elif kind in ("intervention_type", "status"):
            require_global_admin(p)
        # site, equipment: visible to the admin = of its company

    def _delete(self, uow, kind, object_id):
        require_writer(self.principal)
        s = uow.session
        obj = visible(s, self.principal, kind, object_id, lock=True)
        self._may_write(kind, obj)
        md.check_deletable(kind, references(s, kind, obj))
        if kind == "technician":
            s.execute(sa.delete(technician_companies)
                      .where(technician_companies.c.technician_id == obj.id))
        s.delete(obj)
        try:
            s.flush()
        except sa.exc.IntegrityError:  # referenced meanwhile by a concurrent transaction
            raise Conflict(f"This {LABELS[kind].lower()} is referenced and cannot be deleted; "
                           "deactivate it instead.", {"hint": "PATCH {\"active\": false}"}) from None
        uow.publish(f"{kind}.deleted", object_id, {"id": object_id})
        return None

    def _list(self, kind, filters, limit=None, after=None):
        model = MODELS[kind]
        with self.db.session() as session:
            query = sa.select(model)
            cond = scope(kind, self.principal, session)
            if cond is not None:
                query = query.where(cond)
            for condition in filters:
                query = query.where(condition)
            rows, cursor = page(session, query, model, limit, after)
            return {"items": records(session, kind, rows), "next_cursor": cursor}

    @staticmethod
    def _common_filters(model, active=None, q=None, name=None):
        conds = []
        active = _bool("active", active)
        if active is not None:
            conds.append(model.active.is_(active))
        q = md.contains(q)
        if q is not None:
            column = name if name is not None else model.name
            conds.append(sa.func.lower(column).contains(q.lower(), autoescape=True))
        return conds

    def _id_filter(self, kind, column, value, field):
        """A list's filter on an id, resolved in the caller's scope (404 for
        another company's record, as in a body)."""
        if value is None:
            return []
        with self.db.session() as session:
            resolve_filter(session, self.principal, kind, value, field)
        return [column == value]

    # --- companies -------------------------------------------------------------

    @rpc
    @command
    def create_company(self, uow, name, email=None, phone=None, address=None, survey_enabled=False,
                       **visit_settings):
        """Global admin. Publishes company.created (the full record).
        `visit_settings`: portal_validation, validation_reminder_days,
        tacit_validation, max_visit_km (domain.masterdata.VISIT_SETTINGS)."""
        require_global_admin(self.principal)
        settings = md.check_visit_settings({**md.VISIT_SETTINGS, **visit_settings})
        company = Company(name=name, email=email, phone=phone, address=address,
                          survey_enabled=_bool("survey_enabled", survey_enabled) or False,
                          active=True, version=1, **settings)
        return self._created(uow, "company", company)

    @rpc
    def get_company(self, company_id):
        return self._get("company", company_id)

    @rpc
    @command
    def update_company(self, uow, company_id, version, changes):
        """Admin of the company. Publishes company.updated (the full record)."""
        def check(s, company, changes):
            if "survey_enabled" in changes:
                changes["survey_enabled"] = _bool("survey_enabled", changes["survey_enabled"])
            changes.update(md.check_visit_settings(
                {k: v for k, v in changes.items() if k in md.VISIT_SETTINGS}))
            if changes.get("active") is False:
                settings = s.get(Settings, 1)
                if settings is not None and settings.main_company_id == company.id \
                        and not settings.multi_company:
                    raise Conflict("This is the main company while multi-company is off: "
                                   "it cannot be deactivated.", {"company_id": company.id})
            return changes
        return self._update(uow, "company", company_id, version, changes, check)

    @rpc
    @command
    def delete_company(self, uow, company_id):
        return self._delete(uow, "company", company_id)

    @rpc
    def list_companies(self, active=None, q=None, limit=None, after=None):
        return self._list("company", self._common_filters(Company, active, q), limit, after)

    # --- technicians -----------------------------------------------------------

    def _check_companies(self, s, primary, others):
        if not isinstance(others, (list, tuple)):
            raise InvalidInput("company_ids must be a list of company ids.", {"company_ids": others})
        for company_id in {primary, *others}:
            resolve(s, self.principal, "company", company_id,
                    "company_id" if company_id == primary else "company_ids")
            require_admin(self.principal, company_id)

    def _set_other_companies(self, s, technician_id, primary, others):
        s.execute(sa.delete(technician_companies)
                  .where(technician_companies.c.technician_id == technician_id))
        rest = md.company_ids(primary, others)[1:]
        if rest:
            s.execute(sa.insert(technician_companies),
                      [{"technician_id": technician_id, "company_id": c} for c in rest])

    @rpc
    @command
    def create_technician(self, uow, name, email, company_id, phone=None, company_ids=None):
        """Admin of its companies. `company_ids`: the other companies it also
        works for. Publishes technician.created."""
        require_writer(self.principal)
        s = uow.session
        others = list(company_ids or [])
        self._check_companies(s, company_id, others)
        technician = Technician(name=name, email=email, phone=phone, company_id=company_id,
                                active=True, version=1)
        s.add(technician)
        s.flush()
        self._set_other_companies(s, technician.id, company_id, others)
        return self._created(uow, "technician", technician)

    @rpc
    def get_technician(self, technician_id):
        return self._get("technician", technician_id)

    @rpc
    @command
    def update_technician(self, uow, technician_id, version, changes):
        def check(s, technician, changes):
            changes = dict(changes)
            others = changes.pop("company_ids", None)
            primary = changes.get("company_id", technician.company_id)
            if others is None and "company_id" in changes:  # keeps the others it works for
                others = s.scalars(sa.select(technician_companies.c.company_id).where(
                    technician_companies.c.technician_id == technician.id)).all()
            if others is not None:
                self._check_companies(s, primary, others)
                self._set_other_companies(s, technician.id, primary, others)
            return changes
        return self._update(uow, "technician", technician_id, version, changes, check)

    @rpc
    @command
    def delete_technician(self, uow, technician_id):
        return self._delete(uow, "technician", technician_id)

    @rpc
    def list_technicians(self, company_id=None, active=None, q=None, limit=None, after=None):
        filters = self._common_filters(Technician, active, q)
        if company_id is not None:
            self._id_filter("company", Technician.company_id, company_id, "company_id")
            filters.append(technicians_of(company_id))
        return self._list("technician", filters, limit, after)

    # --- clients ---------------------------------------------------------------

    @rpc
    @command
    def create_client(self, uow, name, email, company_id, locale="fr", phone=None, address=None):
        """Admin of its company. Publishes client.created."""
        require_writer(self.principal)
        if locale not in rules.LOCALES:
            raise InvalidInput("Unknown locale.", {"locale": locale, "allowed": list(rules.LOCALES)})
        resolve(uow.session, self.principal, "company", company_id, "company_id")
        require_admin(self.principal, company_id)
        client = Client(name=name, email=email, company_id=company_id, locale=locale, phone=phone,
                        address=address, active=True, version=1)
        return self._created(uow, "client", client)

    @rpc
    def get_client(self, client_id):
        return self._get("client", client_id)

    @rpc
    @command
    def update_client(self, uow, client_id, version, changes):
        def check(s, client, changes):
            if "locale" in changes and changes["locale"] not in rules.LOCALES:
                raise InvalidInput("Unknown locale.", {"locale": changes["locale"],
                                                       "allowed": list(rules.LOCALES)})
            return changes
        return self._update(uow, "client", client_id, version, changes, check)

    @rpc
    @command
    def delete_client(self, uow, client_id):
        return self._delete(uow, "client", client_id)

    @rpc
    def list_clients(self, company_id=None, active=None, q=None, limit=None, after=None):
        filters = self._common_filters(Client, active, q)
        filters += self._id_filter("company", Client.company_id, company_id, "company_id")
        return self._list("client", filters, limit, after)

    # --- sites -----------------------------------------------------------------

    def _client_for_write(self, s, client_id):
        """The client a new site, equipment or contract belongs to: it must
        exist, be active, and be of a company the admin manages."""
        require_writer(self.principal)
        client = resolve(s, self.principal, "client", client_id, "client_id")
        require_admin(self.principal, client.company_id)
        return client

    @rpc
    @command
    def create_site(self, uow, client_id, name, address=None):
        """Admin of the client's company. Publishes site.created."""
        self._client_for_write(uow.session, client_id)
        return self._created(uow, "site", Site(client_id=client_id, name=name, address=address,
                                               active=True, version=1))

    @rpc
    def get_site(self, site_id):
        return self._get("site", site_id)

    @rpc
    @command
    def update_site(self, uow, site_id, version, changes):
        return self._update(uow, "site", site_id, version, changes)

    @rpc
    @command
    def delete_site(self, uow, site_id):
        return self._delete(uow, "site", site_id)

    @rpc
    def list_sites(self, client_id=None, active=None, q=None, limit=None, after=None):
        filters = self._common_filters(Site, active, q)
        filters += self._id_filter("client", Site.client_id, client_id, "client_id")
        return self._list("site", filters, limit, after)

    # --- equipment -------------------------------------------------------------

    def _site_of(self, s, client_id, site_id):
        if site_id is None:
            return None
        site = resolve(s, self.principal, "site", site_id, "site_id")
        if site.client_id != client_id:
            raise InvalidInput("This site is not one of the equipment's client's.",
                               {"site_id": site_id, "client_id": client_id})
        return site

    @rpc
    @command
    def create_equipment(self, uow, client_id, kind, brand=None, model=None, serial_number=None,
                         site_id=None):
        """Admin of the client's company. `site_id`: one of the client's sites.
        Publishes equipment.created."""
        s = uow.session
        self._client_for_write(s, client_id)
        self._site_of(s, client_id, site_id)
        equipment = Equipment(client_id=client_id, site_id=site_id, kind=kind, brand=brand,
                              model=model, serial_number=serial_number, active=True, version=1)
        return self._created(uow, "equipment", equipment)

    @rpc
    def get_equipment(self, equipment_id):
        return self._get("equipment", equipment_id)

    @rpc
    @command
    def update_equipment(self, uow, equipment_id, version, changes):
        def check(s, equipment, changes):
            if "site_id" in changes:
                self._site_of(s, equipment.client_id, changes["site_id"])
            return changes
        return self._update(uow, "equipment", equipment_id, version, changes, check)

    @rpc
    @command
    def delete_equipment(self, uow, equipment_id):
        return self._delete(uow, "equipment", equipment_id)

    @rpc
    def list_equipment(self, client_id=None, site_id=None, active=None, limit=None, after=None):
        filters = self._common_filters(Equipment, active)
        filters += self._id_filter("client", Equipment.client_id, client_id, "client_id")
        filters += self._id_filter("site", Equipment.site_id, site_id, "site_id")
        return self._list("equipment", filters, limit, after)

    # --- contracts -------------------------------------------------------------

    @rpc
    @command
    def create_contract(self, uow, client_id, reference, company_id=None, billable=True,
                        starts_on=None, ends_on=None):
        """Admin. A contract starts as a draft; `company_id` defaults to the
        client's. Publishes contract.created."""
        s = uow.session
        client = self._client_for_write(s, client_id)
        company_id = company_id or client.company_id
        resolve(s, self.principal, "company", company_id, "company_id")
        if company_id != client.company_id:
            raise InvalidInput("A contract belongs to its client's company.",
                               {"company_id": company_id, "client_company_id": client.company_id})
        require_admin(self.principal, company_id)
        starts_on, ends_on = md.a_date("starts_on", starts_on), md.a_date("ends_on", ends_on)
        md.check_period(starts_on, ends_on)
        contract = Contract(client_id=client_id, company_id=company_id, reference=reference,
                            billable=_bool("billable", billable), state="draft",
                            starts_on=starts_on, ends_on=ends_on, active=True, version=1)
        return self._created(uow, "contract", contract)

    @rpc
    def get_contract(self, contract_id):
        return self._get("contract", contract_id)

    @rpc
    @command
    def update_contract(self, uow, contract_id, version, changes):
        def check(s, contract, changes):
            for key in ("starts_on", "ends_on"):
                if key in changes:
                    changes[key] = md.a_date(key, changes[key])
            if "billable" in changes:
                changes["billable"] = _bool("billable", changes["billable"])
            md.check_period(changes.get("starts_on", contract.starts_on),
                            changes.get("ends_on", contract.ends_on))
            return changes
        return self._update(uow, "contract", contract_id, version, changes, check)

    @rpc
    @command
    def set_contract_state(self, uow, contract_id, state, version=None):
        """draft → validated → active → ended; any other move is a Conflict
        naming the allowed ones. Publishes contract.updated."""
        require_writer(self.principal)
        s = uow.session
        contract = visible(s, self.principal, "contract", contract_id, lock=True)
        self._may_write("contract", contract)
        if version is not None:
            md.check_version("contract", contract.version, version)
        contract.state = md.contract_move(contract.state, state)
        contract.version = contract.version + 1
        s.flush()
        result = record(s, "contract", contract)
        uow.publish("contract.updated", contract.id, result)
        return result

    @rpc
    @command
    def delete_contract(self, uow, contract_id):
        return self._delete(uow, "contract", contract_id)

    @rpc
    def list_contracts(self, client_id=None, state=None, billable=None, active=None, limit=None,
                       after=None):
        filters = self._common_filters(Contract, active)
        filters += self._id_filter("client", Contract.client_id, client_id, "client_id")
        if state is not None:
            if state not in md.CONTRACT_STATES:
                raise InvalidInput("Unknown contract state.",
                                   {"state": state, "allowed": list(md.CONTRACT_STATES)})
            filters.append(Contract.state == state)
        billable = _bool("billable", billable)
        if billable is not None:
            filters.append(Contract.billable.is_(billable))
        return self._list("contract", filters, limit, after)

    # --- intervention types ------------------------------------------------------

    @staticmethod
    def _location(location):
        if location not in rules.LOCATIONS:
            raise InvalidInput("Unknown location.", {"location": location,
                                                     "allowed": list(rules.LOCATIONS)})
        return location

    @rpc
    @command
    def create_intervention_type(self, uow, name, location):
        """Global admin. Publishes intervention_type.created."""
        require_global_admin(self.principal)
        kind = InterventionType(name=name, location=self._location(location), active=True, version=1)
        return self._created(uow, "intervention_type", kind)

    @rpc
    def get_intervention_type(self, type_id):
        return self._get("intervention_type", type_id)

    @rpc
    @command
    def update_intervention_type(self, uow, type_id, version, changes):
        """A type used by interventions keeps its location (Conflict)."""
        def check(s, kind, changes):
            if "location" in changes:
                self._location(changes["location"])
                used = s.scalar(sa.select(sa.func.count()).select_from(Intervention)
                                .where(Intervention.type_id == kind.id))
                md.check_location_change(kind.location, changes["location"], used)
            return changes
        return self._update(uow, "intervention_type", type_id, version, changes, check)

    @rpc
    @command
    def delete_intervention_type(self, uow, type_id):
        return self._delete(uow, "intervention_type", type_id)

    @rpc
    def list_intervention_types(self, location=None, active=None, q=None, limit=None, after=None):
        filters = self._common_filters(InterventionType, active, q)
        if location is not None:
            filters.append(InterventionType.location == self._location(location))
        return self._list("intervention_type", filters, limit, after)

    # --- statuses ------------------------------------------------------------------

    @rpc
    @command
    def create_status(self, uow, label, colour="#808080", position=0, active=True):
        """Global admin: the catalog of statuses. Publishes status.created."""
        require_global_admin(self.principal)
        if isinstance(position, bool) or not isinstance(position, int):
            raise InvalidInput("position must be an integer.", {"position": position})
        status = Status(label=label, colour=md.colour(colour), position=position,
                        active=_bool("active", active), version=1)
        return self._created(uow, "status", status)

    @rpc
    def get_status(self, status_id):
        return self._get("status", status_id)

    @rpc
    @command
    def update_status(self, uow, status_id, version, changes):
        def check(s, status, changes):
            if "colour" in changes:
                changes["colour"] = md.colour(changes["colour"])
            if "position" in changes and (isinstance(changes["position"], bool)
                                          or not isinstance(changes["position"], int)):
                raise InvalidInput("position must be an integer.", {"position": changes["position"]})
            return changes
        return self._update(uow, "status", status_id, version, changes, check)

    @rpc
    @command
    def delete_status(self, uow, status_id):
        return self._delete(uow, "status", status_id)

    @rpc
    def list_statuses(self, active=None, limit=None, after=None):
        """Ordered by position, then label (the order they are offered in)."""
        query = sa.select(Status)
        for condition in self._common_filters(Status, active):
            query = query.where(condition)
        with self.db.session() as session:
            rows, cursor = page(session, query, limit=limit, after=after,
                                keys=(Status.position, Status.label, Status.id), descending=False)
            return {"items": records(session, "status", rows), "next_cursor": cursor}

    # --- references for other services -------------------------------------------------

    @rpc
    def resolve_references(self, references):
        """The one resolver (DESIGN.md §5) for another service's command or
        filter: each `{field: [kind, id]}` must name a record the caller
        may see (404 naming the field otherwise; a deactivated one counts,
        as in a filter). Answers `{field: {id, company_id, client_id}}`
        (client_id: the record's client, for a site or equipment)."""
        if not isinstance(references, dict):
            raise InvalidInput("references is {field: [kind, id]}.")
        found = {}
        with self.db.session() as session:
            for field, (kind, object_id) in references.items():
                if kind not in REFERABLE:
                    raise InvalidInput(f"{kind} is not a kind of record to refer to.", {field: kind})
                record = resolve_filter(session, self.principal, kind, object_id, field)
                row = session.get(MODELS[kind], record)
                found[field] = {"id": record, "company_id": getattr(row, "company_id", None),
                                "client_id": getattr(row, "client_id", None)}
        return found

    @rpc
    def contacts_of(self, client_id):
        """A client the caller may see (404 otherwise, as `resolve`), with its
        company, as another service's events carry them for the emails
        (event-carried state): `{client: {id, name, email, locale},
        company: {id, name, email, phone, address}}`."""
        with self.db.session() as session:
            client = resolve(session, self.principal, "client", client_id, "client_id")
            return {"client": as_dict(client, CLIENT_CONTACT),
                    "company": as_dict(session.get(Company, client.company_id), COMPANY_CONTACT)}

    # --- settings ------------------------------------------------------------------

    @rpc
    def get_settings(self):
        """Admins and managers (and internal callers)."""
        p = self.principal
        if p is not None and p.role not in ("admin", "manager"):
            raise Forbidden("Only admins and managers read the settings.")
        with self.db.session() as session:
            settings = session.get(Settings, 1)
            return as_dict(settings, SETTINGS_FIELDS)

    @rpc
    @command
    def update_settings(self, uow, multi_company, main_company_id=None, version=None):
        """Global admin. Multi-company off needs a main company. Publishes
        settings.updated."""
        require_global_admin(self.principal)
        md.check_settings(multi_company, main_company_id)
        s = uow.session
        if main_company_id is not None:
            resolve(s, self.principal, "company", main_company_id, "main_company_id")
        settings = s.get(Settings, 1, with_for_update=True)
        if version is not None:
            md.check_version("settings", settings.version, version)
        settings.multi_company = multi_company
        settings.main_company_id = main_company_id
        settings.version = settings.version + 1
        s.flush()
        result = as_dict(settings, SETTINGS_FIELDS)
        uow.publish("settings.updated", "settings", result)
        return result
