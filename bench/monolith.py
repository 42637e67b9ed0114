"""A minimal monolith for bench/bench_create.py: the same POST /interventions
body, validated minimally, written as one row straight into PostgreSQL.

Served by gunicorn with the gateway's settings (gthread, 2 workers,
8 threads):

    MONOLITH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/some_db \\
        gunicorn --workers 2 --threads 8 --worker-class gthread \\
                 --bind 127.0.0.1:8100 --chdir bench monolith:app

The database and its table are made by `prepare(url)` (the bench calls it
before starting gunicorn). Each gunicorn worker process creates its own
engine after the fork (pool_size 8, one connection per thread).
"""
import os
import threading
import uuid

import sqlalchemy as sa
from flask import Flask, jsonify, request

from fieldwork_common.db import create_engine, ensure_database

LOCATIONS = ("workshop", "at_home", "on_site")
ID_FIELDS = ("client_id", "equipment_id", "type_id")

metadata = sa.MetaData()
interventions = sa.Table(
    "bench_interventions", metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("client_id", sa.Uuid, nullable=False),
    sa.Column("equipment_id", sa.Uuid, nullable=False),
    sa.Column("type_id", sa.Uuid, nullable=False),
    sa.Column("technician_id", sa.Uuid),
    sa.Column("location", sa.String(20), nullable=False),
    sa.Column("description", sa.Text, nullable=False, server_default=""),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False,
              server_default=sa.func.now()),
)


def prepare(url):
    """Create the database and the table if missing."""
    ensure_database(url)
    engine = create_engine(url)
    try:
        metadata.create_all(engine)
    finally:
        engine.dispose()


_engine = None
_engine_pid = None
_engine_lock = threading.Lock()


def engine():
    """One engine per process, made after gunicorn's fork."""
    global _engine, _engine_pid
    if _engine_pid != os.getpid():
        with _engine_lock:
            if _engine_pid != os.getpid():
                _engine = create_engine(os.environ["MONOLITH_DATABASE_URL"],
                                        pool_size=8, max_overflow=0)
                _engine_pid = os.getpid()
    return _engine


def _uuid(value):
    if value is None:
        return None
    return uuid.UUID(str(value))


def _invalid(message):
    return jsonify({"error": {"code": "invalid_input", "message": message}}), 400


app = Flask(__name__)


@app.post("/interventions")
def create_intervention():
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return _invalid("A JSON object is required.")
    row = {"id": uuid.uuid4()}
    try:
        for key in ID_FIELDS:
            if key not in body:
                return _invalid(f"{key} is required.")
            row[key] = _uuid(body[key])
        row["technician_id"] = _uuid(body.get("technician_id"))
    except ValueError:
        return _invalid("An id is not a UUID.")
    if body.get("location") not in LOCATIONS:
        return _invalid("location must be one of " + ", ".join(LOCATIONS))
    description = body.get("description") or ""
    if not isinstance(description, str) or len(description) > 5000:
        return _invalid("description must be a string of at most 5000 characters.")
    row["location"] = body["location"]
    row["description"] = description
    with engine().begin() as conn:
        conn.execute(interventions.insert().values(**row))
    return jsonify({"id": str(row["id"])}), 201


@app.get("/health")
def health():
    with engine().connect() as conn:
        conn.execute(sa.text("SELECT 1"))
    return {"status": "ok"}
