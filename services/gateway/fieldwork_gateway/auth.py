"""Tokens: JWT signed with HS256 (the only algorithm accepted, so a token
with `alg: none` or another algorithm is refused), expiry required and
checked."""
import time

import jwt

from fieldwork_common.errors import Unauthenticated
from fieldwork_common.principal import ROLES, Principal

ALGORITHM = "HS256"


def issue_token(user, secret, ttl):
    now = int(time.time())
    claims = {
        "sub": str(user.id), "role": user.role, "iat": now, "exp": now + ttl,
        "company_id": _opt(user.company_id), "technician_id": _opt(user.technician_id),
        "client_id": _opt(user.client_id),
    }
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def _opt(value):
    return str(value) if value is not None else None


def principal_from_header(header, secret):
    if not header:
        raise Unauthenticated("Missing bearer token.", {"header": "Authorization"})
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("The Authorization header must be 'Bearer <token>'.")
    try:
        claims = jwt.decode(token.strip(), secret, algorithms=[ALGORITHM],
                            options={"require": ["exp", "iat", "sub"]})
    except jwt.ExpiredSignatureError:
        raise Unauthenticated("The token has expired.") from None
    except jwt.InvalidTokenError:
        raise Unauthenticated("The token is not valid.") from None
    if claims.get("role") not in ROLES:
        raise Unauthenticated("The token is not valid.")
    return Principal(user_id=claims["sub"], role=claims["role"],
                     company_id=claims.get("company_id"),
                     technician_id=claims.get("technician_id"),
                     client_id=claims.get("client_id"))
