"""Bodies of the accounts routes. Unknown fields are refused; every string
has a length limit."""
from marshmallow import Schema, fields, validate

from fieldwork_gateway.wings.accounts import rules
from fieldwork_gateway.wings.accounts.store import AUDIT_KINDS
from fieldwork_gateway.fields import LOCALES, Id, Instant, page_of, version_field

PASSWORD = validate.Length(min=1, max=rules.MAX_PASSWORD_LENGTH)
SECRET = validate.Length(min=1, max=200)


def password_field(description, required=True):
    return fields.String(required=required, validate=PASSWORD, metadata={"description": description})


POLICY = (f"At least {rules.MIN_PASSWORD_LENGTH} characters, not the email address, not a common "
          "password (a list ships with Fieldwork).")


# --- sessions ---------------------------------------------------------------------------

class TokenRequest(Schema):
    email = fields.Email(required=True)
    password = fields.String(required=True, validate=PASSWORD)


class RefreshRequest(Schema):
    refresh_token = fields.String(required=True, validate=SECRET)


class Token(Schema):
    access_token = fields.String(required=True, metadata={
        "description": "send as `Authorization: Bearer <access_token>`"})
    token_type = fields.String(required=True, metadata={"example": "Bearer"})
    expires_in = fields.Integer(required=True, metadata={"description": "seconds"})
    refresh_token = fields.String(required=True, metadata={
        "description": "for POST /auth/refresh, once: each use answers a new one"})
    refresh_expires_in = fields.Integer(required=True, metadata={"description": "seconds"})


class Session(Schema):
    id = Id()
    created_at = fields.DateTime()
    refreshed_at = fields.DateTime(allow_none=True)
    expires_at = fields.DateTime()
    address = fields.String(allow_none=True)
    user_agent = fields.String(allow_none=True)
    current = fields.Boolean(metadata={"description": "the session of this request's token"})


class SessionList(Schema):
    items = fields.List(fields.Nested(Session))


# --- passwords ------------------------------------------------------------------------------

class PasswordResetRequest(Schema):
    email = fields.Email(required=True)


class Accepted(Schema):
    status = fields.String(metadata={"example": "accepted"})


class PasswordSet(Schema):
    token = fields.String(required=True, validate=SECRET, metadata={
        "description": "the token of the link in the invitation or reset email"})
    password = password_field(POLICY)


class PasswordSetResult(Schema):
    purpose = fields.String(metadata={"enum": list(rules.PURPOSES)})
    email = fields.Email()


class PasswordChange(Schema):
    current_password = fields.String(required=True, validate=PASSWORD)
    new_password = password_field(POLICY)


# --- logins -------------------------------------------------------------------------------

ROLE = validate.OneOf(rules.ROLES)


class UserIn(Schema):
    email = fields.Email(required=True)
    password = password_field("set it now (the user can log in at once); without one, the user "
                              "is emailed an invitation to choose it. " + POLICY, required=False)
    role = fields.String(required=True, validate=ROLE)
    company_id = Id(allow_none=True)
    technician_id = Id(allow_none=True)
    client_id = Id(allow_none=True)
    locale = fields.String(validate=validate.OneOf(LOCALES), metadata={
        "description": "language of the emails; default: the client's, else fr"})


class UserPatch(Schema):
    email = fields.Email()
    role = fields.String(validate=ROLE)
    company_id = Id(allow_none=True)
    technician_id = Id(allow_none=True)
    client_id = Id(allow_none=True)
    locale = fields.String(validate=validate.OneOf(LOCALES))
    active = fields.Boolean(metadata={"description": "false: deactivated, its sessions end at once"})
    version = version_field()


class Invitation(Schema):
    expires_at = fields.DateTime()


class User(Schema):
    id = Id()
    email = fields.Email()
    role = fields.String()
    company_id = Id(allow_none=True)
    technician_id = Id(allow_none=True)
    client_id = Id(allow_none=True)
    locale = fields.String()
    active = fields.Boolean()
    status = fields.String(metadata={"enum": ["invited", "active", "deactivated"],
                                     "description": "invited: no password chosen yet"})
    version = fields.Integer()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
    invitation = fields.Nested(Invitation, metadata={"description": "when an invitation was just sent"})


UserList = page_of(User, "UserList")


class UserQuery(Schema):
    role = fields.String(validate=ROLE)
    company_id = Id()
    active = fields.Boolean()
    email = fields.String(validate=validate.Length(min=1, max=200),
                          metadata={"description": "part of the email, any case"})
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))
    after = fields.String(validate=validate.Length(min=1, max=500),
                          metadata={"description": "the next_cursor of the previous page"})


# --- audit -------------------------------------------------------------------------------------

class AuditQuery(Schema):
    kind = fields.String(validate=validate.OneOf(AUDIT_KINDS))
    user_id = Id()
    company_id = Id()
    from_ = Instant(data_key="from")
    to = Instant()
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))
    after = fields.String(validate=validate.Length(min=1, max=500),
                          metadata={"description": "the next_cursor of the previous page"})


class AuditEvent(Schema):
    id = fields.Integer()
    at = fields.DateTime()
    kind = fields.String(metadata={"enum": list(AUDIT_KINDS)})
    user_id = Id(allow_none=True, metadata={"description": "whom it is about (none: an unknown email)"})
    email = fields.String(allow_none=True)
    company_id = Id(allow_none=True)
    actor_id = Id(allow_none=True, metadata={"description": "who did it, when not the user"})
    address = fields.String(allow_none=True, metadata={"description": "the client's address"})
    details = fields.Dict()


AuditList = page_of(AuditEvent, "AuditList")
