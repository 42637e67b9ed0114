"""Who sees what in timeclock: a visit (this service's copy) by the
caller's role, and the places, tags and clockings that hang on it.

A record outside the caller's scope does not exist for it: NotFound (404),
so that another company's ids reveal nothing."""
import sqlalchemy as sa

from fieldwork_common.errors import Forbidden, NotFound
from fieldwork_common.serialize import is_uuid

from fieldwork_timeclock.models import KnownVisit

STAFF = ("admin", "manager")


def is_staff(principal):
    return principal is not None and principal.role in STAFF


def sees_company(principal, company_id):
    """Staff of that company, or an admin of the whole platform."""
    if not is_staff(principal):
        return False
    if principal.is_platform_admin:
        return True
    return principal.company_id == company_id


def actor_of(principal, visit):
    """'staff', 'worker' or 'client' for this visit, or None."""
    if principal is None:
        return None
    if principal.role == "technician":
        return "worker" if principal.technician_id == visit.technician_id else None
    if principal.role == "client":
        return "client" if principal.client_id == visit.client_id else None
    return "staff" if sees_company(principal, visit.company_id) else None


def visit_scope(principal):
    """The SQL condition on KnownVisit of the visits the caller may see."""
    if principal.role == "technician":
        return KnownVisit.technician_id == (principal.technician_id or "")
    if principal.role == "client":
        return KnownVisit.client_id == (principal.client_id or "")
    if principal.is_platform_admin:
        return sa.true()
    return KnownVisit.company_id == principal.company_id



def company_scope(principal, column):
    """The condition on a `company_id` column for staff (True for the platform's admin)."""
    if principal.is_platform_admin:
        return sa.true()
    return column == principal.company_id


def visible_visit(session, principal, visit_id, field="visit_id", lock=False):
    """The caller's visit, or 404 (unknown, another's, or not known here yet)."""
    if not is_uuid(visit_id):
        raise NotFound("Visit not found.", {field: visit_id})
    query = sa.select(KnownVisit).where(KnownVisit.id == visit_id)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    visit = session.scalars(query).first()
    if visit is None or actor_of(principal, visit) is None:
        raise NotFound("Visit not found.", {field: visit_id})
    return visit


def company_record(session, principal, model, record_id, label, field, lock=False):
    """A record with a `company_id`, for staff of its company; 404 otherwise."""
    if not is_uuid(record_id):
        raise NotFound(f"{label} not found.", {field: record_id})
    query = sa.select(model).where(model.id == record_id)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    record = session.scalars(query).first()
    if record is None or not sees_company(principal, record.company_id):
        raise NotFound(f"{label} not found.", {field: record_id})
    return record


def require_staff(principal):
    if not is_staff(principal):
        raise Forbidden("Only staff (admins and managers) may do this.")


def require_admin(principal):
    if principal is None or principal.role != "admin":
        raise Forbidden("Only an admin may do this.")
