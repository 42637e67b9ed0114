"""Accounts and access over HTTP: logging in, sessions, passwords, logins
managed by admins and managers, the audit log. The rules are in
`rules.py`; the links a login carries (client, technician, company) are
checked in the caller's scope by the interventions service, over RPC with
the caller's principal, so that another company's record answers 404.
Emails (invitations, password resets) go through the notifications
service.
"""
import logging
import os
import threading
from concurrent.futures import ThreadPoolExecutor

from flask import current_app, g, render_template, request

from fieldwork_common.errors import Conflict, FieldworkError, Gone, InvalidInput, NotFound
from fieldwork_gateway import pages
from fieldwork_gateway.wings.accounts import rules, schemas
from fieldwork_gateway.auth import issue_token
from fieldwork_gateway.web import (ADMIN, ALL, PUBLIC, STAFF, api, call, expected_version, storable,
                                   with_etag)

log = logging.getLogger(__name__)


def accounts():
    return current_app.extensions["accounts"]


def settings():
    return current_app.config["SETTINGS"]


def client_address():
    """The caller's address (X-Forwarded-For only through GATEWAY_PROXY_HOPS
    trusted proxies: see app.py)."""
    return request.remote_addr


def token_answer(tokens, status=200):
    s = settings()
    return {"access_token": issue_token(tokens.user, s.jwt_secret, s.access_token_ttl,
                                        tokens.session_id),
            "token_type": "Bearer", "expires_in": s.access_token_ttl,
            "refresh_token": tokens.refresh_token, "refresh_expires_in": tokens.refresh_ttl}, status


THROTTLED = ("Too many failed logins on this account or from this address: wait `Retry-After` "
             "seconds")
GONE = "The link was used already, replaced by a newer one, or has expired"


# --- sessions ---------------------------------------------------------------------------

@api.route("/auth/token", "POST", summary="Log in: a session (access and refresh tokens)",
           roles=PUBLIC, body=schemas.TokenRequest, response=schemas.Token, tag="auth",
           errors={401: "Wrong email or password", 429: THROTTLED})
def login(body):
    """The access token lasts ACCESS_TOKEN_TTL seconds (15 min by default);
    the refresh token (30 days) gets new ones at POST /auth/refresh. 401 for
    a wrong email or password, alike. After LOGIN_MAX_FAILURES failures on
    an account (or from an address) with no pause of 15 minutes, every
    attempt answers 429 with `Retry-After` until the delay passes, the right
    password too; the delay doubles at each further failure."""
    return token_answer(accounts().login(body["email"], body["password"], client_address(),
                                         request.headers.get("User-Agent")))


@api.route("/auth/refresh", "POST", summary="New tokens for a refresh token (which is then used up)",
           roles=PUBLIC, body=schemas.RefreshRequest, response=schemas.Token, tag="auth")
def refresh(body):
    """Each refresh token works once and the answer carries the next one.
    A refresh token presented a second time means that someone else holds
    a copy: the whole session is revoked (both holders must log in again)
    and the reuse is audited. 401 for an unknown, used, expired or revoked
    token, or a deactivated user."""
    return token_answer(accounts().refresh(body["refresh_token"], client_address()))


@api.route("/auth/logout", "POST", summary="End this session", roles=ALL, status=204, tag="auth")
def logout():
    """The access token and every refresh token of this session stop
    working at once."""
    accounts().logout(g.principal.user_id, g.session_id)
    return "", 204


@api.route("/account", "GET", summary="Who am I: the caller's login", roles=ALL,
           response=schemas.User, tag="auth")
def my_account():
    return with_etag(accounts().own_user(g.principal.user_id))


@api.route("/account/sessions", "GET", summary="The caller's open sessions", roles=ALL,
           response=schemas.SessionList, tag="auth")
def my_sessions():
    """Newest first, with the address and browser each was opened from;
    `current` marks the session of this request's token."""
    return accounts().list_sessions(g.principal.user_id, g.session_id)


@api.route("/account/sessions", "DELETE", summary="Log out everywhere", roles=ALL, status=204,
           tag="auth")
def end_my_sessions():
    """Every session of the caller ends, this one included."""
    accounts().end_sessions(g.principal.user_id)
    return "", 204


@api.route("/account/sessions/<session_id>", "DELETE", summary="End one of the caller's sessions",
           roles=ALL, status=204, tag="auth")
def end_my_session(session_id):
    """404 for a session that is not the caller's."""
    accounts().end_sessions(g.principal.user_id, session_id)
    return "", 204


# --- passwords ------------------------------------------------------------------------------

@api.route("/account/password", "PUT", summary="Change one's password (with the current one)",
           roles=ALL, body=schemas.PasswordChange, response=schemas.Token, tag="auth",
           errors={429: THROTTLED})
def change_password(body):
    """Every session of the caller ends (on every device); the answer opens
    a new one. A wrong current password is 400 and counts as a failed login
    of the account (429 once throttled)."""
    return token_answer(accounts().change_password(
        g.principal.user_id, body["current_password"], body["new_password"], client_address(),
        request.headers.get("User-Agent")))


@api.route("/auth/password-reset", "POST", summary="Email a password reset link",
           roles=PUBLIC, body=schemas.PasswordResetRequest, response=schemas.Accepted, status=202,
           tag="auth")
def request_password_reset(body):
    """Always 202, whether the address has an account or not, and in the
    same time: the lookup and the email happen after the answer. An active
    login gets a link valid PASSWORD_RESET_TTL seconds (1 h), at most
    PASSWORD_RESETS_PER_HOUR of them an hour; a new link replaces the
    previous one."""
    app = current_app._get_current_object()
    email, address = body["email"], client_address()
    _background().submit(_reset_in_background, app, email, address)
    return {"status": "accepted"}, 202


def _reset_in_background(app, email, address):
    with app.app_context():
        try:
            app.extensions["accounts"].request_reset(email, address, _emailer(app, "password_reset"))
        except Exception:  # the caller has its 202; the log says what went wrong
            log.exception("password reset for a requested address failed")


_executor = {"pid": None, "pool": None}
_executor_lock = threading.Lock()


def _background():
    """Two threads per gateway process for the work done after answering."""
    with _executor_lock:
        if _executor["pid"] != os.getpid():
            _executor.update(pid=os.getpid(), pool=ThreadPoolExecutor(2, "after-answer"))
        return _executor["pool"]


@api.route("/auth/password", "POST", summary="Choose a password with an emailed link",
           roles=PUBLIC, body=schemas.PasswordSet, response=schemas.PasswordSetResult, tag="auth",
           errors={410: GONE})
def set_password(body):
    """The token of an invitation or password reset link. It works once,
    before it expires (404 unknown; 410 used, replaced or expired). Every
    other link of the user stops working and every session ends. A refused
    password (400) does not use the link up."""
    return accounts().use_link(body["token"], body["password"], client_address())


# --- logins (admins and managers) ---------------------------------------------------------

@api.route("/users", "POST", summary="Create a login (invited by email, or with a password)",
           roles=STAFF, body=schemas.UserIn, response=schemas.User, status=201, tag="accounts")
def create_user(body):
    """A platform admin grants any login; an admin of a company, any role of
    that company (never a platform admin: 403); a manager, client logins of
    its company. The client, technician or company it names must be visible
    to the caller (404) and active (400); the login belongs to the client's
    or technician's company. Without `password`, the user is emailed an
    invitation (FR/EN) with a link to choose one, valid INVITATION_TTL
    seconds (48 h), once."""
    caller = g.principal
    password = body.pop("password", None)
    rules.check_role_grant(caller, body["role"])
    rules.check_links(body)
    state, context = _resolved(caller, body)
    rules.check_grant(caller, state)
    if password is not None:
        accounts().check_password(password, state["email"])
    return accounts().create_user(state, password=password, actor=caller.user_id,
                                  idempotency=g.get("idempotency"),
                                  invite=_emailer(current_app, "account_invitation", context))


@api.route("/users", "GET", summary="Logins, newest first", roles=STAFF, query=schemas.UserQuery,
           response=schemas.UserList, tag="accounts")
def list_users(query):
    """A platform admin sees every login; an admin or a manager those of its
    company (another company in `company_id`: 404). `email` matches a part
    of the address. A page at a time: pass `next_cursor` as `after`."""
    return accounts().list_users(g.principal, **query)


@api.route("/users/<user_id>", "GET", summary="A login", roles=STAFF, response=schemas.User,
           tag="accounts")
def get_user(user_id):
    """404 outside the caller's scope. The `ETag` is its version."""
    return with_etag(accounts().get_user(g.principal, user_id))


@api.route("/users/<user_id>", "PATCH", summary="Change, deactivate or reactivate a login",
           roles=STAFF, body=schemas.UserPatch, response=schemas.User, tag="accounts")
def update_user(user_id, body):
    """Role, links, email and language, within what the caller may grant
    (as for POST /users); `{"active": false}` deactivates it and ends its
    sessions at once (its next call is 401), `true` reactivates it. Nobody
    changes their own role, links or active state (403). A new role drops
    the links it does not carry. With the version read (If-Match or
    `version`: 428 without, 409 when stale)."""
    caller = g.principal
    version = expected_version(body.pop("version", None))
    current = accounts().get_user(caller, user_id)
    rules.check_change(caller, current, body)
    if current["version"] != version:
        raise Conflict("This user was changed since you read it.",
                       {"current_version": current["version"], "your_version": version})
    changes = dict(body)
    if set(changes) & {"role", *rules.LINKS}:
        state = rules.after_role_change(current, changes)
        rules.check_role_grant(caller, state["role"])
        rules.check_links(state)
        state, _ = _resolved(caller, state)
        rules.check_grant(caller, state)
        changes.update({k: state[k] for k in ("role", *rules.LINKS)})

    def check(locked):
        rules.check_change(caller, locked, body)
    return with_etag(accounts().update_user(caller, user_id, version, changes, check))


@api.route("/users/<user_id>/invitation", "POST", summary="Send a new invitation",
           roles=STAFF, response=schemas.User, tag="accounts")
def invite_again(user_id):
    """For a login that has not chosen its password yet (409 otherwise): a
    new link, and the previous one stops working."""
    caller = g.principal

    def check(user):
        rules.check_change(caller, user, {})
    user = accounts().get_user(caller, user_id)
    check(user)
    _, context = _resolved(caller, dict(user))
    return accounts().invite_again(caller, user_id, check,
                                   _emailer(current_app, "account_invitation", context))


def _resolved(caller, state):
    """`state` with its company settled from its links, each checked in the
    caller's scope over RPC (404 when the caller may not see it, 400 when
    it is deactivated or belongs to another company than the one named);
    and what the invitation email says of the company."""
    state = dict(state)
    company = None
    if state.get("company_id"):  # named by the caller: in its scope first (404)
        company = call("interventions", "get_company", company_id=state["company_id"])
    for link, method, label in (("client_id", "get_client", "client"),
                                ("technician_id", "get_technician", "technician")):
        if state.get(link):
            linked = call("interventions", method, **{link: state[link]})
            if not linked.get("active", True):
                raise InvalidInput(f"{link} names a deactivated {label}.", {link: state[link]})
            requested = state.get("company_id")
            if requested is None and link == "technician_id" and caller.company_id is not None:
                requested = caller.company_id
            state["company_id"] = rules.company_of_link(link, linked, requested)
            if link == "client_id" and not state.get("locale"):
                state["locale"] = linked.get("locale") or "fr"
    if state.get("company_id"):
        if company is None or company["id"] != state["company_id"]:
            company = call("interventions", "get_company", company_id=state["company_id"])
        if not company.get("active", True) and state["role"] in ("admin", "manager"):
            raise InvalidInput("company_id names a deactivated company.",
                               {"company_id": state["company_id"]})
    return state, {"company_name": (company or {}).get("name") or ""}


def _emailer(app, template, context=None):
    """`send(user, link)` for the store: asks notifications to email the
    link (raises, and so undoes the change, when it cannot)."""
    s = app.config["SETTINGS"]

    def send(user, link):
        with app.extensions["rpc"].cluster(None) as cluster:
            cluster.notifications.send_account_email(
                link_id=link["id"], template=template, recipient=user["email"],
                language=user.get("locale") or "fr",
                context={**(context or {}), "email": user["email"], "role": user["role"],
                         "company_id": user.get("company_id"),
                         "link_url": s.password_link_url.format(token=link["token"]),
                         "expires_at": link["expires_at"]})
    return send


# --- the audit log ------------------------------------------------------------------------------

@api.route("/admin/audit", "GET", summary="Security events: logins, lockouts, resets, role changes",
           roles=ADMIN, query=schemas.AuditQuery, response=schemas.AuditList, tag="accounts")
def list_audit(query):
    """Newest first. A platform admin sees every event; an admin of a
    company those about its company's logins (another `company_id`: 404).
    Failed logins of unknown emails belong to no company."""
    return accounts().list_audit(g.principal, kind=query.get("kind"), user_id=query.get("user_id"),
                                 company_id=query.get("company_id"), date_from=query.get("from_"),
                                 date_to=query.get("to"), limit=query.get("limit"),
                                 after=query.get("after"))


# --- the page an emailed link opens --------------------------------------------------------------

TEXTS = {
    "fr": {
        "invitation_title": "Choisissez votre mot de passe",
        "password_reset_title": "Nouveau mot de passe",
        "intro": "Compte : {email}",
        "password": "Mot de passe",
        "confirm": "Confirmez le mot de passe",
        "rules": "Au moins 10 caractères, différent de votre adresse email, et pas un mot de passe courant.",
        "send": "Enregistrer",
        "mismatch": "Les deux mots de passe diffèrent.",
        "refused": "Ce mot de passe est refusé.",
        "done_title": "Mot de passe enregistré",
        "done": "Votre mot de passe est enregistré. Vous pouvez vous connecter.",
        "not_found_title": "Lien inconnu",
        "not_found": "Ce lien est inconnu.",
        "gone_title": "Lien expiré",
        "gone": "Ce lien a expiré ou a déjà servi. Demandez-en un nouveau.",
    },
    "en": {
        "invitation_title": "Choose your password",
        "password_reset_title": "New password",
        "intro": "Account: {email}",
        "password": "Password",
        "confirm": "Confirm the password",
        "rules": "At least 10 characters, not your email address, and not a common password.",
        "send": "Save",
        "mismatch": "The two passwords differ.",
        "refused": "This password is refused.",
        "done_title": "Password saved",
        "done": "Your password is saved. You can log in.",
        "not_found_title": "Unknown link",
        "not_found": "This link is unknown.",
        "gone_title": "Link expired",
        "gone": "This link has expired or was used already. Ask for a new one.",
    },
}


def _page_message(kind, status, lang):
    t = TEXTS[lang]
    html = render_template("account_message.html", lang=lang, title=t[f"{kind}_title"],
                           message=t[kind], kind=kind)
    return html, status, pages.HEADERS


def _page_form(link, lang, status=200, error=None):
    t = TEXTS[lang]
    html = render_template("account_password.html", lang=lang, t=t,
                           title=t[f"{link['purpose']}_title"],
                           intro=t["intro"].format(email=link["email"]), error=error)
    return html, status, pages.HEADERS


def _describe(token):
    """(link, None) or (None, the page to answer)."""
    try:
        return accounts().describe_link(token), None
    except NotFound:
        return None, _page_message("not_found", 404, pages.language())
    except Gone:
        return None, _page_message("gone", 410, pages.language(accounts().link_language(token)))


@api.route("/password/<token>", "GET", summary="The page of an emailed link: choose a password (HTML)",
           roles=PUBLIC, tag="auth", errors={410: GONE})
def password_page(token):
    """The link of an invitation or reset email opens this form, in the
    user's language (`?lang=` overrides). 404 unknown link, 410 used or
    expired."""
    link, answer = _describe(token)
    if answer:
        return answer
    return _page_form(link, pages.language(link.get("locale")))


@api.route("/password/<token>", "POST", summary="Choose a password from the page (form-encoded)",
           roles=PUBLIC, tag="auth", errors={410: GONE},
           description="`password` and `confirm`, form-encoded; answered with HTML. Programs use "
                       "POST /auth/password.")
def password_form(token):
    storable(request.form.to_dict())
    link, answer = _describe(token)
    if answer:
        return answer
    lang = pages.language(link.get("locale"))
    t = TEXTS[lang]
    password, confirm = request.form.get("password") or "", request.form.get("confirm") or ""
    if password != confirm:
        return _page_form(link, lang, 400, t["mismatch"])
    try:
        accounts().use_link(token, password, client_address())
    except InvalidInput:
        return _page_form(link, lang, 400, t["refused"])
    except FieldworkError as exc:
        if exc.http_status in (404, 410):
            return _page_message("gone", 410, lang)
        raise
    return _page_message("done", 200, lang)
