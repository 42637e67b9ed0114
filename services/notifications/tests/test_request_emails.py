"""The emails of the customer requests: which event of the requests service
emails the end customer, in which language, and what the rendered email
says (the number, the type, the symptom and description, the message and
the status, the reason of a cancellation or a reopening); who gets
nothing."""
import pytest

from fieldwork_common import topology
from fieldwork_notifications.domain import requests
from fieldwork_notifications.service import NotificationsService
from fieldwork_notifications.templates import render, render_email

RID = "d0000000-0000-4000-8000-000000000000"
NUMBER = "DEM-2026-000123"
CLIENT_USER = "u1000000-0000-4000-8000-000000000000"
MANAGER_USER = "u0000000-0000-4000-8000-000000000000"
COMPANY = {"id": "c0000000-0000-4000-8000-000000000000", "name": "Atelier Durand",
           "email": "gestion@example.test", "phone": "01 02 03 04 05",
           "address": "1 rue de la Paix, Paris"}
CLIENT = {"id": "c1000000-0000-4000-8000-000000000000", "name": "Mme Martin",
          "email": "martin@example.test", "locale": "fr"}
TYPE = {"id": "70000000-0000-4000-8000-000000000000", "label": "Dépannage chaudière"}
# what every request.* event carries: the request after the change
REQUEST = {"id": RID, "company_id": COMPANY["id"], "client_id": CLIENT["id"], "number": NUMBER,
           "type_id": TYPE["id"], "type": TYPE, "source": "portal",
           "symptom": "Plus d'eau chaude", "description": "Depuis hier soir, le voyant clignote.",
           "site_id": None, "status": "new", "created_by": CLIENT_USER,
           "created_by_role": "client", "created_by_technician_id": None,
           "created_at": "2026-03-03T13:30:00Z", "updated_at": "2026-03-03T13:30:00Z",
           "closed_at": None, "version": 1, "company": COMPANY, "client": CLIENT,
           "at": "2026-03-03T13:30:00Z", "by": CLIENT_USER, "by_role": "client"}
CREATED = REQUEST
CREATED_BY_PHONE = {**REQUEST, "source": "phone", "symptom": None, "description": None,
                    "created_by": MANAGER_USER, "created_by_role": "manager",
                    "by": MANAGER_USER, "by_role": "manager"}
ACTION = {"id": "a0000000-0000-4000-8000-000000000000", "status": "planned",
          "message": "Un technicien passera jeudi matin.\nMerci de laisser l'accès libre.",
          "channel": "email", "at": "2026-03-04T09:00:00Z"}
ACTION_ADDED = {**REQUEST, "status": "planned", "version": 2, "action": ACTION,
                "previous_status": "new", "updated_at": "2026-03-04T09:00:00Z",
                "at": "2026-03-04T09:00:00Z", "by": MANAGER_USER, "by_role": "manager"}
CLOSING_ACTION = {**ACTION, "status": "closed", "message": "La chaudière est réparée."}
CLOSED_BY_ACTION = {**ACTION_ADDED, "status": "closed", "closed_at": "2026-03-05T10:00:00Z",
                    "action": CLOSING_ACTION, "previous_status": "planned"}
CLOSED = {**CLOSED_BY_ACTION, "outcome": "closed", "reason": None}
CANCELLED = {**REQUEST, "status": "cancelled", "closed_at": "2026-03-04T09:00:00Z", "version": 2,
             "outcome": "cancelled", "reason": "Demande en double", "action": None,
             "at": "2026-03-04T09:00:00Z", "by": MANAGER_USER, "by_role": "admin"}
CANCELLED_BY_CLIENT = {**CANCELLED, "reason": None, "by": CLIENT_USER, "by_role": "client"}
REOPENED = {**REQUEST, "status": "in_progress", "closed_at": None, "version": 4,
            "reason": "La panne est revenue", "previous_status": "closed",
            "at": "2026-03-06T08:00:00Z", "by": CLIENT_USER, "by_role": "client"}
REOPENED_BY_STAFF = {**REOPENED, "previous_status": "cancelled", "by": MANAGER_USER,
                     "by_role": "manager", "reason": "Annulée par erreur"}
UPDATED = {**REQUEST, "changes": {"symptom": {"from": "Fuite", "to": "Plus d'eau chaude"}},
           "by": MANAGER_USER, "by_role": "manager"}

SIGNATURES = {"fr": "L'équipe Atelier Durand", "en": "The Atelier Durand team"}


def client_in(locale, data):
    return {**data, "client": {**data["client"], "locale": locale}}


def rendered(item):
    return render(item.template, item.language, item.context)


def recipients(items):
    return [(item.template, item.recipient, item.language) for item in items]


# --- request.created: the acknowledgement -------------------------------------------------

def test_a_new_request_is_acknowledged_to_the_client_in_french():
    [email] = requests.on_request_created(CREATED)
    assert recipients([email]) == [("request_created", "martin@example.test", "fr")]
    subject, body = rendered(email)
    assert subject == f"Votre demande {NUMBER} est enregistrée"
    assert body.startswith("Bonjour Mme Martin,")
    assert (f"Nous avons bien reçu votre demande « Dépannage chaudière » : elle est enregistrée "
            f"sous le numéro {NUMBER}.") in body
    assert "Symptôme : Plus d'eau chaude\n" in body
    assert "Description : Depuis hier soir, le voyant clignote.\n" in body
    assert "Nous vous tiendrons au courant de son avancement" in body
    assert "contactez-nous au 01 02 03 04 05 en indiquant ce numéro." in body
    assert f"Numéro de la demande : {NUMBER}" in body
    assert body.rstrip().endswith(SIGNATURES["fr"])


def test_a_new_request_is_acknowledged_in_english_to_an_english_speaking_client():
    [email] = requests.on_request_created(client_in("en", CREATED))
    assert recipients([email]) == [("request_created", "martin@example.test", "en")]
    subject, body = rendered(email)
    assert subject == f"Your request {NUMBER} has been received"
    assert body.startswith("Hello Mme Martin,")
    assert (f"We have received your request (Dépannage chaudière): it is recorded under the number "
            f"{NUMBER}.") in body
    assert "Symptom: Plus d'eau chaude\n" in body
    assert "Description: Depuis hier soir, le voyant clignote.\n" in body
    assert "We will keep you informed of its progress by email." in body
    assert body.rstrip().endswith(SIGNATURES["en"])


def test_a_request_recorded_by_the_staff_is_acknowledged_too_without_empty_lines():
    [email] = requests.on_request_created(CREATED_BY_PHONE)
    assert email.recipient == "martin@example.test"
    _, body = rendered(email)
    assert "Symptôme" not in body and "Description" not in body
    assert "\n\n\n" not in body and "None" not in body


@pytest.mark.parametrize("locale,language", [(None, "fr"), ("en-GB", "en"), ("de", "fr"),
                                             ("fr", "fr"), ("en", "en")])
def test_the_client_reads_its_language_french_by_default(locale, language):
    [email] = requests.on_request_created(client_in(locale, CREATED))
    assert email.language == language


# --- request.action_added: the message and the status -------------------------------------

@pytest.mark.parametrize("status,fr,en", [("in_progress", "En cours", "In progress"),
                                          ("planned", "Planifiée", "Planned"),
                                          ("closed", "Clôturée", "Closed")])
def test_an_action_emails_the_message_and_the_status_label(status, fr, en):
    data = {**ACTION_ADDED, "status": status, "action": {**ACTION, "status": status}}
    [french] = requests.on_request_action_added(data)
    [english] = requests.on_request_action_added(client_in("en", data))
    assert recipients([french, english]) == [("request_action", "martin@example.test", "fr"),
                                             ("request_action", "martin@example.test", "en")]
    subject, body = rendered(french)
    assert subject == f"Votre demande {NUMBER} : {fr}"
    assert body.startswith("Bonjour Mme Martin,")
    assert (f"Atelier Durand vous écrit au sujet de votre demande {NUMBER} "
            "« Dépannage chaudière » :") in body
    assert "Un technicien passera jeudi matin.\nMerci de laisser l'accès libre." in body
    assert f"Statut de la demande : {fr}\n" in body
    assert body.rstrip().endswith(SIGNATURES["fr"])
    subject, body = rendered(english)
    assert subject == f"Your request {NUMBER}: {en}"
    assert body.startswith("Hello Mme Martin,")
    assert f"Atelier Durand has written to you about your request {NUMBER} (Dépannage chaudière):" in body
    assert "Un technicien passera jeudi matin.\nMerci de laisser l'accès libre." in body
    assert f"Request status: {en}\n" in body
    assert body.rstrip().endswith(SIGNATURES["en"])


def test_a_closing_action_says_the_request_is_closed():
    [french] = requests.on_request_action_added(CLOSED_BY_ACTION)
    _, body = rendered(french)
    assert "La chaudière est réparée." in body
    assert "Votre demande est clôturée. Si le problème persiste" in body
    [english] = requests.on_request_action_added(client_in("en", CLOSED_BY_ACTION))
    assert "Your request is closed. If the problem persists" in rendered(english)[1]
    [planned] = requests.on_request_action_added(ACTION_ADDED)
    assert "clôturée" not in rendered(planned)[1]


def test_the_status_shown_is_the_actions():
    # the action's status is what the client reads (the request follows it)
    [email] = requests.on_request_action_added({**ACTION_ADDED, "status": "in_progress"})
    assert email.context["status"] == "planned" and email.context["status_label"] == "Planifiée"


# --- request.closed: a cancellation by the staff only -------------------------------------

def test_a_cancellation_by_the_staff_emails_the_client_with_the_reason():
    [french] = requests.on_request_closed(CANCELLED)
    [english] = requests.on_request_closed(client_in("en", CANCELLED))
    assert recipients([french, english]) == [("request_cancelled", "martin@example.test", "fr"),
                                             ("request_cancelled", "martin@example.test", "en")]
    subject, body = rendered(french)
    assert subject == f"Votre demande {NUMBER} est annulée"
    assert f"Votre demande {NUMBER} « Dépannage chaudière » a été annulée par Atelier Durand." in body
    assert "Motif de l'annulation : Demande en double" in body
    assert body.rstrip().endswith(SIGNATURES["fr"])
    subject, body = rendered(english)
    assert subject == f"Your request {NUMBER} has been cancelled"
    assert f"Your request {NUMBER} (Dépannage chaudière) has been cancelled by Atelier Durand." in body
    assert "Reason for cancellation: Demande en double" in body
    assert body.rstrip().endswith(SIGNATURES["en"])


@pytest.mark.parametrize("role", ["admin", "manager", "technician"])
def test_any_staff_cancellation_is_told(role):
    assert len(requests.on_request_closed({**CANCELLED, "by_role": role})) == 1


def test_a_client_who_cancelled_its_request_gets_nothing():
    assert requests.on_request_closed(CANCELLED_BY_CLIENT) == []
    assert requests.on_request_closed(client_in("en", {**CANCELLED, "by_role": "client"})) == []


def test_a_request_closed_by_an_action_sends_nothing_more():
    assert requests.on_request_closed(CLOSED) == []
    assert requests.on_request_closed({**CLOSED, "by_role": "admin"}) == []


def test_a_cancellation_without_a_reason_has_no_reason_line():
    [email] = requests.on_request_closed({**CANCELLED, "reason": None})
    _, body = rendered(email)
    assert "Motif" not in body and "\n\n\n" not in body and "None" not in body


# --- request.reopened ---------------------------------------------------------------------

def test_a_reopened_request_is_told_with_the_reason():
    [french] = requests.on_request_reopened(REOPENED)
    [english] = requests.on_request_reopened(client_in("en", REOPENED))
    assert recipients([french, english]) == [("request_reopened", "martin@example.test", "fr"),
                                             ("request_reopened", "martin@example.test", "en")]
    subject, body = rendered(french)
    assert subject == f"Votre demande {NUMBER} est rouverte"
    assert (f"Vous avez rouvert votre demande {NUMBER} « Dépannage chaudière » : elle est de "
            "nouveau en cours.") in body
    assert "Motif de la réouverture : La panne est revenue" in body
    assert body.rstrip().endswith(SIGNATURES["fr"])
    subject, body = rendered(english)
    assert subject == f"Your request {NUMBER} has been reopened"
    assert (f"You have reopened your request {NUMBER} (Dépannage chaudière): it is in progress "
            "again.") in body
    assert "Reason for reopening: La panne est revenue" in body
    assert body.rstrip().endswith(SIGNATURES["en"])


def test_a_request_reopened_by_the_staff_names_the_company():
    [french] = requests.on_request_reopened(REOPENED_BY_STAFF)
    _, body = rendered(french)
    assert f"Atelier Durand a rouvert votre demande {NUMBER}" in body
    assert "Motif de la réouverture : Annulée par erreur" in body
    [english] = requests.on_request_reopened(client_in("en", REOPENED_BY_STAFF))
    assert f"Atelier Durand has reopened your request {NUMBER}" in rendered(english)[1]


# --- nobody to email ------------------------------------------------------------------------

@pytest.mark.parametrize("rule,data", [
    (requests.on_request_created, CREATED), (requests.on_request_action_added, ACTION_ADDED),
    (requests.on_request_closed, CANCELLED), (requests.on_request_reopened, REOPENED)])
@pytest.mark.parametrize("client", [{**CLIENT, "email": None}, {**CLIENT, "email": ""},
                                    {**CLIENT, "email": "  "}, None])
def test_a_client_without_an_address_gets_nothing(rule, data, client):
    assert len(rule(data)) == 1
    assert rule({**data, "client": client}) == []


def test_only_the_client_is_emailed_never_the_company():
    for rule, data in [(requests.on_request_created, CREATED_BY_PHONE),
                       (requests.on_request_action_added, ACTION_ADDED),
                       (requests.on_request_closed, CANCELLED),
                       (requests.on_request_reopened, REOPENED_BY_STAFF)]:
        assert [item.recipient for item in rule(data)] == ["martin@example.test"]


def test_without_a_company_the_email_is_signed_fieldwork():
    [email] = requests.on_request_action_added({**ACTION_ADDED, "company": None})
    _, body = rendered(email)
    assert "Le prestataire vous écrit" in body and body.rstrip().endswith("L'équipe Fieldwork")
    [email] = requests.on_request_closed(client_in("en", {**CANCELLED, "company": None}))
    _, body = rendered(email)
    assert "cancelled by the provider." in body and body.rstrip().endswith("The Fieldwork team")


# --- both parts, every message ------------------------------------------------------------

EVERY = [("request.created", CREATED), ("request.created", CREATED_BY_PHONE),
         ("request.action_added", ACTION_ADDED), ("request.action_added", CLOSED_BY_ACTION),
         ("request.action_added", {**ACTION_ADDED, "status": "in_progress",
                                   "action": {**ACTION, "status": "in_progress"}}),
         ("request.closed", CANCELLED), ("request.closed", {**CANCELLED, "reason": None}),
         ("request.reopened", REOPENED), ("request.reopened", REOPENED_BY_STAFF),
         ("request.reopened", {**REOPENED, "client": {**CLIENT, "name": None}, "type": None})]
RULES = {"request.created": requests.on_request_created,
         "request.action_added": requests.on_request_action_added,
         "request.closed": requests.on_request_closed,
         "request.reopened": requests.on_request_reopened}


@pytest.mark.parametrize("locale", ["fr", "en"])
@pytest.mark.parametrize("event_type,data", EVERY)
def test_every_request_email_renders_in_both_languages_and_is_signed(event_type, data, locale):
    [item] = RULES[event_type](client_in(locale, data))
    assert item.language == locale
    email = render_email(item.template, item.language, item.context)
    assert NUMBER in email.subject and NUMBER in email.text
    assert "\n\n\n" not in email.text and "None" not in email.text
    assert email.text.rstrip().endswith(SIGNATURES[locale])
    assert f'<html lang="{locale}">' in email.html and NUMBER in email.html


def test_values_are_escaped_in_the_html_part():
    hostile = {**ACTION_ADDED, "action": {**ACTION, "message": '<script>alert("x")</script> & co'}}
    [item] = requests.on_request_action_added(hostile)
    email = render_email(item.template, item.language, item.context)
    assert '<script>alert("x")</script> & co' in email.text
    assert "<script>" not in email.html and "&lt;script&gt;" in email.html


# --- the service's handlers ---------------------------------------------------------------

HANDLED = {"request.created": "on_request_created",
           "request.action_added": "on_request_action_added",
           "request.closed": "on_request_closed",
           "request.reopened": "on_request_reopened"}


def test_the_service_subscribes_to_exactly_the_request_events_it_emails_about(subscriptions):
    # request.updated sends nothing: not subscribed
    assert {event: name for (source, event), name in subscriptions.items()
            if source == "requests"} == HANDLED


def test_the_declared_topology_lists_the_request_subscriptions():
    declared = {(s.event_type, s.method) for s in topology.SUBSCRIPTIONS
                if s.source == "requests" and s.service == "notifications"}
    assert declared == set(HANDLED.items())


def envelope(event_type, data):
    return {"event_id": "e0e0e0e0-0000-4000-8000-000000000000", "event_type": event_type,
            "event_version": 1, "occurred_at": data["at"], "producer": "requests",
            "aggregate_id": data["id"], "data": data,
            "correlation_id": "cc0c0c0c-0000-4000-8000-000000000000"}


@pytest.mark.parametrize("event_type,data,template,language", [
    ("request.created", CREATED, "request_created", "fr"),
    ("request.action_added", client_in("en", ACTION_ADDED), "request_action", "en"),
    ("request.closed", CANCELLED, "request_cancelled", "fr"),
    ("request.reopened", client_in("en", REOPENED), "request_reopened", "en"),
])
def test_each_handler_records_its_email_and_sends_it(handle, event_type, data, template, language):
    method = HANDLED[event_type]
    done = handle(method, envelope(event_type, data))
    assert done.consumers == [f"notifications.{method}"]
    [row] = done.rows
    assert (row.recipient, row.template, row.event_id) == (
        "martin@example.test", template, envelope(event_type, data)["event_id"])
    assert NUMBER in row.subject and NUMBER in row.body and row.html_body
    assert row.body.rstrip().endswith(SIGNATURES[language])
    [(args, kwargs)] = done.sent
    assert (args[0], args[1], args[2]) == ("martin@example.test", row.subject, row.body)
    assert kwargs["html"] == row.html_body


def test_the_sent_action_email_carries_the_message_and_status_in_the_clients_language(handle):
    done = handle("on_request_action_added", envelope("request.action_added",
                                                      client_in("en", ACTION_ADDED)))
    [row] = done.rows
    assert row.subject == f"Your request {NUMBER}: Planned"
    assert "Un technicien passera jeudi matin." in row.body and "Request status: Planned" in row.body
    assert "Un technicien passera jeudi matin." in row.html_body


@pytest.mark.parametrize("method,event_type,data", [
    ("on_request_closed", "request.closed", CANCELLED_BY_CLIENT),
    ("on_request_closed", "request.closed", CLOSED),
    ("on_request_created", "request.created", {**CREATED, "client": {**CLIENT, "email": None}}),
    ("on_request_action_added", "request.action_added", {**ACTION_ADDED, "client": None}),
])
def test_an_event_that_emails_nobody_is_still_recorded_as_handled(handle, method, event_type, data):
    done = handle(method, envelope(event_type, data))
    assert done.consumers == [f"notifications.{method}"]
    assert done.rows == [] and done.sent == []


def test_an_event_already_handled_sends_nothing_again(handle):
    done = handle("on_request_created", envelope("request.created", CREATED), first_time=False)
    assert done.rows == [] and done.sent == []


def test_an_update_sends_nothing():
    assert not hasattr(NotificationsService, "on_request_updated")
    assert "request.updated" not in HANDLED and UPDATED["changes"]


def test_an_automatic_closing_tells_the_client_how_to_reopen():
    data = {**REOPENED, "status": "closed", "outcome": "auto_closed", "reason": None,
            "action": None, "by": "system", "by_role": "system"}
    [french] = requests.on_request_closed(data)
    [english] = requests.on_request_closed(client_in("en", data))
    assert (french.template, english.template) == ("request_auto_closed", "request_auto_closed")
    subject, body = rendered(french)
    assert subject == f"Votre demande {NUMBER} est clôturée"
    assert "clôturée automatiquement" in body and "rouvrir" in body
    subject, body = rendered(english)
    assert subject == f"Your request {NUMBER} is closed"
    assert "closed automatically" in body and "reopen it" in body
