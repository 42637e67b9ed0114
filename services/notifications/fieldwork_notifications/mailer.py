"""SMTP adapter."""
import smtplib
from email.message import EmailMessage
from email.utils import make_msgid

from fieldwork_common import config


def send(recipient, subject, body, message_id=None):
    settings = config.smtp_settings()
    message = EmailMessage()
    message["From"] = settings["sender"]
    message["To"] = recipient
    message["Subject"] = subject
    message["Message-ID"] = message_id or make_msgid(domain="fieldwork.local")
    message.set_content(body)
    with smtplib.SMTP(settings["host"], settings["port"], timeout=10) as smtp:
        smtp.send_message(message)
