import pytest
from nameko.testing.services import worker_factory

from fieldwork_common.errors import Forbidden
from fieldwork_common.principal import Principal
from fieldwork_notifications.domain import emails
from fieldwork_notifications.emails import retry_delay
from fieldwork_notifications.service import NotificationsService
from fieldwork_notifications.templates import render

CREATED = {"id": "0123abcd-0000-0000-0000-000000000000", "location": "workshop",
           "description": "Écran qui clignote",
           "client": {"id": "c", "name": "Mme Durand", "email": "durand@example.test", "locale": "fr"},
           "technician": {"id": "t", "name": "Paul", "email": "p@example.test"},
           "type": {"id": "k", "name": "Réparation", "location": "workshop"}}


@pytest.mark.parametrize("locale,language", [("fr", "fr"), ("en", "en"), ("en-GB", "en"),
                                             ("de", "fr"), (None, "fr"), ("", "fr")])
def test_french_unless_english(locale, language):
    assert emails.language_of(locale) == language


def test_intervention_created_emails_the_client():
    [email] = emails.on_intervention_created(CREATED)
    assert (email.template, email.recipient, email.language) == (
        "intervention_created", "durand@example.test", "fr")
    assert email.context["reference"] == "0123ABCD"


def test_no_email_without_an_address():
    assert emails.on_intervention_created({**CREATED, "client": {"email": ""}}) == []


def test_templates_render_in_both_languages():
    [email] = emails.on_intervention_created(CREATED)
    subject, body = render(email.template, "fr", email.context)
    assert subject == "Votre intervention 0123ABCD est enregistrée"
    assert "Bonjour Mme Durand" in body and "Réparation" in body and "Paul" in body
    subject, body = render(email.template, "en", email.context)
    assert subject == "Your intervention 0123ABCD is registered"
    assert body.startswith("Hello Mme Durand")


def test_retries_back_off_and_are_capped():
    delays = [retry_delay(n, base=30).total_seconds() for n in range(1, 12)]
    assert delays[:3] == [30, 60, 120]
    assert delays == sorted(delays) and max(delays) == 3600


def test_the_email_log_is_for_admins():
    service = worker_factory(NotificationsService,
                             principal=Principal(user_id="u", role="client", client_id="c"))
    with pytest.raises(Forbidden):
        service.list_emails()


def test_the_email_log_and_the_dead_letters_are_not_an_admin_of_one_companys():
    """They carry every company's emails and events (checked here too, not
    only at the gateway)."""
    service = worker_factory(NotificationsService,
                             principal=Principal(user_id="u", role="admin", company_id="c"))
    for call in (service.list_emails, service.list_dead_letters,
                 lambda: service.resend_email("00000000-0000-4000-8000-000000000000")):
        with pytest.raises(Forbidden):
            call()


def test_only_known_statuses_can_be_listed():
    from fieldwork_common.errors import InvalidInput
    service = worker_factory(NotificationsService, principal=Principal(user_id="a", role="admin"))
    with pytest.raises(InvalidInput):
        service.list_emails(status="lost")


def test_resending_is_for_admins():
    service = worker_factory(NotificationsService,
                             principal=Principal(user_id="u", role="manager", company_id="c"))
    with pytest.raises(Forbidden):
        service.resend_email("e")


def test_an_email_the_server_accepted_is_never_called_failed(monkeypatch):
    """If recording "sent" fails after the server's 250, the email must not
    be marked failed (that would send it again): the record is retried."""
    from unittest.mock import Mock

    from fieldwork_common.errors import Unavailable
    from fieldwork_notifications import mailer

    def accepted_by_the_server(recipient, subject, body, message_id=None, on_accepted=None):
        on_accepted()
    monkeypatch.setattr(mailer, "send", accepted_by_the_server)
    service = worker_factory(NotificationsService)
    service._mark_sent = Mock(side_effect=[Unavailable("database down"), None])
    service._deliver("e1", 1, "r@example.test", "Subject", "Body")
    assert service._mark_sent.call_count == 2
    service.db.session.assert_not_called()  # no "failed" written


def test_a_refused_email_is_failed_with_a_delay(monkeypatch):
    import smtplib

    from fieldwork_notifications import mailer

    def refused(*args, **kwargs):
        raise smtplib.SMTPRecipientsRefused({"r@example.test": (550, b"no such user")})
    monkeypatch.setattr(mailer, "send", refused)
    service = worker_factory(NotificationsService)
    service._deliver("e1", 1, "r@example.test", "Subject", "Body")
    session = service.db.session.return_value.__enter__.return_value
    [call] = session.execute.call_args_list
    assert "UPDATE emails" in str(call.args[0])
