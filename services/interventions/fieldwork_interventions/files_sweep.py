"""Remove from the object store what no file row names (docs/files.md).

The gateway deletes what it wrote whenever an upload fails, but a gateway
process killed in the middle of an upload leaves a multipart upload
unfinished, or objects written before their registration; a registration
whose reply was lost keeps its objects on purpose. None of these is ever
referenced. This sweep, run by an operator or a scheduler (once a day is
plenty), deletes objects under `files/` whose file id has no row, and
aborts multipart uploads, when they are older than `--older-than` hours
(default 24: an upload in progress is never touched):

    python -m fieldwork_interventions.files_sweep [--older-than 24] [--dry-run]
"""
import argparse
import sys
from datetime import datetime, timedelta, timezone

import sqlalchemy as sa

from fieldwork_common import config, files
from fieldwork_common.pg import create_engine
from fieldwork_common.serialize import is_uuid

PREFIX = "files/"


def _named(connection, ids):
    """The object keys the rows of these file ids name."""
    if not ids:
        return set()
    rows = connection.execute(sa.text(
        "SELECT original_key, thumbnail_key, client_key FROM files WHERE id = ANY(CAST(:ids AS uuid[]))"),
        {"ids": sorted(ids)}).all()
    return {key for row in rows for key in row if key}


def sweep(engine, store, older_than=timedelta(hours=24), prefix=PREFIX, dry_run=False, now=None):
    """{"deleted": [keys], "aborted": [keys]}: what was (or, dry, would be) removed."""
    cutoff = (now or datetime.now(timezone.utc)) - older_than
    deleted, aborted = [], []
    with engine.connect() as connection:
        for page in store.listing(prefix):
            old = [(key, at) for key, at in page if at <= cutoff]
            ids = {key.split("/")[2] for key, _ in old
                   if key.count("/") == 3 and is_uuid(key.split("/")[2])}
            named = _named(connection, ids)
            deleted += [key for key, _ in old if key not in named]
    aborted = [(key, upload_id) for key, upload_id, at in store.unfinished_uploads(prefix)
               if at <= cutoff]
    if not dry_run:
        store.delete(*deleted)
        for key, upload_id in aborted:
            store.abort_upload(key, upload_id)
    return {"deleted": deleted, "aborted": [key for key, _ in aborted]}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--older-than", type=float, default=24.0, metavar="HOURS")
    parser.add_argument("--dry-run", action="store_true", help="list, delete nothing")
    args = parser.parse_args(argv)
    engine = create_engine(config.database_url("interventions"))
    try:
        done = sweep(engine, files.store(), timedelta(hours=args.older_than), dry_run=args.dry_run)
    finally:
        engine.dispose()
    verb = "would delete" if args.dry_run else "deleted"
    for key in done["deleted"]:
        print(f"{verb} {key}")
    for key in done["aborted"]:
        print(f"{'would abort' if args.dry_run else 'aborted'} the unfinished upload of {key}")
    print(f"{len(done['deleted'])} object(s), {len(done['aborted'])} unfinished upload(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
