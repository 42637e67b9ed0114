"""Which emails a visit's validation produces, to whom, in which language.

A visit is an intervention's passage at a client's home or site ("une
intervention" in the seed's French, done by "l'intervenant"). Its
validation (seed 001): the worker declares it done or cancelled, the client
validates it or disputes it (a refusal reason and corrected times or km),
the worker accepts or refuses the correction, a manager ("le gestionnaire")
settles a refused one; reminders go to whoever the visit waits for.

    visit.declared         → the client: validate it (or dispute it);
                             a cancellation is for information
    visit.disputed         → the technician: accept or refuse the correction
    visit.dispute_refused  → the manager (the company's address): settle it
    visit.arbitrated       → the technician and the client: the values kept
    visit.reminder         → by stage: the technician, the client (with the
                             tacit validation date, if any) or the manager

The client reads its own language (`client.locale`); technicians and
managers carry no locale and read French. A recipient without an address
gets nothing. Plain Python; rendering (Jinja2) and sending (SMTP) are
adapters.
"""
from decimal import Decimal, InvalidOperation

from fieldwork_notifications.domain.dates import format_datetime, format_day, format_period
from fieldwork_notifications.domain.emails import (DEFAULT_LANGUAGE, EmailToSend, company_name,
                                                   language_of, reference_of)

STAFF_LANGUAGE = DEFAULT_LANGUAGE   # technicians and managers have no locale
STAGES = ("worker", "client", "manager")
DECISIONS = ("worker", "client", "custom")

_NO_KM = {"fr": "sans kilomètres", "en": "no distance"}


def format_km(km, language):
    """e.g. fr "12,5 km", en "12.5 km", "12 km" for a whole number; None
    when the visit carries no km."""
    if km is None or isinstance(km, bool):
        return None
    try:
        value = Decimal(str(km)).quantize(Decimal("0.1"))
    except (InvalidOperation, ValueError):
        return None
    text = str(int(value)) if value == value.to_integral_value() else str(value)
    return (text.replace(".", ",") if language == "fr" else text) + " km"


def values_text(start_at, end_at, km, language, mention_no_km=False):
    """A visit's times and km on one line, e.g. "le mardi 3 mars 2026 de
    14h30 à 16h00 (heure de Paris, UTC+1), 12,5 km". `mention_no_km` says
    so when there are none (beside a set of values that has some)."""
    text = format_period(start_at, end_at, language)
    km_text = format_km(km, language)
    if km_text:
        return f"{text}, {km_text}"
    return f"{text}, {_NO_KM[language]}" if mention_no_km else text


def reason_label(reason):
    """The label of a refusal or cancellation reason, "" when none."""
    return ((reason or {}).get("label") or "").strip()


def visit_context(data, language):
    """What every visit email shows: who, which intervention, the visit's
    times and km as they stand after the change."""
    return {
        "reference": data.get("reference") or reference_of(data["intervention_id"]),
        "intervention_id": data.get("intervention_id"),
        "visit_id": data["id"],
        "company_name": company_name(data),
        "company_phone": (data.get("company") or {}).get("phone") or "",
        "client_name": (data.get("client") or {}).get("name") or "",
        "technician_name": (data.get("technician") or {}).get("name") or "",
        "type_name": (data.get("type") or {}).get("name") or "",
        "day_text": format_day(data["start_at"], language),
        "period_text": format_period(data["start_at"], data["end_at"], language),
        "km_text": format_km(data.get("km"), language),
        "values_text": values_text(data["start_at"], data["end_at"], data.get("km"), language),
        "comment": (data.get("comment") or "").strip(),
    }


def with_proposal(context, data, language):
    """The context beside the client's correction (`proposal`): both sets
    of values, each saying "no km" when only the other has some."""
    proposal = data.get("proposal") or {}
    start_at = proposal.get("start_at") or data["start_at"]
    end_at = proposal.get("end_at") or data["end_at"]
    worker_km, client_km = data.get("km"), proposal.get("km")
    return {**context,
            "values_text": values_text(data["start_at"], data["end_at"], worker_km, language,
                                       mention_no_km=client_km is not None),
            "proposal_text": values_text(start_at, end_at, client_km, language,
                                         mention_no_km=worker_km is not None)}


def _client(data):
    """(address, language) of the visit's client; address "" when none."""
    client = data.get("client") or {}
    return client.get("email") or "", language_of(client.get("locale"))


def _technician_email(data):
    return (data.get("technician") or {}).get("email") or ""


def _manager_email(data):
    """Managers are reached at the company's address."""
    return (data.get("company") or {}).get("email") or ""


def on_visit_declared(data):
    """The worker declared the visit done (the client validates it or
    disputes it) or cancelled (with the reason; final, for information)."""
    recipient, language = _client(data)
    if not recipient:
        return []
    context = visit_context(data, language)
    context["outcome"] = "cancelled" if data.get("outcome") == "cancelled" else "done"
    context["reason_label"] = reason_label(data.get("reason"))
    return [EmailToSend(template="visit_declared", recipient=recipient, language=language,
                        context=context)]


def on_visit_disputed(data):
    """The client disputed: the technician reads the refusal reason, what
    it declared and what the client asks for, and accepts or refuses."""
    recipient = _technician_email(data)
    if not recipient:
        return []
    context = with_proposal(visit_context(data, STAFF_LANGUAGE), data, STAFF_LANGUAGE)
    context["reason_label"] = reason_label(data.get("reason"))
    return [EmailToSend(template="visit_disputed", recipient=recipient, language=STAFF_LANGUAGE,
                        context=context)]


def on_visit_dispute_refused(data):
    """The worker refused the correction: a dispute for the manager to
    settle, with both sets of values and the worker's comments."""
    recipient = _manager_email(data)
    if not recipient:
        return []
    context = with_proposal(visit_context(data, STAFF_LANGUAGE), data, STAFF_LANGUAGE)
    context["answer_comment"] = (data.get("answer_comment") or "").strip()
    return [EmailToSend(template="visit_to_settle", recipient=recipient, language=STAFF_LANGUAGE,
                        context=context)]


def on_visit_arbitrated(data):
    """The manager settled: the technician and the client each read the
    values kept (the visit's, after the decision) and the manager's reason."""
    decision = data.get("decision") if data.get("decision") in DECISIONS else "custom"
    to_send = []
    client_email, client_language = _client(data)
    for recipient, language, role in ((_technician_email(data), STAFF_LANGUAGE, "technician"),
                                      (client_email, client_language, "client")):
        if not recipient:
            continue
        context = visit_context(data, language)
        context.update(recipient_role=role, decision=decision,
                       arbitration_reason=(data.get("arbitration_reason") or "").strip())
        to_send.append(EmailToSend(template="visit_arbitrated", recipient=recipient,
                                   language=language, context=context))
    return to_send


def on_visit_reminder(data):
    """A visit still waits for someone: the technician (to declare it), the
    client (to validate it; told when it will be validated tacitly) or the
    manager (the company's address); the template words it per `stage`
    and the visit's `state`."""
    stage = data.get("stage")
    if stage == "worker":
        recipient, language = _technician_email(data), STAFF_LANGUAGE
    elif stage == "client":
        recipient, language = _client(data)
    elif stage == "manager":
        recipient, language = _manager_email(data), STAFF_LANGUAGE
    else:
        return []
    if not recipient:
        return []
    context = visit_context(data, language)
    waiting_since, tacit_at = data.get("waiting_since"), data.get("tacit_at")
    context.update(
        stage=stage, state=data.get("state") or "",
        waiting_text=format_day(waiting_since, language) if waiting_since else None,
        tacit_text=format_datetime(tacit_at, language) if tacit_at and stage == "client" else None)
    return [EmailToSend(template="visit_reminder", recipient=recipient, language=language,
                        context=context)]
