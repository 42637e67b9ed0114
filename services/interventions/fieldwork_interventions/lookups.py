"""Lookups and access checks the service's RPC mixins share."""
import sqlalchemy as sa

from fieldwork_common.errors import Forbidden, InvalidInput, NotFound
from fieldwork_common.serialize import is_uuid

from fieldwork_interventions.domain import rules
from fieldwork_interventions.models import technician_companies


def require_admin(principal, company_id=None):
    if not rules.can_manage_master_data(principal, company_id):
        raise Forbidden("Only an admin of this company may do this.")


def get(session, model, object_id, field):
    obj = session.get(model, object_id) if is_uuid(object_id) else None
    if obj is None:
        raise NotFound(f"{model.__name__} not found.", {field: object_id})
    return obj



def referenced(session, model, object_id, field):
    """A reference in a command: a missing one is bad input (400), not 404."""
    obj = session.get(model, object_id) if is_uuid(object_id) else None
    if obj is None:
        raise InvalidInput(f"{field} does not name an existing {model.__name__}.",
                           {field: object_id})
    return obj


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
