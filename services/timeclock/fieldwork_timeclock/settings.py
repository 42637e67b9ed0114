"""The timeclock settings in force for a visit: the company's, overlaid by
its service's (the intervention type's) overrides (domain/clockings.py
holds the names, defaults and checks). Shared by the clockings and
incidents wings."""
import sqlalchemy as sa

from fieldwork_timeclock.domain.clockings import effective_settings
from fieldwork_timeclock.models import ClockingSettings


def rows(session, company_id, type_id=None):
    """(the company's values, the service's values) as stored."""
    found = session.execute(
        sa.select(ClockingSettings.type_id, ClockingSettings.values)
        .where(ClockingSettings.company_id == company_id,
               sa.or_(ClockingSettings.type_id.is_(None), ClockingSettings.type_id == type_id))).all()
    company = next((values for t, values in found if t is None), {})
    typed = next((values for t, values in found if t is not None), {}) if type_id else {}
    return company, typed


def in_force(session, company_id, type_id=None):
    company, typed = rows(session, company_id, type_id)
    return effective_settings(company, typed)
