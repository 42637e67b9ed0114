"""Satisfaction surveys: when one is planned, whether it goes out when due,
whether an answer is taken, and the summary of the answers.

Life of a survey:

    scheduled ──(due, option on)──► sent ──(answered once)──► answered
        │                              │
        │                              └──(the intervention reopened)──► invalidated
        └──(due with the company's option off, or the intervention reopened)──► cancelled

The email goes out only at `due_at` (SURVEY_DELAY after the delivery): at that
moment the company's option is read again, so a shop that turned it off in the
meantime sends nothing. A survey sent for a delivery that a reopening undid
asks about work that is not finished: its link answers 410 Gone, and the
next delivery sends a new survey. An answered survey stays answered. Plain
Python: the service stores what this decides.
"""
import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import timedelta

from fieldwork_common.errors import Conflict, Gone, InvalidInput, NotFound
from fieldwork_notifications.domain.dates import format_date, parse_timestamp
from fieldwork_notifications.domain.emails import common_context, language_of

STATUSES = ("scheduled", "sent", "cancelled", "answered", "invalidated")
SCORES = (1, 2, 3, 4, 5)
COMMENT_MAX = 2000

# cancel reasons
OPTION_OFF = "survey_disabled"
REOPENED = "reopened"


@dataclass(frozen=True)
class SurveyPlan:
    intervention_id: str
    company_id: str | None
    technician_id: str | None
    client_id: str | None
    recipient: str
    language: str
    due_at: object           # aware datetime
    intervention_version: int | None
    context: dict = field(default_factory=dict)


def plan_survey(data, delay_seconds, now=None):
    """The survey an `intervention.delivered` asks for, or None: only when
    the company's option is on and the client has an address. Due
    `delay_seconds` after the delivery."""
    company = data.get("company") or {}
    client = data.get("client") or {}
    if not company.get("survey_enabled") or not client.get("email"):
        return None
    delivered_at = parse_timestamp(data.get("delivered_at")) or now
    language = language_of(client.get("locale"))
    context = common_context(data, None, language)
    context.pop("tracking_url", None)
    return SurveyPlan(
        intervention_id=data["id"], company_id=company.get("id"),
        technician_id=(data.get("technician") or {}).get("id"),
        client_id=client.get("id"), recipient=client["email"],
        language=language,
        due_at=delivered_at + timedelta(seconds=float(delay_seconds)),
        intervention_version=data.get("version"), context=context)


def decide_when_due(survey_enabled):
    """At due time: ("send", None), or ("cancel", reason) when the company's
    option is off now."""
    if not survey_enabled:
        return "cancel", OPTION_OFF
    return "send", None


def cancelled_by_reopening(status, survey_version, reopened_version):
    """A reopening cancels a survey not sent yet, planned by a delivery
    before it (an older reopening, redelivered late, does not)."""
    if status != "scheduled":
        return False
    if survey_version is None or reopened_version is None:
        return True
    return int(reopened_version) > int(survey_version)


def after_reopening(status, survey_version, reopened_version):
    """What a reopening does to a survey: "cancel" one not sent yet,
    "invalidate" a sent one not answered, None otherwise; only to a survey
    planned by a delivery before that reopening (an older reopening,
    redelivered late, changes nothing)."""
    if status not in ("scheduled", "sent"):
        return None
    if survey_version is not None and reopened_version is not None \
            and int(reopened_version) <= int(survey_version):
        return None
    return "cancel" if status == "scheduled" else "invalidate"


def new_token():
    """The one-time key of the survey's link; only its hash is stored."""
    return secrets.token_urlsafe(32)


def token_hash(token):
    return hashlib.sha256(str(token).encode()).hexdigest()


def survey_path(token):
    return f"/survey/{token}"


def expiry(sent_at, days):
    return sent_at + timedelta(days=float(days))


def email_context(survey_context, survey_url, expires_at, language):
    return {**survey_context, "survey_url": survey_url,
            "expires_text": format_date(expires_at, language)}


def link_works(status):
    """Whether the survey's link leads anywhere (else 404): once sent."""
    return status in ("sent", "answered", "invalidated")


def is_gone(status, expires_at, now):
    """The link answers 410: expired, or invalidated by a reopening."""
    return status == "invalidated" or (
        status == "sent" and expires_at is not None and now >= expires_at)


def check_answerable(status, expires_at, now):
    """NotFound unless the survey was sent; Conflict if answered already
    (reason `answered`); Gone (410) past its expiry (reason `expired`) or
    once a reopening invalidated it (reason `invalidated`)."""
    if status == "answered":
        raise Conflict("This survey was answered already.", {"reason": "answered"})
    if status == "invalidated":
        raise Gone("This survey no longer applies: the intervention was reopened.",
                   {"reason": "invalidated"})
    if status != "sent":
        raise NotFound("Survey not found.")
    if expires_at is not None and now >= expires_at:
        raise Gone("This survey link has expired.", {"reason": "expired"})


def validate_answer(score, comment):
    """(score 1..5, comment or None), or InvalidInput."""
    if isinstance(score, bool):
        score = None
    if isinstance(score, str) and score.strip().isdigit():
        score = int(score.strip())
    if isinstance(score, float) and score.is_integer():
        score = int(score)
    if not isinstance(score, int) or score not in SCORES:
        raise InvalidInput("The score must be a whole number from 1 to 5.",
                           {"fields": {"score": ["must be 1, 2, 3, 4 or 5"]}})
    if comment is not None and not isinstance(comment, str):
        raise InvalidInput("The comment must be text.", {"fields": {"comment": ["must be text"]}})
    comment = (comment or "").strip()
    if len(comment) > COMMENT_MAX:
        raise InvalidInput(f"The comment is limited to {COMMENT_MAX} characters.",
                           {"fields": {"comment": [f"at most {COMMENT_MAX} characters"]}})
    return score, comment or None


def summarise(counts):
    """From {score: number of answers}: {count, average (None when no
    answer), distribution {"1".."5": n}}."""
    distribution = {str(s): 0 for s in SCORES}
    for score, number in counts.items():
        distribution[str(int(score))] += int(number)
    count = sum(distribution.values())
    total = sum(int(score) * n for score, n in distribution.items())
    return {"count": count, "average": round(total / count, 2) if count else None,
            "distribution": distribution}
