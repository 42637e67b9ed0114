"""SMTP adapter, with a small pool of open connections.

Opening a connection per email costs a TCP handshake, the banner, EHLO and
QUIT on both sides; an idle pooled connection is checked with one NOOP
instead. A connection the server closed meanwhile (idle timeout, 421) fails
that NOOP and is replaced before anything of the email was sent, so reuse
never makes an email's outcome less certain than a fresh connection would.
"""
import logging
import queue
import smtplib
import time
from email.message import EmailMessage
from email.utils import make_msgid

from fieldwork_common import config

log = logging.getLogger(__name__)

TIMEOUT = 10     # seconds, per SMTP operation
MAX_IDLE = 30    # seconds a pooled connection may wait unused before it is closed
POOL_SIZE = 10   # at most this many idle connections are kept (one per worker)

_idle = queue.LifoQueue()


def _settings_key(settings):
    return settings["host"], settings["port"]


def _checkout(settings):
    """An open connection to the configured server: a pooled one that still
    answers, or a new one."""
    key = _settings_key(settings)
    while True:
        try:
            smtp, pooled_key, idle_since = _idle.get_nowait()
        except queue.Empty:
            return smtplib.SMTP(settings["host"], settings["port"], timeout=TIMEOUT)
        if pooled_key == key and time.monotonic() - idle_since < MAX_IDLE:
            try:
                if smtp.noop()[0] == 250:
                    return smtp
            except (smtplib.SMTPException, OSError):
                pass
        _close(smtp)


def _checkin(smtp, settings):
    if _idle.qsize() < POOL_SIZE:
        _idle.put((smtp, _settings_key(settings), time.monotonic()))
    else:
        _close(smtp)


def _close(smtp):
    try:
        smtp.quit()
    except (smtplib.SMTPException, OSError):
        try:
            smtp.close()
        except OSError:
            pass


def add_attachment(message, filename, content_type, data):
    """Attach bytes under a full content type such as
    "text/calendar; method=REQUEST" (its parameters are kept)."""
    kind, *params = [part.strip() for part in content_type.split(";")]
    maintype, _, subtype = kind.partition("/")
    parameters = {}
    for param in params:
        name, _, value = param.partition("=")
        if name:
            parameters[name.strip()] = value.strip().strip('"')
    if maintype == "text":
        parameters.setdefault("charset", "utf-8")
    message.add_attachment(data, maintype=maintype, subtype=subtype or "octet-stream",
                           filename=filename, params=parameters)


def message_of(sender, recipient, subject, body, message_id, html=None, attachments=()):
    """The email: multipart/alternative (text, then HTML) when there is an
    HTML part, inside multipart/mixed when there are attachments."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = recipient
    message["Subject"] = subject
    message["Message-ID"] = message_id
    message.set_content(body)
    if html:
        message.add_alternative(html, subtype="html")
    for filename, content_type, data in attachments or ():
        add_attachment(message, filename, content_type, data)
    return message


def send(recipient, subject, body, message_id=None, on_accepted=None, attachments=(), html=None):
    """Send one email. `on_accepted()` runs as soon as the server has taken
    responsibility for it (250 after DATA): recording it then keeps the
    window in which a crash would resend it as short as can be. An error
    raised by `on_accepted` propagates; the email was sent all the same.
    `html`: the HTML alternative of `body`; `attachments`: (filename,
    content type with its parameters, bytes)."""
    settings = config.smtp_settings()
    message = message_of(settings["sender"], recipient, subject, body,
                         message_id or make_msgid(domain="fieldwork.local"), html, attachments)
    smtp = _checkout(settings)
    try:
        smtp.send_message(message)
    except BaseException:
        _close(smtp)  # its state is unknown: never reuse it
        raise
    try:
        if on_accepted is not None:
            on_accepted()
    finally:
        _checkin(smtp, settings)
