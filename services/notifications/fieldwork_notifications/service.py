"""The notifications service: turns events into emails, and runs the
satisfaction surveys.

Each handled event and the emails it produces are written in one
transaction (inbox + `emails` rows, attachments included), then sent over
SMTP. A failed send is retried with growing delays by `send_due`, which also
picks up emails left unsent by a crash between the commit and the send.

Links in emails point at the gateway (`PUBLIC_URL`): the client's tracking
page, whose token the interventions service issues (RPC
`issue_tracking_token`, asked before the event's transaction; if it does not
answer, the handler fails and the event is retried), and the survey page.

Account emails (an invitation to choose a password, a password reset
link) are asked for by the gateway, which owns the logins, over RPC
(`send_account_email`), not by an event: their link carries a secret that
no event subscriber may read.

Surveys: `intervention.delivered` of a company whose option is on records a
survey due SURVEY_DELAY seconds after the delivery; `send_due_surveys`
emails it when due unless the company's option is off by then (local copy of
the companies, from company.created / company.updated) or the intervention
was reopened meanwhile (`intervention.reopened` cancels it). The answer
(`answer_survey`, through the gateway's public page) publishes
`survey.answered` through this service's outbox.
"""
import base64
import logging
import os
from datetime import datetime, timedelta, timezone

import sqlalchemy as sa
from nameko.timer import timer
from sqlalchemy.dialects.postgresql import insert as pg_insert

from fieldwork_common import config
from fieldwork_common.commands import command
from fieldwork_common.rpc import RpcProxy, rpc

from fieldwork_common import operations  # a module: `nameko run` must not see the mixin as a service
from fieldwork_common.consumer import Topology, event_handler
from fieldwork_common.db import Database
from fieldwork_common.principal import CurrentPrincipal
from fieldwork_common.projection import store_copy
from fieldwork_common.errors import Conflict, Forbidden, InvalidInput, NotFound, Unavailable
from fieldwork_common.serialize import as_dict, is_uuid, parse_instant

from fieldwork_notifications import SERVICE_NAME, mailer
from fieldwork_notifications.domain import accounts as account_emails
from fieldwork_notifications.domain import emails as rules
from fieldwork_notifications.domain import surveys
from fieldwork_notifications.models import Company, Email, Reopening, Survey
from fieldwork_notifications.templates import render

log = logging.getLogger(__name__)

EMAIL_FIELDS = ("id", "event_id", "recipient", "template", "language", "subject",
                "status", "attempts", "last_error", "next_attempt_at", "created_at", "sent_at")
# An email that could not be sent is retried with growing delays
# (EMAIL_RETRY_BASE, doubled each time, capped at an hour); after
# EMAIL_MAX_ATTEMPTS it is `dead`: listed for operators, who resend it.
MAX_ATTEMPTS = int(os.environ.get("EMAIL_MAX_ATTEMPTS", "8"))
RETRY_BASE = float(os.environ.get("EMAIL_RETRY_BASE", "30"))
RETRY_POLL = float(os.environ.get("EMAIL_RETRY_POLL", "5"))
STATUSES = ("pending", "sent", "failed", "dead")
# While one worker sends an email, nobody else may: longer than an SMTP
# exchange can take (mailer.TIMEOUT per operation).
SEND_LEASE = timedelta(seconds=15)
# Surveys: emailed SURVEY_DELAY seconds after the delivery (checked every
# SURVEY_POLL seconds); the link works SURVEY_TOKEN_DAYS days from sending.
SURVEY_DELAY = float(os.environ.get("SURVEY_DELAY", "3600"))
SURVEY_POLL = float(os.environ.get("SURVEY_POLL", "1"))
SURVEY_TOKEN_DAYS = float(os.environ.get("SURVEY_TOKEN_DAYS", "30"))
SURVEY_FIELDS = ("id", "intervention_id", "company_id", "technician_id", "client_id", "language",
                 "status", "cancel_reason", "due_at", "sent_at", "expires_at", "score", "comment",
                 "answered_at")


def retry_delay(attempts, base=None):
    """base, 2×base, 4×base… capped at 1 h (30 s, 1 min, 2 min… by default)."""
    base = RETRY_BASE if base is None else base
    return timedelta(seconds=min(3600, base * 2 ** max(0, attempts - 1)))



def stored_attachments(attachments):
    """Attachments as the email row keeps them (JSON), or None."""
    if not attachments:
        return None
    return [{"filename": a.filename, "content_type": a.content_type,
             "data": base64.b64encode(a.data).decode("ascii")} for a in attachments]


def _claimed_email(session, event_id, item):
    """Add the email row of `item`, already claimed by this worker (first
    attempt counted, a lease that keeps the retry timer off it while it is
    sent); what `_deliver` takes."""
    subject, body = render(item.template, item.language, item.context)
    attachments = stored_attachments(item.attachments)
    email = Email(event_id=event_id, recipient=item.recipient, template=item.template,
                  language=item.language, subject=subject, body=body, attempts=1,
                  attachments=attachments, next_attempt_at=sa.func.now() + SEND_LEASE)
    session.add(email)
    session.flush()
    return email.id, 1, email.recipient, subject, body, attachments


def loaded_attachments(stored):
    """What mailer.send takes, from the email row."""
    return [(a["filename"], a["content_type"], base64.b64decode(a["data"])) for a in stored or ()]


class NotificationsService(operations.Operations):
    name = SERVICE_NAME

    db = Database(SERVICE_NAME, "fieldwork_notifications:migrations")
    principal = CurrentPrincipal()
    topology = Topology()
    interventions = RpcProxy("interventions")

    # --- events → emails ---------------------------------------------------------

    @event_handler("interventions", "intervention.created")
    def on_intervention_created(self, envelope):
        """Emails the client that its intervention is registered, with the
        link to its tracking page."""
        data = envelope["data"]
        to_send = rules.on_intervention_created(data, self._tracking_url(data["id"]))
        self._record_and_send(envelope, to_send, "notifications.on_intervention_created")

    @event_handler("interventions", "intervention.closed")
    def on_intervention_closed(self, envelope):
        """Awaiting pickup: emails the client, with the pickup or delivery
        date and an ICS invitation when there is a date."""
        data = envelope["data"]
        to_send = rules.on_intervention_closed(data, self._tracking_url(data["id"]))
        self._record_and_send(envelope, to_send, "notifications.on_intervention_closed")

    @event_handler("interventions", "intervention.delivered")
    def on_intervention_delivered(self, envelope):
        """Emails the receipt confirmation; when the company's survey option
        is on, records a survey due SURVEY_DELAY seconds after delivery."""
        data = envelope["data"]
        to_send = rules.on_intervention_delivered(data, self._tracking_url(data["id"]))
        plan = surveys.plan_survey(data, SURVEY_DELAY, now=datetime.now(timezone.utc))
        company = data.get("company") or {}

        def record_survey(session):
            if company.get("id"):  # known from now on, if company.* never reached us
                session.execute(pg_insert(Company).values(
                    id=company["id"], name=company.get("name") or "",
                    survey_enabled=bool(company.get("survey_enabled")))
                    .on_conflict_do_nothing(index_elements=[Company.id]))
            if plan is not None:
                # a reopening consumed before this delivery (other queue) cancels it already
                reopening = session.get(Reopening, plan.intervention_id)
                cancelled = reopening is not None and surveys.cancelled_by_reopening(
                    "scheduled", plan.intervention_version, reopening.version)
                session.execute(pg_insert(Survey).values(
                    event_id=envelope["event_id"], intervention_id=plan.intervention_id,
                    intervention_version=plan.intervention_version, company_id=plan.company_id,
                    technician_id=plan.technician_id, client_id=plan.client_id,
                    recipient=plan.recipient, language=plan.language, context=plan.context,
                    due_at=plan.due_at, status="cancelled" if cancelled else "scheduled",
                    cancel_reason=surveys.REOPENED if cancelled else None)
                    .on_conflict_do_nothing(index_elements=[Survey.event_id]))
        self._record_and_send(envelope, to_send, "notifications.on_intervention_delivered",
                              also=record_survey)

    @event_handler("interventions", "intervention.reopened")
    def on_intervention_reopened(self, envelope):
        """A survey not sent yet for this intervention is cancelled."""
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
            pending = uow.session.scalars(
                sa.select(Survey).where(Survey.intervention_id == data["id"],
                                        Survey.status == "scheduled").with_for_update()).all()
            for survey in pending:
                if surveys.cancelled_by_reopening(survey.status, survey.intervention_version,
                                                  data.get("version")):
                    survey.status, survey.cancel_reason = "cancelled", surveys.REOPENED
                    log.info("survey %s cancelled: intervention %s reopened", survey.id, data["id"])

    @event_handler("interventions", "company.created")
    def on_company_created(self, envelope):
        self._keep_company(envelope, "notifications.on_company_created")

    @event_handler("interventions", "company.updated")
    def on_company_updated(self, envelope):
        """The local copy the survey timer reads (survey option)."""
        self._keep_company(envelope, "notifications.on_company_updated")

    def _keep_company(self, envelope, consumer):
        """Upsert the copy (id, name, survey option, version); an update
        delivered late never undoes a newer one."""
        store_copy(self.db, envelope, Company, consumer, version_column="version")

    def _tracking_url(self, intervention_id):
        """The client's tracking link. Raises when interventions does not
        answer: the event is then retried (fieldwork_common.consumer)."""
        issued = self.interventions.issue_tracking_token(intervention_id=intervention_id)
        return config.public_url() + issued["url_path"]

    # --- surveys -------------------------------------------------------------------

    @timer(interval=SURVEY_POLL, eager=True)
    def send_due_surveys(self):
        """Emails the surveys that are due, or cancels them when the
        company's option is off by now."""
        with self.db.session() as session:
            due = session.scalars(
                sa.select(Survey.id).where(Survey.status == "scheduled",
                                           Survey.due_at <= sa.func.now())
                .order_by(Survey.due_at).limit(50)).all()
        for survey_id in due:
            self._survey_due(survey_id)

    def _survey_due(self, survey_id):
        claimed = None
        with self.db.unit_of_work() as uow:
            survey = uow.session.scalars(
                sa.select(Survey).where(Survey.id == survey_id, Survey.status == "scheduled",
                                        Survey.due_at <= sa.func.now())
                .with_for_update(skip_locked=True)).first()
            if survey is None:
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
            subject, body = render("survey", survey.language, context)
            email = Email(event_id=survey.event_id, recipient=survey.recipient, template="survey",
                          language=survey.language, subject=subject, body=body, attempts=1,
                          next_attempt_at=sa.func.now() + SEND_LEASE)
            uow.session.add(email)
            uow.session.flush()
            survey.token_hash = surveys.token_hash(token)
            survey.status, survey.sent_at, survey.expires_at = "sent", now, expires_at
            claimed = (email.id, 1, email.recipient, subject, body)
        self._deliver(*claimed)

    @rpc
    def get_survey(self, token):
        """Anyone holding the link (the gateway's public page): what the
        page shows. NotFound for a token that names no sent survey."""
        survey = self._survey_by_token(token)
        now = datetime.now(timezone.utc)
        context = survey.context or {}
        return {**as_dict(survey, ("id", "language", "status", "expires_at", "score", "comment",
                                   "answered_at")),
                "expired": survey.status == "sent" and survey.expires_at is not None
                and now >= survey.expires_at,
                "reference": context.get("reference", ""),
                "company_name": context.get("company_name", ""),
                "technician_name": context.get("technician_name", "")}

    @rpc
    @command
    def answer_survey(self, uow, token, score, comment=None):
        """Anyone holding the link: stores the answer (once) and publishes
        `survey.answered`. 404 unknown token, 409 answered already, 410
        expired, 400 a score outside 1..5."""
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
        if survey is None or survey.status not in ("sent", "answered"):
            raise NotFound("Survey not found.")
        return survey

    # --- the email log ---------------------------------------------------------------

    @rpc
    def list_emails(self, recipient=None, status=None, limit=50, after=None):
        """Admin: the recorded emails, newest first, a page at a time:
        {"items", "next_cursor"}; pass `next_cursor` back as `after` for the
        next page. `status="dead"` lists those an operator must look at."""
        self._require_admin()
        if status is not None and status not in STATUSES:
            raise InvalidInput("Unknown email status.", {"status": status, "allowed": list(STATUSES)})
        limit = max(1, min(int(limit), 200))
        with self.db.session() as session:
            query = sa.select(Email).order_by(Email.created_at.desc(), Email.id.desc()).limit(limit + 1)
            if recipient:
                query = query.where(Email.recipient == recipient)
            if status:
                query = query.where(Email.status == status)
            if after is not None:
                anchor = session.get(Email, after) if is_uuid(after) else None
                if anchor is None:
                    raise InvalidInput("Unknown cursor.", {"after": after})
                query = query.where(sa.tuple_(Email.created_at, Email.id) < (anchor.created_at, anchor.id))
            rows = session.scalars(query).all()
        items = [as_dict(e, EMAIL_FIELDS) for e in rows[:limit]]
        return {"items": items, "next_cursor": items[-1]["id"] if len(rows) > limit else None}

    @rpc
    def resend_email(self, email_id):
        """Admin: send a failed or dead email again now (its retries start
        over). A sent email is not sent twice: 409."""
        self._require_admin()
        with self.db.session() as session, session.begin():
            email = session.get(Email, email_id) if is_uuid(email_id) else None
            if email is None:
                raise NotFound("Email not found.", {"email_id": email_id})
            if email.status == "sent":
                raise Conflict("This email was sent already.", {"email_id": email_id, "status": "sent"})
            email.status, email.attempts, email.next_attempt_at = "pending", 0, sa.func.now()
        self._send(email_id)
        with self.db.session() as session:
            return as_dict(session.get(Email, email_id), EMAIL_FIELDS)

    @timer(interval=RETRY_POLL, eager=True)
    def send_due(self):
        """Retries emails whose send failed or was interrupted."""
        with self.db.session() as session:
            due = session.scalars(
                sa.select(Email.id)
                .where(Email.status.in_(("pending", "failed")),
                       Email.next_attempt_at <= sa.func.now())
                .order_by(Email.next_attempt_at).limit(50)).all()
        for email_id in due:
            self._send(email_id)

    def _require_admin(self):
        if self.principal is None or not self.principal.is_admin:
            raise Forbidden("Only admins handle the email log.")

    def _record_and_send(self, envelope, to_send, consumer, also=None):
        """Record the event's emails already claimed for this worker (first
        attempt counted, lease set) in the inbox's transaction, with what
        `also(session)` writes, then send them: no separate claim
        transaction on the common path."""
        with self.db.unit_of_work() as uow:
            if not uow.first_time(envelope, consumer):
                return
            if also is not None:
                also(uow.session)
            claimed = [_claimed_email(uow.session, envelope["event_id"], item) for item in to_send]
        for email in claimed:
            self._deliver(*email)

    @rpc
    def send_account_email(self, link_id, template, recipient, language, context):
        """The gateway, for a login: an invitation to choose a password
        (`account_invitation`) or a password reset link (`password_reset`),
        sent before answering. Once per `link_id`: a repeated call sends
        nothing more. `context`: email, role, company_name, link_url,
        expires_at."""
        if self.principal is not None and not self.principal.is_admin:
            raise Forbidden("Only the gateway asks for account emails.")
        if not is_uuid(link_id):
            raise InvalidInput("link_id must be a UUID.", {"link_id": link_id})
        try:
            item = account_emails.account_email(template, recipient, language, context)
        except account_emails.UnknownTemplate:
            raise InvalidInput("Unknown account email.", {"template": template,
                                                          "allowed": list(account_emails.TEMPLATES)})
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidInput("The account email's context is incomplete.",
                               {"reason": str(exc)[:200]}) from None
        if self.db.call.expired():
            raise Unavailable("The caller stopped waiting for this request; it was not run.",
                              {"reason": "deadline_passed"})
        with self.db.unit_of_work() as uow:
            known = uow.session.scalar(sa.select(Email.id).where(
                Email.event_id == link_id, Email.recipient == recipient, Email.template == template))
            claimed = None if known else _claimed_email(uow.session, link_id, item)
        if claimed is not None:
            self._deliver(*claimed)
        return {"email_id": known or claimed[0]}

    def _send(self, email_id):
        """Send one due email (a retry, or one left by a crash): claim it —
        attempt counted, and a lease that keeps other workers and replicas
        off it while it is sent — then deliver it."""
        with self.db.session() as session, session.begin():
            email = session.scalars(
                sa.select(Email).where(Email.id == email_id, Email.status.in_(("pending", "failed")),
                                       Email.next_attempt_at <= sa.func.now())
                .with_for_update(skip_locked=True)).first()
            if email is None:
                return
            email.attempts += 1
            email.next_attempt_at = sa.func.now() + SEND_LEASE
            claimed = (email.id, email.attempts, email.recipient, email.subject, email.body,
                       email.attachments)
        self._deliver(*claimed)

    def _mark_sent(self, email_id):
        with self.db.session() as session, session.begin():
            session.execute(sa.update(Email).where(Email.id == email_id)
                            .values(status="sent", sent_at=sa.func.now(), last_error=None))

    def _deliver(self, email_id, attempts, recipient, subject, body, attachments=None):
        """Send a claimed email and mark it sent as soon as the server
        accepted it. A crash after the server accepted it and before that
        mark is the one case that sends it twice; the copy has the same
        Message-ID (see docs/reliability.md)."""
        accepted = []

        def mark_sent():
            accepted.append(True)  # the server has it, whatever happens next
            self._mark_sent(email_id)
        extra = {"attachments": loaded_attachments(attachments)} if attachments else {}
        try:
            mailer.send(recipient, subject, body, message_id=f"<{email_id}@fieldwork.local>",
                        on_accepted=mark_sent, **extra)
        except Exception as exc:  # socket errors, every SMTPException, or the database
            if accepted:
                # sent, but recording it failed: never call it failed (that
                # would resend it); one more try, else the lease expires and
                # it goes out again, with the same Message-ID
                log.warning("email %s was sent but not recorded (%s); retrying the record",
                            email_id, type(exc).__name__)
                try:
                    self._mark_sent(email_id)
                except Exception:
                    log.error("email %s sent but still not recorded as sent", email_id)
                return
            status = "failed" if attempts < MAX_ATTEMPTS else "dead"
            error = f"{type(exc).__name__}: {exc}"[:500]
            with self.db.session() as session, session.begin():
                session.execute(sa.update(Email).where(Email.id == email_id).values(
                    status=status, last_error=error,
                    next_attempt_at=sa.func.now() + retry_delay(attempts)))
            log.warning("email %s to %s failed (attempt %d, now %s): %s", email_id, recipient,
                        attempts, status, error)
