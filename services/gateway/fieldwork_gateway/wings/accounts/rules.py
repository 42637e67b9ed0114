"""The rules of accounts, in plain Python: who may grant which login, what
a password must be, how long a failed login locks, what a link's secret
is. No database, no Flask: `store.py` and `routes.py` apply them.

Levels (DESIGN.md §3): a *platform admin* (role admin, no company) sees
and grants everything; a *company admin* (role admin of company A) grants
any role of company A, never a platform admin; a *manager* of company A
grants client logins of company A only (portal access for the end
customers it serves); technicians and clients grant nothing. Nobody
changes their own role, links or active state.
"""
import hashlib
import secrets
from dataclasses import dataclass
from pathlib import Path

from fieldwork_common.errors import Forbidden, InvalidInput, NotFound

ROLES = ("admin", "manager", "technician", "client")
# the link a role carries (besides its company)
LINK_OF_ROLE = {"client": "client_id", "technician": "technician_id"}
LINKS = ("company_id", "technician_id", "client_id")
MANAGERS_GRANT = ("client",)


# --- who may grant what ------------------------------------------------------------

def is_platform_admin(caller):
    return caller.is_platform_admin


def may_manage_users(caller):
    return caller.role in ("admin", "manager")


def sees_user(caller, user):
    """May `caller` (a Principal) read the login `user` (a mapping with
    role and company_id)? Outside its scope it does not exist (404)."""
    if is_platform_admin(caller):
        return True
    if caller.role in ("admin", "manager") and caller.company_id is not None:
        return user["company_id"] is not None and str(user["company_id"]) == str(caller.company_id)
    return False


def check_role_grant(caller, role):
    """May `caller` grant `role` at all? Forbidden (403) above its rights."""
    if role not in ROLES:
        raise InvalidInput("Unknown role.", {"role": role, "allowed": list(ROLES)})
    if is_platform_admin(caller):
        return
    if caller.role not in ("admin", "manager") or caller.company_id is None:
        raise Forbidden(f"The role '{caller.role}' may not manage logins.")
    if caller.role == "manager" and role not in MANAGERS_GRANT:
        raise Forbidden("A manager may only grant client logins.",
                        {"role": role, "allowed_roles": list(MANAGERS_GRANT)})


def check_grant(caller, target):
    """May `caller` create a login, or make an existing one, with
    `target`'s role and company (its links resolved)? Forbidden (403) for a
    role above what the caller may grant, NotFound (404) for a company
    outside its scope."""
    check_role_grant(caller, target["role"])
    if is_platform_admin(caller):
        return
    company_id = target.get("company_id")
    if company_id is None:
        # the hole this closes: an admin without a company sees every company
        raise Forbidden("Only a platform admin may create a login without a company "
                        "(a platform admin).", {"role": target["role"], "company_id": None})
    if str(company_id) != str(caller.company_id):
        raise NotFound("Company not found.", {"company_id": company_id})


def check_change(caller, user, changes):
    """May `caller` change `user` (its current state) with `changes`?
    The caller must see it (404) and be allowed to manage its current role
    (403); nobody changes their own role, links or active state."""
    if not sees_user(caller, user):
        raise NotFound("User not found.", {"user_id": user["id"]})
    if caller.role == "manager" and user["role"] not in MANAGERS_GRANT:
        raise Forbidden("A manager may only manage client logins.", {"role": user["role"]})
    if str(user["id"]) == str(caller.user_id):
        own = sorted(set(changes) & {"role", "active", *LINKS})
        if own:
            raise Forbidden("Nobody changes their own role, links or active state.",
                            {"fields": own})


def check_links(state):
    """A login's links must fit its role: a client login names a client, a
    technician login a technician, a manager its company; an admin or a
    manager carries no client or technician."""
    role = state["role"]
    needed = LINK_OF_ROLE.get(role) or ("company_id" if role == "manager" else None)
    if needed and not state.get(needed):
        raise InvalidInput(f"{needed} is required for the role '{role}'.", {"fields": {needed: [
            f"required for the role '{role}'"]}})
    for link in ("client_id", "technician_id"):
        if state.get(link) and LINK_OF_ROLE.get(role) != link:
            raise InvalidInput(f"{link} is only for the role '{link[:-3]}'.",
                               {"fields": {link: [f"only for the role '{link[:-3]}'"]}})


def after_role_change(current, changes):
    """The login's state once `changes` apply: a new role drops the links
    the new role does not carry, unless `changes` names them."""
    state = {**current, **changes}
    if "role" in changes and changes["role"] != current["role"]:
        for link in ("client_id", "technician_id"):
            if link not in changes and LINK_OF_ROLE.get(state["role"]) != link:
                state[link] = None
    return state


def company_of_link(link, linked, requested_company_id):
    """The company a login of a client or technician belongs to: the
    client's; for a technician, `requested_company_id` when it is one of
    the companies it works for, else its own. 400 when the request names a
    company the record does not belong to."""
    if link == "client_id":
        allowed = [linked["company_id"]]
    else:
        allowed = linked.get("company_ids") or [linked["company_id"]]
    if requested_company_id is None:
        return linked["company_id"]
    if str(requested_company_id) not in [str(c) for c in allowed]:
        raise InvalidInput(f"The {link[:-3]} does not belong to this company.",
                           {"company_id": requested_company_id, link: linked["id"],
                            "companies": allowed})
    return requested_company_id


# --- passwords ------------------------------------------------------------------------

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 200
_COMMON_FILE = Path(__file__).with_name("common-passwords.txt")


def load_common_passwords(extra_file=None):
    """The shipped list (lower-cased), plus an operator's own list."""
    words = set()
    for path in filter(None, (_COMMON_FILE, extra_file)):
        for line in Path(path).read_text(encoding="utf-8").splitlines():
            line = line.strip()
            if line and not line.startswith("#"):
                words.add(line.lower())
    return frozenset(words)


def password_problems(password, email, common):
    """Why `password` is refused (a list of reasons; empty when fine)."""
    problems = []
    if len(password) < MIN_PASSWORD_LENGTH:
        problems.append(f"at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        problems.append(f"at most {MAX_PASSWORD_LENGTH} characters")
    lowered = password.strip().lower()
    address = (email or "").strip().lower()
    if address and lowered in (address, address.split("@")[0]):
        problems.append("not the email address")
    if lowered in common:
        problems.append("not a common password")
    return problems


def check_password(password, email, common, field="password"):
    problems = password_problems(password, email, common)
    if problems:
        raise InvalidInput("This password is refused: it must have " + ", ".join(problems) + ".",
                           {"fields": {field: problems}})


# --- one-time secrets (links, refresh tokens) --------------------------------------------

def new_secret():
    """256 random bits, URL-safe; only its hash is stored."""
    return secrets.token_urlsafe(32)


def secret_hash(secret):
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


PURPOSES = ("invitation", "password_reset")


def link_state(link, now):
    """'usable', 'used', 'revoked' or 'expired' for a stored one-time link."""
    if link["used_at"] is not None:
        return "used"
    if link["revoked_at"] is not None:
        return "revoked"
    if link["expires_at"] <= now:
        return "expired"
    return "usable"


# --- login throttling -----------------------------------------------------------------------

@dataclass(frozen=True)
class Throttle:
    """After `max_failures` failed logins with no pause of `window` seconds
    between them (counted per account and per client address), the key is
    locked for `base` seconds, doubled at each further failure, at most
    `cap`. A locked key refuses every attempt (429), the right password
    too, and attempts refused that way do not count. A success resets the
    account's count; an address's count only fades with time, so that
    logging into one's own account does not buy more guesses at others."""
    max_failures: int = 5
    window: float = 900.0
    base: float = 30.0
    cap: float = 900.0

    def lock_seconds(self, failures):
        """How long the key locks after its `failures`-th failure (0: not)."""
        if failures < self.max_failures:
            return 0.0
        return min(self.cap, self.base * 2 ** (failures - self.max_failures))

    def counts_from(self, failures, last_failure_at, locked_until, now):
        """The count a new failure adds to: 0 once the key has been quiet
        for `window` seconds after its last failure and its lock."""
        if not failures or last_failure_at is None:
            return 0
        quiet_since = max(last_failure_at, locked_until or last_failure_at)
        return 0 if (now - quiet_since).total_seconds() > self.window else failures


def account_key(email):
    return "account:" + email.strip().lower()


def address_key(address):
    return "address:" + (address or "unknown")
