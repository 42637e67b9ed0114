"""The emails of an intervention's life (issue 4): which email each event
makes, in which language, with which links, dates and attachment."""
from datetime import datetime, timezone
from email.message import EmailMessage
from unittest.mock import Mock

import pytest
from nameko.testing.services import worker_factory

from fieldwork_common import ics
from fieldwork_common.errors import Unavailable
from fieldwork_common.testing.fakes import FakeDb
from fieldwork_notifications import mailer
from fieldwork_notifications.domain import dates, emails
from fieldwork_notifications.models import Email
from fieldwork_notifications.emails import loaded_attachments, stored_attachments
from fieldwork_notifications.service import NotificationsService
from fieldwork_notifications.templates import render

IID = "0123abcd-0000-4000-8000-000000000000"
TRACK = "http://fieldwork.test/track/tok"
COMPANY = {"id": "c0000000-0000-4000-8000-000000000000", "name": "Atelier Durand",
           "email": "shop@example.test", "phone": "01 02 03 04 05", "address": "1 rue de la Paix, Paris"}
CLIENT = {"id": "c1000000-0000-4000-8000-000000000000", "name": "Mme Martin",
          "email": "martin@example.test", "locale": "fr"}
TECH = {"id": "7e000000-0000-4000-8000-000000000000", "name": "Paul", "email": "paul@example.test"}
EQUIPMENT = {"id": "e0000000-0000-4000-8000-000000000000", "kind": "laptop", "brand": "Lenovo",
             "model": "T14", "serial_number": "SN1"}
CLOSED = {"id": IID, "reference": "0123ABCD", "company": COMPANY, "client": CLIENT, "technician": TECH,
          "equipment": EQUIPMENT, "pickup_at": "2026-03-03T13:30:00Z", "pickup_kind": "pickup",
          "closed_at": "2026-03-01T10:00:00Z", "version": 7}
DELIVERED = {"id": IID, "reference": "0123ABCD", "company": {**COMPANY, "survey_enabled": True},
             "client": CLIENT, "technician": TECH, "equipment": EQUIPMENT,
             "delivered_at": "2026-03-03T14:00:00Z", "version": 8}


# --- dates -----------------------------------------------------------------------------

@pytest.mark.parametrize("moment,language,text", [
    ("2026-03-03T13:30:00Z", "fr", "mardi 3 mars 2026 à 14h30 (heure de Paris, UTC+1)"),
    ("2026-03-03T13:30:00Z", "en", "Tuesday 3 March 2026 at 14:30 (Paris time, UTC+1)"),
    ("2026-07-01T07:05:00Z", "fr", "mercredi 1er juillet 2026 à 9h05 (heure de Paris, UTC+2)"),
    ("2026-07-01T07:05:00+00:00", "en", "Wednesday 1 July 2026 at 09:05 (Paris time, UTC+2)"),
    ("2026-12-31T23:30:00Z", "fr", "vendredi 1er janvier 2027 à 0h30 (heure de Paris, UTC+1)"),
])
def test_dates_are_in_paris_time_in_the_clients_language_naming_the_zone(moment, language, text):
    assert dates.format_datetime(moment, language) == text


def test_an_unknown_language_formats_in_french_and_a_naive_time_is_utc():
    assert dates.format_datetime("2026-03-03T13:30:00", "de").startswith("mardi 3 mars 2026 à 14h30")
    assert dates.format_date(datetime(2026, 3, 3, 23, 30, tzinfo=timezone.utc), "en") == "4 March 2026"


# --- intervention created ---------------------------------------------------------------

def test_the_created_email_carries_the_tracking_link():
    [email] = emails.on_intervention_created({**CLOSED, "description": "", "type": {"name": "Repair"}},
                                             TRACK)
    subject, body = render(email.template, email.language, email.context)
    assert subject == "Votre intervention 0123ABCD est enregistrée"
    assert TRACK in body


# --- awaiting pickup ----------------------------------------------------------------------

def test_awaiting_pickup_has_the_date_and_an_invitation():
    [email] = emails.on_intervention_closed(CLOSED, TRACK)
    assert (email.template, email.recipient, email.language) == (
        "awaiting_pickup", "martin@example.test", "fr")
    subject, body = render(email.template, email.language, email.context)
    assert subject == "Votre matériel est prêt : intervention 0123ABCD"
    assert "Date de retrait prévue : mardi 3 mars 2026 à 14h30 (heure de Paris, UTC+1)" in body
    assert TRACK in body and "1 rue de la Paix" in body
    [attachment] = email.attachments
    assert (attachment.filename, attachment.content_type) == ("invitation.ics",
                                                              "text/calendar; method=REQUEST")
    assert b"METHOD:REQUEST" in attachment.data
    [event] = ics.parse(attachment.data)
    assert str(event["uid"]) == f"{IID}-pickup@fieldwork"
    assert event.decoded("dtstart") == datetime(2026, 3, 3, 13, 30, tzinfo=timezone.utc)
    assert int(event["sequence"]) == 7
    assert "Atelier Durand" in str(event["summary"]) and str(event["url"]) == TRACK


def test_awaiting_pickup_in_english_for_a_delivery():
    data = {**CLOSED, "pickup_kind": "delivery", "client": {**CLIENT, "locale": "en"}}
    [email] = emails.on_intervention_closed(data, TRACK)
    subject, body = render(email.template, email.language, email.context)
    assert subject == "Your equipment is ready: intervention 0123ABCD"
    assert "Planned delivery: Tuesday 3 March 2026 at 14:30 (Paris time, UTC+1)" in body
    [event] = ics.parse(email.attachments[0].data)
    assert str(event["summary"]).startswith("Delivery of your equipment")


def test_awaiting_pickup_without_a_date_has_no_date_line_and_no_attachment():
    [email] = emails.on_intervention_closed({**CLOSED, "pickup_at": None, "pickup_kind": None}, TRACK)
    assert email.attachments == ()
    _, body = render(email.template, email.language, email.context)
    assert "Date de" not in body and "invitation" not in body and TRACK in body


def test_no_email_to_a_client_without_an_address():
    no_address = {**CLIENT, "email": ""}
    assert emails.on_intervention_closed({**CLOSED, "client": no_address}, TRACK) == []
    assert emails.on_intervention_delivered({**DELIVERED, "client": no_address}, TRACK) == []


# --- delivered -------------------------------------------------------------------------------

@pytest.mark.parametrize("locale,subject,date_text", [
    ("fr", "Confirmation de remise de votre matériel : intervention 0123ABCD",
     "le mardi 3 mars 2026 à 15h00 (heure de Paris, UTC+1)"),
    ("en", "Your equipment has been handed back: intervention 0123ABCD",
     "on Tuesday 3 March 2026 at 15:00 (Paris time, UTC+1)"),
])
def test_the_receipt_confirmation_in_the_clients_language(locale, subject, date_text):
    [email] = emails.on_intervention_delivered({**DELIVERED, "client": {**CLIENT, "locale": locale}}, TRACK)
    assert email.template == "delivered" and email.attachments == ()
    rendered_subject, body = render(email.template, email.language, email.context)
    assert rendered_subject == subject
    assert date_text in body and TRACK in body


# --- the service's handlers (boundaries faked) --------------------------------------------

def handler_service(tracking=None):
    interventions = Mock()
    if isinstance(tracking, Exception):
        interventions.issue_tracking_token.side_effect = tracking
    else:
        interventions.issue_tracking_token.return_value = {
            "token": "tok", "url_path": "/track/tok", "expires_at": "2026-06-01T00:00:00Z"}
    return worker_factory(NotificationsService, db=FakeDb(), interventions=interventions)


def envelope(event_type, data):
    return {"event_id": "e0e0e0e0-0000-4000-8000-000000000000", "event_type": event_type,
            "producer": "interventions", "aggregate_id": data["id"], "data": data}


def added(service, kind):
    [uow] = service.db.committed
    return [call.args[0] for call in uow.session.add.call_args_list if isinstance(call.args[0], kind)]


def test_the_closed_handler_asks_for_a_tracking_link_and_stores_the_invitation(monkeypatch):
    monkeypatch.setenv("PUBLIC_URL", "https://shop.example.test/")
    sent = []
    monkeypatch.setattr(mailer, "send", lambda *args, **kwargs: sent.append((args, kwargs)))
    service = handler_service()
    service.on_intervention_closed(envelope("intervention.closed", CLOSED))
    service.interventions.issue_tracking_token.assert_called_once_with(intervention_id=IID)
    [email] = added(service, Email)
    assert "https://shop.example.test/track/tok" in email.body
    [stored] = email.attachments
    assert stored["filename"] == "invitation.ics"
    [(args, kwargs)] = sent
    assert args[0] == "martin@example.test"
    [(filename, content_type, data)] = kwargs["attachments"]
    assert (filename, content_type) == ("invitation.ics", "text/calendar; method=REQUEST")
    assert ics.parse(data)[0].decoded("dtstart") == datetime(2026, 3, 3, 13, 30, tzinfo=timezone.utc)


def test_without_a_tracking_link_the_handler_fails_and_records_nothing():
    """interventions does not answer: the event is retried later (consumer)."""
    service = handler_service(tracking=Unavailable("interventions did not answer"))
    with pytest.raises(Unavailable):
        service.on_intervention_created(envelope("intervention.created", CLOSED))
    assert service.db.committed == [] and service.db.rolled_back == []


def test_a_stored_attachment_comes_back_byte_for_byte():
    attachment = emails.Attachment("invitation.ics", "text/calendar; method=REQUEST", b"\x00BEGIN\r\n\xff")
    [(filename, content_type, data)] = loaded_attachments(stored_attachments([attachment]))
    assert (filename, content_type, data) == (attachment.filename, attachment.content_type, attachment.data)
    assert stored_attachments(()) is None


def test_a_retry_sends_the_stored_attachment(monkeypatch):
    sent = []
    monkeypatch.setattr(mailer, "send", lambda *args, **kwargs: sent.append(kwargs))
    service = worker_factory(NotificationsService)
    stored = stored_attachments([emails.Attachment("invitation.ics", "text/calendar; method=REQUEST", b"ICS")])
    service._deliver("e1", 2, "r@example.test", "Subject", "Body", stored)
    assert sent[0]["attachments"] == [("invitation.ics", "text/calendar; method=REQUEST", b"ICS")]


def test_the_mailer_attaches_with_the_content_type_parameters():
    message = EmailMessage()
    message.set_content("body")
    mailer.add_attachment(message, "invitation.ics", "text/calendar; method=REQUEST", b"BEGIN:VCALENDAR\r\n")
    [part] = message.iter_attachments()
    assert part.get_content_type() == "text/calendar"
    assert part.get_param("method") == "REQUEST" and part.get_filename() == "invitation.ics"
    assert part.get_payload(decode=True) == b"BEGIN:VCALENDAR\r\n"
