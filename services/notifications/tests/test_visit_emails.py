"""The emails of a visit's validation (seed 001): which event emails whom, in
which language, and what the rendered email says (times in the
recipient's language and Paris time, km, the reason's label, the tacit
validation date)."""
import pytest

from fieldwork_notifications.domain import dates, visits
from fieldwork_notifications.templates import render, render_email

IID = "0123abcd-0000-4000-8000-000000000000"
VID = "5a000000-0000-4000-8000-000000000000"
COMPANY = {"id": "c0000000-0000-4000-8000-000000000000", "name": "Atelier Durand",
           "email": "gestion@example.test", "phone": "01 02 03 04 05",
           "address": "1 rue de la Paix, Paris"}
CLIENT = {"id": "c1000000-0000-4000-8000-000000000000", "name": "Mme Martin",
          "email": "martin@example.test", "locale": "fr"}
TECH = {"id": "7e000000-0000-4000-8000-000000000000", "name": "Paul", "email": "paul@example.test"}
TYPE = {"id": "70000000-0000-4000-8000-000000000000", "name": "Aide ménagère", "location": "at_home"}
# what every visit event carries (docs/events.md): the visit after the change
VISIT = {"id": VID, "intervention_id": IID, "reference": "0123ABCD", "company_id": COMPANY["id"],
         "client_id": CLIENT["id"], "technician_id": TECH["id"], "type_id": TYPE["id"],
         "contract_id": "c2000000-0000-4000-8000-000000000000", "state": "done",
         "start_at": "2026-03-03T13:30:00Z", "end_at": "2026-03-03T15:00:00Z", "km": 12.5,
         "comment": "Vitres faites", "mission_order": None, "version": 2,
         "at": "2026-03-03T16:00:00Z", "by": "u0000000-0000-4000-8000-000000000000",
         "by_role": "technician", "company": COMPANY, "client": CLIENT, "technician": TECH,
         "type": TYPE}
PROPOSAL = {"start_at": "2026-03-03T13:30:00Z", "end_at": "2026-03-03T14:30:00Z", "km": 8}

DECLARED = {**VISIT, "outcome": "done", "reason": None}
DECLARED_CANCELLED = {**VISIT, "state": "cancelled", "outcome": "cancelled", "comment": None,
                      "km": None, "reason": {"id": "r1", "label": "Client absent"}}
DISPUTED = {**VISIT, "state": "disputed", "by_role": "client",
            "reason": {"id": "r2", "label": "Horaires inexacts"}, "proposal": PROPOSAL}
DISPUTE_REFUSED = {**VISIT, "state": "arbitration", "proposal": PROPOSAL,
                   "answer_comment": "Je suis bien resté 1h30"}
# the values kept (the client's here) are the visit's own after the decision
ARBITRATED = {**VISIT, "state": "validated", "by_role": "manager", "end_at": "2026-03-03T14:30:00Z",
              "km": 8, "decision": "client", "arbitration_reason": "Le badge confirme 1h"}
REMINDER = {**VISIT, "stage": "client", "waiting_since": "2026-03-03T16:00:00Z",
            "tacit_at": "2026-03-17T16:00:00Z"}

FR_TIMES = "le mardi 3 mars 2026 de 14h30 à 16h00 (heure de Paris, UTC+1)"
EN_TIMES = "on Tuesday 3 March 2026 from 14:30 to 16:00 (Paris time, UTC+1)"
FR_PROPOSED = "le mardi 3 mars 2026 de 14h30 à 15h30 (heure de Paris, UTC+1)"
EN_PROPOSED = "on Tuesday 3 March 2026 from 14:30 to 15:30 (Paris time, UTC+1)"


def client_in(locale, data):
    return {**data, "client": {**data["client"], "locale": locale}}


def rendered(item):
    subject, body = render(item.template, item.language, item.context)
    return subject, body


# --- times and km as a recipient reads them ----------------------------------------------

@pytest.mark.parametrize("start,end,language,text", [
    ("2026-03-03T13:30:00Z", "2026-03-03T15:00:00Z", "fr", FR_TIMES),
    ("2026-03-03T13:30:00Z", "2026-03-03T15:00:00Z", "en", EN_TIMES),
    ("2026-07-01T07:05:00Z", "2026-07-01T09:00:00Z", "fr",
     "le mercredi 1er juillet 2026 de 9h05 à 11h00 (heure de Paris, UTC+2)"),
    ("2026-07-01T07:05:00Z", "2026-07-01T09:00:00Z", "en",
     "on Wednesday 1 July 2026 from 09:05 to 11:00 (Paris time, UTC+2)"),
    # overnight: both moments in full
    ("2026-03-03T21:30:00Z", "2026-03-04T01:00:00Z", "fr",
     "du mardi 3 mars 2026 à 22h30 (heure de Paris, UTC+1) au mercredi 4 mars 2026 à 2h00 "
     "(heure de Paris, UTC+1)"),
    ("2026-03-03T21:30:00Z", "2026-03-04T01:00:00Z", "en",
     "from Tuesday 3 March 2026 at 22:30 (Paris time, UTC+1) to Wednesday 4 March 2026 at 02:00 "
     "(Paris time, UTC+1)"),
    # the clocks change during the visit: each end names its own offset
    ("2026-03-29T00:30:00Z", "2026-03-29T02:00:00Z", "fr",
     "du dimanche 29 mars 2026 à 1h30 (heure de Paris, UTC+1) au dimanche 29 mars 2026 à 4h00 "
     "(heure de Paris, UTC+2)"),
])
def test_a_visits_times_are_one_period_in_paris_time(start, end, language, text):
    assert dates.format_period(start, end, language) == text


@pytest.mark.parametrize("km,language,text", [
    (12.5, "fr", "12,5 km"), (12.5, "en", "12.5 km"), (12, "fr", "12 km"), (12.0, "en", "12 km"),
    (0, "fr", "0 km"), ("7.25", "en", "7.2 km"), (None, "fr", None), (None, "en", None),
])
def test_km_in_the_recipients_language(km, language, text):
    assert visits.format_km(km, language) == text


def test_the_day_of_a_subject_says_1er_in_french():
    assert dates.format_day("2026-07-01T07:05:00Z", "fr") == "1er juillet 2026"
    assert dates.format_day("2026-07-01T07:05:00Z", "en") == "1 July 2026"
    assert dates.format_day("2026-03-03T23:30:00Z", "fr") == "4 mars 2026"  # Paris day


# --- visit.declared: the client -----------------------------------------------------------

def test_a_visit_declared_done_asks_the_client_to_validate_it():
    [email] = visits.on_visit_declared(DECLARED)
    assert (email.template, email.recipient, email.language) == (
        "visit_declared", "martin@example.test", "fr")
    subject, body = rendered(email)
    assert subject == "Intervention du 3 mars 2026 à valider (réf. 0123ABCD)"
    assert body.startswith("Bonjour Mme Martin,")
    assert "Paul a déclaré réalisée l'intervention « Aide ménagère »" in body
    assert f"Horaires : {FR_TIMES}" in body
    assert "Kilomètres parcourus : 12,5 km" in body
    assert "Commentaire de l'intervenant : Vitres faites" in body
    assert "valider depuis votre portail client" in body and "motif de refus" in body
    assert body.rstrip().endswith("L'équipe Atelier Durand")


def test_a_visit_declared_done_in_english():
    [email] = visits.on_visit_declared(client_in("en-GB", DECLARED))
    assert email.language == "en"
    subject, body = rendered(email)
    assert subject == "Visit of 3 March 2026 to validate (ref. 0123ABCD)"
    assert f"Times: {EN_TIMES}" in body
    assert "Distance travelled: 12.5 km" in body
    assert "Technician's comment: Vitres faites" in body
    assert "validate it from your customer portal" in body
    assert body.rstrip().endswith("The Atelier Durand team")


def test_without_km_nor_comment_the_declared_email_has_neither_line():
    [email] = visits.on_visit_declared({**DECLARED, "km": None, "comment": None})
    _, body = rendered(email)
    assert "Kilomètres" not in body and "Commentaire" not in body and FR_TIMES in body


@pytest.mark.parametrize("locale,subject,reason_line,times", [
    ("fr", "Intervention du 3 mars 2026 annulée (réf. 0123ABCD)",
     "Motif d'annulation : Client absent", f"prévue {FR_TIMES}"),
    ("en", "Visit of 3 March 2026 cancelled (ref. 0123ABCD)",
     "Reason for cancellation: Client absent", f"planned {EN_TIMES}"),
])
def test_a_visit_declared_cancelled_tells_the_client_why(locale, subject, reason_line, times):
    [email] = visits.on_visit_declared(client_in(locale, DECLARED_CANCELLED))
    assert (email.recipient, email.language) == ("martin@example.test", locale)
    rendered_subject, body = rendered(email)
    assert rendered_subject == subject
    assert reason_line in body and times in body
    # final: nothing to validate, the company's phone to object
    assert "portail" not in body and "portal" not in body and "01 02 03 04 05" in body


def test_no_declared_email_to_a_client_without_an_address():
    assert visits.on_visit_declared({**DECLARED, "client": {**CLIENT, "email": None}}) == []


# --- visit.disputed: the technician ------------------------------------------------------

def test_a_dispute_asks_the_technician_to_accept_or_refuse_in_french():
    # the client reads English; the technician has no locale: French
    [email] = visits.on_visit_disputed(client_in("en", DISPUTED))
    assert (email.template, email.recipient, email.language) == (
        "visit_disputed", "paul@example.test", "fr")
    subject, body = rendered(email)
    assert subject == "Intervention du 3 mars 2026 contestée par le client (réf. 0123ABCD)"
    assert body.startswith("Bonjour Paul,")
    assert "Motif de refus : Horaires inexacts" in body
    assert f"Vous aviez déclaré : {FR_TIMES}, 12,5 km" in body
    assert f"Le client demande : {FR_PROPOSED}, 8 km" in body
    assert "Acceptez ou refusez cette correction" in body and "gestionnaire" in body


def test_a_correction_that_drops_the_km_says_so():
    [email] = visits.on_visit_disputed({**DISPUTED, "proposal": {**PROPOSAL, "km": None}})
    _, body = rendered(email)
    assert f"Le client demande : {FR_PROPOSED}, sans kilomètres" in body
    [email] = visits.on_visit_disputed({**DISPUTED, "km": None, "proposal": {**PROPOSAL, "km": None}})
    _, body = rendered(email)
    assert f"Vous aviez déclaré : {FR_TIMES}\n" in body and "kilomètres" not in body


def test_no_dispute_email_to_a_technician_without_an_address():
    assert visits.on_visit_disputed({**DISPUTED, "technician": {**TECH, "email": ""}}) == []


# --- visit.dispute_refused: the manager -------------------------------------------------

def test_a_refused_correction_goes_to_the_manager_to_settle():
    [email] = visits.on_visit_dispute_refused(client_in("en", DISPUTE_REFUSED))
    assert (email.template, email.recipient, email.language) == (
        "visit_to_settle", "gestion@example.test", "fr")
    subject, body = rendered(email)
    assert subject == "Contestation à arbitrer : intervention du 3 mars 2026 (réf. 0123ABCD)"
    assert "Paul a refusé la correction demandée par Mme Martin" in body
    assert f"Déclaré par l'intervenant : {FR_TIMES}, 12,5 km" in body
    assert f"Demandé par le client : {FR_PROPOSED}, 8 km" in body
    assert "Commentaire de l'intervenant sur son refus : Je suis bien resté 1h30" in body
    assert "Commentaire de l'intervenant à sa déclaration : Vitres faites" in body


def test_without_the_workers_comments_the_settle_email_has_no_comment_line():
    [email] = visits.on_visit_dispute_refused({**DISPUTE_REFUSED, "answer_comment": None,
                                               "comment": None})
    assert "Commentaire" not in rendered(email)[1]


def test_no_settle_email_for_a_company_without_an_address():
    assert visits.on_visit_dispute_refused({**DISPUTE_REFUSED, "company": {**COMPANY, "email": None}}) == []


# --- visit.arbitrated: the technician and the client -------------------------------------

def test_an_arbitration_emails_the_technician_and_the_client_each_in_its_language():
    technician, client = visits.on_visit_arbitrated(client_in("en", ARBITRATED))
    assert (technician.template, technician.recipient, technician.language) == (
        "visit_arbitrated", "paul@example.test", "fr")
    assert (client.template, client.recipient, client.language) == (
        "visit_arbitrated", "martin@example.test", "en")
    subject, body = rendered(technician)
    assert subject == "Décision sur l'intervention du 3 mars 2026 (réf. 0123ABCD)"
    assert body.startswith("Bonjour Paul,")
    assert "Il a retenu la correction demandée par le client." in body
    assert f"Valeurs retenues : {FR_PROPOSED}, 8 km" in body
    assert "Motif de la décision : Le badge confirme 1h" in body
    subject, body = rendered(client)
    assert subject == "Decision on the visit of 3 March 2026 (ref. 0123ABCD)"
    assert body.startswith("Hello Mme Martin,")
    assert "They kept the correction you asked for." in body
    assert f"Values kept: {EN_PROPOSED}, 8 km" in body
    assert "Reason for the decision: Le badge confirme 1h" in body


@pytest.mark.parametrize("decision,to_technician,to_client", [
    ("worker", "Il a retenu les valeurs que vous aviez déclarées.",
     "Il a retenu les valeurs déclarées par l'intervenant."),
    ("client", "Il a retenu la correction demandée par le client.",
     "Il a retenu la correction que vous aviez demandée."),
    ("custom", "Il a fixé lui-même les valeurs.", "Il a fixé lui-même les valeurs."),
])
def test_the_decision_is_worded_for_each_recipient(decision, to_technician, to_client):
    technician, client = visits.on_visit_arbitrated({**ARBITRATED, "decision": decision})
    assert to_technician in rendered(technician)[1]
    assert to_client in rendered(client)[1]


def test_an_arbitration_skips_a_recipient_without_an_address():
    [client] = visits.on_visit_arbitrated({**ARBITRATED, "technician": {**TECH, "email": None}})
    assert client.recipient == "martin@example.test"
    [technician] = visits.on_visit_arbitrated({**ARBITRATED, "client": {**CLIENT, "email": ""}})
    assert technician.recipient == "paul@example.test"


# --- visit.reminder: whoever the visit waits for ---------------------------------------

def test_the_worker_is_reminded_of_a_visit_left_to_validate():
    data = {**REMINDER, "state": "planned", "stage": "worker", "tacit_at": None,
            "waiting_since": "2026-03-03T15:00:00Z"}
    [email] = visits.on_visit_reminder(client_in("en", data))
    assert (email.template, email.recipient, email.language) == (
        "visit_reminder", "paul@example.test", "fr")
    assert email.context["stage"] == "worker"
    subject, body = rendered(email)
    assert subject == "Rappel : intervention du 3 mars 2026 à valider (réf. 0123ABCD)"
    assert body.startswith("Bonjour Paul,")
    assert f"prévue {FR_TIMES} chez Mme Martin" in body
    assert "Déclarez-la réalisée" in body and "portail intervenant" in body
    assert "En attente depuis le 3 mars 2026." in body
    assert "considérée comme validée" not in body


@pytest.mark.parametrize("locale,subject,times,km,tacit", [
    ("fr", "Rappel : intervention du 3 mars 2026 à valider (réf. 0123ABCD)",
     f"Horaires : {FR_TIMES}", "Kilomètres parcourus : 12,5 km",
     "Sans réponse de votre part d'ici le mardi 17 mars 2026 à 17h00 (heure de Paris, UTC+1), "
     "l'intervention sera considérée comme validée."),
    ("en", "Reminder: visit of 3 March 2026 to validate (ref. 0123ABCD)",
     f"Times: {EN_TIMES}", "Distance travelled: 12.5 km",
     "Without an answer from you by Tuesday 17 March 2026 at 17:00 (Paris time, UTC+1), "
     "the visit will be considered validated."),
])
def test_the_client_is_reminded_with_the_tacit_validation_date(locale, subject, times, km, tacit):
    [email] = visits.on_visit_reminder(client_in(locale, REMINDER))
    assert (email.template, email.recipient, email.language) == (
        "visit_reminder", "martin@example.test", locale)
    assert email.context["stage"] == "client"
    rendered_subject, body = rendered(email)
    assert rendered_subject == subject
    assert times in body and km in body and tacit in body


def test_without_tacit_validation_the_client_reminder_announces_none():
    [email] = visits.on_visit_reminder({**REMINDER, "tacit_at": None})
    _, body = rendered(email)
    assert "considérée comme validée" not in body and "Sans réponse" not in body
    assert "valider depuis votre portail client" in body


@pytest.mark.parametrize("state,subject,says", [
    ("planned", "Rappel : intervention du 3 mars 2026 non déclarée par l'intervenant (réf. 0123ABCD)",
     "n'a pas encore été déclarée par Paul"),
    ("done", "Rappel : intervention du 3 mars 2026 non validée par le client (réf. 0123ABCD)",
     "n'a pas encore été validée par Mme Martin"),
    ("disputed", "Rappel : contestation à arbitrer, intervention du 3 mars 2026 (réf. 0123ABCD)",
     "Paul n'a pas encore répondu"),
])
def test_the_manager_is_reminded_at_the_companys_address(state, subject, says):
    data = {**REMINDER, "stage": "manager", "state": state, "tacit_at": None,
            "waiting_since": "2026-03-05T09:00:00Z"}
    [email] = visits.on_visit_reminder(client_in("en", data))
    assert (email.template, email.recipient, email.language) == (
        "visit_reminder", "gestion@example.test", "fr")
    assert email.context["stage"] == "manager"
    rendered_subject, body = rendered(email)
    assert rendered_subject == subject
    assert body.startswith("Bonjour,") and says in body
    assert "suivi des validations" in body and "En attente depuis le 5 mars 2026." in body


def test_a_reminder_to_no_address_or_an_unknown_stage_sends_nothing():
    assert visits.on_visit_reminder({**REMINDER, "stage": "worker",
                                     "technician": {**TECH, "email": None}}) == []
    assert visits.on_visit_reminder({**REMINDER, "client": {**CLIENT, "email": ""}}) == []
    assert visits.on_visit_reminder({**REMINDER, "stage": "manager",
                                     "company": {**COMPANY, "email": None}}) == []
    assert visits.on_visit_reminder({**REMINDER, "stage": "admin"}) == []


# --- both parts, every message ------------------------------------------------------------

EVERY = [("visit.declared", DECLARED), ("visit.declared", DECLARED_CANCELLED),
         ("visit.disputed", DISPUTED), ("visit.dispute_refused", DISPUTE_REFUSED),
         ("visit.arbitrated", ARBITRATED),
         *[("visit.reminder", {**REMINDER, "stage": stage, "state": state})
           for stage, state in (("worker", "planned"), ("worker", "disputed"), ("client", "done"),
                                ("manager", "planned"), ("manager", "done"),
                                ("manager", "disputed"), ("manager", "arbitration"))]]
RULES = {"visit.declared": visits.on_visit_declared, "visit.disputed": visits.on_visit_disputed,
         "visit.dispute_refused": visits.on_visit_dispute_refused,
         "visit.arbitrated": visits.on_visit_arbitrated, "visit.reminder": visits.on_visit_reminder}


@pytest.mark.parametrize("language", ["fr", "en"])
@pytest.mark.parametrize("event_type,data", EVERY)
def test_every_visit_email_renders_in_both_languages_and_is_signed(event_type, data, language):
    for item in RULES[event_type](data):
        email = render_email(item.template, language, item.context)
        assert email.subject and "0123ABCD" in email.subject
        assert "\n\n\n" not in email.text and "None" not in email.text
        assert email.text.rstrip().endswith(
            "L'équipe Atelier Durand" if language == "fr" else "The Atelier Durand team")
        assert f'<html lang="{language}">' in email.html


# --- the service's handlers ---------------------------------------------------------------

HANDLED = {"visit.declared": "on_visit_declared", "visit.disputed": "on_visit_disputed",
           "visit.dispute_refused": "on_visit_dispute_refused",
           "visit.arbitrated": "on_visit_arbitrated", "visit.reminder": "on_visit_reminder"}


def test_the_service_subscribes_to_the_visit_events_that_email_and_to_no_other(subscriptions):
    visits = {(source, event): name for (source, event), name in subscriptions.items()
              if event.startswith("visit.")}
    assert {source for source, _ in visits} == {"interventions"}
    assert {event: name for (_, event), name in visits.items()} == HANDLED


def envelope(event_type, data):
    return {"event_id": "e0e0e0e0-0000-4000-8000-000000000000", "event_type": event_type,
            "producer": "interventions", "aggregate_id": data["id"], "data": data}


@pytest.mark.parametrize("event_type,data,template,recipients", [
    ("visit.declared", DECLARED, "visit_declared", ["martin@example.test"]),
    ("visit.disputed", DISPUTED, "visit_disputed", ["paul@example.test"]),
    ("visit.dispute_refused", DISPUTE_REFUSED, "visit_to_settle", ["gestion@example.test"]),
    ("visit.arbitrated", ARBITRATED, "visit_arbitrated", ["paul@example.test", "martin@example.test"]),
    ("visit.reminder", REMINDER, "visit_reminder", ["martin@example.test"]),
])
def test_each_handler_records_its_emails_and_sends_them(handle, event_type, data, template,
                                                        recipients):
    method = HANDLED[event_type]
    done = handle(method, envelope(event_type, data))
    done.assert_emailed(method, envelope(event_type, data)["event_id"], template, recipients)


def test_an_event_already_handled_sends_nothing_again(handle):
    done = handle("on_visit_arbitrated", envelope("visit.arbitrated", ARBITRATED), first_time=False)
    assert done.rows == [] and done.sent == []
