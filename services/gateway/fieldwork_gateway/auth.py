"""Access tokens: JWT signed with HS256 (the only algorithm accepted, so a
token with `alg: none` or another algorithm is refused), expiry required
and checked, and the session it belongs to (`sid`).

A valid signature is not enough: the session must still be open and the
user active (`Accounts.principal_for`, one indexed read per request), so
a logout, a deactivation or a password change ends access at the next
call. The role and links a portal reads in the token are those of the
login; the gateway itself takes the current ones from the database.
"""
import time

import jwt

from fieldwork_common.errors import Unauthenticated
from fieldwork_common.principal import ROLES

ALGORITHM = "HS256"


def issue_token(user, secret, ttl, session_id):
    """`user`: a mapping or object with id, role and links."""
    get = user.get if isinstance(user, dict) else lambda name: getattr(user, name)
    now = int(time.time())
    claims = {
        "sub": str(get("id")), "sid": str(session_id), "role": get("role"), "iat": now,
        "exp": now + ttl, "company_id": _opt(get("company_id")),
        "technician_id": _opt(get("technician_id")), "client_id": _opt(get("client_id")),
    }
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def _opt(value):
    return str(value) if value is not None else None


def claims_from_header(header, secret):
    """The verified claims of the bearer token, or Unauthenticated."""
    if not header:
        raise Unauthenticated("Missing bearer token.", {"header": "Authorization"})
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("The Authorization header must be 'Bearer <token>'.")
    try:
        claims = jwt.decode(token.strip(), secret, algorithms=[ALGORITHM],
                            options={"require": ["exp", "iat", "sub", "sid"]})
    except jwt.ExpiredSignatureError:
        raise Unauthenticated("The token has expired.") from None
    except jwt.InvalidTokenError:
        raise Unauthenticated("The token is not valid.") from None
    if claims.get("role") not in ROLES:
        raise Unauthenticated("The token is not valid.")
    return claims
