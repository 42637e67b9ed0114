"""The requests wing (seed 002, issue 12, docs/requests.md): the types a
company offers, requests created from the client portal, the field or by
staff, numbered per company and year, their actions (a message to the end
customer with a status, which the request's status follows) and internal
notes, and their history."""
import uuid
from datetime import datetime, timezone

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert

from fieldwork_common.commands import command
from fieldwork_common.envelope import rfc3339
from fieldwork_common.errors import Conflict, Forbidden, InvalidInput, NotFound, refuse
from fieldwork_common.pagination import page
from fieldwork_common.rpc import rpc
from fieldwork_common.serialize import as_dict, is_uuid, parse_instant

from fieldwork_requests.access import (company_scope, is_staff, request_scope, require_admin,
                                       require_staff, sees_company, visible_request, with_ids)
from fieldwork_requests.domain import requests as rules
from fieldwork_requests.models import (Request, RequestAction, RequestCounter, RequestHistory,
                                       RequestSettings, RequestType)

TYPE_FIELDS = ("id", "company_id", "label", "position", "active", "created_at", "version")
REQUEST_FIELDS = ("id", "company_id", "client_id", "number", "type_id", "source", "symptom",
                  "description", "site_id", "status", "created_by", "created_by_role",
                  "created_by_technician_id", "created_at", "updated_at", "closed_at", "version")
ACTION_FIELDS = ("id", "request_id", "status", "message", "channel", "internal", "by", "by_role",
                 "at")
HISTORY_FIELDS = ("id", "kind", "details", "by", "by_role", "at")
#: every request event: the request, its type, the contacts the emails need, who did it
EVENT_COMMON = REQUEST_FIELDS + ("type", "company", "client", "at", "by", "by_role")
#: what each event adds (docs/asyncapi.yaml, docs/events.md)
EVENT_OWN = {"request.created": (), "request.updated": ("changes",),
             "request.action_added": ("action", "previous_status"),
             "request.closed": ("outcome", "reason", "action"),
             "request.reopened": ("reason", "previous_status")}


def now():
    return datetime.now(timezone.utc)


def _version(record, version):
    if version is not None and version != record.version:
        raise Conflict("This record changed since you read it.",
                       {"expected_version": version, "current_version": record.version})


class Requests:
    """Mixin of RequestsService (needs `db`, `principal` and the
    `interventions` RpcProxy, the one resolver of master data)."""

    def _author(self):
        p = self.principal
        return (p.user_id, p.role) if p is not None else ("system", "system")

    def _history(self, s, request, kind, at, internal=False, **details):
        by, role = self._author()
        s.add(RequestHistory(request_id=request.id, kind=kind, details=details, internal=internal,
                             by=by, by_role=role, at=at))

    # --- types ------------------------------------------------------------------------

    def _type_company(self, company_id):
        """The company an admin configures: its own, or (a platform admin) the one named."""
        p = self.principal
        if p.is_platform_admin:
            if company_id is None:
                raise InvalidInput("Name the company.", {"company_id": "required"})
            self.interventions.resolve_references(references={"company_id": ["company", company_id]})
            return company_id
        if company_id is not None and company_id != p.company_id:
            raise NotFound("Company not found.", {"company_id": company_id})
        return p.company_id

    @rpc
    def list_request_types(self, company_id=None, active=None, limit=None, after=None):
        """Staff: their company's (or the named one's); technicians and
        clients: the types of their company, to pick one."""
        p = self.principal
        if is_staff(p):
            query = sa.select(RequestType).where(company_scope(p, RequestType.company_id))
        else:
            query = sa.select(RequestType).where(RequestType.company_id == (p.company_id or ""))
        query = with_ids(query, (company_id, RequestType.company_id, "company_id"))
        if active is not None:
            query = query.where(RequestType.active.is_(bool(active)))
        with self.db.session() as s:
            rows, cursor = page(s, query, limit=limit, after=after, descending=False,
                                keys=(RequestType.position, RequestType.label, RequestType.id))
            return {"items": [as_dict(r, TYPE_FIELDS) for r in rows], "next_cursor": cursor}

    @rpc
    @command
    def create_request_type(self, uow, label, position=0, company_id=None):
        require_admin(self.principal)
        company_id = self._type_company(company_id)
        label = rules.text(label, "label", required=True, limit=200)
        s = uow.session
        inserted = s.execute(insert(RequestType).values(
            id=str(uuid.uuid4()), company_id=company_id, label=label, position=position,
            active=True, version=1).on_conflict_do_nothing().returning(RequestType.id)).first()
        if inserted is None:
            raise Conflict("This company already has a request type with this label.",
                           {"label": label})
        return as_dict(s.get(RequestType, inserted.id), TYPE_FIELDS)

    @rpc
    @command
    def update_request_type(self, uow, type_id, version, changes):
        require_admin(self.principal)
        s = uow.session
        kind = None
        if is_uuid(type_id):
            kind = s.scalars(sa.select(RequestType).where(RequestType.id == type_id)
                             .with_for_update()).first()
        if kind is None or not sees_company(self.principal, kind.company_id):
            raise NotFound("Request type not found.", {"type_id": type_id})
        _version(kind, version)
        if "label" in changes:
            label = rules.text(changes["label"], "label", required=True, limit=200)
            clash = s.scalar(sa.select(RequestType.id).where(
                RequestType.company_id == kind.company_id, RequestType.label == label,
                RequestType.id != kind.id))
            if clash is not None:
                raise Conflict("This company already has a request type with this label.",
                               {"label": label})
            kind.label = label
        for name in ("position", "active"):
            if name in changes:
                setattr(kind, name, changes[name])
        kind.version += 1
        s.flush()
        return as_dict(kind, TYPE_FIELDS)

    # --- requests ---------------------------------------------------------------------

    @rpc
    @command
    def create_request(self, uow, type_id, client_id=None, source=None, symptom=None,
                       description=None, site_id=None):
        """A client for itself (portal), a technician from the field, staff
        for one of their clients with the source. The client, its site and
        the type are resolved in the caller's scope (another company's: 404)."""
        p = self.principal
        if p.role == "client":
            client_id = client_id or p.client_id
        if client_id is None:
            raise InvalidInput("Name the request's client.", {"client_id": "required"})
        contacts = self.interventions.contacts_of(client_id=client_id)
        company_id = contacts["company"]["id"]
        self._check_site(site_id, client_id)
        s = uow.session
        kind = s.get(RequestType, type_id) if is_uuid(type_id) else None
        if kind is None or kind.company_id != company_id:
            raise NotFound("Request type not found.", {"type_id": type_id})
        # the ids first (another company's: 404), then the rest of the body
        source = rules.source_for(p.role, source)
        symptom = rules.text(symptom, "symptom", limit=2000)
        description = rules.text(description, "description")
        if not kind.active:
            raise InvalidInput("This request type is no longer offered.", {"type_id": type_id})
        at = now()
        sequence = s.execute(insert(RequestCounter).values(
            company_id=company_id, year=at.year, last=1).on_conflict_do_update(
            index_elements=[RequestCounter.company_id, RequestCounter.year],
            set_={"last": RequestCounter.last + 1}).returning(RequestCounter.last)).scalar_one()
        by, role = self._author()
        request = Request(id=str(uuid.uuid4()), company_id=company_id, client_id=client_id,
                          number=rules.number(at.year, sequence), type_id=kind.id, source=source,
                          symptom=symptom, description=description, site_id=site_id,
                          status="new", created_by=by, created_by_role=role,
                          created_by_technician_id=p.technician_id if p.role == "technician"
                          else None, created_at=at, updated_at=at, version=1, contacts=contacts)
        s.add(request)
        s.flush()
        self._history(s, request, "created", at, source=source, type_id=kind.id,
                      symptom=symptom, site_id=site_id)
        s.flush()
        self._publish(uow, s, "request.created", request, at)
        return self._request_dict(s, request)

    def _check_site(self, site_id, client_id):
        """A site the caller may see, of the request's client (404, else 400)."""
        if site_id is None:
            return
        found = self.interventions.resolve_references(references={"site_id": ["site", site_id]})
        if found["site_id"]["client_id"] != client_id:
            raise InvalidInput("This site is not the client's.", {"site_id": site_id})

    def _publish(self, uow, s, event_type, request, at, **extra):
        """The request as it stands, the contacts the emails need, who did it
        and what this event adds (docs/events.md)."""
        by, role = self._author()
        data = self._request_dict(s, request)
        data.update(company=(request.contacts or {}).get("company"),
                    client=(request.contacts or {}).get("client"),
                    at=rfc3339(at), by=by, by_role=role)
        data.update({name: extra[name] for name in EVENT_OWN[event_type]})
        uow.publish(event_type, request.id, data)

    def _request_dict(self, s, request):
        """The request as the API answers it (its contacts stay inside)."""
        item = as_dict(request, REQUEST_FIELDS)
        kind = s.get(RequestType, request.type_id)
        item["type"] = {"id": kind.id, "label": kind.label}
        return item

    @rpc
    def list_requests(self, status=None, type_id=None, client_id=None, company_id=None,
                      source=None, from_=None, to=None, limit=None, after=None):
        """What the caller may see, newest first (docs/requests.md)."""
        p = self.principal
        query = sa.select(Request).where(request_scope(p))
        if type_id is not None:
            self._visible_type(type_id)
        query = with_ids(query, (type_id, Request.type_id, "type_id"),
                         (client_id, Request.client_id, "client_id"),
                         (company_id, Request.company_id, "company_id"))
        if status is not None:
            query = query.where(Request.status == status)
        if source is not None:
            query = query.where(Request.source == source)
        if from_ is not None:
            query = query.where(Request.created_at >= parse_instant(from_, "from"))
        if to is not None:
            query = query.where(Request.created_at < parse_instant(to, "to"))
        with self.db.session() as s:
            rows, cursor = page(s, query, Request, limit, after)
            return {"items": [self._request_dict(s, r) for r in rows], "next_cursor": cursor}

    def _visible_type(self, type_id):
        """A type the caller may name in a filter (of its company), else 404."""
        p = self.principal
        with self.db.session() as s:
            kind = s.get(RequestType, type_id) if is_uuid(type_id) else None
            if kind is None or not (sees_company(p, kind.company_id)
                                    or (not is_staff(p) and kind.company_id == p.company_id)):
                raise NotFound("Request type not found.", {"type_id": type_id})

    @rpc
    def get_request(self, request_id):
        with self.db.session() as s:
            return self._request_dict(s, visible_request(s, self.principal, request_id))

    # --- actions and notes ------------------------------------------------------------

    @rpc
    @command
    def add_request_action(self, uow, request_id, status, message, channel=None, version=None):
        """Staff: a message to the end customer with a status; the request's
        status follows it."""
        require_staff(self.principal)
        s = uow.session
        request = visible_request(s, self.principal, request_id, lock=True)
        _version(request, version)
        rules.check_action(request.status, status, channel)
        message = rules.text(message, "message", required=True)
        at = now()
        by, role = self._author()
        action = RequestAction(id=str(uuid.uuid4()), request_id=request.id, status=status,
                               message=message, channel=channel, internal=False, by=by,
                               by_role=role, at=at)
        s.add(action)
        previous = request.status
        request.status, request.updated_at = status, at
        request.closed_at = at if status == "closed" else None
        request.version += 1
        s.flush()
        self._history(s, request, "action", at, action_id=action.id, status=status,
                      previous_status=previous, message=message, channel=channel)
        s.flush()
        brief = {name: getattr(action, name) for name in ("id", "status", "message", "channel")}
        brief["at"] = rfc3339(at)
        self._publish(uow, s, "request.action_added", request, at, action=brief,
                      previous_status=previous)
        if status == "closed":
            self._publish(uow, s, "request.closed", request, at, outcome="closed", reason=None,
                          action=brief)
        return {**self._request_dict(s, request), "action": as_dict(action, ACTION_FIELDS)}

    # --- changes, cancelling, reopening -------------------------------------------------

    @rpc
    @command
    def update_request(self, uow, request_id, version, changes):
        """Staff: the type, the symptom, the description, the site; each
        change is in the history with its old and new value."""
        require_staff(self.principal)
        s = uow.session
        request = visible_request(s, self.principal, request_id, lock=True)
        _version(request, version)
        unknown = set(changes) - set(rules.EDITABLE)
        if unknown:
            raise InvalidInput("These fields cannot be changed.", {"fields": sorted(unknown)})
        if request.status in ("closed", "cancelled"):
            raise refuse("request_closed", f"This request is {request.status}: reopen it "
                               "first.", status=409, request_status=request.status)
        if changes.get("type_id") is not None:
            kind = s.get(RequestType, changes["type_id"]) if is_uuid(changes["type_id"]) else None
            if kind is None or kind.company_id != request.company_id:
                raise NotFound("Request type not found.", {"type_id": changes["type_id"]})
            if not kind.active:
                raise InvalidInput("This request type is no longer offered.",
                                   {"type_id": changes["type_id"]})
        elif "type_id" in changes:
            raise InvalidInput("A request keeps a type.", {"type_id": "required"})
        if changes.get("site_id") is not None:
            self._check_site(changes["site_id"], request.client_id)
        values = {}
        for name, value in changes.items():
            if name == "symptom":
                value = rules.text(value, "symptom", limit=2000)
            elif name == "description":
                value = rules.text(value, "description")
            values[name] = value
        done = {name: {"from": getattr(request, name), "to": value}
                for name, value in values.items() if getattr(request, name) != value}
        if not done:
            return self._request_dict(s, request)
        at = now()
        for name, change in done.items():
            setattr(request, name, change["to"])
        request.updated_at = at
        request.version += 1
        s.flush()
        self._history(s, request, "changed", at, changes=done)
        s.flush()
        self._publish(uow, s, "request.updated", request, at, changes=done)
        return self._request_dict(s, request)

    @rpc
    @command
    def cancel_request(self, uow, request_id, reason=None, version=None):
        """The client while nothing happened yet; staff with a reason."""
        p = self.principal
        s = uow.session
        request = visible_request(s, p, request_id, lock=True)
        _version(request, version)
        has_actions = s.scalar(sa.select(sa.func.count()).select_from(RequestAction).where(
            RequestAction.request_id == request.id, sa.not_(RequestAction.internal))) > 0
        reason = rules.check_cancel(p.role, request.status, has_actions, reason)
        at = now()
        previous = request.status
        request.status, request.closed_at, request.updated_at = "cancelled", at, at
        request.version += 1
        s.flush()
        self._history(s, request, "cancelled", at, previous_status=previous, reason=reason)
        s.flush()
        self._publish(uow, s, "request.closed", request, at, outcome="cancelled", reason=reason,
                      action=None)
        return self._request_dict(s, request)

    @rpc
    @command
    def reopen_request(self, uow, request_id, reason, version=None):
        """Staff or the client, within the company's reopen_days of its closing."""
        p = self.principal
        if p.role == "technician":
            raise Forbidden("Technicians do not reopen requests.")
        s = uow.session
        request = visible_request(s, p, request_id, lock=True)
        _version(request, version)
        settings = self._settings(s, request.company_id)
        at = now()
        reason = rules.check_reopen(request.status, request.closed_at, at,
                                    settings["reopen_days"], reason)
        previous = request.status
        request.status, request.closed_at, request.updated_at = "in_progress", None, at
        request.version += 1
        s.flush()
        self._history(s, request, "reopened", at, previous_status=previous, reason=reason)
        s.flush()
        self._publish(uow, s, "request.reopened", request, at, reason=reason,
                      previous_status=previous)
        return self._request_dict(s, request)

    # --- settings ---------------------------------------------------------------------

    def _settings(self, s, company_id):
        row = s.get(RequestSettings, company_id)
        return {**rules.DEFAULT_SETTINGS,
                **({"reopen_days": row.reopen_days} if row is not None else {})}

    def _settings_dict(self, s, company_id):
        row = s.get(RequestSettings, company_id)
        return {"company_id": company_id, **self._settings(s, company_id),
                "version": row.version if row is not None else 0,
                "updated_at": rfc3339(row.updated_at) if row is not None else None}

    @rpc
    def get_request_settings(self, company_id=None):
        require_staff(self.principal)
        company_id = self._type_company(company_id)
        with self.db.session() as s:
            return self._settings_dict(s, company_id)

    @rpc
    @command
    def set_request_settings(self, uow, values, company_id=None, version=None):
        """Admins of the company; `version` is the one read (0 when none was stored)."""
        require_admin(self.principal)
        company_id = self._type_company(company_id)
        values = rules.check_settings(values)
        s = uow.session
        row = s.get(RequestSettings, company_id, with_for_update=True)
        current = row.version if row is not None else 0
        if version is not None and version != current:
            raise Conflict("The settings changed since you read them.",
                           {"expected_version": version, "current_version": current})
        if row is None:
            row = RequestSettings(company_id=company_id, version=0,
                                  **{**rules.DEFAULT_SETTINGS, **values})
            s.add(row)
        for name, value in values.items():
            setattr(row, name, value)
        row.version = current + 1
        row.updated_at, row.updated_by = now(), self._author()[0]
        s.flush()
        return self._settings_dict(s, company_id)

    @rpc
    @command
    def add_request_note(self, uow, request_id, message):
        """Staff: an internal note, never shown to the client."""
        require_staff(self.principal)
        s = uow.session
        request = visible_request(s, self.principal, request_id, lock=True)
        message = rules.text(message, "message", required=True)
        at = now()
        by, role = self._author()
        note = RequestAction(id=str(uuid.uuid4()), request_id=request.id, status=None,
                             message=message, channel=None, internal=True, by=by, by_role=role,
                             at=at)
        s.add(note)
        s.flush()
        self._history(s, request, "note", at, internal=True, action_id=note.id, message=message)
        s.flush()
        return as_dict(note, ACTION_FIELDS)

    @rpc
    def list_request_actions(self, request_id, limit=None, after=None):
        """Oldest first; a client (and a technician) never sees internal notes."""
        p = self.principal
        with self.db.session() as s:
            request = visible_request(s, p, request_id)
            query = sa.select(RequestAction).where(RequestAction.request_id == request.id)
            if not is_staff(p):
                query = query.where(sa.not_(RequestAction.internal))
            rows, cursor = page(s, query, limit=limit, after=after, descending=False,
                                keys=(RequestAction.at, RequestAction.id))
            return {"items": [as_dict(r, ACTION_FIELDS) for r in rows], "next_cursor": cursor}

    @rpc
    def request_history(self, request_id, limit=None, after=None):
        """Everything that happened, in order, with who and when; internal
        notes for staff only."""
        p = self.principal
        with self.db.session() as s:
            request = visible_request(s, p, request_id)
            query = sa.select(RequestHistory).where(RequestHistory.request_id == request.id)
            if not is_staff(p):
                query = query.where(sa.not_(RequestHistory.internal))
            rows, cursor = page(s, query, limit=limit, after=after, descending=False,
                                keys=(RequestHistory.id,))
            return {"items": [as_dict(r, HISTORY_FIELDS) for r in rows], "next_cursor": cursor}
