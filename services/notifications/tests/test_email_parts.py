"""Emails people expect: text and HTML from one template per message and
language, signed with the company's name, equipment kinds translated."""
import re
from email import message_from_bytes
from html import unescape
from email.policy import default as default_policy
from importlib import resources

import pytest
from nameko.testing.services import worker_factory

from fieldwork_common.testing.fakes import FakeDb
from fieldwork_notifications import mailer
from fieldwork_notifications.domain import (accounts, emails, equipment, incidents, requests, surveys,
                                            visits)
from fieldwork_notifications.emails import stored_attachments
from fieldwork_notifications.models import Email
from fieldwork_notifications.service import NotificationsService
from fieldwork_notifications.templates import html_body, render, render_email

IID = "0123abcd-0000-4000-8000-000000000000"
COMPANY = {"id": "c0000000-0000-4000-8000-000000000000", "name": "Atelier Durand",
           "email": "shop@example.test", "phone": "01 02 03 04 05", "address": "1 rue de la Paix, Paris"}
CLIENT = {"id": "c1000000-0000-4000-8000-000000000000", "name": "Mme Martin",
          "email": "martin@example.test", "locale": "fr"}
TECH = {"id": "7e000000-0000-4000-8000-000000000000", "name": "Paul", "email": "paul@example.test"}
LAPTOP = {"id": "e0000000-0000-4000-8000-000000000000", "kind": "laptop", "brand": "Lenovo",
          "model": "T14", "serial_number": "SN1"}
# intervention.created as the interventions service publishes it once it
# carries the company (the other fields as today)
CREATED = {"id": IID, "location": "workshop", "description": "Écran qui clignote",
           "client": CLIENT, "technician": TECH,
           "type": {"id": "k", "name": "Réparation", "location": "workshop"}, "company": COMPANY}
CLOSED = {"id": IID, "reference": "0123ABCD", "company": COMPANY, "client": CLIENT, "technician": TECH,
          "equipment": LAPTOP, "pickup_at": "2026-03-03T13:30:00Z", "pickup_kind": "pickup",
          "closed_at": "2026-03-01T10:00:00Z", "version": 7}
DELIVERED = {"id": IID, "reference": "0123ABCD", "company": {**COMPANY, "survey_enabled": True},
             "client": CLIENT, "technician": TECH, "equipment": LAPTOP,
             "delivered_at": "2026-03-03T14:00:00Z", "version": 8}
ACCOUNT = {"email": "paul@example.org", "role": "technician", "company_name": "Atelier Durand",
           "link_url": "https://fieldwork.example/password/abc", "expires_at": "2026-12-03T09:00:00Z"}
TRACK = "https://shop.example.test/track/tok"
# a visit event as the interventions service publishes it (docs/asyncapi.yaml)
VISIT = {"id": "5a000000-0000-4000-8000-000000000000", "intervention_id": IID, "reference": "0123ABCD",
         "state": "done", "start_at": "2026-03-03T13:30:00Z", "end_at": "2026-03-03T15:00:00Z",
         "km": 12.5, "comment": "Vitres faites", "company": COMPANY, "client": CLIENT,
         "technician": TECH, "type": {"id": "k", "name": "Aide ménagère", "location": "at_home"}}
PROPOSAL = {"start_at": "2026-03-03T13:30:00Z", "end_at": "2026-03-03T14:30:00Z", "km": 8}
# an incident event and a conversation message as the timeclock service
# publishes them
INCIDENT = {"id": "1c000000-0000-4000-8000-000000000000", "intervention_id": IID,
            "reference": "0123ABCD", "reason": {"id": "r", "code": "absent", "label": "Client absent"},
            "moment": "start", "description": "Porte fermée", "state": "open", "clocking_id": None,
            "author_id": "u1", "author_role": "technician",
            "visit": {"start_at": "2026-03-03T13:30:00Z", "end_at": "2026-03-03T15:00:00Z"},
            "company": COMPANY, "client": CLIENT, "technician": TECH,
            "type": {"id": "k", "name": "Aide ménagère", "location": "at_home"},
            "by": "u1", "by_role": "technician", "from_state": None, "state_reason": None}
MESSAGE = {"id": "m0000000-0000-4000-8000-000000000000", "intervention_id": IID,
           "reference": "0123ABCD", "author_id": "u1", "author_role": "technician",
           "body": "J'arrive dans 10 minutes.\nMerci de patienter.", "internal": False,
           "file_ids": ["f1"], "incident": {"id": "i", "state": "open",
                                            "reason": {"id": "r", "label": "Client absent"}},
           "company": COMPANY, "client": CLIENT, "technician": TECH}
# a customer request event as the requests service publishes it
REQUEST = {"id": "d0000000-0000-4000-8000-000000000000", "company_id": COMPANY["id"],
           "client_id": CLIENT["id"], "number": "DEM-2026-000123", "type_id": "t",
           "type": {"id": "t", "label": "Dépannage"}, "source": "portal",
           "symptom": "Plus d'eau chaude", "description": "Depuis hier soir.\nLa chaudière clignote.",
           "site_id": None, "status": "new", "created_by": "u1", "created_by_role": "client",
           "created_by_technician_id": None, "created_at": "2026-03-03T13:30:00Z",
           "updated_at": "2026-03-03T13:30:00Z", "closed_at": None, "version": 1,
           "company": COMPANY, "client": CLIENT, "at": "2026-03-03T13:30:00Z", "by": "u1",
           "by_role": "client"}
REQUEST_ACTION = {"id": "a0000000-0000-4000-8000-000000000000", "status": "planned",
                  "message": "Un technicien passera jeudi matin.", "channel": "email",
                  "at": "2026-03-04T09:00:00Z"}


def visible_text(html):
    """What a reader sees of the HTML part's card: no tags, entities read."""
    card = html.split('<div class="card">', 1)[1].rsplit("</div>", 1)[0]
    return unescape(re.sub(r"<[^>]+>", "", card))


def in_english(data):
    return {**data, "client": {**data["client"], "locale": "en"}}


def every_email(locale):
    """One of each message, in the client's language."""
    def with_locale(data):
        return {**data, "client": {**data["client"], "locale": locale}}
    language = emails.language_of(locale)
    plan = surveys.plan_survey(with_locale(DELIVERED), 60)
    survey = emails.EmailToSend("survey", CLIENT["email"], language, surveys.email_context(
        plan.context, "https://shop.example.test/survey/tok", "2026-04-02T14:00:00Z", language))
    return [*emails.on_intervention_created(with_locale(CREATED), TRACK),
            *emails.on_intervention_closed(with_locale(CLOSED), TRACK),
            *emails.on_intervention_delivered(with_locale(DELIVERED), TRACK), survey,
            accounts.account_email("account_invitation", "paul@example.org", language, ACCOUNT),
            accounts.account_email("password_reset", "paul@example.org", language, ACCOUNT),
            *visits.on_visit_declared(with_locale({**VISIT, "outcome": "done"})),
            *visits.on_visit_disputed({**VISIT, "reason": {"label": "Horaires"}, "proposal": PROPOSAL}),
            *visits.on_visit_dispute_refused({**VISIT, "proposal": PROPOSAL, "answer_comment": "Non"}),
            *visits.on_visit_arbitrated(with_locale({**VISIT, "decision": "client",
                                                     "arbitration_reason": "Badge"})),
            *visits.on_visit_reminder(with_locale({**VISIT, "stage": "client",
                                                   "waiting_since": "2026-03-03T16:00:00Z",
                                                   "tacit_at": "2026-03-17T16:00:00Z"})),
            *incidents.on_incident_declared(with_locale(INCIDENT)),
            *incidents.on_incident_updated(with_locale({**INCIDENT, "state": "resolved",
                                                        "from_state": "open", "by": "u2",
                                                        "by_role": "manager",
                                                        "state_reason": "Repassage jeudi"})),
            *incidents.on_conversation_message_posted(with_locale(MESSAGE)),
            *requests.on_request_created(with_locale(REQUEST)),
            *requests.on_request_action_added(with_locale({**REQUEST, "status": "planned",
                                                           "action": REQUEST_ACTION,
                                                           "previous_status": "new",
                                                           "by": "u2", "by_role": "manager"})),
            *requests.on_request_closed(with_locale({**REQUEST, "status": "cancelled",
                                                     "outcome": "cancelled", "action": None,
                                                     "reason": "Doublon", "by": "u2",
                                                     "by_role": "manager"})),
            *requests.on_request_reopened(with_locale({**REQUEST, "status": "in_progress",
                                                       "reason": "Toujours en panne",
                                                       "previous_status": "closed"})),
            *requests.on_request_closed(with_locale({**REQUEST, "status": "closed",
                                                     "outcome": "auto_closed", "action": None,
                                                     "reason": None, "by": "system",
                                                     "by_role": "system"}))]


TEMPLATES = ("intervention_created", "awaiting_pickup", "delivered", "survey",
             "account_invitation", "password_reset", "visit_declared", "visit_disputed",
             "visit_to_settle", "visit_arbitrated", "visit_reminder", "incident_declared",
             "incident_updated", "conversation_message", "request_created", "request_action",
             "request_cancelled", "request_reopened", "request_auto_closed")


def test_each_message_has_one_source_per_language_and_nothing_else():
    files = {f.name for f in resources.files("fieldwork_notifications").joinpath("templates").iterdir()}
    assert files == {f"{t}.{lang}.txt" for t in TEMPLATES for lang in ("fr", "en")} | {"layout.html"}


@pytest.mark.parametrize("name", [f"{t}.{lang}.txt" for t in TEMPLATES for lang in ("fr", "en")])
def test_the_text_a_template_writes_itself_needs_no_escaping_in_html(name):
    source = resources.files("fieldwork_notifications").joinpath("templates", name).read_text()
    literal = "".join(part.split("}}", 1)[-1].split("%}", 1)[-1] for part in source.split("{"))
    assert not set("<>&") & set(literal), name


@pytest.mark.parametrize("locale", ["fr", "en"])
def test_every_email_has_both_parts_saying_the_same_thing(locale):
    found = set()
    for item in every_email(locale):
        rendered = render_email(item.template, item.language, item.context)
        assert (rendered.subject, rendered.text) == render(item.template, item.language, item.context)
        assert rendered.html.startswith("<!DOCTYPE html>") and f'<html lang="{item.language}">' in rendered.html
        assert unescape(rendered.html.split("<title>")[1].split("</title>")[0]) == rendered.subject
        # the HTML part reads as the text part, line for line
        seen = [line.strip() for line in visible_text(rendered.html).splitlines() if line.strip()]
        assert seen == [line.strip() for line in rendered.text.splitlines() if line.strip()], item.template
        found.add(item.template)
    assert found == set(TEMPLATES)


def test_values_are_escaped_in_the_html_part_only():
    hostile = {**CREATED, "description": '<script>alert("x")</script> & co',
               "client": {**CLIENT, "name": "<b>Eve</b>"}}
    [item] = emails.on_intervention_created(hostile, TRACK + "?a=1&b=2")
    rendered = render_email(item.template, item.language, item.context)
    assert '<script>alert("x")</script> & co' in rendered.text and "Bonjour <b>Eve</b>" in rendered.text
    assert "<script" not in rendered.html and "<b>Eve" not in rendered.html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; co" in rendered.html
    assert f'<a href="{TRACK}?a=1&amp;b=2">' in rendered.html


def test_the_html_part_has_paragraphs_line_breaks_links_and_buttons():
    html = html_body("Hello,\n\nLine one\nLine two: https://x.test/a?b=1&amp;c=2.\n\n"
                     "https://x.test/only\n\n\n")
    assert html == ('<p>Hello,</p>\n<p>Line one<br>\nLine two: '
                    '<a href="https://x.test/a?b=1&amp;c=2">https://x.test/a?b=1&amp;c=2</a>.</p>\n'
                    '<p class="button"><a href="https://x.test/only">https://x.test/only</a></p>')
    assert html_body("see https://x.test/&#39;quoted&#39;") == (
        '<p>see <a href="https://x.test/">https://x.test/</a>&#39;quoted&#39;</p>')


# --- signed with the company's name ------------------------------------------------------

SIGNATURES = {"fr": "L'équipe Atelier Durand", "en": "The Atelier Durand team"}


@pytest.mark.parametrize("locale", ["fr", "en"])
def test_every_email_is_signed_with_the_companys_name(locale):
    for item in every_email(locale):
        # the client reads its language; technicians and managers read French
        signature = SIGNATURES[item.language]
        rendered = render_email(item.template, item.language, item.context)
        assert rendered.text.rstrip().endswith(signature), item.template
        assert visible_text(rendered.html).rstrip().endswith(signature), item.template


@pytest.mark.parametrize("locale,signature", [("fr", "L'équipe Fieldwork"), ("en", "The Fieldwork team")])
def test_an_event_without_a_company_is_signed_fieldwork(locale, signature):
    data = {k: v for k, v in CREATED.items() if k != "company"}
    [item] = emails.on_intervention_created({**data, "client": {**CLIENT, "locale": locale}}, TRACK)
    assert item.context["company_name"] == ""
    assert render(item.template, item.language, item.context)[1].rstrip().endswith(signature)


def test_the_created_email_names_the_company_from_the_event():
    [item] = emails.on_intervention_created(CREATED, TRACK)
    assert item.context["company_name"] == "Atelier Durand"
    assert emails.company_name({"company": {"name": "  "}}) == ""
    assert emails.company_name({"company": None}) == ""


# --- equipment kinds ----------------------------------------------------------------------

@pytest.mark.parametrize("kind,fr,en", [
    ("laptop", "ordinateur portable", "laptop"),
    ("Laptops", "ordinateur portable", "laptop"),
    ("desktop", "ordinateur de bureau", "desktop computer"),
    ("smartphone", "smartphone", "smartphone"),
    ("phone", "téléphone", "phone"),
    ("tablet", "tablette", "tablet"),
    ("printer", "imprimante", "printer"),
    ("washing_machine", "lave-linge", "washing machine"),
    ("Washing machine", "lave-linge", "washing machine"),
    ("dishwasher", "lave-vaisselle", "dishwasher"),
    ("fridge", "réfrigérateur", "fridge"),
    ("refrigerator", "réfrigérateur", "fridge"),
    ("boiler", "chaudière", "boiler"),
    ("heat pump", "pompe à chaleur", "heat pump"),
    ("heat-pump", "pompe à chaleur", "heat pump"),
    ("air conditioner", "climatiseur", "air conditioner"),
    ("TV", "téléviseur", "TV"),
    ("television", "téléviseur", "TV"),
    # typed in French: shown in English to an English-speaking client
    ("Lave-linge", "lave-linge", "washing machine"),
    ("réfrigérateur", "réfrigérateur", "fridge"),
    ("Pompe à chaleur", "pompe à chaleur", "heat pump"),
    ("chaudiere", "chaudière", "boiler"),
])
def test_common_kinds_are_translated(kind, fr, en):
    assert equipment.kind_label(kind, "fr") == fr
    assert equipment.kind_label(kind, "en") == en


@pytest.mark.parametrize("kind", ["Grille-pain", "Flux capacitor X2", "portable"])
def test_unknown_kinds_are_shown_as_given(kind):
    assert equipment.kind_label(kind, "fr") == kind == equipment.kind_label(kind, "en")


def test_the_equipment_is_described_in_the_clients_language():
    assert equipment.describe(LAPTOP, "fr") == "ordinateur portable Lenovo T14"
    assert equipment.describe(LAPTOP, "en") == "laptop Lenovo T14"
    assert equipment.describe({"kind": "boiler", "brand": None, "model": ""}, "fr") == "chaudière"
    assert equipment.describe(None, "fr") == "" and equipment.describe({}, "en") == ""


@pytest.mark.parametrize("locale,shown", [("fr", "ordinateur portable Lenovo T14"), ("en", "laptop Lenovo T14")])
def test_every_email_showing_the_equipment_translates_its_kind(locale, shown):
    showing = {item.template: item for item in every_email(locale)
               if item.template in ("awaiting_pickup", "delivered", "survey")}
    assert len(showing) == 3
    for item in showing.values():
        rendered = render_email(item.template, item.language, item.context)
        assert shown in rendered.text and shown in visible_text(rendered.html), item.template
    [invitation] = emails.on_intervention_closed(in_english(CLOSED) if locale == "en" else CLOSED,
                                                 TRACK)[0].attachments
    assert shown.encode() in invitation.data


def test_the_created_email_shows_the_equipment_when_the_event_carries_it():
    [item] = emails.on_intervention_created({**CREATED, "equipment": LAPTOP}, TRACK)
    assert "sur votre ordinateur portable Lenovo T14" in render(item.template, "fr", item.context)[1]
    [item] = emails.on_intervention_created(CREATED, TRACK)
    assert "sur votre" not in render(item.template, "fr", item.context)[1]


# --- the mailer and the email row -----------------------------------------------------------

def parsed(message):
    return message_from_bytes(message.as_bytes(), policy=default_policy)


def test_the_mailer_sends_multipart_alternative():
    message = parsed(mailer.message_of("Fieldwork <no-reply@x>", "r@x", "Subject", "Text é",
                                       "<id@x>", html="<p>HTML é</p>"))
    assert message.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in message.iter_parts()] == ["text/plain", "text/html"]
    assert message.get_body(("plain",)).get_content().strip() == "Text é"
    assert message.get_body(("html",)).get_content().strip() == "<p>HTML é</p>"


def test_with_an_attachment_the_alternative_goes_inside_multipart_mixed():
    message = parsed(mailer.message_of("f@x", "r@x", "S", "Text", "<id@x>", html="<p>HTML</p>",
                                       attachments=[("invitation.ics", "text/calendar; method=REQUEST",
                                                     b"BEGIN:VCALENDAR\r\n")]))
    assert message.get_content_type() == "multipart/mixed"
    alternative, attachment = message.iter_parts()
    assert alternative.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in alternative.iter_parts()] == ["text/plain", "text/html"]
    assert attachment.get_content_type() == "text/calendar" and attachment.get_param("method") == "REQUEST"


def test_without_html_the_email_is_text_only_as_before():
    message = parsed(mailer.message_of("f@x", "r@x", "S", "Text", "<id@x>"))
    assert message.get_content_type() == "text/plain"


def test_the_email_row_keeps_both_parts_and_a_retry_sends_them(monkeypatch):
    sent = []
    monkeypatch.setattr(mailer, "send", lambda *args, **kwargs: sent.append((args, kwargs)))
    interventions = worker_factory(NotificationsService).interventions
    interventions.issue_tracking_token.return_value = {"url_path": "/track/tok"}
    db = FakeDb()
    service = worker_factory(NotificationsService, db=db, interventions=interventions)
    service.on_intervention_closed({"event_id": "e0e0e0e0-0000-4000-8000-000000000000",
                                    "data": CLOSED})
    [uow] = db.committed
    [email] = [c.args[0] for c in uow.session.add.call_args_list if isinstance(c.args[0], Email)]
    assert "ordinateur portable Lenovo T14" in email.body and "ordinateur portable Lenovo T14" in email.html_body
    [(args, kwargs)] = sent
    assert (args[1], args[2], kwargs["html"]) == (email.subject, email.body, email.html_body)
    # a retry (or an operator's resend) sends what the row kept
    sent.clear()
    service._deliver("e1", 2, email.recipient, email.subject, email.body, email.attachments,
                     email.html_body)
    [(args, kwargs)] = sent
    assert kwargs["html"] == email.html_body and kwargs["attachments"][0][0] == "invitation.ics"


def test_an_email_recorded_before_html_is_retried_as_text(monkeypatch):
    sent = []
    monkeypatch.setattr(mailer, "send", lambda *args, **kwargs: sent.append(kwargs))
    service = worker_factory(NotificationsService)
    service._deliver("e1", 2, "r@example.test", "Subject", "Body",
                     stored_attachments(()), None)
    assert "html" not in sent[0]
