"""Bodies of the clockings routes (issue 11, seed 004, docs/timeclock.md)."""
from marshmallow import Schema, fields, validate

from fieldwork_gateway.fields import Id, Instant, MasterQuery, page_of, text, version_field

METHODS = ("manual", "qr", "nfc")
STATUSES = ("recorded", "validated", "rejected", "superseded")


class SettingsValues(Schema):
    """Each may be null: back to the company's value (a service's) or to the default."""
    clocking_enabled = fields.Boolean(allow_none=True, metadata={"description": "the clocking module"})
    incidents_enabled = fields.Boolean(allow_none=True, metadata={"description": "the incidents module"})
    combined_mode = fields.Boolean(allow_none=True, metadata={
        "description": "an incident may be declared with a clock-in or clock-out"})
    methods = fields.List(fields.String(validate=validate.OneOf(METHODS)), allow_none=True,
                          validate=validate.Length(min=1, max=3))
    geolocation = fields.String(allow_none=True, validate=validate.OneOf(("off", "recorded", "required")),
                                metadata={"description": "off: positions ignored; recorded: kept "
                                                         "when sent; required: a clocking without "
                                                         "one is refused"})
    radius_m = fields.Integer(allow_none=True, validate=validate.Range(min=10, max=100000),
                              metadata={"description": "around the place (default 200)"})
    outside_zone = fields.String(allow_none=True, validate=validate.OneOf(("refuse", "flag")),
                                 metadata={"description": "a position outside or too imprecise"})
    early_minutes = fields.Integer(allow_none=True, validate=validate.Range(min=0, max=1440),
                                   metadata={"description": "how early before the planned start "
                                                            "(in) or end (out)"})
    late_minutes = fields.Integer(allow_none=True, validate=validate.Range(min=0, max=1440))
    outside_window = fields.String(allow_none=True, validate=validate.OneOf(("refuse", "flag")),
                                   metadata={"description": "a clocking outside the allowed delay"})
    share_with_clients = fields.Boolean(allow_none=True)


class SettingsQuery(Schema):
    company_id = Id(metadata={"description": "default the caller's company"})
    type_id = Id(metadata={"description": "a service (intervention type): its overrides"})


class SettingsIn(Schema):
    company_id = Id(metadata={"description": "default the admin's company"})
    type_id = Id(metadata={"description": "a service's overrides; absent: the company's settings"})
    values = fields.Nested(SettingsValues, required=True)
    version = fields.Integer(validate=validate.Range(min=0), metadata={
        "description": "the version you read (0 when none was stored)"})


class Settings(Schema):
    company_id = Id()
    type_id = Id(allow_none=True)
    values = fields.Dict(metadata={"description": "what is stored at this level"})
    settings = fields.Nested(SettingsValues, metadata={"description": "what is in force"})
    version = fields.Integer()
    updated_at = fields.DateTime(allow_none=True)
    updated_by = fields.String(allow_none=True)


class PlaceQuery(MasterQuery):
    client_id = Id()
    company_id = Id()


class Place(Schema):
    id = Id()
    company_id = Id()
    client_id = Id()
    site_id = Id(allow_none=True, metadata={"description": "null: the client's home"})
    label = fields.String(allow_none=True)
    lat = fields.Float(allow_none=True)
    lon = fields.Float(allow_none=True)
    radius_m = fields.Integer(allow_none=True, metadata={"description": "null: the settings' radius"})
    key_version = fields.Integer(metadata={"description": "bumped when the key is renewed"})
    created_at = fields.DateTime()
    version = fields.Integer()


PlaceList = page_of(Place, "PlaceList")


class PlacePatch(Schema):
    lat = fields.Float(allow_nan=False, validate=validate.Range(min=-90, max=90))
    lon = fields.Float(allow_nan=False, validate=validate.Range(min=-180, max=180))
    radius_m = fields.Integer(allow_none=True, validate=validate.Range(min=10, max=100000))
    label = text(200, allow_none=True)
    version = version_field()


class VersionIn(Schema):
    version = version_field()


class QrQuery(Schema):
    format = fields.String(load_default="svg", validate=validate.OneOf(("svg", "png", "text")),
                           metadata={"description": "text: the code itself, for a printer that "
                                                    "draws its own QR codes"})
    scale = fields.Integer(load_default=8, validate=validate.Range(min=1, max=40))


class RotatingDevice(Schema):
    place_id = Id()
    key_version = fields.Integer()
    secret = fields.String(metadata={"description": "RFC 6238 (TOTP) secret, base32"})
    otpauth_uri = fields.String()
    period_s = fields.Integer()
    digits = fields.Integer()
    algorithm = fields.String()


class TagIn(Schema):
    uid = fields.String(required=True, validate=validate.Length(min=8, max=80),
                        metadata={"description": "the tag's serial number in hexadecimal"})
    label = text(200)


class Tag(Schema):
    id = Id()
    place_id = Id()
    company_id = Id()
    uid = fields.String()
    label = fields.String(allow_none=True)
    last_counter = fields.Integer(allow_none=True)
    active = fields.Boolean()
    created_at = fields.DateTime()
    version = fields.Integer()


TagList = page_of(Tag, "TagList")


class TagRead(Schema):
    uid = fields.String(required=True, validate=validate.Length(min=8, max=80))
    counter = fields.Integer(validate=validate.Range(min=0, max=2 ** 63 - 1), metadata={
        "description": "the tag's read counter (NTAG 21x): must go up"})


class IncidentWith(Schema):
    reason_id = Id(required=True)
    description = text(5000)


class ClockingIn(Schema):
    kind = fields.String(required=True, validate=validate.OneOf(("in", "out")))
    method = fields.String(load_default="manual", validate=validate.OneOf(METHODS))
    device_time = Instant(metadata={"description": "the device's clock when tapped"})
    code = fields.String(validate=validate.Length(min=1, max=200), metadata={
        "description": "qr: the scanned code (printed, or the rotating device's), or its 6 digits"})
    tag = fields.Nested(TagRead, metadata={"description": "nfc: what the tag sent"})
    lat = fields.Float(allow_nan=False, validate=validate.Range(min=-90, max=90))
    lon = fields.Float(allow_nan=False, validate=validate.Range(min=-180, max=180))
    accuracy_m = fields.Float(allow_nan=False, validate=validate.Range(min=0, max=100000))
    id = Id(metadata={"description": "a UUID the device made: sending it again returns the same clocking"})
    at = Instant(metadata={"description": "staff only: when it happened (a forgotten clock-out)"})
    reason = text(2000, metadata={"description": "staff only, required: why they record it"})
    incident = fields.Nested(IncidentWith, metadata={
        "description": "combined mode: an incident declared with the clocking (at the start "
                       "for an in, the end for an out), both or neither"})


class Clocking(Schema):
    id = Id()
    visit_id = Id()
    technician_id = Id()
    company_id = Id()
    client_id = Id()
    place_id = Id()
    kind = fields.String()
    method = fields.String(metadata={"description": "manual, qr, nfc, or correction"})
    in_id = Id(allow_none=True, metadata={"description": "an out: the clock-in it closes"})
    at = fields.DateTime(metadata={"description": "the time it counts for (the server's, or the "
                                                  "corrected one)"})
    device_time = fields.DateTime(allow_none=True)
    server_time = fields.DateTime()
    lat = fields.Float(allow_none=True)
    lon = fields.Float(allow_none=True)
    accuracy_m = fields.Float(allow_none=True)
    distance_m = fields.Float(allow_none=True)
    geo_status = fields.String(allow_none=True, metadata={
        "description": "inside, outside, imprecise, no_position, place_unknown"})
    nfc_tag_id = Id(allow_none=True)
    flags = fields.List(fields.String(), metadata={
        "description": "device_time_off, outside_window, out_of_zone, position_imprecise, "
                       "place_position_unknown, by_staff, corrected"})
    status = fields.String(metadata={"description": ", ".join(STATUSES)})
    supersedes = Id(allow_none=True)
    superseded_by = Id(allow_none=True)
    reason = fields.String(allow_none=True)
    decision_reason = fields.String(allow_none=True, metadata={"description": "a rejection's, shown to the worker"})
    decided_by = fields.String(allow_none=True)
    decided_at = fields.DateTime(allow_none=True)
    created_by = fields.String()
    created_by_role = fields.String()
    created_at = fields.DateTime()
    version = fields.Integer()
    repeated = fields.Boolean(metadata={"description": "true: this tap repeated an earlier one, "
                                                       "which is returned (200)"})
    incident = fields.Dict(metadata={"description": "combined mode: the incident declared with it"})


class SharedClocking(Schema):
    """What a client reads when its provider shares clockings."""
    id = Id()
    visit_id = Id()
    kind = fields.String()
    method = fields.String()
    at = fields.DateTime()
    status = fields.String()
    supersedes = Id(allow_none=True)
    on_site = fields.Boolean(allow_none=True, metadata={"description": "null: no position"})


ClockingList = page_of(Clocking, "ClockingList")
VisitClockings = page_of(Clocking, "VisitClockings",
                         "a client gets SharedClocking items (no position, no flags)")


class ClockingQuery(MasterQuery):
    visit_id = Id()
    technician_id = Id()
    client_id = Id()
    company_id = Id()
    status = fields.String(validate=validate.OneOf(STATUSES))
    kind = fields.String(validate=validate.OneOf(("in", "out")))
    flagged = fields.Boolean()
    from_ = Instant(data_key="from")
    to = Instant()


class CorrectionIn(Schema):
    at = Instant(required=True, metadata={"description": "the corrected time"})
    reason = text(2000, required=True)
    version = version_field()


class DecisionIn(Schema):
    decision = fields.String(required=True, validate=validate.OneOf(("validate", "reject")))
    reason = text(2000, metadata={"description": "required to reject: the worker reads it"})
    version = version_field()
