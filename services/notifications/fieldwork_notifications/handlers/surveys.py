"""Satisfaction surveys: planned when an intervention is delivered (by the
workshop mixin's delivery handler, in its transaction) with a `survey.due`
timer (fieldwork_common.timers, key = the survey's id) SURVEY_DELAY seconds
later; emailed when that timer fires unless the company's option is off by
then (local copy of the companies); cancelled, timer and all, when the
intervention is reopened before; answered once through the gateway's public
page; summarised per company and technician.

The answer (`answer_survey`) publishes `survey.answered` through this
service's outbox."""
import logging
import os
from datetime import datetime, timezone

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert

from fieldwork_common import config
from fieldwork_common.commands import command
from fieldwork_common.consumer import event_handler
from fieldwork_common.errors import Forbidden, InvalidInput, NotFound
from fieldwork_common.rpc import rpc
from fieldwork_common.serialize import as_dict, is_uuid, parse_instant
from fieldwork_common.timers import timer_handler

from fieldwork_notifications.domain import surveys
from fieldwork_notifications.domain.emails import EmailToSend
from fieldwork_notifications.emails import claimed_email
from fieldwork_notifications.models import Company, Reopening, Survey

log = logging.getLogger(__name__)

# Surveys: emailed SURVEY_DELAY seconds after the delivery; the link works
# SURVEY_TOKEN_DAYS days from sending.
SURVEY_DELAY = float(os.environ.get("SURVEY_DELAY", "3600"))
SURVEY_TOKEN_DAYS = float(os.environ.get("SURVEY_TOKEN_DAYS", "30"))
SURVEY_DUE = "survey.due"   # the timer's kind; its key is the survey's id


class Surveys:
    """Mixed into the service: needs `db`, `principal` and the email machinery."""

    def plan_survey(self, uow, envelope):
        """In the transaction of an `intervention.delivered` (its inbox row
        and receipt email): the survey it asks for, if the company's option
        is on, and its timer."""
        data = envelope["data"]
        session = uow.session
        plan = surveys.plan_survey(data, SURVEY_DELAY, now=datetime.now(timezone.utc))
        company = data.get("company") or {}
        if company.get("id"):  # known from now on, if company.* never reached us
            session.execute(pg_insert(Company).values(
                id=company["id"], name=company.get("name") or "",
                survey_enabled=bool(company.get("survey_enabled")))
                .on_conflict_do_nothing(index_elements=[Company.id]))
        if plan is None:
            return
        # a reopening consumed before this delivery (other queue) cancels it already
        reopening = session.get(Reopening, plan.intervention_id)
        cancelled = reopening is not None and surveys.cancelled_by_reopening(
            "scheduled", plan.intervention_version, reopening.version)
        survey_id = session.execute(pg_insert(Survey).values(
            event_id=envelope["event_id"], intervention_id=plan.intervention_id,
            intervention_version=plan.intervention_version, company_id=plan.company_id,
            technician_id=plan.technician_id, client_id=plan.client_id,
            recipient=plan.recipient, language=plan.language, context=plan.context,
            due_at=plan.due_at, status="cancelled" if cancelled else "scheduled",
            cancel_reason=surveys.REOPENED if cancelled else None)
            .on_conflict_do_nothing(index_elements=[Survey.event_id])
            .returning(Survey.id)).scalar()
        if survey_id is not None and not cancelled:
            uow.schedule(SURVEY_DUE, survey_id, plan.due_at)

    @event_handler("interventions", "intervention.reopened")
    def on_intervention_reopened(self, envelope):
        """A survey of this intervention not sent yet is cancelled, with
        its timer; one sent and not answered is invalidated (its link
        answers 410). The next delivery plans a new one."""
        data = envelope["data"]
        with self.db.unit_of_work() as uow:
            if not uow.first_time(envelope, "notifications.on_intervention_reopened"):
                return
            statement = pg_insert(Reopening).values(intervention_id=data["id"], version=data.get("version"))
            uow.session.execute(statement.on_conflict_do_update(
                index_elements=[Reopening.intervention_id],
                set_={"version": statement.excluded.version, "at": sa.func.now()},
                where=sa.or_(Reopening.version.is_(None), statement.excluded.version.is_(None),
                             Reopening.version < statement.excluded.version)))
            version = data.get("version")
            known = uow.session.execute(
                sa.select(Survey.id, Survey.status, Survey.intervention_version).where(
                    Survey.intervention_id == data["id"],
                    Survey.status.in_(("scheduled", "sent")))).all()
            ids = [row.id for row in known
                   if surveys.after_reopening(row.status, row.intervention_version, version)]
            if not ids:  # none, or planned after this reopening (delivered late)
                return
            # the timers first: one being fired holds its row, and its handler
            # then locks the survey; taking the locks in that order never
            # deadlocks, and the survey is read again once the firing committed
            for survey_id in ids:
                uow.cancel_timer(SURVEY_DUE, survey_id)
            now = datetime.now(timezone.utc)
            for survey in uow.session.scalars(sa.select(Survey).where(
                    Survey.id.in_(ids), Survey.status.in_(("scheduled", "sent"))).with_for_update()):
                decision = surveys.after_reopening(survey.status, survey.intervention_version, version)
                if decision == "cancel":
                    survey.status, survey.cancel_reason = "cancelled", surveys.REOPENED
                elif decision == "invalidate":
                    survey.status, survey.invalidated_at = "invalidated", now
                log.info("survey %s %s: intervention %s reopened", survey.id, survey.status, data["id"])

    @timer_handler(SURVEY_DUE)
    def on_survey_due(self, uow, timer):
        """The survey's timer fired: email it with a one-time link, or cancel
        it when the company's option is off by now. In the timer's
        transaction; the email goes out once it committed."""
        survey = uow.session.scalars(
            sa.select(Survey).where(Survey.id == timer.key).with_for_update()).first()
        if survey is None or survey.status != "scheduled":
            log.info("survey %s is %s: nothing to send", timer.key, survey and survey.status)
            return
        company = uow.session.get(Company, survey.company_id) if survey.company_id else None
        decision, reason = surveys.decide_when_due(company is not None and company.survey_enabled)
        if decision == "cancel":
            survey.status, survey.cancel_reason = "cancelled", reason
            log.info("survey %s cancelled when due: %s", survey.id, reason)
            return
        token = surveys.new_token()
        now = datetime.now(timezone.utc)
        expires_at = surveys.expiry(now, SURVEY_TOKEN_DAYS)
        context = surveys.email_context(survey.context or {},
                                        config.public_url() + surveys.survey_path(token),
                                        expires_at, survey.language)
        item = EmailToSend(template="survey", recipient=survey.recipient,
                           language=survey.language, context=context)
        claimed = claimed_email(uow.session, survey.event_id, item)
        survey.token_hash = surveys.token_hash(token)
        survey.status, survey.sent_at, survey.expires_at = "sent", now, expires_at
        # a crash before this runs leaves the email claimed: once its lease
        # expires, send_due sends it
        uow.after_commit(lambda: self._deliver(*claimed))

    @rpc
    def get_survey(self, token):
        """Anyone holding the link (the gateway's public page): what the
        page shows. NotFound for a token that names no sent survey;
        `expired` (the page answers 410) past its expiry or once a
        reopening invalidated it."""
        survey = self._survey_by_token(token)
        now = datetime.now(timezone.utc)
        context = survey.context or {}
        return {**as_dict(survey, ("id", "language", "status", "expires_at", "score", "comment",
                                   "answered_at")),
                "expired": surveys.is_gone(survey.status, survey.expires_at, now),
                "reference": context.get("reference", ""),
                "company_name": context.get("company_name", ""),
                "technician_name": context.get("technician_name", "")}

    @rpc
    @command
    def answer_survey(self, uow, token, score, comment=None):
        """Anyone holding the link: stores the answer (once) and publishes
        `survey.answered`. 404 unknown token, 409 answered already, 410
        expired or invalidated by a reopening, 400 a score outside 1..5."""
        survey = self._survey_by_token(token, session=uow.session, lock=True)
        now = datetime.now(timezone.utc)
        surveys.check_answerable(survey.status, survey.expires_at, now)
        score, comment = surveys.validate_answer(score, comment)
        survey.status, survey.score, survey.comment, survey.answered_at = "answered", score, comment, now
        data = {"survey_id": survey.id, "intervention_id": survey.intervention_id,
                "company_id": survey.company_id, "technician_id": survey.technician_id,
                "client_id": survey.client_id, "score": score, "comment": comment,
                "answered_at": as_dict(survey, ("answered_at",))["answered_at"]}
        uow.publish("survey.answered", survey.id, data)
        return {**data, "language": survey.language, "status": "answered"}

    @rpc
    def survey_summary(self, company_id=None, technician_id=None, date_from=None, date_to=None):
        """Admins (all companies, or their own) and managers (their company):
        count, average and distribution of the scores of answered surveys,
        by company, technician and answer time (from inclusive, to
        exclusive)."""
        company_id = self._summary_scope(company_id)
        if technician_id is not None and is_uuid(technician_id):
            # the technician is the interventions service's: resolved there, in
            # the caller's scope (the principal travels with the call): 404
            self.interventions.get_technician(technician_id=technician_id)
        query = sa.select(Survey.score, sa.func.count()).where(Survey.status == "answered")
        for key, value, column in (("company_id", company_id, Survey.company_id),
                                   ("technician_id", technician_id, Survey.technician_id)):
            if value is not None:
                if not is_uuid(value):
                    raise InvalidInput(f"{key} must be a UUID.", {key: value})
                query = query.where(column == str(value))
        for key, value, compare in (("from", date_from, Survey.answered_at.__ge__),
                                    ("to", date_to, Survey.answered_at.__lt__)):
            if value is not None:
                query = query.where(compare(parse_instant(value, key)))
        with self.db.session() as session:
            counts = dict(session.execute(query.group_by(Survey.score)).all())
        return surveys.summarise(counts)

    def _summary_scope(self, company_id):
        principal = self.principal
        if principal is None:
            return company_id
        if principal.role not in ("admin", "manager"):
            raise Forbidden("Only admins and managers read the survey summary.")
        own = principal.company_id
        if principal.role == "manager" or own is not None:
            if company_id is not None and str(company_id) != str(own):
                raise NotFound("Company not found.", {"company_id": company_id})
            return own
        return company_id

    def _survey_by_token(self, token, session=None, lock=False):
        if not isinstance(token, str) or not 1 <= len(token) <= 200:
            raise NotFound("Survey not found.")
        query = sa.select(Survey).where(Survey.token_hash == surveys.token_hash(token))
        if lock:
            query = query.with_for_update()
        if session is not None:
            survey = session.scalars(query).first()
        else:
            with self.db.session() as own:
                survey = own.scalars(query).first()
        if survey is None or not surveys.link_works(survey.status):
            raise NotFound("Survey not found.")
        return survey
