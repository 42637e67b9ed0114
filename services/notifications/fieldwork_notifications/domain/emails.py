"""Which emails an event produces, to whom, in which language.

Plain Python; rendering (Jinja2) and sending (SMTP) are adapters.
"""
from dataclasses import dataclass, field

from fieldwork_common import ics
from fieldwork_notifications.domain import equipment as equipment_kinds
from fieldwork_notifications.domain.dates import format_datetime, parse_timestamp

LANGUAGES = ("fr", "en")
DEFAULT_LANGUAGE = "fr"


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str   # with its parameters, e.g. "text/calendar; method=REQUEST"
    data: bytes


@dataclass(frozen=True)
class EmailToSend:
    template: str
    recipient: str
    language: str
    context: dict = field(default_factory=dict)
    attachments: tuple = ()


def language_of(locale):
    """French unless the client's locale says English (`en`, `en-GB`…)."""
    base = (locale or "").split("-")[0].split("_")[0].lower()
    return base if base in LANGUAGES else DEFAULT_LANGUAGE


def reference_of(intervention_id):
    """What clients see: the first 8 hex digits of the id, upper case."""
    return str(intervention_id)[:8].upper()


def company_name(data):
    """Who signs the email: the company the event names (`company.name`),
    or "" when it names none (the templates then sign "Fieldwork")."""
    return ((data.get("company") or {}).get("name") or "").strip()


def on_intervention_created(data, tracking_url=None):
    client = data.get("client") or {}
    if not client.get("email"):
        return []
    language = language_of(client.get("locale"))
    return [EmailToSend(
        template="intervention_created",
        recipient=client["email"],
        language=language,
        context={
            "client_name": client.get("name", ""),
            "intervention_id": data["id"],
            "reference": reference_of(data["id"]),
            "type_name": (data.get("type") or {}).get("name", ""),
            "location": data.get("location"),
            "description": data.get("description", ""),
            "technician_name": (data.get("technician") or {}).get("name", ""),
            "company_name": company_name(data),
            "equipment": equipment_kinds.describe(data.get("equipment"), language),
            "tracking_url": tracking_url,
        },
    )]


def common_context(data, tracking_url, language):
    client = data.get("client") or {}
    company = data.get("company") or {}
    return {
        "client_name": client.get("name") or "",
        "intervention_id": data["id"],
        "reference": data.get("reference") or reference_of(data["id"]),
        "company_name": company_name(data),
        "company_phone": company.get("phone") or "",
        "company_address": company.get("address") or "",
        "technician_name": (data.get("technician") or {}).get("name") or "",
        "equipment": equipment_kinds.describe(data.get("equipment"), language),
        "tracking_url": tracking_url,
    }


INVITATION_FILENAME = "invitation.ics"
INVITATION_CONTENT_TYPE = "text/calendar; method=REQUEST"
_INVITATION_SUMMARY = {
    ("fr", "pickup"): "Retrait de votre matériel ({company})",
    ("fr", "delivery"): "Livraison de votre matériel ({company})",
    ("en", "pickup"): "Collect your equipment ({company})",
    ("en", "delivery"): "Delivery of your equipment ({company})",
}


def pickup_uid(intervention_id):
    """Stable: a new date for the same intervention updates the appointment."""
    return f"{intervention_id}-pickup@fieldwork"


def pickup_invitation(data, language, tracking_url, stamp=None):
    """The ICS invitation (bytes) for the pickup or delivery date, or None
    when there is no date."""
    start = parse_timestamp(data.get("pickup_at"))
    if start is None:
        return None
    kind = data.get("pickup_kind") if data.get("pickup_kind") in ("pickup", "delivery") else "pickup"
    context = common_context(data, tracking_url, language)
    summary = _INVITATION_SUMMARY[(language, kind)].format(company=context["company_name"] or "Fieldwork")
    description = f"Intervention {context['reference']}"
    if context["equipment"]:
        description += f" — {context['equipment']}"
    if tracking_url:
        description += f"\n{tracking_url}"
    event = ics.CalendarEvent(
        uid=pickup_uid(data["id"]), start=start, summary=summary, description=description,
        location=context["company_address"] if kind == "pickup" else "",
        sequence=int(data.get("version") or 0), url=tracking_url or "")
    return ics.calendar([event], method="REQUEST", stamp=stamp)


def on_intervention_closed(data, tracking_url=None, stamp=None):
    """Awaiting pickup: the date (if any) in the client's language and time
    zone, and the invitation attached."""
    client = data.get("client") or {}
    if not client.get("email"):
        return []
    language = language_of(client.get("locale"))
    context = common_context(data, tracking_url, language)
    pickup_at = data.get("pickup_at")
    context["pickup_kind"] = data.get("pickup_kind") or ("pickup" if pickup_at else None)
    context["pickup_text"] = format_datetime(pickup_at, language) if pickup_at else None
    invitation = pickup_invitation(data, language, tracking_url, stamp=stamp)
    attachments = (Attachment(INVITATION_FILENAME, INVITATION_CONTENT_TYPE, invitation),) if invitation else ()
    return [EmailToSend(template="awaiting_pickup", recipient=client["email"], language=language,
                        context=context, attachments=attachments)]


def on_intervention_delivered(data, tracking_url=None):
    """The receipt confirmation (the survey is planned apart: surveys.py)."""
    client = data.get("client") or {}
    if not client.get("email"):
        return []
    language = language_of(client.get("locale"))
    context = common_context(data, tracking_url, language)
    delivered_at = data.get("delivered_at")
    context["delivered_text"] = format_datetime(delivered_at, language) if delivered_at else None
    return [EmailToSend(template="delivered", recipient=client["email"], language=language,
                        context=context)]
