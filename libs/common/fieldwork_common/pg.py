"""PostgreSQL URLs and engines, without nameko or Alembic: shared by the
services (through db.py), the operator tools and the tests."""
import zlib

import sqlalchemy as sa


def engine_url(url):
    """SQLAlchemy 2.1 maps a bare `postgresql://` to psycopg 3; Fieldwork runs
    on psycopg2 (eventlet makes it cooperative, see STACK-NOTES)."""
    url = sa.make_url(url)
    if url.drivername in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+psycopg2")
    return url


def create_engine(url, **kwargs):
    return sa.create_engine(engine_url(url), **kwargs)


def lock_key(name):
    """A stable 32-bit key for pg_advisory_lock, derived from a name."""
    return zlib.crc32(name.encode())
