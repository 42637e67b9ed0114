"""The accounts database: who may log in, with which role, for whom."""
import os
import threading
import uuid

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import VerificationError, InvalidHashError

from sqlalchemy.orm import Session

from fieldwork_common.db import (UnitOfWork, create_engine, ensure_database, migrate,
                                  translate_db_errors)
from fieldwork_common.serialize import plain
from fieldwork_common.errors import Conflict

metadata = sa.MetaData()
users = sa.Table(
    "users", metadata,
    sa.Column("id", sa.Uuid(as_uuid=False), primary_key=True),
    sa.Column("email", sa.Text, nullable=False),
    sa.Column("password_hash", sa.Text, nullable=False),
    sa.Column("role", sa.Text, nullable=False),
    sa.Column("company_id", sa.Uuid(as_uuid=False)),
    sa.Column("technician_id", sa.Uuid(as_uuid=False)),
    sa.Column("client_id", sa.Uuid(as_uuid=False)),
    sa.Column("active", sa.Boolean, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True)),
)

_hasher = PasswordHasher()
# Verified against when the email is unknown, so that a login takes as long
# for an unknown email as for a wrong password.
_DUMMY_HASH = _hasher.hash("not a password")

PUBLIC_FIELDS = ("id", "email", "role", "company_id", "technician_id", "client_id", "created_at")


class Accounts:
    """One engine per process, made after gunicorn's fork."""

    def __init__(self, database_url):
        self.database_url = database_url
        self._engine = None
        self._pid = None
        self._lock = threading.Lock()

    @property
    def engine(self):
        if self._pid != os.getpid():
            with self._lock:
                if self._pid != os.getpid():
                    self._engine = create_engine(self.database_url, pool_size=8, max_overflow=4,
                                                 pool_pre_ping=True)
                    self._pid = os.getpid()
        return self._engine

    def prepare(self):
        """Create and migrate the accounts database (gunicorn's master does
        it once, before forking workers)."""
        ensure_database(self.database_url)
        migrate(self.database_url, "fieldwork_gateway:migrations")

    def create_user(self, email, password, role, company_id=None, technician_id=None, client_id=None,
                    idempotency=None):
        """`idempotency`: (key, request hash) of the HTTP request; a repeat
        returns the first answer (see fieldwork_common.commands)."""
        row = {"id": str(uuid.uuid4()), "email": email.strip(), "password_hash": _hasher.hash(password),
               "role": role, "company_id": company_id, "technician_id": technician_id,
               "client_id": client_id, "active": True}
        key, request_hash = idempotency or (None, None)
        with translate_db_errors(), Session(self.engine) as session, session.begin():
            uow = UnitOfWork(session, producer="gateway", correlation_id=None)
            if key:
                stored = uow.claim(f"create_user:{key}", request_hash)
                if stored is not None:
                    return stored.response
            inserted = session.execute(
                sa.dialects.postgresql.insert(users).values(**row)
                .on_conflict_do_nothing()
                .returning(*[users.c[f] for f in PUBLIC_FIELDS])).first()
            if inserted is None:
                raise Conflict("A user with this email already exists.", {"email": email})
            result = {k: plain(v) for k, v in inserted._mapping.items()}
            if key:
                uow.remember(f"create_user:{key}", result)
        return result

    def ensure_admin(self, email, password):
        with translate_db_errors(), self.engine.connect() as conn:
            exists = conn.execute(sa.select(users.c.id).where(users.c.role == "admin").limit(1)).first()
        if exists is None:
            try:
                return self.create_user(email, password, "admin")
            except Conflict:
                return None  # another process created it first
        return None

    def authenticate(self, email, password):
        """The user's row if the email and password match an active user."""
        with translate_db_errors(), self.engine.connect() as conn:
            row = conn.execute(sa.select(users).where(
                sa.func.lower(users.c.email) == email.strip().lower())).first()
        try:
            _hasher.verify(row.password_hash if row else _DUMMY_HASH, password)
        except (VerificationError, InvalidHashError):
            return None
        if row is None or not row.active:
            return None
        return row
