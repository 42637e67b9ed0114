"""SMTP adapter."""
import smtplib
from email.message import EmailMessage
from email.utils import make_msgid

from fieldwork_common import config

TIMEOUT = 10  # seconds, per SMTP operation


def send(recipient, subject, body, message_id=None, on_accepted=None):
    """Send one email. `on_accepted()` runs as soon as the server has taken
    responsibility for it (250 after DATA), before QUIT: recording it then
    keeps the window in which a crash would resend it as short as can be."""
    settings = config.smtp_settings()
    message = EmailMessage()
    message["From"] = settings["sender"]
    message["To"] = recipient
    message["Subject"] = subject
    message["Message-ID"] = message_id or make_msgid(domain="fieldwork.local")
    message.set_content(body)
    with smtplib.SMTP(settings["host"], settings["port"], timeout=TIMEOUT) as smtp:
        smtp.send_message(message)
        if on_accepted is not None:
            on_accepted()
