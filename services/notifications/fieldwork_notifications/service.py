"""The notifications service: turns events into emails.

Each handled event and the emails it produces are written in one
transaction (inbox + `emails` rows), then sent over SMTP. A failed send is
retried with growing delays by `send_due`, which also picks up emails left
unsent by a crash between the commit and the send.
"""
import logging
import os
from datetime import timedelta

import sqlalchemy as sa
from fieldwork_common.rpc import rpc
from nameko.timer import timer

from fieldwork_common import operations  # a module: `nameko run` must not see the mixin as a service
from fieldwork_common.consumer import Topology, event_handler
from fieldwork_common.db import Database
from fieldwork_common.principal import CurrentPrincipal
from fieldwork_common.errors import Conflict, Forbidden, InvalidInput, NotFound
from fieldwork_common.serialize import as_dict, is_uuid

from fieldwork_notifications import SERVICE_NAME, mailer
from fieldwork_notifications.domain import emails as rules
from fieldwork_notifications.models import Email
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


def retry_delay(attempts, base=None):
    """base, 2×base, 4×base… capped at 1 h (30 s, 1 min, 2 min… by default)."""
    base = RETRY_BASE if base is None else base
    return timedelta(seconds=min(3600, base * 2 ** max(0, attempts - 1)))



class NotificationsService(operations.Operations):
    name = SERVICE_NAME

    db = Database(SERVICE_NAME, "fieldwork_notifications:migrations")
    principal = CurrentPrincipal()
    topology = Topology()

    @event_handler("interventions", "intervention.created")
    def on_intervention_created(self, envelope):
        """Emails the client that its intervention is registered."""
        self._record_and_send(envelope, rules.on_intervention_created(envelope["data"]),
                              "notifications.on_intervention_created")

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

    def _record_and_send(self, envelope, to_send, consumer):
        """Record the event's emails already claimed for this worker (first
        attempt counted, lease set) in the inbox's transaction, then send
        them: no separate claim transaction on the common path."""
        with self.db.unit_of_work() as uow:
            if not uow.first_time(envelope, consumer):
                return
            claimed = []
            for item in to_send:
                subject, body = render(item.template, item.language, item.context)
                email = Email(event_id=envelope["event_id"], recipient=item.recipient,
                              template=item.template, language=item.language,
                              subject=subject, body=body, attempts=1,
                              next_attempt_at=sa.func.now() + SEND_LEASE)
                uow.session.add(email)
                uow.session.flush()
                claimed.append((email.id, 1, email.recipient, subject, body))
        for email in claimed:
            self._deliver(*email)

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
            claimed = (email.id, email.attempts, email.recipient, email.subject, email.body)
        self._deliver(*claimed)

    def _mark_sent(self, email_id):
        with self.db.session() as session, session.begin():
            session.execute(sa.update(Email).where(Email.id == email_id)
                            .values(status="sent", sent_at=sa.func.now(), last_error=None))

    def _deliver(self, email_id, attempts, recipient, subject, body):
        """Send a claimed email and mark it sent as soon as the server
        accepted it. A crash after the server accepted it and before that
        mark is the one case that sends it twice; the copy has the same
        Message-ID (see docs/reliability.md)."""
        accepted = []

        def mark_sent():
            accepted.append(True)  # the server has it, whatever happens next
            self._mark_sent(email_id)
        try:
            mailer.send(recipient, subject, body, message_id=f"<{email_id}@fieldwork.local>",
                        on_accepted=mark_sent)
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
