"""The accounts database: logins, sessions, one-time links, login
throttling and the security audit log. The rules come from `rules.py`;
what crosses to other services (links checked over RPC, emails through
notifications) is done by the routes, which hand this store the callbacks
to run inside its transactions.

Every time is the database's (`now()`), so that replicas whose clocks
differ agree on what has expired.
"""
import logging
import math
import os
import threading
import uuid
from dataclasses import dataclass, field
from datetime import timedelta

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.dialects.postgresql import JSONB, insert as pg_insert
from sqlalchemy.orm import Session

from fieldwork_common.db import UnitOfWork, create_engine, ensure_database, migrate, translate_db_errors
from fieldwork_common.errors import (Conflict, Gone, InvalidInput, NotFound, TooManyRequests,
                                     Unauthenticated)
from fieldwork_common.pagination import page
from fieldwork_common.principal import Principal
from fieldwork_common.serialize import is_uuid, plain
from fieldwork_gateway.wings.accounts import rules

log = logging.getLogger(__name__)

metadata = sa.MetaData()
UUID = sa.Uuid(as_uuid=False)
TIME = sa.DateTime(timezone=True)

users = sa.Table(
    "users", metadata,
    sa.Column("id", UUID, primary_key=True),
    sa.Column("email", sa.Text, nullable=False),
    sa.Column("password_hash", sa.Text),
    sa.Column("role", sa.Text, nullable=False),
    sa.Column("company_id", UUID),
    sa.Column("technician_id", UUID),
    sa.Column("client_id", UUID),
    sa.Column("active", sa.Boolean, nullable=False),
    sa.Column("locale", sa.Text, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("created_at", TIME, server_default=sa.func.now()),
    sa.Column("updated_at", TIME, server_default=sa.func.now()),
    sa.Column("password_changed_at", TIME),
)
sessions = sa.Table(
    "sessions", metadata,
    sa.Column("id", UUID, primary_key=True),
    sa.Column("user_id", UUID, nullable=False),
    sa.Column("created_at", TIME, server_default=sa.func.now()),
    sa.Column("refreshed_at", TIME),
    sa.Column("expires_at", TIME, nullable=False),
    sa.Column("revoked_at", TIME),
    sa.Column("revoked_reason", sa.Text),
    sa.Column("address", sa.Text),
    sa.Column("user_agent", sa.Text),
)
refresh_tokens = sa.Table(
    "refresh_tokens", metadata,
    sa.Column("token_hash", sa.Text, primary_key=True),
    sa.Column("session_id", UUID, nullable=False),
    sa.Column("issued_at", TIME, server_default=sa.func.now()),
    sa.Column("expires_at", TIME, nullable=False),
    sa.Column("used_at", TIME),
)
account_links = sa.Table(
    "account_links", metadata,
    sa.Column("id", UUID, primary_key=True),
    sa.Column("token_hash", sa.Text, nullable=False),
    sa.Column("user_id", UUID, nullable=False),
    sa.Column("purpose", sa.Text, nullable=False),
    sa.Column("created_at", TIME, server_default=sa.func.now()),
    sa.Column("created_by", UUID),
    sa.Column("expires_at", TIME, nullable=False),
    sa.Column("used_at", TIME),
    sa.Column("revoked_at", TIME),
)
login_throttle = sa.Table(
    "login_throttle", metadata,
    sa.Column("key", sa.Text, primary_key=True),
    sa.Column("failures", sa.Integer, nullable=False),
    sa.Column("last_failure_at", TIME, nullable=False),
    sa.Column("locked_until", TIME),
)
audit_events = sa.Table(
    "audit_events", metadata,
    sa.Column("id", sa.BigInteger, primary_key=True),
    sa.Column("at", TIME, server_default=sa.func.now()),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("user_id", UUID),
    sa.Column("email", sa.Text),
    sa.Column("company_id", UUID),
    sa.Column("actor_id", UUID),
    sa.Column("address", sa.Text),
    sa.Column("details", JSONB, nullable=False),
)

# what every authenticated call reads (built once: see principal_for)
_SESSION_PRINCIPAL = (
    sa.select(users.c.id, users.c.role, users.c.company_id, users.c.technician_id,
              users.c.client_id, users.c.active, sessions.c.revoked_at)
    .join(sessions, sessions.c.user_id == users.c.id)
    .where(sessions.c.id == sa.bindparam("sid"), users.c.id == sa.bindparam("uid")))

PUBLIC_FIELDS = ("id", "email", "role", "company_id", "technician_id", "client_id", "locale",
                 "active", "version", "created_at", "updated_at")
AUDIT_KINDS = (
    "login_succeeded", "login_failed", "lockout", "logout", "session_revoked", "token_reuse",
    "password_reset_requested", "password_reset", "password_changed", "invitation_sent",
    "invitation_accepted", "user_created", "user_updated", "role_changed", "user_deactivated",
    "user_reactivated")

_hasher = PasswordHasher()
# Verified against when the email is unknown (or the login has no password
# yet), so that every failed login costs one Argon2 verification.
_DUMMY_HASH = _hasher.hash("not a password")


@dataclass(frozen=True)
class Policy:
    """What the gateway's settings say about accounts (see settings.py)."""
    access_ttl: int = 900
    refresh_ttl: int = 30 * 86400
    invitation_ttl: int = 48 * 3600
    reset_ttl: int = 3600
    resets_per_hour: int = 3
    throttle: rules.Throttle = rules.Throttle()
    address_throttle: rules.Throttle = rules.Throttle()
    common_passwords: frozenset = field(default_factory=rules.load_common_passwords)


@dataclass(frozen=True)
class Tokens:
    """A session's tokens, as the login answers them."""
    session_id: str
    user: dict
    refresh_token: str
    refresh_ttl: int


def public(row):
    user = {name: plain(row._mapping[name]) for name in PUBLIC_FIELDS}
    user["status"] = ("deactivated" if not row.active else
                      "invited" if row.password_hash is None else "active")
    return user


class Accounts:
    """One engine per process, made after gunicorn's fork."""

    def __init__(self, database_url, policy=None):
        self.database_url = database_url
        self.policy = policy or Policy()
        self._engine = None
        self._pid = None
        self._lock = threading.Lock()

    @property
    def engine(self):
        if self._pid != os.getpid():
            with self._lock:
                if self._pid != os.getpid():
                    # every authenticated call reads its session (about 1 ms):
                    # a few kept connections serve a process's 8 threads; more
                    # open only under a burst, and close after it
                    self._engine = create_engine(self.database_url, pool_size=3, max_overflow=6,
                                                 pool_pre_ping=True)
                    self._pid = os.getpid()
        return self._engine

    def prepare(self):
        """Create and migrate the accounts database (gunicorn's master does
        it once, before forking workers)."""
        ensure_database(self.database_url)
        migrate(self.database_url, "fieldwork_gateway:migrations")

    def _transaction(self):
        return _Transaction(self.engine)

    # --- logins ---------------------------------------------------------------------

    def check_password(self, password, email, field="password"):
        rules.check_password(password, email, self.policy.common_passwords, field)

    def create_user(self, fields, password=None, actor=None, idempotency=None, invite=None):
        """A new login. `fields`: email, role, links and locale, already
        checked against the caller's rights. With `password` it can log in
        at once; without, `invite(user, link_token, expires_at)` runs in the
        transaction (it emails the invitation: if it fails, nothing is
        written). `idempotency`: (key, request hash) of the HTTP request; a
        repeat returns the first answer."""
        row = {"id": str(uuid.uuid4()), "email": fields["email"].strip(),
               "password_hash": _hasher.hash(password) if password is not None else None,
               "role": fields["role"], "company_id": fields.get("company_id"),
               "technician_id": fields.get("technician_id"), "client_id": fields.get("client_id"),
               "locale": fields.get("locale") or "fr", "active": True, "version": 1,
               "password_changed_at": sa.func.now() if password is not None else None}
        key, request_hash = idempotency or (None, None)
        with self._transaction() as tx:
            uow = UnitOfWork(tx.session, producer="gateway", correlation_id=None)
            if key:
                stored = uow.claim(f"create_user:{key}", request_hash)
                if stored is not None:
                    return stored.response
            inserted = tx.execute(pg_insert(users).values(**row).on_conflict_do_nothing()
                                  .returning(*users.c)).first()
            if inserted is None:
                raise Conflict("A user with this email already exists.", {"email": fields["email"]})
            result = public(inserted)
            tx.audit("user_created", inserted, actor=actor, role=inserted.role,
                     invited=password is None)
            if password is None:
                result["invitation"] = self._send_link(tx, inserted, "invitation", actor, invite)
            if key:
                uow.remember(f"create_user:{key}", result)
        return result

    def ensure_admin(self, email, password):
        """The first platform admin, from ADMIN_EMAIL / ADMIN_PASSWORD."""
        with translate_db_errors(), self.engine.connect() as conn:
            exists = conn.execute(sa.select(users.c.id).where(users.c.role == "admin").limit(1)).first()
        if exists is not None:
            return None
        problems = rules.password_problems(password, email, self.policy.common_passwords)
        if problems:
            log.warning("ADMIN_PASSWORD is weak (%s): change it once logged in", ", ".join(problems))
        try:
            return self.create_user({"email": email, "role": "admin"}, password=password)
        except Conflict:
            return None  # another process created it first

    def get_user(self, caller, user_id):
        with translate_db_errors(), self.engine.connect() as conn:
            return public(_visible_user(conn, caller, user_id))

    def logins_linked_to(self, column, object_id):
        """How many logins carry this company, technician or client id
        (master data refuses to delete what a login points at)."""
        with translate_db_errors(), self.engine.connect() as conn:
            return conn.execute(sa.select(sa.func.count()).select_from(users)
                                .where(users.c[column] == object_id)).scalar()

    def own_user(self, user_id):
        with translate_db_errors(), self.engine.connect() as conn:
            return public(conn.execute(sa.select(users).where(users.c.id == user_id)).one())

    def list_users(self, caller, role=None, company_id=None, active=None, email=None, limit=None,
                   after=None):
        """A page of the logins `caller` may see, newest first."""
        query = sa.select(users)
        if not rules.is_platform_admin(caller):
            if company_id is not None and str(company_id) != str(caller.company_id):
                raise NotFound("Company not found.", {"company_id": company_id})
            query = query.where(users.c.company_id == caller.company_id)
        elif company_id is not None:
            query = query.where(users.c.company_id == company_id)
        if role is not None:
            query = query.where(users.c.role == role)
        if active is not None:
            query = query.where(users.c.active.is_(active))
        if email:
            escaped = email.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            query = query.where(sa.func.lower(users.c.email).like(f"%{escaped}%", escape="\\"))
        with translate_db_errors(), self.engine.connect() as conn:
            rows, cursor = page(conn, query, limit=limit, after=after,
                                keys=(users.c.created_at, users.c.id), columns=True)
        return {"items": [public(row) for row in rows], "next_cursor": cursor}

    def update_user(self, caller, user_id, version, changes, check):
        """Apply `changes` (role, links, email, locale, active) at `version`.
        `check(current)` re-checks the caller's rights on the row as locked.
        Deactivating ends every session of the user at once."""
        with self._transaction() as tx:
            row = tx.locked_user(caller, user_id, check)
            if row.version != version:
                raise Conflict("This user was changed since you read it.",
                               {"current_version": row.version, "your_version": version})
            changed = {k: v for k, v in changes.items() if row._mapping[k] != v}
            if not changed:
                return public(row)
            if "email" in changed:
                taken = tx.execute(sa.select(users.c.id).where(
                    sa.func.lower(users.c.email) == changed["email"].strip().lower(),
                    users.c.id != user_id)).first()
                if taken is not None:
                    raise Conflict("A user with this email already exists.", {"email": changed["email"]})
            updated = tx.execute(users.update().where(users.c.id == user_id)
                                 .values(**changed, version=users.c.version + 1,
                                         updated_at=sa.func.now())
                                 .returning(*users.c)).first()
            before = {k: plain(row._mapping[k]) for k in changed}
            after = {k: plain(v) for k, v in changed.items()}
            if "role" in changed or set(changed) & set(rules.LINKS):
                tx.audit("role_changed", updated, actor=caller.user_id, before=before, after=after)
            if changed.get("active") is False:
                tx.revoke_sessions(user_id, "deactivated")
                tx.audit("user_deactivated", updated, actor=caller.user_id)
            elif changed.get("active") is True:
                tx.audit("user_reactivated", updated, actor=caller.user_id)
            rest = set(changed) - {"role", "active", *rules.LINKS}
            if rest:
                tx.audit("user_updated", updated, actor=caller.user_id,
                         before={k: before[k] for k in rest}, after={k: after[k] for k in rest})
            return public(updated)

    # --- one-time links (invitations, password resets) ----------------------------------

    def _send_link(self, tx, user, purpose, actor, send):
        """A new link for `user` (older unused ones of the same purpose stop
        working), handed to `send(user, token, expires_at)` in `tx`."""
        ttl = self.policy.invitation_ttl if purpose == "invitation" else self.policy.reset_ttl
        tx.execute(account_links.update().where(
            account_links.c.user_id == user.id, account_links.c.purpose == purpose,
            account_links.c.used_at.is_(None), account_links.c.revoked_at.is_(None))
            .values(revoked_at=sa.func.now()))
        token = rules.new_secret()
        link = tx.execute(account_links.insert().values(
            id=str(uuid.uuid4()), token_hash=rules.secret_hash(token), user_id=user.id,
            purpose=purpose, created_by=actor,
            expires_at=sa.func.now() + sa.text(f"interval '{int(ttl)} seconds'"))
            .returning(account_links.c.id, account_links.c.expires_at)).one()
        send(public(user), {"id": link.id, "token": token, "purpose": purpose,
                            "expires_at": plain(link.expires_at)})
        tx.audit("invitation_sent" if purpose == "invitation" else "password_reset_requested",
                 user, actor=actor, link_id=link.id, expires_at=plain(link.expires_at))
        return {"expires_at": plain(link.expires_at)}

    def invite_again(self, caller, user_id, check, send):
        """A new invitation for a login that has no password yet."""
        with self._transaction() as tx:
            row = tx.locked_user(caller, user_id, check)
            if not row.active:
                raise Conflict("This login is deactivated; reactivate it first.", {"user_id": user_id})
            if row.password_hash is not None:
                raise Conflict("This user has chosen a password already: a password reset "
                               "(POST /auth/password-reset) sends a new link.", {"user_id": user_id})
            return {**public(row), "invitation": self._send_link(tx, row, "invitation",
                                                                 caller.user_id, send)}

    def request_reset(self, email, address, send):
        """A reset link for the active login with this email, if there is
        one and it has not had `resets_per_hour` links in the last hour.
        Says nothing either way: the caller answered 202 already."""
        with self._transaction() as tx:
            row = tx.execute(sa.select(users).where(
                sa.func.lower(users.c.email) == email.strip().lower()).with_for_update()).first()
            if row is None or not row.active:
                tx.audit("password_reset_requested", row, email=email, address=address,
                         sent=False, reason="unknown" if row is None else "deactivated")
                return False
            recent = tx.execute(sa.select(sa.func.count()).select_from(account_links).where(
                account_links.c.user_id == row.id, account_links.c.purpose == "password_reset",
                account_links.c.created_at > sa.func.now() - sa.text("interval '1 hour'"))).scalar()
            if recent >= self.policy.resets_per_hour:
                tx.audit("password_reset_requested", row, address=address, sent=False,
                         reason="too_many")
                return False
            self._send_link(tx, row, "password_reset", None, send)
            return True

    def describe_link(self, token):
        """What the password page shows: the link's purpose, the user's
        email and language. NotFound (unknown), Gone (used, superseded or
        expired)."""
        with translate_db_errors(), self.engine.connect() as conn:
            found = self._link(conn, token)
        return {"purpose": found.purpose, "email": found.email, "locale": found.locale}

    def link_language(self, token):
        """The language of the user a link (usable or not) was sent to."""
        with translate_db_errors(), self.engine.connect() as conn:
            return conn.execute(sa.select(users.c.locale).join(
                account_links, account_links.c.user_id == users.c.id).where(
                account_links.c.token_hash == rules.secret_hash(token))).scalar()

    def use_link(self, token, password, address=None):
        """Choose a password with a link: once, before it expires. Every
        other link of the user stops working and every session ends."""
        with self._transaction() as tx:
            found = self._link(tx, token, lock=True)
            self.check_password(password, found.email)
            tx.execute(account_links.update().where(account_links.c.id == found.id)
                       .values(used_at=sa.func.now()))
            user = self._set_password(tx, found.user_id, password,
                                      "invitation_accepted" if found.purpose == "invitation"
                                      else "password_reset")
            tx.audit("invitation_accepted" if found.purpose == "invitation" else "password_reset",
                     user, address=address, link_id=found.id)
            return {"purpose": found.purpose, "email": user.email}

    def _link(self, conn, token, lock=False):
        query = (sa.select(account_links, users.c.email, users.c.locale, users.c.active,
                           sa.func.now().label("now"))
                 .join(users, users.c.id == account_links.c.user_id)
                 .where(account_links.c.token_hash == rules.secret_hash(token)))
        if lock:
            query = query.with_for_update(of=account_links)
        found = conn.execute(query).first() if isinstance(token, str) and 0 < len(token) <= 200 else None
        if found is None:
            raise NotFound("This link is unknown.", {"reason": "unknown"})
        state = rules.link_state(found._mapping, found.now)
        if state == "usable" and not found.active:
            state = "revoked"
        if state != "usable":
            raise Gone({"used": "This link was used already.",
                        "revoked": "This link was replaced by a newer one or cancelled.",
                        "expired": "This link has expired."}[state],
                       {"reason": state, "purpose": found.purpose})
        return found

    def _set_password(self, tx, user_id, password, reason):
        user = tx.execute(users.update().where(users.c.id == user_id).values(
            password_hash=_hasher.hash(password), password_changed_at=sa.func.now(),
            version=users.c.version + 1, updated_at=sa.func.now()).returning(*users.c)).one()
        tx.execute(account_links.update().where(
            account_links.c.user_id == user_id, account_links.c.used_at.is_(None),
            account_links.c.revoked_at.is_(None)).values(revoked_at=sa.func.now()))
        tx.revoke_sessions(user_id, reason)
        return user

    # --- logging in ----------------------------------------------------------------------

    def login(self, email, password, address=None, user_agent=None):
        """A new session for the active login with this email and password.
        An unknown email costs the same work as a wrong password: one
        Argon2 verification, the same rows written."""
        with self._transaction() as tx:
            guard = self._guard(tx, email, address)
            row = tx.execute(sa.select(users).where(
                sa.func.lower(users.c.email) == email.strip().lower())).first()
            verified = _verify(row, password)
            if verified and row.active:
                guard.succeeded()
                tokens = self._open_session(tx, row, address, user_agent)
                tx.audit("login_succeeded", row, address=address, session_id=tokens.session_id)
            else:
                guard.failed(row, "inactive" if verified else "credentials")
                tokens = None
        if tokens is None:  # raised after the commit: the failure is counted
            raise Unauthenticated("Wrong email or password.")
        return tokens

    def _guard(self, tx, email, address):
        """Throttling of one attempt at a password (see rules.Throttle).

        Attempts on one account, and from one address, are serialised by
        transaction-scoped advisory locks held across the Argon2
        verification, so concurrent guesses cannot slip past the lock the
        previous one is about to set. A locked key answers 429 before any
        verification."""
        keys = sorted({rules.account_key(email), rules.address_key(address)})
        for key in keys:
            tx.execute(sa.select(sa.func.pg_advisory_xact_lock(sa.func.hashtextextended(key, 0))))
        now, counters = tx.throttle_state(keys)
        locked = [c.locked_until for c in counters.values()
                  if c.locked_until is not None and c.locked_until > now]
        if locked:
            retry_after = max(1, math.ceil((max(locked) - now).total_seconds()))
            raise TooManyRequests("Too many failed logins: try again later.",
                                  {"retry_after_s": retry_after}, retry_after=retry_after)
        return _Guard(self.policy, tx, keys, counters, now, email, address)

    def _open_session(self, tx, user, address, user_agent):
        session_id = str(uuid.uuid4())
        tx.execute(sessions.insert().values(
            id=session_id, user_id=user.id, address=address,
            user_agent=(user_agent or "")[:300] or None,
            expires_at=sa.func.now() + _interval(self.policy.refresh_ttl)))
        return Tokens(session_id, public(user), self._new_refresh_token(tx, session_id),
                      self.policy.refresh_ttl)

    def _new_refresh_token(self, tx, session_id):
        token = rules.new_secret()
        tx.execute(refresh_tokens.insert().values(
            token_hash=rules.secret_hash(token), session_id=session_id,
            expires_at=sa.func.now() + _interval(self.policy.refresh_ttl)))
        tx.execute(sessions.update().where(sessions.c.id == session_id).values(
            expires_at=sa.func.now() + _interval(self.policy.refresh_ttl)))
        return token

    def refresh(self, refresh_token, address=None):
        """New tokens for a refresh token, which is then used up. A used
        refresh token presented again means that two parties hold it: the
        whole session is revoked (theft detection) and both are logged out."""
        ended = None
        with self._transaction() as tx:
            found = tx.execute(
                sa.select(refresh_tokens, sessions.c.user_id, sessions.c.revoked_at,
                          sa.func.now().label("now"))
                .join(sessions, sessions.c.id == refresh_tokens.c.session_id)
                .where(refresh_tokens.c.token_hash == rules.secret_hash(refresh_token))
                .with_for_update(of=refresh_tokens)).first()
            if found is None:
                raise Unauthenticated("The refresh token is not valid.")
            user = tx.execute(sa.select(users).where(users.c.id == found.user_id)).one()
            if found.revoked_at is not None:
                ended = "The session has ended; log in again."
            elif found.used_at is not None:
                tx.revoke_session(found.session_id, "refresh_token_reuse")
                tx.audit("token_reuse", user, address=address, session_id=found.session_id)
                ended = "This refresh token was used already: the session is revoked; log in again."
            elif found.expires_at <= found.now or not user.active:
                ended = "The session has ended; log in again."
            else:
                tx.execute(refresh_tokens.update().where(
                    refresh_tokens.c.token_hash == found.token_hash).values(used_at=sa.func.now()))
                tx.execute(sessions.update().where(sessions.c.id == found.session_id)
                           .values(refreshed_at=sa.func.now()))
                token = self._new_refresh_token(tx, found.session_id)
                return Tokens(found.session_id, public(user), token, self.policy.refresh_ttl)
        raise Unauthenticated(ended)

    def principal_for(self, claims):
        """The caller of an access token, as the database says now: the
        session must be open and the user active (a deactivation or a
        revocation takes effect at the next call, not at expiry); the role
        and links are the current ones. One indexed read per call
        (bench/bench_accounts.py)."""
        session_id, user_id = claims.get("sid"), claims.get("sub")
        if not is_uuid(session_id) or not is_uuid(user_id):
            raise Unauthenticated("The token is not valid.")
        with translate_db_errors(), self.engine.connect() as conn:
            row = conn.execute(_SESSION_PRINCIPAL, {"sid": session_id, "uid": user_id}).first()
        if row is None or row.revoked_at is not None or not row.active:
            raise Unauthenticated("The session has ended; log in again.")
        return Principal(user_id=row.id, role=row.role, company_id=row.company_id,
                         technician_id=row.technician_id, client_id=row.client_id)

    def logout(self, user_id, session_id):
        with self._transaction() as tx:
            tx.revoke_session(session_id, "logout")
            tx.audit("logout", tx.user(user_id), session_id=session_id)

    def list_sessions(self, user_id, current_session_id):
        with translate_db_errors(), self.engine.connect() as conn:
            rows = conn.execute(sa.select(sessions).where(
                sessions.c.user_id == user_id, sessions.c.revoked_at.is_(None),
                sessions.c.expires_at > sa.func.now()).order_by(sessions.c.created_at.desc())
                .limit(200)).all()
        return {"items": [{"id": r.id, "created_at": plain(r.created_at),
                           "refreshed_at": plain(r.refreshed_at), "expires_at": plain(r.expires_at),
                           "address": r.address, "user_agent": r.user_agent,
                           "current": r.id == current_session_id} for r in rows]}

    def end_sessions(self, user_id, session_id=None):
        """End one of the user's sessions (NotFound if it is not theirs), or all."""
        with self._transaction() as tx:
            if session_id is not None:
                owned = tx.execute(sa.select(sessions.c.id).where(
                    sessions.c.id == session_id, sessions.c.user_id == user_id)).first() \
                    if is_uuid(session_id) else None
                if owned is None:
                    raise NotFound("Session not found.", {"session_id": session_id})
                ended = tx.revoke_session(session_id, "revoked_by_user")
            else:
                ended = tx.revoke_sessions(user_id, "revoked_by_user")
            tx.audit("session_revoked", tx.user(user_id), sessions=ended,
                     session_id=session_id or "all")

    def change_password(self, user_id, current, new, address=None, user_agent=None):
        """With the current password, throttled like a login of the
        account: every session ends and a new one is opened."""
        with self._transaction() as tx:
            row = tx.execute(sa.select(users).where(users.c.id == user_id)).one()
            guard = self._guard(tx, row.email, address)
            if not _verify(row, current):
                guard.failed(row, "credentials")
                tokens = None
            else:
                guard.succeeded()
                self.check_password(new, row.email, "new_password")
                user = self._set_password(tx, user_id, new, "password_changed")
                tx.audit("password_changed", user, address=address)
                tokens = self._open_session(tx, user, address, user_agent)
        if tokens is None:
            raise InvalidInput("The current password is wrong.",
                               {"fields": {"current_password": ["wrong password"]}})
        return tokens

    # --- the audit log --------------------------------------------------------------------

    def list_audit(self, caller, kind=None, user_id=None, company_id=None, date_from=None,
                   date_to=None, limit=None, after=None):
        """Newest first; a company admin sees the events of its company."""
        query = sa.select(audit_events)
        if not rules.is_platform_admin(caller):
            if company_id is not None and str(company_id) != str(caller.company_id):
                raise NotFound("Company not found.", {"company_id": company_id})
            company_id = caller.company_id
        if company_id is not None:
            query = query.where(audit_events.c.company_id == company_id)
        if kind is not None:
            query = query.where(audit_events.c.kind == kind)
        if user_id is not None:
            self.get_user(caller, user_id)  # in the caller's scope (404), like every id filter
            query = query.where(audit_events.c.user_id == user_id)
        if date_from is not None:
            query = query.where(audit_events.c.at >= date_from)
        if date_to is not None:
            query = query.where(audit_events.c.at < date_to)
        with translate_db_errors(), self.engine.connect() as conn:
            rows, cursor = page(conn, query, limit=limit, after=after, keys=(audit_events.c.id,),
                                columns=True)
        return {"items": [{name: plain(value) for name, value in row._mapping.items()}
                          for row in rows], "next_cursor": cursor}


def _visible_user(conn, caller, user_id, lock=False):
    """The users row, or NotFound when it does not exist or is outside the
    caller's scope (its existence is not revealed)."""
    row = None
    if is_uuid(user_id):
        query = sa.select(users).where(users.c.id == user_id)
        row = conn.execute(query.with_for_update() if lock else query).first()
    if row is None or not rules.sees_user(caller, row._mapping):
        raise NotFound("User not found.", {"user_id": user_id})
    return row


def _verify(row, password):
    """Does `password` match the login's? One Argon2 verification whatever
    the row (none, or no password yet: a dummy hash)."""
    try:
        _hasher.verify(row.password_hash if row is not None and row.password_hash else _DUMMY_HASH,
                       password)
    except (VerificationError, InvalidHashError):
        return False
    return row is not None and row.password_hash is not None


class _Guard:
    """The throttle counters of one attempt, under their advisory locks."""

    def __init__(self, policy, tx, keys, counters, now, email, address):
        self.policy, self.tx, self.keys, self.counters, self.now = policy, tx, keys, counters, now
        self.email, self.address = email, address

    def succeeded(self):
        """A success resets the account's count (not the address's)."""
        account = rules.account_key(self.email)
        self.tx.execute(login_throttle.delete().where(login_throttle.c.key == account))

    def failed(self, user, reason):
        """Count one failure on each key; audit it, and the locks it sets."""
        self.tx.audit("login_failed", user, email=self.email, address=self.address, reason=reason)
        for key in self.keys:
            throttle = self.policy.address_throttle if key.startswith("address:") \
                else self.policy.throttle
            counter = self.counters.get(key)
            failures = 1 + (throttle.counts_from(counter.failures, counter.last_failure_at,
                                                 counter.locked_until, self.now) if counter else 0)
            seconds = throttle.lock_seconds(failures)
            until = self.now + timedelta(seconds=seconds) if seconds else None
            values = {"failures": failures, "last_failure_at": self.now, "locked_until": until}
            self.tx.execute(pg_insert(login_throttle).values(key=key, **values)
                            .on_conflict_do_update(index_elements=[login_throttle.c.key], set_=values))
            if seconds:
                self.tx.audit("lockout", user, email=self.email, address=self.address,
                              key=key.split(":")[0], failures=failures, seconds=seconds)


class _Transaction:
    """One transaction on the accounts database, with the writes every
    command shares: audit rows and session revocations."""

    def __init__(self, engine):
        self.engine = engine

    def __enter__(self):
        self._guard = translate_db_errors()
        self._guard.__enter__()
        self.session = Session(self.engine)
        self._begin = self.session.begin()
        self._begin.__enter__()
        return self

    def __exit__(self, *exc):
        try:
            self._begin.__exit__(*exc)
        finally:
            self.session.close()
            self._guard.__exit__(*exc)
        return False

    def execute(self, statement):
        return self.session.execute(statement)

    def user(self, user_id):
        return self.execute(sa.select(users).where(users.c.id == user_id)).first()

    def locked_user(self, caller, user_id, check):
        """The login as locked for a change, once `caller` may see it (404)
        and `check(user)` (the caller's rights on it) has passed."""
        row = _visible_user(self.session, caller, user_id, lock=True)
        check(public(row))
        return row

    def throttle_state(self, keys):
        now = self.execute(sa.select(sa.func.now())).scalar()
        rows = self.execute(sa.select(login_throttle).where(login_throttle.c.key.in_(keys))).all()
        return now, {row.key: row for row in rows}

    def revoke_session(self, session_id, reason):
        return self.execute(sessions.update().where(
            sessions.c.id == session_id, sessions.c.revoked_at.is_(None))
            .values(revoked_at=sa.func.now(), revoked_reason=reason)).rowcount

    def revoke_sessions(self, user_id, reason):
        return self.execute(sessions.update().where(
            sessions.c.user_id == user_id, sessions.c.revoked_at.is_(None))
            .values(revoked_at=sa.func.now(), revoked_reason=reason)).rowcount

    def audit(self, kind, user=None, *, email=None, actor=None, address=None, **details):
        """One row of the audit log about `user` (a users row, or None for
        an unknown email), in this transaction."""
        assert kind in AUDIT_KINDS, kind
        self.execute(audit_events.insert().values(
            kind=kind, user_id=user.id if user is not None else None,
            email=user.email if user is not None else email,
            company_id=user.company_id if user is not None else None,
            actor_id=actor, address=address, details=details))


def _interval(seconds):
    return sa.text(f"interval '{int(seconds)} seconds'")
