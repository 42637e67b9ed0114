"""Who sees what, in one place: the records of each kind a caller may read
(`scope`, as an SQL condition), one record by id in the caller's scope
(`visible`), and the lookups and checks every wing's RPCs share.

A record outside the caller's scope does not exist for it: NotFound (404),
so that another company's ids reveal nothing."""
import sqlalchemy as sa

from fieldwork_common.errors import Forbidden, InvalidInput, NotFound
from fieldwork_common.serialize import is_uuid

from fieldwork_interventions.domain import rules
from fieldwork_interventions.models import (
    Attachment, Client, Company, Contract, Equipment, File, Intervention, InterventionType, Site,
    Status, Technician, Visit, VisitReason, technician_companies)

MODELS = {"company": Company, "technician": Technician, "client": Client, "site": Site,
          "equipment": Equipment, "contract": Contract, "intervention_type": InterventionType,
          "status": Status, "intervention": Intervention, "file": File, "visit": Visit,
          "visit_reason": VisitReason}
LABELS = {"company": "Company", "technician": "Technician", "client": "Client", "site": "Site",
          "equipment": "Equipment", "contract": "Contract", "intervention_type": "Intervention type",
          "status": "Status", "intervention": "Intervention", "file": "File", "visit": "Visit",
          "visit_reason": "Reason"}


def require_admin(principal, company_id=None):
    if not rules.can_manage_master_data(principal, company_id):
        raise Forbidden("Only an admin of this company may do this.")


def sees_company(principal, company_id):
    if principal is None:
        return False
    if principal.role == "admin":
        return principal.company_id is None or principal.company_id == company_id
    return principal.company_id == company_id


def other_company_ids(session, technician_id):
    """The companies a technician also works for, besides its own."""
    return tuple(session.scalars(
        sa.select(technician_companies.c.company_id)
        .where(technician_companies.c.technician_id == technician_id)).all())


# --- who sees what ---------------------------------------------------------------

def _technician_company_ids(session, technician_id):
    """The companies a technician works for (its own and the others)."""
    if not technician_id or not is_uuid(technician_id):
        return []
    primary = session.scalar(sa.select(Technician.company_id).where(Technician.id == technician_id))
    return [c for c in [primary, *other_company_ids(session, technician_id)] if c]


def _company_cond(principal, session, column):
    """Records of a company `column` the caller may read (admins, managers,
    technicians); None = no restriction."""
    p = principal
    if p is None:  # an internal call: trusted
        return None
    if p.role == "admin":
        return None if p.company_id is None else column == p.company_id
    if p.role == "manager":
        return column == p.company_id if p.company_id else sa.false()
    if p.role == "technician":
        return column.in_(_technician_company_ids(session, p.technician_id))
    return sa.false()


def technicians_of(company_column_value):
    return sa.or_(Technician.company_id == company_column_value,
                  Technician.id.in_(sa.select(technician_companies.c.technician_id)
                                    .where(technician_companies.c.company_id == company_column_value)))


def scope(kind, principal, session):
    """The SQL condition for the records of `kind` the caller may read
    (None: all of them)."""
    p = principal
    if kind in ("intervention_type", "status"):
        return None
    if kind == "intervention":
        conditions = visibility(p)
        return sa.and_(*conditions) if conditions else None
    if kind == "file":
        return _file_scope(p, session)
    if kind == "visit":
        conditions = visibility(p, Visit)
        return sa.and_(*conditions) if conditions else None
    if kind == "visit_reason":  # a client picks among its company's reasons
        if p is not None and p.role == "client":
            return VisitReason.company_id.in_(sa.select(Client.company_id)
                                              .where(Client.id == p.client_id))
        return _company_cond(p, session, VisitReason.company_id)
    if kind == "company":
        if p is not None and p.role == "client":
            return sa.false()
        return _company_cond(p, session, Company.id)
    if kind == "technician":
        if p is None:
            return None
        if p.role == "technician":
            return Technician.id == p.technician_id
        if p.role == "admin" and p.company_id is None:
            return None
        if p.role in ("admin", "manager") and p.company_id:
            return technicians_of(p.company_id)
        return sa.false()
    if kind == "contract":
        if p is not None and p.role == "client":
            return Contract.client_id == p.client_id
        if p is not None and p.role == "technician":
            return sa.false()
        return _company_cond(p, session, Contract.company_id)
    if kind == "client":
        if p is not None and p.role == "client":
            return Client.id == p.client_id
        return _company_cond(p, session, Client.company_id)
    model = MODELS[kind]  # site, equipment: through their client
    if p is not None and p.role == "client":
        return model.client_id == p.client_id
    cond = _company_cond(p, session, Client.company_id)
    return None if cond is None else model.client_id.in_(sa.select(Client.id).where(cond))


def _attached_to(*conditions):
    """Files attached to the interventions that match `conditions`."""
    return File.id.in_(sa.select(Attachment.file_id)
                       .join(Intervention, Intervention.id == Attachment.intervention_id)
                       .where(*conditions))


def _file_scope(p, session):
    """A file is visible to its uploader, to the admins and managers of its
    company and its technicians (as any record of the company), and to
    whoever may see what it is attached to: the intervention's technician,
    and its client when the attachment is visible to the client."""
    if p is None:
        return None
    uploader = File.uploaded_by == p.user_id
    if p.role == "client":
        if not p.client_id:
            return uploader
        return sa.or_(uploader, _attached_to(Intervention.client_id == p.client_id,
                                             Attachment.visible_to_client.is_(True)))
    company = _company_cond(p, session, File.company_id)
    if company is None:
        return None
    others = [uploader]
    if p.role == "technician" and p.technician_id:
        others.append(_attached_to(Intervention.technician_id == p.technician_id))
    return sa.or_(company, *others)


def visible(session, principal, kind, object_id, lock=False, field=None):
    """The record, or NotFound (naming `field`, by default `<kind>_id`) when
    it does not exist or the caller may not see it."""
    model = MODELS[kind]
    found = None
    if is_uuid(object_id):
        query = sa.select(model).where(model.id == object_id)
        cond = scope(kind, principal, session)
        if cond is not None:
            query = query.where(cond)
        if lock:  # and read afresh: another transaction may have changed it meanwhile
            query = query.with_for_update().execution_options(populate_existing=True)
        found = session.scalars(query).first()
    if found is None:
        raise NotFound(f"{LABELS[kind]} not found.", {field or f"{kind}_id": object_id})
    return found


# --- references: the ids a caller sends ------------------------------------------------

def resolve(session, principal, kind, object_id, field, active=True, lock=False):
    """An id that a command's body carries, resolved in the caller's scope
    (DESIGN.md §5): the record when it exists and the caller may see it,
    else NotFound naming the field (404: another company's id reveals
    nothing); a deactivated record cannot be used for anything new (400).
    Whether the record fits what it is attached to (the intervention's
    company, the client's equipment) is the domain's rule, checked next."""
    if not is_uuid(object_id):
        raise InvalidInput(f"{field} must be an id (a UUID).", {field: object_id})
    record = visible(session, principal, kind, object_id, lock=lock, field=field)
    if active and getattr(record, "active", True) is False:
        raise InvalidInput(f"{field} names a deactivated {LABELS[kind].lower()}.", {field: object_id})
    return record


def resolve_optional(session, principal, kind, object_id, field, active=True):
    """`resolve` for an optional id: None stays None."""
    if object_id is None:
        return None
    return resolve(session, principal, kind, object_id, field, active=active)


def resolve_filter(session, principal, kind, object_id, field):
    """A list's filter on an id: it must name a record the caller may see
    (404 otherwise, as in a body); deactivated ones filter as well."""
    if object_id is None:
        return None
    return resolve(session, principal, kind, object_id, field, active=False).id


def visibility(principal, model=Intervention):
    """The conditions the caller's role puts on the interventions (or the
    visits: `model`) it may list: a client its own, a technician those
    assigned to it, a manager its company's, an admin of one company that
    company's, a global admin (or an internal call) all."""
    if principal is None:
        return []
    if principal.role == "admin":
        return [] if principal.company_id is None else [model.company_id == principal.company_id]
    column = {"manager": (model.company_id, principal.company_id),
              "technician": (model.technician_id, principal.technician_id),
              "client": (model.client_id, principal.client_id)}.get(principal.role)
    if column is None:
        raise Forbidden(f"The role '{principal.role}' may not list interventions.")
    col, value = column
    if value is None:  # a login not linked to its record sees nothing
        return [sa.false()]
    return [col == value]


def require_global_admin(principal):
    require_admin(principal)
    if not principal.is_platform_admin:
        raise Forbidden("Only an admin of the whole platform may do this.")


def require_writer(principal):
    if principal is None or principal.role != "admin":
        raise Forbidden("Only an admin may do this.")
