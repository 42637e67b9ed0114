"""The email machinery: every email the service sends is recorded, claimed,
sent over SMTP, marked sent, and retried when the send fails.

Who asks for an email (an event handler, a survey's timer, the gateway's
account-email RPC) records its rows with `claimed_email` in its own
transaction, then `_deliver`s them once it committed. From there:

- a row is claimed before it is sent: its attempt is counted and a lease
  (`next_attempt_at`, SEND_LEASE ahead) keeps every other worker and
  replica off it while it is sent; no lock is held during the SMTP exchange;
- it is sent with `Message-ID: <row id@fieldwork.local>` and marked sent as
  soon as the server answered 250 (a crash between the two is the one case
  that sends it twice, with the same Message-ID: docs/reliability.md);
- a failed send is `failed`, due again after EMAIL_RETRY_BASE seconds
  doubled per attempt (at most an hour), and `dead` after EMAIL_MAX_ATTEMPTS;
- `send_due` (every EMAIL_RETRY_POLL seconds) sends what is due: failed rows
  whose delay passed, rows left pending by a crash between the commit and
  the send, rows whose lease expired;
- admins list the log and resend a failed or dead email (`list_emails`,
  `resend_email`; the gateway's /admin/emails).
"""
import base64
import logging
import os
from datetime import timedelta

import sqlalchemy as sa
from nameko.timer import timer

from fieldwork_common.errors import Conflict, Forbidden, InvalidInput, NotFound
from fieldwork_common.rpc import rpc
from fieldwork_common.serialize import as_dict, is_uuid

from fieldwork_notifications import mailer
from fieldwork_notifications.models import Email
from fieldwork_notifications.templates import render_email

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


def stored_attachments(attachments):
    """Attachments as the email row keeps them (JSON), or None."""
    if not attachments:
        return None
    return [{"filename": a.filename, "content_type": a.content_type,
             "data": base64.b64encode(a.data).decode("ascii")} for a in attachments]


def loaded_attachments(stored):
    """What mailer.send takes, from the email row."""
    return [(a["filename"], a["content_type"], base64.b64decode(a["data"])) for a in stored or ()]


def claimed_email(session, event_id, item):
    """Add the email row of `item` (a domain.emails.EmailToSend), already
    claimed by this worker (first attempt counted, a lease that keeps the
    retry timer off it while it is sent); what `_deliver` takes. The row
    keeps the subject, both parts and the attachments: a retry or an
    operator's resend sends the same email."""
    rendered = render_email(item.template, item.language, item.context)
    attachments = stored_attachments(item.attachments)
    email = Email(event_id=event_id, recipient=item.recipient, template=item.template,
                  language=item.language, subject=rendered.subject, body=rendered.text,
                  html_body=rendered.html, attempts=1, attachments=attachments,
                  next_attempt_at=sa.func.now() + SEND_LEASE)
    session.add(email)
    session.flush()
    return email.id, 1, email.recipient, rendered.subject, rendered.text, attachments, rendered.html


class EmailMachinery:
    """Mixed into the service: needs `db` and `principal`."""

    def _record_and_send(self, envelope, to_send, consumer, also=None):
        """Record the event's emails already claimed for this worker (first
        attempt counted, lease set) in the inbox's transaction, with what
        `also(uow)` writes, then send them: no separate claim transaction
        on the common path."""
        with self.db.unit_of_work() as uow:
            if not uow.first_time(envelope, consumer):
                return
            if also is not None:
                also(uow)
            claimed = [claimed_email(uow.session, envelope["event_id"], item) for item in to_send]
        for email in claimed:
            self._deliver(*email)

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
        # every company's emails: an admin of one company may not
        if self.principal is None or not self.principal.is_platform_admin:
            raise Forbidden("Only an admin of the whole platform handles the email log.")

    # --- sending -----------------------------------------------------------------------

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
                       email.attachments, email.html_body)
        self._deliver(*claimed)

    def _mark_sent(self, email_id):
        with self.db.session() as session, session.begin():
            session.execute(sa.update(Email).where(Email.id == email_id)
                            .values(status="sent", sent_at=sa.func.now(), last_error=None))

    def _deliver(self, email_id, attempts, recipient, subject, body, attachments=None, html=None):
        """Send a claimed email (multipart/alternative: text and HTML, when
        the row has its HTML) and mark it sent as soon as the server
        accepted it. A crash after the server accepted it and before that
        mark is the one case that sends it twice; the copy has the same
        Message-ID (see docs/reliability.md)."""
        accepted = []

        def mark_sent():
            accepted.append(True)  # the server has it, whatever happens next
            self._mark_sent(email_id)
        extra = {"attachments": loaded_attachments(attachments)} if attachments else {}
        if html:
            extra["html"] = html
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
