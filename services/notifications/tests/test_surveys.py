"""Satisfaction surveys: when one is planned, sent or cancelled, how an
answer is taken, and the summary."""
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from unittest.mock import MagicMock

import pytest
from nameko.testing.services import worker_factory

from fieldwork_common.errors import Conflict, Forbidden, Gone, InvalidInput, NotFound
from fieldwork_common.principal import Principal
from fieldwork_common.testing.fakes import FakeDb, FakeUnitOfWork
from fieldwork_common.timers import Timer
from fieldwork_notifications import mailer
from fieldwork_notifications.domain import surveys
from fieldwork_notifications.handlers.surveys import SURVEY_DELAY
from fieldwork_notifications.models import Company, Email, Survey
from fieldwork_notifications.service import NotificationsService

IID = "0123abcd-0000-4000-8000-000000000000"
COMPANY_ID = "c0000000-0000-4000-8000-000000000000"
DELIVERED = {"id": IID, "reference": "0123ABCD",
             "company": {"id": COMPANY_ID, "name": "Atelier", "email": None, "phone": None,
                         "address": None, "survey_enabled": True},
             "client": {"id": "c1000000-0000-4000-8000-000000000000", "name": "Mme Martin",
                        "email": "martin@example.test", "locale": "en"},
             "technician": {"id": "7e000000-0000-4000-8000-000000000000", "name": "Paul", "email": "p@x.test"},
             "equipment": {"id": "e0000000-0000-4000-8000-000000000000", "kind": "laptop", "brand": None,
                           "model": None, "serial_number": None},
             "delivered_at": "2026-03-03T14:00:00Z", "version": 8}
NOW = datetime(2026, 3, 3, 15, 0, tzinfo=timezone.utc)


# --- planning ---------------------------------------------------------------------------

def test_a_delivery_plans_a_survey_when_the_option_is_on():
    plan = surveys.plan_survey(DELIVERED, 3600)
    assert plan.due_at == datetime(2026, 3, 3, 15, 0, tzinfo=timezone.utc)
    assert (plan.intervention_id, plan.company_id, plan.recipient, plan.language) == (
        IID, COMPANY_ID, "martin@example.test", "en")
    assert plan.technician_id == DELIVERED["technician"]["id"] and plan.intervention_version == 8
    assert plan.context["reference"] == "0123ABCD" and plan.context["technician_name"] == "Paul"


def test_no_survey_when_the_option_is_off_or_the_client_has_no_address():
    assert surveys.plan_survey({**DELIVERED, "company": {**DELIVERED["company"], "survey_enabled": False}},
                               60) is None
    assert surveys.plan_survey({**DELIVERED, "client": {**DELIVERED["client"], "email": ""}}, 60) is None


def test_without_a_delivery_time_the_delay_runs_from_now():
    plan = surveys.plan_survey({**DELIVERED, "delivered_at": None}, 10, now=NOW)
    assert plan.due_at == NOW + timedelta(seconds=10)


def test_when_due_the_option_is_read_again():
    assert surveys.decide_when_due(True) == ("send", None)
    assert surveys.decide_when_due(False) == ("cancel", "survey_disabled")


@pytest.mark.parametrize("status,planned,reopened,cancelled", [
    ("scheduled", 8, 9, True),
    ("scheduled", 8, 7, False),      # an older reopening, delivered late
    ("scheduled", None, 9, True),
    ("sent", 8, 9, False),           # too late: it went out
    ("answered", 8, 9, False),
])
def test_a_reopening_cancels_a_survey_not_sent_yet(status, planned, reopened, cancelled):
    assert surveys.cancelled_by_reopening(status, planned, reopened) is cancelled


# --- answers -------------------------------------------------------------------------------

@pytest.mark.parametrize("status,planned,reopened,decision", [
    ("scheduled", 8, 9, "cancel"),
    ("sent", 8, 9, "invalidate"),
    ("sent", None, 9, "invalidate"),
    ("sent", 8, 8, None),            # the reopening came before this delivery
    ("scheduled", 8, 7, None),       # an older reopening, delivered late
    ("answered", 8, 9, None),        # an answer stays
    ("cancelled", 8, 9, None),
    ("invalidated", 8, 9, None),
])
def test_what_a_reopening_does_to_a_survey(status, planned, reopened, decision):
    assert surveys.after_reopening(status, planned, reopened) == decision


def test_only_the_hash_of_the_token_is_kept():
    token = surveys.new_token()
    assert len(token) >= 43 and surveys.token_hash(token) != token
    assert len(surveys.token_hash(token)) == 64 and surveys.token_hash(token) == surveys.token_hash(token)
    assert surveys.new_token() != token


def test_a_survey_is_answered_once_and_before_it_expires():
    surveys.check_answerable("sent", NOW + timedelta(days=1), NOW)
    with pytest.raises(Conflict) as answered:
        surveys.check_answerable("answered", NOW + timedelta(days=1), NOW)
    assert answered.value.details["reason"] == "answered"
    with pytest.raises(Gone) as expired:
        surveys.check_answerable("sent", NOW, NOW)
    assert expired.value.details["reason"] == "expired"
    with pytest.raises(Gone) as invalidated:
        surveys.check_answerable("invalidated", NOW + timedelta(days=1), NOW)
    assert invalidated.value.details["reason"] == "invalidated"
    for status in ("scheduled", "cancelled"):
        with pytest.raises(NotFound):
            surveys.check_answerable(status, None, NOW)


@pytest.mark.parametrize("score,comment,expected", [
    (1, None, (1, None)), (5, "  Très bien  ", (5, "Très bien")), ("3", "", (3, None)), (4.0, None, (4, None)),
])
def test_good_answers(score, comment, expected):
    assert surveys.validate_answer(score, comment) == expected


@pytest.mark.parametrize("score,comment", [
    (0, None), (6, None), (-1, None), ("abc", None), (None, None), (True, None), (2.5, None),
    (3, "x" * 2001), (3, 12),
])
def test_bad_answers_are_invalid_input(score, comment):
    with pytest.raises(InvalidInput):
        surveys.validate_answer(score, comment)


def test_the_summary():
    assert surveys.summarise({}) == {"count": 0, "average": None,
                                     "distribution": {"1": 0, "2": 0, "3": 0, "4": 0, "5": 0}}
    assert surveys.summarise({5: 2, 4: 1}) == {"count": 3, "average": 4.67,
                                               "distribution": {"1": 0, "2": 0, "3": 0, "4": 1, "5": 2}}


# --- the service, with its database faked -----------------------------------------------------

class OneSessionDb(FakeDb):
    """A FakeDb whose units of work share one session, set up by the test."""

    def __init__(self):
        super().__init__()
        self.the_session = MagicMock(name="session")

    @contextmanager
    def unit_of_work(self):
        with super().unit_of_work() as uow:
            uow.session = self.the_session
            yield uow


def sent_survey(**fields):
    values = dict(id="5e000000-0000-4000-8000-000000000000", event_id="e0e0e0e0-0000-4000-8000-000000000000",
                  intervention_id=IID, company_id=COMPANY_ID, technician_id=DELIVERED["technician"]["id"],
                  client_id=DELIVERED["client"]["id"], recipient="martin@example.test", language="en",
                  context={"reference": "0123ABCD", "client_name": "Mme Martin", "company_name": "Atelier",
                           "technician_name": "Paul", "equipment": "laptop"},
                  status="sent", token_hash=surveys.token_hash("tok"),
                  due_at=datetime.now(timezone.utc) - timedelta(hours=1),
                  expires_at=datetime.now(timezone.utc) + timedelta(days=30), intervention_version=8)
    values.update(fields)
    return Survey(**values)


def service_with(survey, principal=None):
    db = OneSessionDb()
    db.the_session.scalars.return_value.first.return_value = survey
    db.the_session.scalars.return_value.all.return_value = [survey] if survey else []
    db.session = MagicMock(name="session factory")  # reads outside a unit of work
    db.session.return_value.__enter__.return_value = db.the_session
    return worker_factory(NotificationsService, db=db, principal=principal)


def test_an_answer_is_stored_and_published():
    survey = sent_survey()
    service = service_with(survey)
    answer = service.answer_survey(token="tok", score=4, comment="Rapide")
    assert (survey.status, survey.score, survey.comment) == ("answered", 4, "Rapide")
    [(event_type, aggregate_id, data)] = service.db.published
    assert event_type == "survey.answered" and aggregate_id == survey.id
    assert data == {"survey_id": survey.id, "intervention_id": IID, "company_id": COMPANY_ID,
                    "technician_id": survey.technician_id, "client_id": survey.client_id,
                    "score": 4, "comment": "Rapide", "answered_at": data["answered_at"]}
    assert data["answered_at"].endswith("Z") and answer["status"] == "answered"


@pytest.mark.parametrize("survey,error,reason", [
    (sent_survey(status="answered", score=5), Conflict, "answered"),
    (sent_survey(expires_at=datetime.now(timezone.utc) - timedelta(seconds=1)), Gone, "expired"),
    (None, NotFound, None),
    (sent_survey(status="cancelled"), NotFound, None),
])
def test_refused_answers_publish_nothing(survey, error, reason):
    service = service_with(survey)
    with pytest.raises(error) as raised:
        service.answer_survey(token="tok", score=4)
    assert service.db.published == []
    if reason:
        assert raised.value.details["reason"] == reason


def test_a_bad_score_changes_nothing():
    survey = sent_survey()
    service = service_with(survey)
    with pytest.raises(InvalidInput):
        service.answer_survey(token="tok", score=9)
    assert survey.status == "sent" and service.db.published == []


def due_timer(survey):
    return Timer(id=1, kind="survey.due", key=survey.id, due_at=survey.due_at)


def fire(service, survey):
    """What the timer poller does: the handler in a unit of work, then the
    after-commit actions."""
    uow = FakeUnitOfWork()
    uow.session = service.db.the_session
    service.on_survey_due(uow, due_timer(survey))
    uow.run_after_commit()
    return uow


def test_a_due_survey_is_emailed_with_a_one_time_link(monkeypatch):
    monkeypatch.setenv("PUBLIC_URL", "https://shop.example.test")
    sent = []
    monkeypatch.setattr(mailer, "send", lambda *args, **kwargs: sent.append(args))
    survey = sent_survey(status="scheduled", token_hash=None, expires_at=None)
    service = service_with(survey)
    service.db.the_session.get.return_value = Company(id=COMPANY_ID, name="Atelier", survey_enabled=True)
    fire(service, survey)
    assert survey.status == "sent" and survey.token_hash
    assert survey.expires_at - survey.sent_at == timedelta(days=30)
    [email] = [c.args[0] for c in service.db.the_session.add.call_args_list if isinstance(c.args[0], Email)]
    assert email.template == "survey" and email.language == "en" and email.recipient == "martin@example.test"
    assert email.event_id == survey.event_id and email.attempts == 1
    link = next(word for word in email.body.split() if word.startswith("https://shop.example.test/survey/"))
    assert surveys.token_hash(link.rsplit("/", 1)[1]) == survey.token_hash
    assert email.subject == "How did we do? Intervention 0123ABCD"
    assert sent and sent[0][0] == "martin@example.test"


def test_the_survey_email_goes_out_only_once_its_transaction_committed(monkeypatch):
    monkeypatch.setattr(mailer, "send", lambda *args, **kwargs: pytest.fail("not before the commit"))
    survey = sent_survey(status="scheduled", token_hash=None, expires_at=None)
    service = service_with(survey)
    service.db.the_session.get.return_value = Company(id=COMPANY_ID, name="Atelier", survey_enabled=True)
    uow = FakeUnitOfWork()
    uow.session = service.db.the_session
    service.on_survey_due(uow, due_timer(survey))
    assert survey.status == "sent" and len(uow.after_commit_actions) == 1


@pytest.mark.parametrize("company", [Company(id=COMPANY_ID, name="Atelier", survey_enabled=False), None])
def test_a_survey_due_when_the_option_is_off_is_cancelled(monkeypatch, company):
    monkeypatch.setattr(mailer, "send", lambda *args, **kwargs: pytest.fail("nothing is sent"))
    survey = sent_survey(status="scheduled", token_hash=None, expires_at=None)
    service = service_with(survey)
    service.db.the_session.get.return_value = company
    uow = fire(service, survey)
    assert (survey.status, survey.cancel_reason) == ("cancelled", "survey_disabled")
    assert survey.token_hash is None and uow.after_commit_actions == []
    service.db.the_session.add.assert_not_called()


@pytest.mark.parametrize("status", ["cancelled", "sent", "answered"])
def test_a_timer_of_a_survey_no_longer_scheduled_does_nothing(monkeypatch, status):
    monkeypatch.setattr(mailer, "send", lambda *args, **kwargs: pytest.fail("nothing is sent"))
    survey = sent_survey(status=status)
    service = service_with(survey)
    fire(service, survey)
    assert survey.status == status
    service.db.the_session.add.assert_not_called()


def test_a_delivery_schedules_the_surveys_timer(monkeypatch):
    monkeypatch.setattr(mailer, "send", lambda *args, **kwargs: None)
    interventions = MagicMock()
    interventions.issue_tracking_token.return_value = {"url_path": "/track/t"}
    db = OneSessionDb()
    db.the_session.get.return_value = None  # no reopening seen
    db.the_session.execute.return_value.scalar.return_value = "5e000000-0000-4000-8000-000000000001"
    service = worker_factory(NotificationsService, db=db, interventions=interventions)
    service.on_intervention_delivered({"event_id": "e2e2e2e2-0000-4000-8000-000000000000",
                                       "data": DELIVERED})
    [uow] = db.committed
    delivered_at = datetime(2026, 3, 3, 14, 0, tzinfo=timezone.utc)
    assert uow.scheduled == {("survey.due", "5e000000-0000-4000-8000-000000000001"): (
        delivered_at + timedelta(seconds=SURVEY_DELAY), {})}


def test_a_reopening_cancels_the_scheduled_survey_and_its_timer():
    survey = sent_survey(status="scheduled", token_hash=None, expires_at=None)
    service = service_with(survey)
    service.db.the_session.execute.return_value.all.return_value = [
        MagicMock(id=survey.id, status="scheduled", intervention_version=8)]
    service.db.the_session.scalars.return_value.__iter__.return_value = iter([survey])
    service.on_intervention_reopened({"event_id": "e1e1e1e1-0000-4000-8000-000000000000",
                                      "data": {"id": IID, "version": 9}})
    assert (survey.status, survey.cancel_reason) == ("cancelled", "reopened")
    [uow] = service.db.committed
    assert uow.cancelled == [("survey.due", survey.id)]


def test_a_reopening_invalidates_a_sent_survey():
    survey = sent_survey()
    service = service_with(survey)
    service.db.the_session.execute.return_value.all.return_value = [
        MagicMock(id=survey.id, status="sent", intervention_version=8)]
    service.db.the_session.scalars.return_value.__iter__.return_value = iter([survey])
    service.on_intervention_reopened({"event_id": "e1e1e1e1-0000-4000-8000-000000000000",
                                      "data": {"id": IID, "version": 9}})
    assert survey.status == "invalidated" and survey.invalidated_at is not None
    assert survey.cancel_reason is None


def test_an_invalidated_survey_is_gone_for_the_page_and_the_answer():
    survey = sent_survey(status="invalidated")
    service = service_with(survey)
    page = service.get_survey("tok")
    assert page["expired"] is True and page["status"] == "invalidated"
    with pytest.raises(Gone) as gone:
        service.answer_survey(token="tok", score=5)
    assert gone.value.details["reason"] == "invalidated" and service.db.published == []
    assert service_with(sent_survey()).get_survey("tok")["expired"] is False


def test_an_older_reopening_delivered_late_leaves_the_survey_due():
    survey = sent_survey(status="scheduled", token_hash=None, expires_at=None)
    service = service_with(survey)
    service.db.the_session.execute.return_value.all.return_value = [
        MagicMock(id=survey.id, status="scheduled", intervention_version=8)]
    service.on_intervention_reopened({"event_id": "e1e1e1e1-0000-4000-8000-000000000000",
                                      "data": {"id": IID, "version": 7}})
    assert survey.status == "scheduled"
    [uow] = service.db.committed
    assert uow.cancelled == []


def test_the_summary_is_for_admins_and_managers():
    for role, links in (("technician", {"technician_id": "t"}), ("client", {"client_id": "c"})):
        service = worker_factory(NotificationsService, principal=Principal(user_id="u", role=role, **links))
        with pytest.raises(Forbidden):
            service.survey_summary()


def test_a_manager_reads_its_company_only():
    manager = Principal(user_id="m", role="manager", company_id=COMPANY_ID)
    service = worker_factory(NotificationsService, principal=manager)
    with pytest.raises(NotFound):
        service.survey_summary(company_id="c2000000-0000-4000-8000-000000000000")
    session = service.db.session.return_value.__enter__.return_value
    session.execute.return_value.all.return_value = [(5, 2), (3, 1)]
    summary = service.survey_summary()
    assert summary["count"] == 3 and summary["distribution"]["5"] == 2
    [call] = session.execute.call_args_list
    sql = str(call.args[0].compile(compile_kwargs={"literal_binds": True}))
    assert "surveys.company_id = '" + COMPANY_ID.replace("-", "") in sql




@pytest.mark.parametrize("kwargs", [{"company_id": "nope"}, {"date_from": "yesterday"}])
def test_bad_summary_filters_are_invalid_input(kwargs):
    service = worker_factory(NotificationsService, principal=Principal(user_id="a", role="admin"))
    with pytest.raises(InvalidInput):
        service.survey_summary(**kwargs)
