"""The emails of the incidents on a visit and of their conversations (seed
004): which event emails whom, in which language, and what the rendered
email says (the reason, the moment, who declared it, the new state and its
reason, the author's side, the message and its files)."""
import pytest

from fieldwork_notifications.domain import incidents
from fieldwork_notifications.templates import render, render_email

IID = "0123abcd-0000-4000-8000-000000000000"
VID = "5a000000-0000-4000-8000-000000000000"
INCIDENT_ID = "1c000000-0000-4000-8000-000000000000"
CONVERSATION_ID = "cc000000-0000-4000-8000-000000000000"
TECH_USER = "u7000000-0000-4000-8000-000000000000"
CLIENT_USER = "u1000000-0000-4000-8000-000000000000"
MANAGER_USER = "u0000000-0000-4000-8000-000000000000"
COMPANY = {"id": "c0000000-0000-4000-8000-000000000000", "name": "Atelier Durand",
           "email": "gestion@example.test", "phone": "01 02 03 04 05",
           "address": "1 rue de la Paix, Paris"}
CLIENT = {"id": "c1000000-0000-4000-8000-000000000000", "name": "Mme Martin",
          "email": "martin@example.test", "locale": "fr"}
TECH = {"id": "7e000000-0000-4000-8000-000000000000", "name": "Paul", "email": "paul@example.test"}
TYPE = {"id": "70000000-0000-4000-8000-000000000000", "name": "Aide ménagère", "location": "at_home"}
REASON = {"id": "r0000000-0000-4000-8000-000000000000", "code": "absent", "label": "Client absent"}
# what incident.declared and incident.updated carry: the incident after the change
INCIDENT = {"id": INCIDENT_ID, "visit_id": VID, "intervention_id": IID,
            "company_id": COMPANY["id"], "client_id": CLIENT["id"], "technician_id": TECH["id"],
            "type_id": TYPE["id"], "conversation_id": CONVERSATION_ID, "reason": REASON,
            "moment": "start", "description": "Porte fermée, personne ne répond", "state": "open",
            "clocking_id": None, "author_id": TECH_USER, "author_role": "technician",
            "created_at": "2026-03-03T13:40:00Z", "state_since": "2026-03-03T13:40:00Z",
            "version": 1, "reference": "0123ABCD",
            "visit": {"start_at": "2026-03-03T13:30:00Z", "end_at": "2026-03-03T15:00:00Z"},
            "company": COMPANY, "client": CLIENT, "technician": TECH, "type": TYPE,
            "at": "2026-03-03T13:40:00Z", "by": TECH_USER, "by_role": "technician",
            "from_state": None, "state_reason": None}
DECLARED = INCIDENT
DECLARED_BY_CLIENT = {**INCIDENT, "author_id": CLIENT_USER, "author_role": "client",
                      "by": CLIENT_USER, "by_role": "client", "moment": "end"}
DECLARED_BY_STAFF = {**INCIDENT, "author_id": MANAGER_USER, "author_role": "manager",
                     "by": MANAGER_USER, "by_role": "manager", "description": None}
UPDATED = {**INCIDENT, "state": "acknowledged", "from_state": "open", "version": 2,
           "at": "2026-03-03T15:30:00Z", "by": MANAGER_USER, "by_role": "manager",
           "state_since": "2026-03-03T15:30:00Z"}
CANCELLED = {**UPDATED, "state": "cancelled", "from_state": "acknowledged",
             "state_reason": "Déclaré par erreur"}
RESOLVED_FOR_CLIENT = {**DECLARED_BY_CLIENT, "state": "resolved", "from_state": "open",
                       "by": MANAGER_USER, "by_role": "admin",
                       "state_reason": "Nouveau passage prévu jeudi"}
# what conversation.message_posted carries
MESSAGE = {"id": "m0000000-0000-4000-8000-000000000000", "conversation_id": CONVERSATION_ID,
           "incident_id": INCIDENT_ID, "visit_id": VID, "intervention_id": IID,
           "company_id": COMPANY["id"], "client_id": CLIENT["id"], "technician_id": TECH["id"],
           "author_id": CLIENT_USER, "author_role": "client",
           "body": "Je serai là à 15h.\nLe code de la porte est 1234.", "internal": False,
           "file_ids": ["f0000000-0000-4000-8000-000000000000", "f1000000-0000-4000-8000-000000000000"],
           "created_at": "2026-03-03T14:00:00Z", "reference": "0123ABCD",
           "incident": {"id": INCIDENT_ID, "state": "open", "reason": REASON},
           "company": COMPANY, "client": CLIENT, "technician": TECH}
MESSAGE_OF_TECH = {**MESSAGE, "author_id": TECH_USER, "author_role": "technician",
                   "body": "J'arrive.", "file_ids": []}
MESSAGE_OF_STAFF = {**MESSAGE, "author_id": MANAGER_USER, "author_role": "manager",
                    "body": "Nous rappelons la cliente.", "file_ids": ["f0000000-0000-4000-8000-000000000000"]}
INTERNAL = {**MESSAGE_OF_TECH, "internal": True, "body": "Client difficile, prévoir deux personnes."}

FR_TIMES = "le mardi 3 mars 2026 de 14h30 à 16h00 (heure de Paris, UTC+1)"
EN_TIMES = "on Tuesday 3 March 2026 from 14:30 to 16:00 (Paris time, UTC+1)"


def client_in(locale, data):
    return {**data, "client": {**data["client"], "locale": locale}}


def rendered(item):
    subject, body = render(item.template, item.language, item.context)
    return subject, body


def recipients(items):
    return [(item.recipient, item.language) for item in items]


# --- incident.declared: the provider, the technician and the client -----------------------

def test_an_incident_the_technician_declared_goes_to_the_provider_and_the_client():
    provider, client = incidents.on_incident_declared(client_in("en", DECLARED))
    assert (provider.template, provider.recipient, provider.language) == (
        "incident_declared", "gestion@example.test", "fr")
    assert (client.template, client.recipient, client.language) == (
        "incident_declared", "martin@example.test", "en")
    subject, body = rendered(provider)
    assert subject == "Incident déclaré sur l'intervention du 3 mars 2026 (réf. 0123ABCD)"
    assert body.startswith("Bonjour,")
    assert (f"Un incident a été déclaré sur l'intervention « Aide ménagère » prévue {FR_TIMES} "
            "chez Mme Martin.") in body
    assert "Motif : Client absent" in body
    assert "Moment : en début d'intervention\n" in body
    assert "Description : Porte fermée, personne ne répond" in body
    assert "Déclaré par : Paul (intervenant)" in body
    assert "Une conversation est ouverte pour cet incident" in body
    assert "avec le client et l'intervenant depuis le suivi des incidents" in body
    assert "Référence de l'intervention : 0123ABCD" in body
    assert body.rstrip().endswith("L'équipe Atelier Durand")
    subject, body = rendered(client)
    assert subject == "Incident reported on the visit of 3 March 2026 (ref. 0123ABCD)"
    assert body.startswith("Hello Mme Martin,")
    assert f"An incident has been reported on your visit (Aide ménagère) planned {EN_TIMES}." in body
    assert "Reason: Client absent" in body and "When: at the start of the visit\n" in body
    assert "Description: Porte fermée, personne ne répond" in body
    assert "Reported by: Paul (technician)" in body
    assert "A conversation is open for this incident" in body and "customer portal" in body
    assert body.rstrip().endswith("The Atelier Durand team")


def test_an_incident_the_client_declared_goes_to_the_provider_and_the_technician():
    provider, technician = incidents.on_incident_declared(client_in("en", DECLARED_BY_CLIENT))
    assert recipients([provider, technician]) == [("gestion@example.test", "fr"),
                                                  ("paul@example.test", "fr")]
    subject, body = rendered(technician)
    assert subject == "Incident déclaré sur l'intervention du 3 mars 2026 (réf. 0123ABCD)"
    assert body.startswith("Bonjour Paul,")
    assert "Moment : en fin d'intervention" in body
    assert "Déclaré par : Mme Martin (client)" in body
    assert "avec le client et le prestataire depuis votre portail intervenant" in body


def test_an_incident_the_staff_declared_goes_to_everyone():
    provider, technician, client = incidents.on_incident_declared(DECLARED_BY_STAFF)
    assert recipients([provider, technician, client]) == [
        ("gestion@example.test", "fr"), ("paul@example.test", "fr"), ("martin@example.test", "fr")]
    _, body = rendered(client)
    assert "Déclaré par : Atelier Durand (prestataire)" in body
    assert "votre intervention « Aide ménagère »" in body and "chez Mme Martin" not in body
    assert "avec l'intervenant et le prestataire depuis votre portail client" in body
    assert "Description" not in body


def test_an_incident_declared_with_a_clocking_says_so():
    [provider, _] = incidents.on_incident_declared({**DECLARED, "clocking_id": "k0000000-0000-4000-8000-000000000000"})
    assert "Moment : en début d'intervention (déclaré avec le pointage)" in rendered(provider)[1]
    [_, client] = incidents.on_incident_declared(client_in("en", {**DECLARED, "clocking_id": "k1"}))
    assert "When: at the start of the visit (reported with the clocking)" in rendered(client)[1]


def test_without_names_the_declarer_is_named_by_its_side():
    nameless = {**DECLARED_BY_CLIENT, "client": {**CLIENT, "name": None}}
    [_, technician] = incidents.on_incident_declared(nameless)
    _, body = rendered(technician)
    assert "Déclaré par : le client" in body and "chez" not in body
    assert "Bonjour Paul," in body


def test_no_declared_email_to_a_recipient_without_an_address():
    assert recipients(incidents.on_incident_declared(
        {**DECLARED, "company": {**COMPANY, "email": None}})) == [("martin@example.test", "fr")]
    assert recipients(incidents.on_incident_declared(
        {**DECLARED, "client": {**CLIENT, "email": ""}})) == [("gestion@example.test", "fr")]
    assert recipients(incidents.on_incident_declared(
        {**DECLARED_BY_CLIENT, "technician": {**TECH, "email": None}})) == [("gestion@example.test", "fr")]
    assert incidents.on_incident_declared({**DECLARED, "company": {**COMPANY, "email": None},
                                           "client": {**CLIENT, "email": None}}) == []


def test_one_address_gets_one_email_per_event():
    # a technician working from the company's address: one reader
    shared = {**DECLARED_BY_CLIENT, "technician": {**TECH, "email": "Gestion@Example.test"}}
    assert recipients(incidents.on_incident_declared(shared)) == [("gestion@example.test", "fr")]


# --- incident.updated: the declarer --------------------------------------------------------

def test_an_acknowledged_incident_is_told_to_the_technician_who_declared_it():
    [email] = incidents.on_incident_updated(client_in("en", UPDATED))
    assert (email.template, email.recipient, email.language) == (
        "incident_updated", "paul@example.test", "fr")
    subject, body = rendered(email)
    assert subject == "Incident pris en compte : intervention du 3 mars 2026 (réf. 0123ABCD)"
    assert body.startswith("Bonjour Paul,")
    assert (f"L'incident que vous avez déclaré sur l'intervention « Aide ménagère » prévue {FR_TIMES} "
            "chez Mme Martin a été pris en compte par Atelier Durand.") in body
    assert "Motif de l'incident : Client absent" in body
    assert "conversation de l'incident, depuis votre portail intervenant" in body
    assert body.rstrip().endswith("L'équipe Atelier Durand")


@pytest.mark.parametrize("state,fr_subject,en_subject,fr_said,en_said", [
    ("acknowledged", "Incident pris en compte", "Incident acknowledged", "a été pris en compte par",
     "has been acknowledged by"),
    ("resolved", "Incident résolu", "Incident resolved", "a été résolu par", "has been resolved by"),
    ("closed", "Incident clôturé", "Incident closed", "a été clôturé par", "has been closed by"),
    ("cancelled", "Incident annulé", "Incident cancelled", "a été annulé par", "has been cancelled by"),
])
def test_each_new_state_is_worded_in_the_clients_language(state, fr_subject, en_subject, fr_said,
                                                           en_said):
    data = {**RESOLVED_FOR_CLIENT, "state": state}
    [french] = incidents.on_incident_updated(data)
    [english] = incidents.on_incident_updated(client_in("en", data))
    assert recipients([french, english]) == [("martin@example.test", "fr"), ("martin@example.test", "en")]
    subject, body = rendered(french)
    assert subject == f"{fr_subject} : intervention du 3 mars 2026 (réf. 0123ABCD)"
    assert body.startswith("Bonjour Mme Martin,")
    assert f"votre intervention « Aide ménagère » prévue {FR_TIMES} {fr_said} Atelier Durand." in body
    subject, body = rendered(english)
    assert subject == f"{en_subject}: visit of 3 March 2026 (ref. 0123ABCD)"
    assert body.startswith("Hello Mme Martin,")
    assert f"your visit (Aide ménagère) planned {EN_TIMES} {en_said} Atelier Durand." in body


@pytest.mark.parametrize("locale,state,line", [
    ("fr", "cancelled", "Motif de l'annulation : Nouveau passage prévu jeudi"),
    ("en", "cancelled", "Reason for cancellation: Nouveau passage prévu jeudi"),
    ("fr", "resolved", "Résolution : Nouveau passage prévu jeudi"),
    ("en", "resolved", "Resolution: Nouveau passage prévu jeudi"),
    ("fr", "closed", "Commentaire : Nouveau passage prévu jeudi"),
    ("en", "closed", "Comment: Nouveau passage prévu jeudi"),
])
def test_the_reason_given_with_the_change_is_shown(locale, state, line):
    [email] = incidents.on_incident_updated(client_in(locale, {**RESOLVED_FOR_CLIENT, "state": state}))
    assert line in rendered(email)[1]


def test_without_a_reason_for_the_change_there_is_no_such_line():
    [email] = incidents.on_incident_updated({**CANCELLED, "state_reason": None})
    _, body = rendered(email)
    assert "Motif de l'annulation" not in body and "Vous n'avez rien à faire." in body


def test_the_change_names_who_made_it():
    [email] = incidents.on_incident_updated({**DECLARED_BY_CLIENT, "state": "cancelled",
                                             "from_state": "open", "by": TECH_USER,
                                             "by_role": "technician"})
    assert "a été annulé par Paul." in rendered(email)[1]
    [email] = incidents.on_incident_updated({**UPDATED, "company": {**COMPANY, "name": ""}})
    _, body = rendered(email)
    assert "a été pris en compte par le prestataire." in body
    assert body.rstrip().endswith("L'équipe Fieldwork")


def test_the_declarer_who_made_the_change_gets_nothing():
    assert incidents.on_incident_updated({**CANCELLED, "by": TECH_USER, "by_role": "technician"}) == []
    assert incidents.on_incident_updated({**RESOLVED_FOR_CLIENT, "state": "cancelled",
                                          "by": CLIENT_USER, "by_role": "client"}) == []


def test_an_incident_the_staff_declared_emails_nobody_on_a_change():
    assert incidents.on_incident_updated({**DECLARED_BY_STAFF, "state": "resolved",
                                          "from_state": "open", "by": TECH_USER,
                                          "by_role": "technician"}) == []


@pytest.mark.parametrize("state,from_state", [("open", "acknowledged"), ("open", None),
                                              ("acknowledged", "acknowledged"), ("reopened", "closed")])
def test_other_states_or_no_change_of_state_email_nobody(state, from_state):
    assert incidents.on_incident_updated({**UPDATED, "state": state, "from_state": from_state}) == []


def test_no_updated_email_to_a_declarer_without_an_address():
    assert incidents.on_incident_updated({**UPDATED, "technician": {**TECH, "email": None}}) == []
    assert incidents.on_incident_updated({**RESOLVED_FOR_CLIENT, "client": {**CLIENT, "email": ""}}) == []


# --- conversation.message_posted: every participant but the author ------------------------

def test_a_clients_message_goes_to_the_technician_and_the_provider():
    technician, provider = incidents.on_conversation_message_posted(client_in("en", MESSAGE))
    assert (technician.template, technician.recipient, technician.language) == (
        "conversation_message", "paul@example.test", "fr")
    assert (provider.template, provider.recipient, provider.language) == (
        "conversation_message", "gestion@example.test", "fr")
    subject, body = rendered(technician)
    assert subject == "Nouveau message sur l'incident « Client absent » (réf. 0123ABCD)"
    assert body.startswith("Bonjour Paul,")
    assert "Mme Martin (client) a écrit dans la conversation de l'incident « Client absent » :" in body
    assert "Je serai là à 15h.\nLe code de la porte est 1234." in body
    assert "2 pièces jointes, à consulter dans la conversation." in body
    assert "depuis votre portail intervenant" in body
    assert "Référence de l'intervention : 0123ABCD" in body
    assert body.rstrip().endswith("L'équipe Atelier Durand")
    _, body = rendered(provider)
    assert body.startswith("Bonjour,") and "depuis le suivi des incidents" in body


def test_a_technicians_message_goes_to_the_client_and_the_provider():
    client, provider = incidents.on_conversation_message_posted(client_in("en", MESSAGE_OF_TECH))
    assert recipients([client, provider]) == [("martin@example.test", "en"), ("gestion@example.test", "fr")]
    subject, body = rendered(client)
    assert subject == "New message on an incident: Client absent (ref. 0123ABCD)"
    assert body.startswith("Hello Mme Martin,")
    assert ("Paul (technician) has written in the conversation of the incident (Client absent):"
            "\n\nJ'arrive.") in body
    assert "attached" not in body and "from your customer portal" in body
    assert body.rstrip().endswith("The Atelier Durand team")


def test_a_staff_message_goes_to_the_client_and_the_technician_not_to_the_provider():
    client, technician = incidents.on_conversation_message_posted(MESSAGE_OF_STAFF)
    assert recipients([client, technician]) == [("martin@example.test", "fr"), ("paul@example.test", "fr")]
    _, body = rendered(client)
    assert "Atelier Durand (prestataire) a écrit" in body
    assert "1 pièce jointe, à consulter dans la conversation." in body
    assert "depuis votre portail client" in body
    [client] = incidents.on_conversation_message_posted(client_in("en", {**MESSAGE_OF_STAFF,
                                                                           "technician": {}}))
    assert "1 attached file, to view in the conversation." in rendered(client)[1]


def test_an_internal_message_never_reaches_the_client():
    [provider] = incidents.on_conversation_message_posted(INTERNAL)
    assert recipients([provider]) == [("gestion@example.test", "fr")]
    _, body = rendered(provider)
    assert "un message interne, que le client ne voit pas :" in body
    [technician] = incidents.on_conversation_message_posted({**INTERNAL, "author_id": MANAGER_USER,
                                                             "author_role": "admin"})
    assert technician.recipient == "paul@example.test"
    assert incidents.on_conversation_message_posted({**INTERNAL, "author_role": "manager",
                                                     "technician": {**TECH, "email": None}}) == []


def test_a_message_without_text_says_who_wrote_and_its_files():
    [client, _] = incidents.on_conversation_message_posted({**MESSAGE_OF_TECH, "body": "",
                                                            "file_ids": ["f0"]})
    _, body = rendered(client)
    assert "Paul (intervenant) a écrit dans la conversation de l'incident « Client absent »." in body
    assert "1 pièce jointe" in body


def test_no_message_email_to_a_recipient_without_an_address():
    assert recipients(incidents.on_conversation_message_posted(
        {**MESSAGE, "technician": {**TECH, "email": None}})) == [("gestion@example.test", "fr")]
    assert recipients(incidents.on_conversation_message_posted(
        {**MESSAGE_OF_TECH, "client": {**CLIENT, "email": None}})) == [("gestion@example.test", "fr")]
    assert incidents.on_conversation_message_posted(
        {**MESSAGE, "technician": {}, "company": {**COMPANY, "email": ""}}) == []


# --- both parts, every message ------------------------------------------------------------

EVERY = [("incident.declared", DECLARED), ("incident.declared", DECLARED_BY_CLIENT),
         ("incident.declared", DECLARED_BY_STAFF),
         ("incident.declared", {**DECLARED, "clocking_id": "k0", "moment": "end"}),
         *[("incident.updated", {**RESOLVED_FOR_CLIENT, "state": state})
           for state in incidents.NOTIFIED_STATES],
         *[("incident.updated", {**UPDATED, "state": state, "state_reason": None})
           for state in incidents.NOTIFIED_STATES],
         ("conversation.message_posted", MESSAGE), ("conversation.message_posted", MESSAGE_OF_TECH),
         ("conversation.message_posted", MESSAGE_OF_STAFF), ("conversation.message_posted", INTERNAL),
         ("conversation.message_posted", {**MESSAGE, "body": "", "file_ids": []})]
RULES = {"incident.declared": incidents.on_incident_declared,
         "incident.updated": incidents.on_incident_updated,
         "conversation.message_posted": incidents.on_conversation_message_posted}


@pytest.mark.parametrize("language", ["fr", "en"])
@pytest.mark.parametrize("event_type,data", EVERY)
def test_every_incident_email_renders_in_both_languages_and_is_signed(event_type, data, language):
    items = RULES[event_type](data)
    assert items
    for item in items:
        email = render_email(item.template, language, item.context)
        assert email.subject and "0123ABCD" in email.subject
        assert "\n\n\n" not in email.text and "None" not in email.text
        assert email.text.rstrip().endswith(
            "L'équipe Atelier Durand" if language == "fr" else "The Atelier Durand team")
        assert f'<html lang="{language}">' in email.html


def test_values_are_escaped_in_the_html_part():
    hostile = {**MESSAGE_OF_TECH, "body": '<script>alert("x")</script> & co'}
    [client, _] = incidents.on_conversation_message_posted(hostile)
    email = render_email(client.template, client.language, client.context)
    assert '<script>alert("x")</script> & co' in email.text
    assert "<script>" not in email.html and "&lt;script&gt;" in email.html


# --- the service's handlers ---------------------------------------------------------------

HANDLED = {"incident.declared": "on_incident_declared", "incident.updated": "on_incident_updated",
           "conversation.message_posted": "on_conversation_message_posted"}


def test_the_service_subscribes_to_the_incident_and_conversation_events_of_timeclock(subscriptions):
    assert {event: name for (source, event), name in subscriptions.items()
            if source == "timeclock"} == HANDLED


def envelope(event_type, data):
    return {"event_id": "e0e0e0e0-0000-4000-8000-000000000000", "event_type": event_type,
            "event_version": 1, "occurred_at": "2026-03-03T15:30:00Z", "producer": "timeclock",
            "aggregate_id": data["id"], "data": data,
            "correlation_id": "cc0c0c0c-0000-4000-8000-000000000000"}


@pytest.mark.parametrize("event_type,data,template,addresses", [
    ("incident.declared", DECLARED, "incident_declared", ["gestion@example.test", "martin@example.test"]),
    ("incident.updated", UPDATED, "incident_updated", ["paul@example.test"]),
    ("conversation.message_posted", MESSAGE, "conversation_message",
     ["paul@example.test", "gestion@example.test"]),
])
def test_each_handler_records_its_emails_and_sends_them(handle, event_type, data, template,
                                                        addresses):
    method = HANDLED[event_type]
    done = handle(method, envelope(event_type, data))
    done.assert_emailed(method, envelope(event_type, data)["event_id"], template, addresses)


def test_an_event_that_emails_nobody_is_still_recorded_as_handled(handle):
    done = handle("on_incident_updated", envelope("incident.updated", {**CANCELLED, "by": TECH_USER}))
    assert done.consumers == ["notifications.on_incident_updated"]
    assert done.rows == [] and done.sent == []


def test_an_event_already_handled_sends_nothing_again(handle):
    done = handle("on_conversation_message_posted", envelope("conversation.message_posted", MESSAGE), first_time=False)
    assert done.rows == [] and done.sent == []
