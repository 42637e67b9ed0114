"""Emails people expect (issue 9), read at the real SMTP server: every email
is multipart/alternative, a text/plain and a text/html part from the same
template, in the client's language (French or English), signed with the
company's name, the equipment's kind translated ("laptop" is an
"ordinateur portable" in French); the pickup invitation still rides along.

The intervention-created email is signed by the company once
`intervention.created` carries it (`data.company`): until then it signs
"Fieldwork", so the signature is checked here on the emails whose events
carry the company already (awaiting pickup, delivered, survey) and on the
account emails; notifications' unit tests cover the created email with a
company."""
import re
import uuid
from html import unescape

from fieldwork_common.testing.waiting import wait_until

SURVEY_WAIT = 60   # SURVEY_DELAY is 6 s in the platform fixture


def visible_text(html):
    """What a reader sees of the HTML part: no tags, entities read."""
    body = html.split("<body>", 1)[1].split("</body>", 1)[0]
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", body)).split())


def one_line(text):
    return " ".join(text.split())


def parts(message):
    """(text, html) of a multipart/alternative email, checking its shape."""
    alternative = message
    if message.get_content_type() == "multipart/mixed":
        alternative = next(message.iter_parts())
    assert alternative.get_content_type() == "multipart/alternative", message.get_content_type()
    kinds = [p.get_content_type() for p in alternative.iter_parts()]
    assert kinds == ["text/plain", "text/html"], kinds
    text = message.get_body(preferencelist=("plain",)).get_content()
    html = message.get_body(preferencelist=("html",)).get_content()
    return text, html


def with_subject(smtp, recipient, prefix, timeout=30):
    found = wait_until(lambda: [m for m in smtp.to(recipient) if str(m["Subject"]).startswith(prefix)],
                       timeout=timeout, message=f"an email '{prefix}…' to {recipient}")
    assert len(found) == 1, [str(m["Subject"]) for m in smtp.to(recipient)]
    return found[0]


def assert_both_parts_say(message, *phrases, language):
    text, html = parts(message)
    assert f'<html lang="{language}">' in html
    shown = visible_text(html)
    for phrase in phrases:
        assert phrase in one_line(text), (phrase, text)
        assert phrase in shown, (phrase, shown)
    return text, html


def test_awaiting_pickup_in_french_multipart_signed_with_an_ics(world, smtp):
    company = world.survey_company(survey_enabled=False)
    client, intervention = world.shop_intervention(company, locale="fr")
    world.walk_to(intervention, "awaiting_pickup", pickup_at="2026-12-01T09:30:00Z")
    message = with_subject(smtp, client["email"], "Votre matériel est prêt")
    assert message.get_content_type() == "multipart/mixed"
    text, _ = assert_both_parts_say(
        message, "sur votre ordinateur portable Lenovo T14",
        f"L'équipe {company['name']}", "12 rue des Ateliers", language="fr")
    assert text.rstrip().endswith(f"L'équipe {company['name']}")
    [attachment] = list(message.iter_attachments())
    assert attachment.get_content_type() == "text/calendar"
    assert b"ordinateur portable Lenovo T14" in attachment.get_payload(decode=True)
    # the created email is multipart too
    created = with_subject(smtp, client["email"], "Votre intervention")
    parts(created)


def test_delivered_in_english_multipart_signed(world, smtp):
    company = world.survey_company(survey_enabled=False)
    client, intervention = world.shop_intervention(company, locale="en")
    world.walk_to(intervention, "delivered")
    message = with_subject(smtp, client["email"], "Your equipment has been handed back")
    assert message.get_content_type() == "multipart/alternative"
    text, html = assert_both_parts_say(message, "We confirm that your equipment (laptop Lenovo T14)",
                                       f"The {company['name']} team", language="en")
    assert "ordinateur" not in text and "/track/" in html and 'href="http' in html


def test_the_survey_in_both_languages_multipart_signed(world, smtp):
    company = world.survey_company(survey_enabled=True)
    clients = {}
    for locale in ("fr", "en"):
        client, intervention = world.shop_intervention(company, locale=locale)
        world.walk_to(intervention, "delivered")
        clients[locale] = client
    french = with_subject(smtp, clients["fr"]["email"], "Votre avis", timeout=SURVEY_WAIT)
    _, html = assert_both_parts_say(french, "Vous avez récupéré votre matériel (ordinateur portable Lenovo T14)",
                                    f"L'équipe {company['name']}", language="fr")
    assert re.search(r'<a href="http[^"]+/survey/[A-Za-z0-9_-]+">', html)
    english = with_subject(smtp, clients["en"]["email"], "How did we do?", timeout=SURVEY_WAIT)
    assert_both_parts_say(english, "You have your equipment back (laptop Lenovo T14)",
                          f"The {company['name']} team", language="en")


def test_account_emails_are_multipart_and_signed(world, smtp, admin, anonymous):
    company = world.survey_company(survey_enabled=False)
    client = world.client(company, locale="en")
    invited = admin.post("/users", {"email": client["email"], "role": "client", "client_id": client["id"]})
    assert invited.status_code == 201, invited.text
    invitation = with_subject(smtp, client["email"], f"Your access to {company['name']}")
    _, html = assert_both_parts_say(invitation, "A customer account has been opened for you",
                                    f"The {company['name']} team", language="en")
    assert re.search(r'<a href="http[^"]+/password/[^"]+">', html)

    technician = world.technician(company)
    email = f"tech-{uuid.uuid4().hex[:8]}@example.test"
    made = admin.post("/users", {"email": email, "password": "a-good-password", "role": "technician",
                                 "technician_id": technician["id"]})
    assert made.status_code == 201, made.text
    assert anonymous.post("/auth/password-reset", {"email": email}).status_code == 202
    reset = with_subject(smtp, email, "Réinitialisation de votre mot de passe")
    # signed "Fieldwork" until the gateway names the login's company in a
    # reset (it does in an invitation): the signature is not checked here
    assert_both_parts_say(reset, "a demandé un nouveau mot de passe pour le compte " + email,
                          language="fr")
