"""Who sees which request (docs/requests.md): staff their company's (a
platform admin every company's), a technician the requests it created or
that led to an intervention assigned to it, a client its own. A request outside the caller's scope does not exist for
it: NotFound (404)."""
import sqlalchemy as sa

from fieldwork_common.errors import Forbidden, NotFound
from fieldwork_common.serialize import is_uuid

from fieldwork_requests.models import KnownIntervention, Request, RequestIntervention

STAFF = ("admin", "manager")


def is_staff(principal):
    return principal is not None and principal.role in STAFF


def sees_company(principal, company_id):
    if not is_staff(principal):
        return False
    return principal.is_platform_admin or principal.company_id == company_id


def request_scope(principal):
    """The SQL condition on Request of what the caller may see."""
    if principal.role == "technician":
        # those it created, and those that led to an intervention assigned to it
        technician = principal.technician_id or ""
        return sa.or_(Request.created_by_technician_id == technician, Request.id.in_(
            sa.select(RequestIntervention.request_id).join(
                KnownIntervention, KnownIntervention.id == RequestIntervention.intervention_id)
            .where(KnownIntervention.technician_id == technician)))
    if principal.role == "client":
        return Request.client_id == (principal.client_id or "")
    if principal.is_platform_admin:
        return sa.true()
    return Request.company_id == principal.company_id


def company_scope(principal, column):
    if principal.is_platform_admin:
        return sa.true()
    return column == principal.company_id


def visible_request(session, principal, request_id, lock=False):
    if not is_uuid(request_id):
        raise NotFound("Request not found.", {"request_id": request_id})
    query = sa.select(Request).where(Request.id == request_id, request_scope(principal))
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    request = session.scalars(query).first()
    if request is None:
        raise NotFound("Request not found.", {"request_id": request_id})
    return request



def require_staff(principal):
    if not is_staff(principal):
        raise Forbidden("Only staff (admins and managers) may do this.")


def require_admin(principal):
    if principal is None or principal.role != "admin":
        raise Forbidden("Only an admin may do this.")
