"""Each service creates its database if missing and migrates it at start,
safely when several replicas start at once."""
import threading

import sqlalchemy as sa
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy.pool import NullPool

from fieldwork_common.db import engine_url, ensure_database, migrate


def test_replicas_starting_together_create_and_migrate_once(isolation):
    url = isolation.database_url("replica_race")
    errors, barrier = [], threading.Barrier(4)

    def start_replica():
        try:
            barrier.wait(10)
            ensure_database(url)
            migrate(url, "fieldwork_interventions:migrations")
        except Exception as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=start_replica) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    head = ScriptDirectory.from_config(_config("fieldwork_interventions:migrations")).get_current_head()
    engine = sa.create_engine(engine_url(url), poolclass=NullPool)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalars().all() == [head]
        tables = set(conn.execute(sa.text(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")).scalars())
    engine.dispose()
    assert {"interventions", "outbox", "inbox", "companies"} <= tables


def _config(script_location):
    cfg = Config()
    cfg.set_main_option("script_location", script_location)
    return cfg
