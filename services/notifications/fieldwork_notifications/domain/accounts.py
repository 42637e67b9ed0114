"""Emails about logins, asked for by the gateway (which owns the accounts):
an invitation to choose a password, a password reset link. The link's
secret is in the email only: the gateway keeps its hash.
"""
from fieldwork_notifications.domain.dates import format_datetime
from fieldwork_notifications.domain.emails import EmailToSend, language_of

TEMPLATES = ("account_invitation", "password_reset")

ROLE_LABELS = {
    "fr": {"admin": "administrateur", "manager": "gestionnaire", "technician": "intervenant",
           "client": "client"},
    "en": {"admin": "administrator", "manager": "manager", "technician": "technician",
           "client": "customer"},
}


class UnknownTemplate(ValueError):
    pass


def account_email(template, recipient, language, context):
    """The email to send, its context ready for the template."""
    if template not in TEMPLATES:
        raise UnknownTemplate(template)
    language = language_of(language)
    return EmailToSend(template=template, recipient=recipient, language=language, context={
        "email": context.get("email") or recipient,
        "company_name": context.get("company_name") or "",
        "role_label": ROLE_LABELS[language].get(context.get("role"), context.get("role") or ""),
        "link_url": context["link_url"],
        "expires_text": format_datetime(context["expires_at"], language),
    })
