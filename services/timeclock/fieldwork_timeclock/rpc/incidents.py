"""The incidents wing (seed 004, issue 11, docs/timeclock.md): the reasons
each service offers (at the start and/or the end of a visit, imported from
another service), incidents declared on a visit by its worker, its client
or staff within the window, their moves, and the conversation each one
opens between the client, the worker and the provider, with files and
staff's internal messages."""
import uuid
from datetime import datetime, timezone

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert

from fieldwork_common.commands import command
from fieldwork_common.envelope import rfc3339
from fieldwork_common.errors import Conflict, Forbidden, InvalidInput, NotFound, Refused
from fieldwork_common.pagination import page, with_ids
from fieldwork_common.rpc import rpc
from fieldwork_common.serialize import as_dict, is_uuid, parse_instant

from fieldwork_timeclock import filing
from fieldwork_timeclock.access import (
    company_record, company_scope, require_admin, require_staff,
    sees_company, visible_visit)
from fieldwork_timeclock.domain import incidents as rules
from fieldwork_timeclock.models import (
    Conversation, Incident, IncidentEntry, IncidentReason, KnownVisit, Message)

REASON_FIELDS = ("id", "company_id", "type_id", "code", "label", "at_start", "at_end",
                 "position", "active", "created_at", "version")
ENTRY_FIELDS = ("from_state", "to_state", "reason", "by", "by_role", "at")
MESSAGE_FIELDS = ("id", "conversation_id", "author_id", "author_role", "body", "internal",
                  "file_ids", "created_at")
CONVERSATION_FIELDS = ("id", "incident_id", "visit_id", "company_id", "client_id",
                       "technician_id", "created_at", "last_message_at")
#: what conversation.message_posted adds to the message (docs/asyncapi.yaml)
MESSAGE_EVENT_EXTRAS = ("incident_id", "visit_id", "intervention_id", "company_id", "client_id",
                        "technician_id", "reference", "incident", "company", "client",
                        "technician")
MAX_FILES = 10


def now():
    return datetime.now(timezone.utc)


def _scope(principal, model):
    """Incidents or conversations the caller may read: its own visits'."""
    if principal.role == "technician":
        return model.technician_id == (principal.technician_id or "")
    if principal.role == "client":
        return model.client_id == (principal.client_id or "")
    return company_scope(principal, model.company_id)


def _actor(principal, record):
    """staff / worker / client of an incident or conversation, else None."""
    if principal.role == "technician":
        return "worker" if principal.technician_id == record.technician_id else None
    if principal.role == "client":
        return "client" if principal.client_id == record.client_id else None
    return "staff" if sees_company(principal, record.company_id) else None


def _message_dict(message):
    item = as_dict(message, MESSAGE_FIELDS)
    item["file_ids"] = list(message.file_ids or [])
    return item


class Incidents:
    """Mixed into TimeclockService (needs `db`, `principal`, `interventions`)."""

    def _author(self):
        p = self.principal
        return (p.user_id, p.role) if p else ("system", "system")

    # --- reasons --------------------------------------------------------------------------

    def _reason_company(self, company_id):
        p = self.principal
        company_id = company_id or p.company_id
        if company_id is None:
            raise InvalidInput("company_id is required for an admin of the whole platform.",
                               {"company_id": "required"})
        if not is_uuid(company_id) or not sees_company(p, company_id):
            raise NotFound("Company not found.", {"company_id": company_id})
        return company_id

    @rpc
    def list_incident_reasons(self, type_id=None, company_id=None, active=None, limit=None,
                              after=None):
        """Staff: their company's reasons, by service then position."""
        p = self.principal
        require_staff(p)
        query = sa.select(IncidentReason).where(company_scope(p, IncidentReason.company_id))
        query = with_ids(query, (type_id, IncidentReason.type_id, "type_id"),
                         (company_id, IncidentReason.company_id, "company_id"))
        if active is not None:
            query = query.where(IncidentReason.active.is_(bool(active)))
        with self.db.session() as s:
            rows, cursor = page(s, query, limit=limit, after=after, descending=False,
                                keys=(IncidentReason.type_id, IncidentReason.position,
                                      IncidentReason.code, IncidentReason.id))
            return {"items": [as_dict(r, REASON_FIELDS) for r in rows], "next_cursor": cursor}

    @rpc
    def visit_incident_reasons(self, visit_id):
        """The reasons of the visit's service a participant may pick, with
        whether each is allowed now."""
        with self.db.session() as s:
            visit = visible_visit(s, self.principal, visit_id)
            reasons = s.scalars(sa.select(IncidentReason).where(
                IncidentReason.company_id == visit.company_id,
                IncidentReason.type_id == visit.type_id, IncidentReason.active)
                .order_by(IncidentReason.position, IncidentReason.code)).all()
            at, items = now(), []
            earliest, latest = rules.window(visit.planned_start_at, visit.planned_end_at,
                                            visit.end_at)
            for reason in reasons:
                item = as_dict(reason, REASON_FIELDS)
                try:
                    rules.moment_of(at, visit.planned_start_at, visit.planned_end_at,
                                    visit.end_at, reason.at_start, reason.at_end)
                    item["allowed_now"] = True
                except Refused:
                    item["allowed_now"] = False
                items.append(item)
            return {"items": items, "next_cursor": None, "window": {
                "earliest": rfc3339(earliest), "latest": rfc3339(latest)}}

    @rpc
    @command
    def create_incident_reason(self, uow, type_id, code, label, at_start=True, at_end=True,
                               position=0, company_id=None):
        require_admin(self.principal)
        company_id = self._reason_company(company_id)
        if not is_uuid(type_id):
            raise NotFound("Intervention type not found.", {"type_id": type_id})
        rules.check_code(code)
        filing.text(label, "label", required=True)
        if not (at_start or at_end):
            raise InvalidInput("A reason is offered at the start, the end, or both.",
                               {"fields": ["at_start", "at_end"]})
        s = uow.session
        inserted = s.execute(insert(IncidentReason).values(
            id=str(uuid.uuid4()), company_id=company_id, type_id=type_id, code=code, label=label,
            at_start=bool(at_start), at_end=bool(at_end), position=position, active=True,
            version=1).on_conflict_do_nothing().returning(IncidentReason.id)).first()
        if inserted is None:
            raise Conflict("This service already has a reason with this code.", {"code": code})
        return as_dict(s.get(IncidentReason, inserted.id), REASON_FIELDS)

    @rpc
    @command
    def update_incident_reason(self, uow, reason_id, version, changes):
        require_admin(self.principal)
        s = uow.session
        reason = company_record(s, self.principal, IncidentReason, reason_id, "Reason",
                                "reason_id", lock=True)
        if version is not None and version != reason.version:
            raise Conflict("The reason was changed by someone else; reload it and retry.",
                           {"current_version": reason.version, "your_version": version})
        unknown = set(changes) - {"label", "at_start", "at_end", "position", "active"}
        if unknown or not changes:
            raise InvalidInput("Change label, at_start, at_end, position or active.",
                               {"fields": sorted(unknown)})
        if "label" in changes:
            filing.text(changes["label"], "label", required=True)
        for name, value in changes.items():
            setattr(reason, name, value)
        if not (reason.at_start or reason.at_end):
            raise InvalidInput("A reason is offered at the start, the end, or both.",
                               {"fields": ["at_start", "at_end"]})
        reason.version += 1
        s.flush()
        return as_dict(reason, REASON_FIELDS)

    @rpc
    @command
    def import_incident_reasons(self, uow, from_type_id, to_type_id, company_id=None):
        """Copies a service's active reasons to another service of the same
        company; a code the target has already is skipped (codes are unique
        per service)."""
        require_admin(self.principal)
        company_id = self._reason_company(company_id)
        for value, field in ((from_type_id, "from_type_id"), (to_type_id, "to_type_id")):
            if not is_uuid(value):
                raise NotFound("Intervention type not found.", {field: value})
        if from_type_id == to_type_id:
            raise InvalidInput("Import from another service.", {"to_type_id": to_type_id})
        s = uow.session
        sources = s.scalars(sa.select(IncidentReason).where(
            IncidentReason.company_id == company_id, IncidentReason.type_id == from_type_id,
            IncidentReason.active).order_by(IncidentReason.position, IncidentReason.code)).all()
        imported, skipped = [], []
        for source in sources:
            made = s.execute(insert(IncidentReason).values(
                id=str(uuid.uuid4()), company_id=company_id, type_id=to_type_id, code=source.code,
                label=source.label, at_start=source.at_start, at_end=source.at_end,
                position=source.position, active=True, version=1)
                .on_conflict_do_nothing().returning(IncidentReason.id)).first()
            if made is None:
                skipped.append(source.code)
            else:
                imported.append(as_dict(s.get(IncidentReason, made.id), REASON_FIELDS))
        return {"imported": imported, "skipped": skipped}

    # --- incidents ------------------------------------------------------------------------

    @rpc
    @command
    def declare_incident(self, uow, visit_id, reason_id, description=None, moment=None):
        """The visit's worker, its client or staff; publishes incident.declared."""
        s = uow.session
        visit = visible_visit(s, self.principal, visit_id)
        by, role = self._author()
        incident = filing.declare(uow, visit, reason_id, description, moment, now(), by, role)
        return filing.incident_dict(s, incident)

    def _incident(self, s, incident_id, lock=False):
        if is_uuid(incident_id):
            query = sa.select(Incident).where(Incident.id == incident_id)
            if lock:
                query = query.with_for_update().execution_options(populate_existing=True)
            found = s.scalars(query).first()
            if found is not None and _actor(self.principal, found) is not None:
                return found
        raise NotFound("Incident not found.", {"incident_id": incident_id})

    @rpc
    def get_incident(self, incident_id):
        with self.db.session() as s:
            incident = self._incident(s, incident_id)
            item = filing.incident_dict(s, incident)
            item["history"] = [as_dict(e, ENTRY_FIELDS) for e in s.scalars(
                sa.select(IncidentEntry).where(IncidentEntry.incident_id == incident.id)
                .order_by(IncidentEntry.id)).all()]
            return item

    @rpc
    def list_incidents(self, visit_id=None, state=None, type_id=None, client_id=None,
                       technician_id=None, company_id=None, from_=None, to=None, limit=None,
                       after=None):
        """What the caller may see (its visits'; staff: the company's), newest first."""
        p = self.principal
        query = sa.select(Incident).where(_scope(p, Incident))
        with self.db.session() as s:
            if visit_id is not None:
                visible_visit(s, p, visit_id)
            query = with_ids(query, (visit_id, Incident.visit_id, "visit_id"),
                             (type_id, Incident.type_id, "type_id"),
                             (client_id, Incident.client_id, "client_id"),
                             (technician_id, Incident.technician_id, "technician_id"),
                             (company_id, Incident.company_id, "company_id"))
            if state is not None:
                query = query.where(Incident.state == state)
            if from_ is not None:
                query = query.where(Incident.created_at >= parse_instant(from_, "from"))
            if to is not None:
                query = query.where(Incident.created_at < parse_instant(to, "to"))
            rows, cursor = page(s, query, Incident, limit, after)
            return {"items": [filing.incident_dict(s, r) for r in rows], "next_cursor": cursor}

    @rpc
    @command
    def move_incident(self, uow, incident_id, state, reason=None, version=None):
        """acknowledged, resolved, closed or cancelled (domain/incidents.MOVES);
        publishes incident.updated."""
        s = uow.session
        p = self.principal
        incident = self._incident(s, incident_id, lock=True)
        actor = _actor(p, incident)
        reason = filing.text(reason, "reason")
        at = now()
        by, role = self._author()
        rules.check_move(incident.state, state, actor, incident.author_id == by,
                         incident.created_at, at, reason)
        if version is not None and version != incident.version:
            raise Conflict("The incident was changed by someone else; reload it and retry.",
                           {"current_version": incident.version, "your_version": version})
        previous = incident.state
        incident.state, incident.state_since = state, at
        incident.version += 1
        s.add(IncidentEntry(incident_id=incident.id, from_state=previous, to_state=state,
                            reason=reason, by=by, by_role=role, at=at))
        s.flush()
        visit = s.get(KnownVisit, incident.visit_id)
        uow.publish("incident.updated", incident.id, filing.incident_event(
            s, incident, visit, by, role, at, from_state=previous, state_reason=reason))
        return filing.incident_dict(s, incident)

    # --- conversations --------------------------------------------------------------------

    def _conversation(self, s, conversation_id, lock=False):
        if is_uuid(conversation_id):
            query = sa.select(Conversation).where(Conversation.id == conversation_id)
            if lock:
                query = query.with_for_update()
            found = s.scalars(query).first()
            if found is not None and _actor(self.principal, found) is not None:
                return found
        raise NotFound("Conversation not found.", {"conversation_id": conversation_id})

    @rpc
    def list_conversations(self, limit=None, after=None):
        """The caller's conversations (its visits'; staff: the company's), newest first."""
        with self.db.session() as s:
            rows, cursor = page(s, sa.select(Conversation).where(
                _scope(self.principal, Conversation)), Conversation, limit, after)
            return {"items": [as_dict(r, CONVERSATION_FIELDS) for r in rows],
                    "next_cursor": cursor}

    @rpc
    def get_conversation(self, conversation_id, limit=None, after=None):
        """Its messages, oldest first; a client never sees internal ones."""
        with self.db.session() as s:
            conversation = self._conversation(s, conversation_id)
            query = sa.select(Message).where(Message.conversation_id == conversation.id)
            if _actor(self.principal, conversation) == "client":
                query = query.where(sa.not_(Message.internal))
            rows, cursor = page(s, query, Message, limit, after, descending=False)
            item = as_dict(conversation, CONVERSATION_FIELDS)
            item.update(messages=[_message_dict(m) for m in rows], next_cursor=cursor)
            return item

    @rpc
    @command
    def post_message(self, uow, conversation_id, body, internal=False, file_ids=None):
        """A message of a participant (files of the files store that the
        caller may see, of the same company); internal: staff only.
        Publishes conversation.message_posted (each participant is emailed)."""
        s = uow.session
        p = self.principal
        conversation = self._conversation(s, conversation_id, lock=True)
        actor = _actor(p, conversation)
        body = filing.text(body, "body", required=True)
        if internal and actor != "staff":
            raise Forbidden("Only the provider's staff post internal messages.")
        file_ids = list(file_ids or [])
        if len(file_ids) > MAX_FILES or len(set(file_ids)) != len(file_ids):
            raise InvalidInput(f"At most {MAX_FILES} different files.", {"field": "file_ids"})
        if file_ids:
            found = self.interventions.resolve_references(references={
                f"file_ids[{i}]": ["file", file_id] for i, file_id in enumerate(file_ids)})
            for field, record in found.items():
                if record["company_id"] != conversation.company_id:
                    raise NotFound("File not found.", {field: record["id"]})
        at = now()
        by, role = self._author()
        message = Message(id=str(uuid.uuid4()), conversation_id=conversation.id, author_id=by,
                          author_role=role, body=body, internal=bool(internal),
                          file_ids=file_ids, created_at=at)
        s.add(message)
        conversation.last_message_at = at
        s.flush()
        incident = s.get(Incident, conversation.incident_id)
        visit = s.get(KnownVisit, conversation.visit_id)
        contacts = visit.contacts or {}
        data = _message_dict(message)
        data.update(incident_id=incident.id, visit_id=visit.id,
                    intervention_id=visit.intervention_id, company_id=conversation.company_id,
                    client_id=conversation.client_id, technician_id=conversation.technician_id,
                    reference=visit.reference,
                    incident={"id": incident.id, "state": incident.state,
                              "reason": filing.incident_dict(s, incident)["reason"]},
                    company=contacts.get("company"), client=contacts.get("client"),
                    technician=contacts.get("technician"))
        uow.publish("conversation.message_posted", message.id, data)
        return _message_dict(message)
