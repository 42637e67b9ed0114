"""Which emails an event produces, to whom, in which language.

Plain Python; rendering (Jinja2) and sending (SMTP) are adapters.
"""
from dataclasses import dataclass, field

LANGUAGES = ("fr", "en")
DEFAULT_LANGUAGE = "fr"


@dataclass(frozen=True)
class EmailToSend:
    template: str
    recipient: str
    language: str
    context: dict = field(default_factory=dict)


def language_of(locale):
    """French unless the client's locale says English (`en`, `en-GB`…)."""
    base = (locale or "").split("-")[0].split("_")[0].lower()
    return base if base in LANGUAGES else DEFAULT_LANGUAGE


def on_intervention_created(data):
    client = data.get("client") or {}
    if not client.get("email"):
        return []
    return [EmailToSend(
        template="intervention_created",
        recipient=client["email"],
        language=language_of(client.get("locale")),
        context={
            "client_name": client.get("name", ""),
            "intervention_id": data["id"],
            "reference": data["id"][:8].upper(),
            "type_name": (data.get("type") or {}).get("name", ""),
            "location": data.get("location"),
            "description": data.get("description", ""),
            "technician_name": (data.get("technician") or {}).get("name", ""),
        },
    )]
