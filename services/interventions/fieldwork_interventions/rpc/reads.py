"""The reads wing: read-side RPCs over interventions: lists with filters and cursor
pagination, the calendar and its ICS feeds, the client's tracking (by
login or by an unguessable token).

Tokens (calendar feeds, tracking links) are written in a plain unit of
work, not with `@command`: a command stores its response under the
request's idempotency key, and the response here is the token itself, which
must exist nowhere but in the link (only its SHA-256 is kept). A repeated
request therefore makes a second, equally valid token; nothing else
changes.
"""
import os
from datetime import datetime, timedelta, timezone

import sqlalchemy as sa
from fieldwork_common import ics
from fieldwork_common.commands import command
from fieldwork_common.envelope import rfc3339
from fieldwork_common.errors import Forbidden, InvalidInput, NotFound
from fieldwork_common.pagination import clamp_limit, decode_cursor, page
from fieldwork_common.rpc import rpc
from fieldwork_common.serialize import parse_instant

from fieldwork_interventions import appointments
from fieldwork_interventions.access import resolve, resolve_filter, sees_company, visibility, visible
from fieldwork_interventions.changes import INTERVENTION_FIELDS
from fieldwork_interventions.domain import reads as tracking
from fieldwork_interventions.domain import rules
from fieldwork_interventions.models import (
    AccessToken, Client, Company, Equipment, HistoryEntry, Intervention, Status, Technician, Visit)

STATES = ("open", "closed", "completed")
MAX_CALENDAR_DAYS = 366
FEED_PAST_DAYS = 365          # a feed carries appointments from a year ago onwards
FEED_KINDS = {"technician": tracking.CALENDAR_TECHNICIAN, "company": tracking.CALENDAR_COMPANY}
PICKUP_LABELS = {"pickup": "Retrait", "delivery": "Livraison", None: "Retrait"}


def moment(value, field):
    """An aware datetime in UTC from an RFC 3339 string (or None)."""
    if value is None:
        return None
    return parse_instant(value, field)


def one_of(value, allowed, field):
    if value is not None and value not in allowed:
        raise InvalidInput(f"Unknown {field}.", {field: value, "allowed": list(allowed)})
    return value


def now():
    return datetime.now(timezone.utc)


def tracking_days():
    return tracking.parse_days(os.environ.get("TRACKING_TOKEN_DAYS"))


def _known_token(session, token, kinds):
    """The stored row of a token of one of `kinds` that still opens its page."""
    if not isinstance(token, str) or not 10 <= len(token) <= 200:
        return None
    row = session.get(AccessToken, tracking.token_hash(token))
    if row is None or not any(tracking.usable(row.kind, kind, row.revoked, row.expires_at, now())
                              for kind in kinds):
        return None
    return row


class Reads:
    """Mixed into InterventionsService (needs `db` and `principal`)."""

    def _id_filters(self, filters):
        """The conditions of a list's id filters, each resolved in the
        caller's scope first (another company's record: 404, as in a body).
        `filters`: (kind, column, value, field)."""
        given = [f for f in filters if f[2] is not None]
        if not given:
            return []
        with self.db.session() as session:
            return [column == resolve_filter(session, self.principal, kind, value, field)
                    for kind, column, value, field in given]

    # --- lists ------------------------------------------------------------------

    @rpc
    def list_interventions(self, company_id=None, technician_id=None, client_id=None, step=None,
                           state=None, created_from=None, created_to=None, limit=None, after=None):
        """Newest first, a page at a time; filters combine with AND and with
        what the caller may see. `created_from` ≤ created_at < `created_to`."""
        conditions = visibility(self.principal)
        conditions += self._id_filters((("company", Intervention.company_id, company_id, "company_id"),
                                        ("technician", Intervention.technician_id, technician_id,
                                         "technician_id"),
                                        ("client", Intervention.client_id, client_id, "client_id")))
        if one_of(step, rules.WORKSHOP_STEPS, "step") is not None:
            conditions.append(Intervention.step == step)
        if one_of(state, STATES, "state") is not None:
            conditions.append(Intervention.state == state)
        start, end = moment(created_from, "created_from"), moment(created_to, "created_to")
        if start is not None:
            conditions.append(Intervention.created_at >= start)
        if end is not None:
            conditions.append(Intervention.created_at < end)
        if step is not None and state is not None and rules.STATE_AFTER[step] != state:
            # the state follows from the step: nothing can match (and the
            # database would scan every row of the one to find none)
            clamp_limit(limit)
            if after:
                decode_cursor(after, (Intervention.created_at, Intervention.id))
            return {"items": [], "next_cursor": None}
        with self.db.session() as session:
            return listed(session, conditions, limit, after)

    # --- calendar ---------------------------------------------------------------

    @rpc
    def calendar(self, start, end, technician_id=None, company_id=None):
        """The pickups and deliveries the caller may see with
        start ≤ pickup_at < end, in time order. The range is at most 366 days."""
        start, end = moment(start, "from"), moment(end, "to")
        if start is None or end is None:
            raise InvalidInput("from and to are required.", {"from": start, "to": end})
        if not start < end:
            raise InvalidInput("from must be before to.", {"from": rfc3339(start), "to": rfc3339(end)})
        if end - start > timedelta(days=MAX_CALENDAR_DAYS):
            raise InvalidInput(f"The range is at most {MAX_CALENDAR_DAYS} days.",
                               {"from": rfc3339(start), "to": rfc3339(end),
                                "max_days": MAX_CALENDAR_DAYS})
        conditions = visibility(self.principal)
        conditions += self._id_filters((("technician", Intervention.technician_id, technician_id,
                                         "technician_id"),
                                        ("company", Intervention.company_id, company_id, "company_id")))
        with self.db.session() as session:
            rows = session.execute(
                _appointments().where(Intervention.pickup_at >= start, Intervention.pickup_at < end,
                                      *conditions)
                .order_by(Intervention.pickup_at, Intervention.id)).all()
            visit_conditions = visibility(self.principal, Visit)
            visit_conditions += self._id_filters((
                ("technician", Visit.technician_id, technician_id, "technician_id"),
                ("company", Visit.company_id, company_id, "company_id")))
            visits = appointments.visits(session, Visit.start_at < end, Visit.end_at > start,
                                         *visit_conditions)
            return {"items": [_calendar_item(row) for row in rows],
                    "visits": [appointments.calendar_item(row) for row in visits]}

    @rpc
    @command(remember=False)  # the answer carries the token: it is never stored
    def create_calendar_feed(self, uow, technician_id=None, company_id=None):
        """A URL token for an ICS feed of one technician's or one company's
        appointments. Admins and managers for their company or its
        technicians; a technician for itself. Returns the token once."""
        p = self.principal
        if p is None or p.role not in ("admin", "manager", "technician"):
            raise Forbidden("Only staff and technicians subscribe to calendar feeds.")
        if bool(technician_id) == bool(company_id):
            raise InvalidInput("Give either technician_id or company_id.",
                               {"technician_id": technician_id, "company_id": company_id})
        s = uow.session
        if technician_id:
            technician = resolve(s, p, "technician", technician_id, "technician_id", active=False)
            kind, subject_id = "technician", technician.id
        else:
            if p.role == "technician":
                raise Forbidden("A technician subscribes only to its own calendar.",
                                {"company_id": company_id})
            company = resolve(s, p, "company", company_id, "company_id", active=False)
            kind, subject_id = "company", company.id
        token = tracking.new_token()
        s.add(AccessToken(token_hash=tracking.token_hash(token), kind=FEED_KINDS[kind],
                          subject_id=subject_id, expires_at=None, revoked=False,
                          created_by=p.user_id))
        return {"token": token, "kind": kind, "subject_id": subject_id}

    @rpc
    def calendar_feed(self, token):
        """The ICS document (text) of a feed token; NotFound for an unknown
        or revoked one. Anyone holding the token may read it."""
        with self.db.session() as session:
            row = _known_token(session, token, FEED_KINDS.values())
            if row is None:
                raise NotFound("Unknown calendar feed.")
            if row.kind == tracking.CALENDAR_TECHNICIAN:
                subject = session.get(Technician, row.subject_id)
                condition = Intervention.technician_id == row.subject_id
                visit_condition = Visit.technician_id == row.subject_id
            else:
                subject = session.get(Company, row.subject_id)
                condition = Intervention.company_id == row.subject_id
                visit_condition = Visit.company_id == row.subject_id
            rows = session.execute(
                _appointments().add_columns(Company.name.label("company_name"),
                                            Company.address.label("company_address"))
                .join(Company, Company.id == Intervention.company_id)
                .where(condition, Intervention.pickup_at.is_not(None),
                       Intervention.pickup_at >= now() - timedelta(days=FEED_PAST_DAYS))
                .order_by(Intervention.pickup_at, Intervention.id)).all()
            events = [_feed_event(r) for r in rows]
            events += [appointments.feed_event(r) for r in appointments.visits(
                session, visit_condition, Visit.start_at >= now() - timedelta(days=FEED_PAST_DAYS))]
            name = f"Fieldwork · {subject.name}" if subject is not None else "Fieldwork"
            return ics.calendar(events, name=name).decode()

    @rpc
    @command
    def revoke_calendar_feed(self, uow, token):
        """The feed's creator, or an admin who sees its subject's company.
        (A command: a repeated request answers as the first did.)"""
        p = self.principal
        if p is None:
            raise Forbidden("A caller is required.")
        s = uow.session
        row = _known_token(s, token, FEED_KINDS.values())
        if row is None:
            raise NotFound("Unknown calendar feed.")
        allowed = row.created_by == p.user_id
        if not allowed and p.role == "admin":
            if row.kind == tracking.CALENDAR_COMPANY:
                company_id = row.subject_id
            else:
                technician = s.get(Technician, row.subject_id)
                company_id = technician.company_id if technician else None
            allowed = sees_company(p, company_id)
        if not allowed:
            raise NotFound("Unknown calendar feed.")
        row.revoked = True
        return {"revoked": True}

    # --- tracking ---------------------------------------------------------------

    @rpc
    @command(remember=False)  # the answer carries the token: it is never stored
    def issue_tracking_token(self, uow, intervention_id):
        """A link for the client's tracking page, without login. Internal
        callers (notifications) and admins. The token is returned once and
        expires after TRACKING_TOKEN_DAYS (default 90)."""
        p = self.principal
        if p is not None and p.role != "admin":
            raise Forbidden("Only admins and the platform issue tracking links.")
        s = uow.session
        intervention = visible(s, p, "intervention", intervention_id)  # internal callers see all
        token = tracking.new_token()
        expires_at = tracking.tracking_expiry(now(), tracking_days())
        s.add(AccessToken(token_hash=tracking.token_hash(token), kind=tracking.TRACKING,
                          subject_id=intervention.id, expires_at=expires_at, revoked=False,
                          created_by=p.user_id if p else None))
        return {"token": token, "url_path": f"/track/{token}", "expires_at": rfc3339(expires_at)}

    @rpc
    def get_tracking(self, intervention_id):
        """The tracking of an intervention the caller may see (a client its own)."""
        with self.db.session() as session:
            return _tracking_view(session, visible(session, self.principal, "intervention",
                                                   intervention_id))

    @rpc
    def tracking_by_token(self, token):
        """The same, for the holder of a tracking link; NotFound when the
        token is unknown, expired or revoked."""
        with self.db.session() as session:
            row = _known_token(session, token, (tracking.TRACKING,))
            intervention = session.get(Intervention, row.subject_id) if row is not None else None
            if intervention is None:
                raise NotFound("Unknown or expired tracking link.")
            return _tracking_view(session, intervention)


# The list reads plain columns, ids as text: no ORM objects, no uuid.UUID
# round trip. It costs the interventions service about half the CPU of
# loading 50 ORM rows and serialising them (docs/performance.md).
_ID_COLUMNS = {"id", "company_id", "client_id", "equipment_id", "type_id", "technician_id",
               "site_id", "contract_id", "status_id"}
_LIST_COLUMNS = [sa.cast(Intervention.__table__.c[name], sa.Text).label(name) if name in _ID_COLUMNS
                 else Intervention.__table__.c[name] for name in INTERVENTION_FIELDS]
_DATETIME_FIELDS = {name for name in INTERVENTION_FIELDS
                    if isinstance(Intervention.__table__.c[name].type, sa.DateTime)}


def listed(session, conditions, limit, after):
    """One page (fieldwork_common.pagination), read as plain columns: cheaper
    than loading and converting ORM objects (docs/performance.md)."""
    rows, cursor = page(session, sa.select(*_LIST_COLUMNS).where(*conditions), Intervention,
                        limit, after, columns=True)
    items = []
    for row in rows:
        item = row._asdict()
        for name in _DATETIME_FIELDS:
            if item[name] is not None:
                item[name] = rfc3339(item[name])
        items.append(item)
    return {"items": items, "next_cursor": cursor}


def _appointments():
    return (sa.select(Intervention, Client.id.label("client_id_"), Client.name.label("client_name"),
                      Client.address.label("client_address"), Equipment.kind, Equipment.brand,
                      Equipment.model)
            .join(Client, Client.id == Intervention.client_id)
            .join(Equipment, Equipment.id == Intervention.equipment_id))


def _calendar_item(row):
    i = row.Intervention
    return {"intervention_id": i.id, "reference": rules.reference(i.id),
            "pickup_at": rfc3339(i.pickup_at), "pickup_kind": i.pickup_kind,
            "step": i.step, "state": i.state, "company_id": i.company_id,
            "technician_id": i.technician_id,
            "client": {"id": row.client_id_, "name": row.client_name},
            "equipment": {"kind": row.kind, "brand": row.brand, "model": row.model}}


def _feed_event(row):
    i = row.Intervention
    equipment = " ".join(part for part in (row.kind, row.brand, row.model) if part)
    label = PICKUP_LABELS.get(i.pickup_kind, PICKUP_LABELS[None])
    where = row.client_address if i.pickup_kind == "delivery" else row.company_address
    return ics.CalendarEvent(
        uid=f"{i.id}-pickup@fieldwork", start=i.pickup_at,
        summary=f"{label} {rules.reference(i.id)} · {row.client_name}",
        description=f"{equipment}\n{row.company_name}".strip(),
        location=where or "", sequence=i.version)


def _tracking_view(session, intervention):
    company = session.get(Company, intervention.company_id)
    equipment = session.get(Equipment, intervention.equipment_id)
    client = session.get(Client, intervention.client_id)
    status = session.get(Status, intervention.status_id) if intervention.status_id else None
    history = session.execute(
        sa.select(HistoryEntry.kind, HistoryEntry.data, HistoryEntry.at)
        .where(HistoryEntry.intervention_id == intervention.id,
               HistoryEntry.kind.in_(tracking.MOVE_KINDS))
        .order_by(HistoryEntry.id)).all()
    path = tracking.steps_reached(intervention.step, intervention.created_at,
                                  [(h.kind, h.data, h.at) for h in history])
    return {
        "intervention_id": intervention.id,
        "reference": rules.reference(intervention.id),
        "company": {"name": company.name, "phone": company.phone, "email": company.email},
        "equipment": {"kind": equipment.kind, "brand": equipment.brand, "model": equipment.model},
        "steps": [{"step": r.step, "reached_at": rfc3339(r.at)} for r in path],
        "current_step": intervention.step,
        "state": intervention.state,
        "status": {"label": status.label, "colour": status.colour} if status else None,
        "pickup_at": rfc3339(intervention.pickup_at) if intervention.pickup_at else None,
        "pickup_kind": intervention.pickup_kind,
        "locale": client.locale if client else "fr",
        "visits": appointments.tracking_visits(session, intervention.id)
        if intervention.location != "workshop" else [],
    }
