"""Which emails an incident and its conversation produce, to whom, in which
language.

An incident ("un incident", seed 004) is declared on a visit, at its start
or at its end, by the visit's worker ("l'intervenant"), its client or the
provider's staff ("le prestataire"), with one of the reasons the provider
configured for the service (the intervention type); in combined mode
together with a clocking. Every incident opens a conversation between the
client, the worker and the provider, whose managers are reached at the
company's address.

    incident.declared            → the company's address, always; the technician
                                   and the client, unless they declared it
    incident.updated             → the declarer (the technician or the client;
                                   nobody when staff declared it), unless it made
                                   the change itself: acknowledged, resolved,
                                   closed or cancelled, with the reason given
    conversation.message_posted  → every participant but the author: the client
                                   (never for an internal message), the technician,
                                   the company's address (not for a message of
                                   the staff)

The client reads its own language (`client.locale`); technicians and the
company's address carry no locale and read French. A recipient without an
address gets nothing, and one address gets one email per event: the email
log keeps one row per (event, recipient, template), so a technician writing
from the company's address is one reader. Plain Python; rendering (Jinja2)
and sending (SMTP) are adapters.
"""
from fieldwork_notifications.domain.dates import format_day, format_period
from fieldwork_notifications.domain.emails import (DEFAULT_LANGUAGE, EmailToSend, company_name,
                                                   language_of, reference_of)

STAFF_LANGUAGE = DEFAULT_LANGUAGE   # technicians and managers have no locale
MOMENTS = ("start", "end")
STAFF_ROLES = ("admin", "manager")
# incident.updated emails the declarer of these states only (the new state)
NOTIFIED_STATES = ("acknowledged", "resolved", "closed", "cancelled")


def side_of(role):
    """Whose side a role speaks for: "client", "technician" or "provider"
    (admins and managers, the staff of the company)."""
    return role if role in ("client", "technician") else "provider"


def reason_label(reason):
    """The label of an incident reason, "" when none."""
    return ((reason or {}).get("label") or "").strip()


def _names(data):
    return {"company_name": company_name(data),
            "company_phone": (data.get("company") or {}).get("phone") or "",
            "client_name": ((data.get("client") or {}).get("name") or "").strip(),
            "technician_name": ((data.get("technician") or {}).get("name") or "").strip()}


def _name_of_side(names, side):
    """Who speaks for a side: the technician's or the client's name, the
    company's for the provider; "" when the event names none."""
    return {"technician": names["technician_name"], "client": names["client_name"],
            "provider": names["company_name"]}[side]


def incident_context(data, language, recipient_role):
    """What every incident email shows: who reads it, which incident
    (reason, moment, description, who declared it), on which visit (its
    day and planned times, the service, the reference)."""
    names = _names(data)
    visit = data.get("visit") or {}
    start_at, end_at = visit.get("start_at"), visit.get("end_at")
    day_at = start_at or data.get("created_at")
    author_side = side_of(data.get("author_role"))
    return {
        **names,
        "recipient_role": recipient_role,
        "reference": data.get("reference") or reference_of(data["intervention_id"]),
        "intervention_id": data.get("intervention_id"),
        "visit_id": data.get("visit_id"),
        "incident_id": data["id"],
        "conversation_id": data.get("conversation_id"),
        "type_name": ((data.get("type") or {}).get("name") or "").strip(),
        "day_text": format_day(day_at, language) if day_at else "",
        "period_text": format_period(start_at, end_at, language) if start_at and end_at else "",
        "reason_label": reason_label(data.get("reason")),
        "moment": data.get("moment") if data.get("moment") in MOMENTS else None,
        "with_clocking": bool(data.get("clocking_id")),
        "description": (data.get("description") or "").strip(),
        "author_side": author_side,
        "author_name": _name_of_side(names, author_side),
        "state": data.get("state") or "",
    }


def message_context(data, language, recipient_role):
    """What a conversation message's email shows: the author's side, the
    message, how many files it attaches, the incident's reason and the
    visit's reference."""
    names = _names(data)
    author_side = side_of(data.get("author_role"))
    incident = data.get("incident") or {}
    return {
        **names,
        "recipient_role": recipient_role,
        "reference": data.get("reference") or reference_of(data["intervention_id"]),
        "intervention_id": data.get("intervention_id"),
        "visit_id": data.get("visit_id"),
        "incident_id": data.get("incident_id") or incident.get("id"),
        "conversation_id": data.get("conversation_id"),
        "message_id": data["id"],
        "reason_label": reason_label(incident.get("reason")),
        "author_side": author_side,
        "author_name": _name_of_side(names, author_side),
        "message": (data.get("body") or "").strip(),
        "files_count": len(data.get("file_ids") or ()),
        "internal": bool(data.get("internal")),
    }


def _client(data):
    """(address, language) of the visit's client; address "" when none."""
    client = data.get("client") or {}
    return client.get("email") or "", language_of(client.get("locale"))


def _technician_email(data):
    return (data.get("technician") or {}).get("email") or ""


def _manager_email(data):
    """The provider's managers are reached at the company's address."""
    return (data.get("company") or {}).get("email") or ""


def _recipient(data, role):
    """(address, language) of one reader: "client", "technician" or
    "provider" (the company's address)."""
    if role == "client":
        return _client(data)
    if role == "technician":
        return _technician_email(data), STAFF_LANGUAGE
    return _manager_email(data), STAFF_LANGUAGE


def _emails(template, data, roles, context_of):
    """One email per reader in `roles` with an address, in its language;
    an address already reached by this event is not emailed again."""
    to_send, seen = [], set()
    for role in roles:
        recipient, language = _recipient(data, role)
        if not recipient or recipient.strip().lower() in seen:
            continue
        seen.add(recipient.strip().lower())
        to_send.append(EmailToSend(template=template, recipient=recipient, language=language,
                                   context=context_of(data, language, role)))
    return to_send


def on_incident_declared(data):
    """An incident was declared on a visit: the provider (the company's
    address) always reads it; the technician and the client read it unless
    they declared it themselves. Each reads the reason, the moment, the
    description, who declared it, and that a conversation is open."""
    author_role = data.get("author_role")
    roles = ["provider"]
    if author_role != "technician":
        roles.append("technician")
    if author_role != "client":
        roles.append("client")
    return _emails("incident_declared", data, roles, incident_context)


def on_incident_updated(data):
    """The incident was acknowledged, resolved, closed or cancelled: its
    declarer (the technician or the client) reads the new state and the
    reason given with it, unless it made the change itself. An incident
    the staff declared, a change to another state or one that leaves the
    state as it was emails nobody."""
    state = data.get("state")
    if state not in NOTIFIED_STATES or data.get("from_state") == state:
        return []
    author_role = data.get("author_role")
    if author_role not in ("technician", "client"):
        return []
    if data.get("by") is not None and str(data.get("by")) == str(data.get("author_id")):
        return []

    def context_of(data, language, role):
        context = incident_context(data, language, role)
        changed_by = side_of(data.get("by_role"))
        context.update(changed_by_side=changed_by,
                       changed_by_name=_name_of_side(context, changed_by),
                       state_reason=(data.get("state_reason") or "").strip())
        return context

    return _emails("incident_updated", data, [author_role], context_of)


def on_conversation_message_posted(data):
    """A message in an incident's conversation: every participant but its
    author reads it. The client never reads an internal one (the
    provider's staff only); the company's address does not read the
    staff's own messages."""
    author_role = data.get("author_role")
    roles = []
    if not data.get("internal") and author_role != "client":
        roles.append("client")
    if author_role != "technician":
        roles.append("technician")
    if author_role not in STAFF_ROLES:
        roles.append("provider")
    return _emails("conversation_message", data, roles, message_context)
