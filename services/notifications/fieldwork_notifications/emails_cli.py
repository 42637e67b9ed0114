"""Operators' command for the email log (the same as /admin/emails):

    python -m fieldwork_notifications.emails_cli list [--status dead] [--recipient R] [--limit N]
    python -m fieldwork_notifications.emails_cli resend EMAIL_ID [EMAIL_ID ...]

`list` prints one JSON object per line, newest first. `resend` makes a
failed or dead email due again with its attempts reset; the running
service's `send_due` sends it within EMAIL_RETRY_POLL seconds (a sent email
is left alone). Uses NOTIFICATIONS_DATABASE_URL, else POSTGRES_URL.
"""
import argparse
import json
import sys

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from fieldwork_common import config
from fieldwork_common.db import create_engine
from fieldwork_common.serialize import as_dict, is_uuid
from fieldwork_notifications import SERVICE_NAME
from fieldwork_notifications.models import Email

FIELDS = ("id", "event_id", "recipient", "template", "language", "subject", "status", "attempts",
          "last_error", "next_attempt_at", "created_at", "sent_at")


def main(argv=None, out=sys.stdout):
    parser = argparse.ArgumentParser(prog="python -m fieldwork_notifications.emails_cli")
    commands = parser.add_subparsers(dest="command", required=True)
    listing = commands.add_parser("list")
    listing.add_argument("--status", choices=("pending", "sent", "failed", "dead"))
    listing.add_argument("--recipient")
    listing.add_argument("--limit", type=int, default=50)
    resend = commands.add_parser("resend")
    resend.add_argument("ids", nargs="+")
    args = parser.parse_args(argv)
    engine = create_engine(config.database_url(SERVICE_NAME), poolclass=NullPool)
    try:
        with Session(engine) as session, session.begin():
            if args.command == "list":
                query = sa.select(Email).order_by(Email.created_at.desc()).limit(max(1, args.limit))
                if args.status:
                    query = query.where(Email.status == args.status)
                if args.recipient:
                    query = query.where(Email.recipient == args.recipient)
                for email in session.scalars(query):
                    print(json.dumps(as_dict(email, FIELDS)), file=out)
                return 0
            missing = 0
            for email_id in args.ids:
                updated = session.execute(
                    sa.update(Email).where(Email.id == email_id, Email.status.in_(("failed", "dead")))
                    .values(status="pending", attempts=0, next_attempt_at=sa.func.now())
                ) if is_uuid(email_id) else None
                found = updated is not None and updated.rowcount == 1
                missing += not found
                print(json.dumps({"id": email_id, "resend": found}), file=out)
            return 1 if missing else 0
    finally:
        engine.dispose()


if __name__ == "__main__":
    sys.exit(main())
