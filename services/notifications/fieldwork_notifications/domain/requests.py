"""Which emails a customer request produces, to whom, in which language.

A customer request ("une demande", numbered e.g. DEM-2026-000123) is made
by the end customer from its portal, or recorded for it by the provider's
staff or a technician (by phone, by email, in the field). The staff follow
it up with actions: a message to the customer with a status (in progress,
planned, closed). It can be cancelled (by the customer while nothing
happened yet, by the staff with a reason) and reopened.

    request.created       → the client: its request is received, with the
                            type, the symptom and the description
    request.action_added  → the client: the message written to it, with
                            the request's new status
    request.closed        → the client, when the staff cancelled it
                            (outcome "cancelled", not by the client): the
                            reason; when it closed itself (outcome
                            "auto_closed"); a request closed by an action
                            sends nothing more (its request.action_added did)
    request.reopened      → the client: reopened, with the reason
    request.updated       → nobody (not subscribed)

The client reads its own language (`client.locale`, French by default); a
client without an address gets nothing. The requests service's events
carry every name and address the emails need. Plain Python; rendering
(Jinja2) and sending (SMTP) are adapters.
"""
from fieldwork_notifications.domain.emails import EmailToSend, company_name, language_of

STATUS_LABELS = {
    "fr": {"new": "Nouvelle", "in_progress": "En cours", "planned": "Planifiée",
           "closed": "Clôturée", "cancelled": "Annulée"},
    "en": {"new": "New", "in_progress": "In progress", "planned": "Planned",
           "closed": "Closed", "cancelled": "Cancelled"},
}


def status_label(status, language):
    """The status as the client reads it, "" for an unknown one."""
    return STATUS_LABELS[language].get(status or "", "")


def _text(value):
    return (value or "").strip() if isinstance(value, str) else ""


def side_of(role):
    """Who acted: "client", or "provider" for the staff and technicians."""
    return "client" if role == "client" else "provider"


def request_context(data, language):
    """What every request email shows: who reads it, which request (its
    number, type, symptom, description), its status after the change and
    who made the change; who signs it."""
    company = data.get("company") or {}
    client = data.get("client") or {}
    status = data.get("status") or ""
    return {
        "company_name": company_name(data),
        "company_phone": _text(company.get("phone")),
        "client_name": _text(client.get("name")),
        "request_id": data.get("id"),
        "number": _text(data.get("number")),
        "type_label": _text((data.get("type") or {}).get("label")),
        "source": data.get("source") or "",
        "symptom": _text(data.get("symptom")),
        "description": _text(data.get("description")),
        "status": status,
        "status_label": status_label(status, language),
        "by_side": side_of(data.get("by_role")),
    }


def _to_client(template, data, extra=None):
    """The one email to the request's client, in its language; none when
    the client has no address."""
    client = data.get("client") or {}
    recipient = _text(client.get("email"))
    if not recipient:
        return []
    language = language_of(client.get("locale"))
    context = request_context(data, language)
    context.update(extra(language) if extra else {})
    return [EmailToSend(template=template, recipient=recipient, language=language, context=context)]


def on_request_created(data):
    """The request is recorded: the client reads that it was received under
    its number, with its type, symptom and description, and that it will
    be kept informed."""
    return _to_client("request_created", data)


def on_request_action_added(data):
    """The staff wrote to the client: the client reads the message and the
    request's status that came with it."""
    action = data.get("action") or {}
    status = action.get("status") or data.get("status")

    def extra(language):
        return {"message": _text(action.get("message")), "action_id": action.get("id"),
                "status": status, "status_label": status_label(status, language),
                "previous_status": data.get("previous_status") or ""}

    return _to_client("request_action", data, extra)


def on_request_closed(data):
    """A cancellation by the staff emails the client, with the reason given,
    and so does an automatic closing (the company's days without news). A
    request closed by an action was told with that action
    (request.action_added); a client who cancelled its own request knows."""
    if data.get("outcome") == "auto_closed":
        return _to_client("request_auto_closed", data)
    if data.get("outcome") != "cancelled" or data.get("by_role") == "client":
        return []
    return _to_client("request_cancelled", data,
                      lambda language: {"reason": _text(data.get("reason"))})


def on_request_reopened(data):
    """The request is reopened (by the staff or by the client itself): the
    client reads that it is in progress again, with the reason given."""
    return _to_client("request_reopened", data,
                      lambda language: {"reason": _text(data.get("reason")),
                                        "previous_status": data.get("previous_status") or ""})
