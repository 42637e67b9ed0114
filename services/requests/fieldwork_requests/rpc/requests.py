"""The requests wing (seed 002, issue 12, docs/requests.md): the types a
company offers, requests created from the client portal, the field or by
staff, numbered per company and year, their actions (a message to the end
customer with a status, which the request's status follows) and internal
notes, and their history."""
import uuid
from datetime import datetime, timedelta, timezone

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert

from fieldwork_common.commands import command
from fieldwork_common.consumer import event_handler
from fieldwork_common.envelope import rfc3339
from fieldwork_common.errors import Conflict, Forbidden, InvalidInput, NotFound, refuse
from fieldwork_common.pagination import page, with_ids
from fieldwork_common.rpc import rpc
from fieldwork_common.serialize import as_dict, is_uuid, parse_instant
from fieldwork_common.timers import timer_handler

from fieldwork_requests.access import (company_scope, is_staff, request_scope, require_admin,
                                       require_staff, sees_company, visible_request)
from fieldwork_requests.domain import requests as rules
from fieldwork_requests.models import (EquipmentReturn, Request, RequestAction, RequestCounter,
                                       RequestDocument,
                                       RequestEquipment, RequestHistory, RequestIntervention,
                                       RequestSettings, RequestType)

TYPE_FIELDS = ("id", "company_id", "label", "position", "active", "created_at", "version")
REQUEST_FIELDS = ("id", "company_id", "client_id", "number", "type_id", "source", "symptom",
                  "description", "site_id", "status", "created_by", "created_by_role",
                  "created_by_technician_id", "created_at", "updated_at", "closed_at", "version")
ACTION_FIELDS = ("id", "request_id", "status", "message", "channel", "internal", "by", "by_role",
                 "at")
HISTORY_FIELDS = ("id", "kind", "details", "by", "by_role", "at")
EQUIPMENT_FIELDS = ("id", "request_id", "equipment_id", "symptom", "added_by", "added_at")
DOCUMENT_FIELDS = ("id", "request_id", "file_id", "visible_to_client", "by", "by_role", "at")
RETURN_FIELDS = ("id", "request_id", "company_id", "client_id", "equipment_id", "destination",
                 "supplier", "note", "state", "intervention_id", "created_by", "created_at",
                 "updated_at", "version")
#: what the equipment_return events add to the return
RETURN_EVENT_EXTRAS = ("number", "company", "client", "at", "by", "by_role", "from_state")
LINK_FIELDS = ("intervention_id", "request_id", "location", "state", "step", "version",
               "created_at", "updated_at")
#: every request event: the request, its type, the contacts the emails need, who did it
EVENT_COMMON = REQUEST_FIELDS + ("type", "intervention_ids", "company", "client", "at", "by",
                                  "by_role")
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
                       description=None, site_id=None, equipment=None):
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
        for number, line in enumerate(equipment or ()):
            self._add_line(s, request, self._equipment_of(request, line.get("equipment_id"),
                                                          line.get("equipment")),
                           rules.text(line.get("symptom"), f"equipment[{number}].symptom",
                                      limit=2000), touch=False)  # part of its creation
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

    def _request_dict(self, s, request, types=None, links=None):
        """The request as the API answers it (its contacts stay inside), with
        the ids of the interventions created from it; `types` ({id: label})
        and `links` ({request id: [intervention ids]}) already read for a page."""
        item = as_dict(request, REQUEST_FIELDS)
        label = (types or {}).get(request.type_id)
        if label is None:
            label = s.get(RequestType, request.type_id).label
        item["type"] = {"id": request.type_id, "label": label}
        if links is None:
            links = self._links(s, [request.id])
        item["intervention_ids"] = links.get(request.id, [])
        return item

    def _links(self, s, request_ids):
        found = {}
        for request_id, intervention_id in s.execute(sa.select(
                RequestIntervention.request_id, RequestIntervention.intervention_id).where(
                RequestIntervention.request_id.in_(request_ids)).order_by(
                RequestIntervention.created_at, RequestIntervention.intervention_id)).all():
            found.setdefault(request_id, []).append(intervention_id)
        return found

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
            types = dict(s.execute(sa.select(RequestType.id, RequestType.label).where(
                RequestType.id.in_({r.type_id for r in rows}))).all()) if rows else {}
            links = self._links(s, [r.id for r in rows]) if rows else {}
            return {"items": [self._request_dict(s, r, types, links) for r in rows],
                    "next_cursor": cursor}

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
        if status == "closed":
            self._no_open_children(s, request)
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
        if status in rules.AUTO_CLOSED_FROM:
            self._schedule_auto_close(uow, s, request, at)
        brief = {name: getattr(action, name) for name in ("id", "status", "message", "channel")}
        brief["at"] = rfc3339(at)
        self._publish(uow, s, "request.action_added", request, at, action=brief,
                      previous_status=previous)
        if status == "closed":
            self._publish(uow, s, "request.closed", request, at, outcome="closed", reason=None,
                          action=brief)
        return {**self._request_dict(s, request), "action": as_dict(action, ACTION_FIELDS)}

    def _schedule_auto_close(self, uow, s, request, at):
        """When the company turns auto-close on: the request closes itself
        auto_close_days from now if nothing happens to it meanwhile."""
        days = self._settings(s, request.company_id)["auto_close_days"]
        if days:
            uow.schedule(rules.AUTO_CLOSE, request.id, at + timedelta(days=days),
                         {"version": request.version, "days": days})

    @timer_handler(rules.AUTO_CLOSE)
    def on_request_auto_close(self, uow, timer):
        """Closes a request left waiting auto_close_days without news, unless
        something happened since or something created from it is open.
        Publishes request.closed (outcome auto_closed)."""
        s = uow.session
        request = s.get(Request, timer.key, with_for_update=True)
        if request is None:
            return
        open_children = self._open_children(s, request)
        if not rules.auto_closes(request.status, request.version, timer.payload.get("version"),
                                 any(open_children.values())):
            return
        at = now()
        previous = request.status
        request.status, request.closed_at, request.updated_at = "closed", at, at
        request.version += 1
        s.flush()
        self._history(s, request, "auto_closed", at, previous_status=previous,
                      days=timer.payload.get("days"))
        s.flush()
        self._publish(uow, s, "request.closed", request, at, outcome="auto_closed", reason=None,
                      action=None)

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
        self._no_open_children(s, request)
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
        if row is None:
            return dict(rules.DEFAULT_SETTINGS)
        return {name: getattr(row, name) for name in rules.DEFAULT_SETTINGS}

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

    # --- equipment lines --------------------------------------------------------------

    def _open_request(self, s, request_id):
        """The caller's request, locked, still open (409 request_closed)."""
        request = visible_request(s, self.principal, request_id, lock=True)
        if request.status in ("closed", "cancelled"):
            raise refuse("request_closed", f"This request is {request.status}: reopen it first.",
                         status=409, request_status=request.status)
        return request

    def _touch(self, request, at):
        request.updated_at = at
        request.version += 1

    @rpc
    @command
    def add_request_equipment(self, uow, request_id, equipment_id=None, equipment=None,
                              symptom=None):
        """An equipment of the request's client (`equipment_id`), or a new one
        (`equipment`: created by the interventions service, which owns
        equipment, for those it lets create one), with its symptom."""
        s = uow.session
        request = self._open_request(s, request_id)
        equipment_id = self._equipment_of(request, equipment_id, equipment)
        line = self._add_line(s, request, equipment_id, rules.text(symptom, "symptom", limit=2000))
        s.flush()
        return as_dict(line, EQUIPMENT_FIELDS)

    def _equipment_of(self, request, equipment_id, equipment):
        if (equipment_id is None) == (equipment is None):
            raise InvalidInput("Name an equipment of the client (equipment_id) or describe a new "
                               "one (equipment).", {"fields": ["equipment_id", "equipment"]})
        if equipment is not None:
            if not isinstance(equipment, dict):
                raise InvalidInput("equipment is {kind, brand?, model?, serial_number?, site_id?}.",
                                   {"field": "equipment"})
            made = self.interventions.create_equipment(client_id=request.client_id, **equipment)
            return made["id"]
        found = self.interventions.resolve_references(
            references={"equipment_id": ["equipment", equipment_id]})
        if found["equipment_id"]["client_id"] != request.client_id:
            raise InvalidInput("This equipment is not the request's client's.",
                               {"equipment_id": equipment_id})
        return equipment_id

    def _add_line(self, s, request, equipment_id, symptom, touch=True):
        at = now()
        by, _ = self._author()
        inserted = s.execute(insert(RequestEquipment).values(
            id=str(uuid.uuid4()), request_id=request.id, equipment_id=equipment_id,
            symptom=symptom, added_by=by, added_at=at).on_conflict_do_nothing(
            index_elements=[RequestEquipment.request_id, RequestEquipment.equipment_id],
            index_where=RequestEquipment.removed_at.is_(None)).returning(RequestEquipment.id)).first()
        if inserted is None:
            raise Conflict("This equipment is on the request already.",
                           {"equipment_id": equipment_id})
        if touch:
            self._touch(request, at)
        self._history(s, request, "equipment_added", at, equipment_id=equipment_id,
                      symptom=symptom)
        return s.get(RequestEquipment, inserted.id)

    def _line(self, s, request, line_id):
        line = s.get(RequestEquipment, line_id) if is_uuid(line_id) else None
        if line is None or line.request_id != request.id or line.removed_at is not None:
            raise NotFound("Equipment line not found.", {"line_id": line_id})
        return line

    @rpc
    @command
    def update_request_equipment(self, uow, request_id, line_id, symptom):
        s = uow.session
        request = self._open_request(s, request_id)
        line = self._line(s, request, line_id)
        symptom = rules.text(symptom, "symptom", limit=2000)
        at = now()
        self._history(s, request, "equipment_symptom", at, equipment_id=line.equipment_id,
                      changes={"symptom": {"from": line.symptom, "to": symptom}})
        line.symptom = symptom
        self._touch(request, at)
        s.flush()
        return as_dict(line, EQUIPMENT_FIELDS)

    @rpc
    @command
    def remove_request_equipment(self, uow, request_id, line_id):
        s = uow.session
        request = self._open_request(s, request_id)
        line = self._line(s, request, line_id)
        at = now()
        line.removed_at = at
        self._touch(request, at)
        self._history(s, request, "equipment_removed", at, equipment_id=line.equipment_id)
        s.flush()
        return as_dict(line, EQUIPMENT_FIELDS)

    @rpc
    def list_request_equipment(self, request_id):
        with self.db.session() as s:
            request = visible_request(s, self.principal, request_id)
            rows = s.scalars(sa.select(RequestEquipment).where(
                RequestEquipment.request_id == request.id, RequestEquipment.removed_at.is_(None))
                .order_by(RequestEquipment.added_at, RequestEquipment.id)).all()
            return {"items": [as_dict(r, EQUIPMENT_FIELDS) for r in rows], "next_cursor": None}

    # --- documents --------------------------------------------------------------------

    @rpc
    @command
    def add_request_document(self, uow, request_id, file_id, visible_to_client=None):
        """A file of the files store the caller may see, of the request's
        company; staff choose whether the client sees it (default no), a
        client's own documents are its."""
        p = self.principal
        s = uow.session
        request = self._open_request(s, request_id)
        found = self.interventions.resolve_references(references={"file_id": ["file", file_id]})
        if found["file_id"]["company_id"] != request.company_id:
            raise NotFound("File not found.", {"file_id": file_id})
        visible = True if p.role == "client" else bool(visible_to_client)
        at = now()
        by, role = self._author()
        inserted = s.execute(insert(RequestDocument).values(
            id=str(uuid.uuid4()), request_id=request.id, file_id=file_id, visible_to_client=visible,
            by=by, by_role=role, at=at).on_conflict_do_nothing().returning(RequestDocument.id)).first()
        if inserted is None:
            raise Conflict("This file is on the request already.", {"file_id": file_id})
        self._touch(request, at)
        self._history(s, request, "document_added", at, internal=not visible, file_id=file_id,
                      visible_to_client=visible)
        s.flush()
        return as_dict(s.get(RequestDocument, inserted.id), DOCUMENT_FIELDS)

    @rpc
    def list_request_documents(self, request_id):
        """A client reads those visible to it."""
        p = self.principal
        with self.db.session() as s:
            request = visible_request(s, p, request_id)
            query = sa.select(RequestDocument).where(RequestDocument.request_id == request.id)
            if p.role == "client":
                query = query.where(RequestDocument.visible_to_client)
            rows = s.scalars(query.order_by(RequestDocument.at, RequestDocument.id)).all()
            return {"items": [as_dict(r, DOCUMENT_FIELDS) for r in rows], "next_cursor": None}

    # --- interventions created from a request -----------------------------------------

    @rpc
    @command
    def create_intervention_from_request(self, uow, request_id, type_id, location,
                                         technician_id=None, description=None, site_id=None,
                                         contract_id=None, equipment_id=None):
        """An intervention of the request's client through the interventions
        service (its creation rules, seed 000, for the caller: admins and
        technicians), on the request's first equipment line unless
        `equipment_id` names another of its lines; linked to the request."""
        s = uow.session
        request = self._open_request(s, request_id)
        if equipment_id is not None:  # another company's: 404, before anything else
            self.interventions.resolve_references(
                references={"equipment_id": ["equipment", equipment_id]})
        lines = s.scalars(sa.select(RequestEquipment).where(
            RequestEquipment.request_id == request.id, RequestEquipment.removed_at.is_(None))
            .order_by(RequestEquipment.added_at, RequestEquipment.id)).all()
        if not lines:
            raise InvalidInput("Add the equipment to the request first: the intervention is on "
                               "one of its equipment lines.", {"equipment": "required"})
        if equipment_id is None:
            line = lines[0]
        else:
            matching = [line for line in lines if line.equipment_id == equipment_id]
            if not matching:
                raise InvalidInput("This equipment is not on the request.",
                                   {"equipment_id": equipment_id})
            line = matching[0]
        symptoms = "; ".join(x for x in (request.symptom, line.symptom) if x)
        text = rules.text(description, "description") or (
            f"{request.number}: {symptoms}" if symptoms else request.number)
        made = self.interventions.create_intervention(
            client_id=request.client_id, equipment_id=line.equipment_id, type_id=type_id,
            location=location, technician_id=technician_id, description=text,
            company_id=request.company_id, site_id=site_id or request.site_id,
            contract_id=contract_id)
        at = now()
        s.add(RequestIntervention(intervention_id=made["id"], request_id=request.id,
                                  location=made["location"], state=made["state"],
                                  step=made.get("step"), version=made["version"], created_at=at,
                                  updated_at=at))
        self._touch(request, at)
        self._history(s, request, "intervention_created", at, intervention_id=made["id"],
                      equipment_id=line.equipment_id, location=made["location"])
        s.flush()
        return made

    @rpc
    def list_request_interventions(self, request_id):
        with self.db.session() as s:
            request = visible_request(s, self.principal, request_id)
            rows = s.scalars(sa.select(RequestIntervention).where(
                RequestIntervention.request_id == request.id)
                .order_by(RequestIntervention.created_at, RequestIntervention.intervention_id)).all()
            return {"items": [as_dict(r, LINK_FIELDS) for r in rows], "next_cursor": None}

    def _no_open_children(self, s, request):
        """A request closes once what was created from it is no longer open
        (409 open_children naming them)."""
        children = self._open_children(s, request)
        if any(children.values()):
            raise refuse("open_children", "What was created from this request is still open.",
                         status=409, **children)

    def _open_children(self, s, request):
        """The interventions and equipment returns created from the request
        that are still open."""
        return {"interventions": list(s.scalars(sa.select(RequestIntervention.intervention_id).where(
            RequestIntervention.request_id == request.id,
            RequestIntervention.state == "open").order_by(RequestIntervention.intervention_id))),
            "equipment_returns": list(s.scalars(sa.select(EquipmentReturn.id).where(
                EquipmentReturn.request_id == request.id, EquipmentReturn.state != "closed")
                .order_by(EquipmentReturn.id)))}

    def _follow(self, envelope, consumer, state, step=None):
        """A linked intervention's new state (and step), unless the link is
        newer; the request's history records it."""
        data = envelope["data"]
        with self.db.unit_of_work() as uow:
            if not uow.first_time(envelope, consumer):
                return
            s = uow.session
            link = s.get(RequestIntervention, data["id"], with_for_update=True)
            if link is None or link.version >= data["version"]:
                return
            request = s.get(Request, link.request_id)
            at = parse_instant(data["at"], "at") if data.get("at") else now()
            previous = link.state
            link.state, link.version, link.updated_at = state, data["version"], at
            if step is not None:
                link.step = step
            s.add(RequestHistory(request_id=request.id, kind="intervention_event",
                                 details={"intervention_id": link.intervention_id,
                                          "event_type": envelope["event_type"],
                                          "from_state": previous, "state": state, "step": link.step},
                                 internal=False, by=data.get("by") or "system", by_role="system",
                                 at=at))
            s.flush()
            if (previous == "open" and state != "open" and request.status in rules.AUTO_CLOSED_FROM
                    and not any(self._open_children(s, request).values())):
                # the work is done: the request closes itself after the company's days
                self._schedule_auto_close(uow, s, request, now())

    @event_handler("interventions", "intervention.step_changed")
    def on_intervention_step_changed(self, envelope):
        """A linked workshop intervention moved: its step and state."""
        data = envelope["data"]
        self._follow(envelope, "requests.on_intervention_step_changed", data["state"],
                     data["to_step"])

    @event_handler("interventions", "intervention.reopened")
    def on_intervention_reopened(self, envelope):
        data = envelope["data"]
        self._follow(envelope, "requests.on_intervention_reopened", data["state"], data["to_step"])

    @event_handler("interventions", "intervention.state_changed")
    def on_intervention_state_changed(self, envelope):
        """A linked intervention at a client's followed its visits."""
        self._follow(envelope, "requests.on_intervention_state_changed",
                     envelope["data"]["to_state"])

    # --- equipment returns ------------------------------------------------------------

    def _return(self, s, return_id, lock=False):
        """A return of a request the caller may see, else 404."""
        found = None
        if is_uuid(return_id):
            query = sa.select(EquipmentReturn).where(EquipmentReturn.id == return_id)
            if lock:
                query = query.with_for_update()
            found = s.scalars(query).first()
        if found is None:
            raise NotFound("Equipment return not found.", {"return_id": return_id})
        try:
            request = visible_request(s, self.principal, found.request_id, lock=lock)
        except NotFound:
            raise NotFound("Equipment return not found.", {"return_id": return_id}) from None
        return found, request

    def _publish_return(self, uow, s, event_type, equipment_return, request, at, from_state=None):
        by, role = self._author()
        data = as_dict(equipment_return, RETURN_FIELDS)
        data.update(number=request.number, company=(request.contacts or {}).get("company"),
                    client=(request.contacts or {}).get("client"), at=rfc3339(at), by=by,
                    by_role=role, from_state=from_state)
        uow.publish(event_type, equipment_return.id, data)

    @rpc
    @command
    def create_equipment_return(self, uow, request_id, equipment_id, destination, supplier=None,
                                note=None):
        """Staff: the client's equipment goes to the workshop or to a supplier."""
        require_staff(self.principal)
        s = uow.session
        request = self._open_request(s, request_id)
        equipment_id = self._equipment_of(request, equipment_id, None)
        supplier = rules.check_destination(destination, supplier)
        note = rules.text(note, "note", limit=2000)
        at = now()
        by, _ = self._author()
        equipment_return = EquipmentReturn(
            id=str(uuid.uuid4()), request_id=request.id, company_id=request.company_id,
            client_id=request.client_id, equipment_id=equipment_id, destination=destination,
            supplier=supplier, note=note, state="requested", created_by=by, created_at=at,
            updated_at=at, version=1)
        s.add(equipment_return)
        self._touch(request, at)
        s.flush()
        self._history(s, request, "return_created", at, return_id=equipment_return.id,
                      equipment_id=equipment_id, destination=destination, supplier=supplier)
        s.flush()
        self._publish_return(uow, s, "equipment_return.created", equipment_return, request, at)
        return as_dict(equipment_return, RETURN_FIELDS)

    @rpc
    @command
    def move_equipment_return(self, uow, return_id, state, note=None, version=None):
        """Staff: received, sent back, closed (or closed at once, with a note)."""
        require_staff(self.principal)
        s = uow.session
        equipment_return, request = self._return(s, return_id, lock=True)
        _version(equipment_return, version)
        note = rules.check_return_move(equipment_return.state, state, note)
        at = now()
        previous = equipment_return.state
        equipment_return.state, equipment_return.updated_at = state, at
        if note is not None:
            equipment_return.note = note
        equipment_return.version += 1
        self._touch(request, at)
        s.flush()
        self._history(s, request, "return_moved", at, return_id=equipment_return.id,
                      from_state=previous, state=state, note=note)
        s.flush()
        self._publish_return(uow, s, "equipment_return.updated", equipment_return, request, at,
                             from_state=previous)
        return as_dict(equipment_return, RETURN_FIELDS)

    @rpc
    def list_equipment_returns(self, request_id):
        with self.db.session() as s:
            request = visible_request(s, self.principal, request_id)
            rows = s.scalars(sa.select(EquipmentReturn).where(
                EquipmentReturn.request_id == request.id)
                .order_by(EquipmentReturn.created_at, EquipmentReturn.id)).all()
            return {"items": [as_dict(r, RETURN_FIELDS) for r in rows], "next_cursor": None}

    @rpc
    def get_equipment_return(self, return_id):
        with self.db.session() as s:
            return as_dict(self._return(s, return_id)[0], RETURN_FIELDS)

    @rpc
    @command
    def create_intervention_from_return(self, uow, return_id, type_id, technician_id=None,
                                        description=None, contract_id=None):
        """A workshop intervention on the returned equipment, once received
        (the interventions service's creation rules: admins and
        technicians), linked to the return and to its request."""
        s = uow.session
        equipment_return, request = self._return(s, return_id, lock=True)
        if equipment_return.state != "received" or equipment_return.intervention_id is not None:
            raise refuse("return_not_ready", "A workshop intervention is created once for a "
                         "received return.", status=409, state=equipment_return.state,
                         intervention_id=equipment_return.intervention_id)
        text = rules.text(description, "description") or (
            f"{request.number}: " + (equipment_return.note or request.symptom or "retour")
        ).strip()
        made = self.interventions.create_intervention(
            client_id=request.client_id, equipment_id=equipment_return.equipment_id,
            type_id=type_id, location="workshop", technician_id=technician_id, description=text,
            company_id=request.company_id, contract_id=contract_id)
        at = now()
        s.add(RequestIntervention(intervention_id=made["id"], request_id=request.id,
                                  location=made["location"], state=made["state"],
                                  step=made.get("step"), version=made["version"], created_at=at,
                                  updated_at=at))
        equipment_return.intervention_id = made["id"]
        equipment_return.updated_at = at
        equipment_return.version += 1
        self._touch(request, at)
        s.flush()
        self._history(s, request, "intervention_created", at, intervention_id=made["id"],
                      equipment_id=equipment_return.equipment_id, location="workshop",
                      return_id=equipment_return.id)
        s.flush()
        self._publish_return(uow, s, "equipment_return.updated", equipment_return, request, at,
                             from_state=equipment_return.state)
        return made
