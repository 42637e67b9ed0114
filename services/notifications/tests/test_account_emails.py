"""Account emails (asked for by the gateway): invitations and password
resets, in French and English."""
import pytest
from nameko.testing.services import worker_factory

from fieldwork_common.errors import Forbidden, InvalidInput
from fieldwork_common.principal import Principal
from fieldwork_notifications.domain import accounts
from fieldwork_notifications.service import NotificationsService
from fieldwork_notifications.templates import render

CONTEXT = {"email": "paul@example.org", "role": "technician", "company_name": "Atelier Durand",
           "link_url": "https://fieldwork.example/password/abc", "expires_at": "2026-12-03T09:00:00Z"}
LINK = "00000000-0000-0000-0000-0000000000aa"


@pytest.mark.parametrize("language,subject,role,date", [
    ("fr", "Votre accès à Atelier Durand", "Un compte intervenant", "jeudi 3 décembre 2026 à 10h00"),
    ("en", "Your access to Atelier Durand", "A technician account", "Thursday 3 December 2026"),
])
def test_an_invitation_says_who_for_which_company_and_until_when(language, subject, role, date):
    email = accounts.account_email("account_invitation", "paul@example.org", language, CONTEXT)
    rendered_subject, body = render(email.template, email.language, email.context)
    assert rendered_subject == subject
    assert role in body and CONTEXT["link_url"] in body and date in body


def test_a_reset_link_in_both_languages_without_a_company():
    for language, subject in (("fr", "Réinitialisation de votre mot de passe"),
                              ("en", "Reset your password")):
        email = accounts.account_email("password_reset", "paul@example.org", language,
                                       {**CONTEXT, "company_name": ""})
        rendered_subject, body = render(email.template, email.language, email.context)
        assert rendered_subject == subject and CONTEXT["link_url"] in body and "Fieldwork" in body


def test_an_unknown_template_or_an_incomplete_context_is_refused():
    service = worker_factory(NotificationsService, principal=None)
    with pytest.raises(InvalidInput):
        service.send_account_email(link_id=LINK, template="survey", recipient="x@example.org",
                                   language="fr", context=CONTEXT)
    with pytest.raises(InvalidInput):
        service.send_account_email(link_id=LINK, template="password_reset", recipient="x@example.org",
                                   language="fr", context={"email": "x@example.org"})
    with pytest.raises(InvalidInput):
        service.send_account_email(link_id="not-a-uuid", template="password_reset",
                                   recipient="x@example.org", language="fr", context=CONTEXT)


def test_only_the_gateway_asks_for_them():
    service = worker_factory(NotificationsService,
                             principal=Principal(user_id="u", role="client", client_id="c"))
    with pytest.raises(Forbidden):
        service.send_account_email(link_id=LINK, template="password_reset",
                                   recipient="x@example.org", language="fr", context=CONTEXT)


def test_without_a_company_name_the_company_id_names_it_from_the_local_copy(monkeypatch):
    from contextlib import contextmanager
    from unittest.mock import MagicMock

    from fieldwork_common.testing.fakes import FakeDb
    from fieldwork_notifications import mailer
    from fieldwork_notifications.models import Email
    sent = []
    monkeypatch.setattr(mailer, "send", lambda *args, **kwargs: sent.append((args, kwargs)))
    class NoEarlierEmail(FakeDb):
        @contextmanager
        def unit_of_work(self):
            with super().unit_of_work() as uow:
                uow.session.scalar.return_value = None  # this link was never emailed
                yield uow

    db = NoEarlierEmail()
    db.session = MagicMock(name="session factory")  # the local copy of the companies
    db.session.return_value.__enter__.return_value.scalar.return_value = "Atelier Durand"
    service = worker_factory(NotificationsService, db=db, principal=None)
    context = {**CONTEXT, "company_name": "", "company_id": "c0000000-0000-4000-8000-000000000000"}
    service.send_account_email(link_id=LINK, template="password_reset", recipient="paul@example.org",
                               language="fr", context=context)
    [(args, kwargs)] = sent
    assert args[2].rstrip().endswith("L'équipe Atelier Durand")
    assert "L'équipe Atelier Durand" in kwargs["html"]

