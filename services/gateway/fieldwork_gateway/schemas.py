"""Request and response bodies. Unknown fields are refused (marshmallow's
RAISE), and every string has a length limit."""
from marshmallow import Schema, ValidationError, fields, validate, validates_schema


LOCATIONS = ("workshop", "at_home", "on_site")
LOCALES = ("fr", "en")


class Id(fields.UUID):
    """A UUID, handed on as its string form (what services and JSON use)."""

    def _deserialize(self, value, attr, data, **kwargs):
        return str(super()._deserialize(value, attr, data, **kwargs))


class Instant(fields.AwareDateTime):
    """An RFC 3339 date-time with its offset, handed on in UTC: an offset
    PostgreSQL would refuse (beyond ±15:59) or a moment that has no UTC
    equivalent is a 400 here, never a server error later."""

    def _deserialize(self, value, attr, data, **kwargs):
        from datetime import timezone
        moment = super()._deserialize(value, attr, data, **kwargs)
        try:
            return moment.astimezone(timezone.utc)
        except OverflowError:
            raise ValidationError("Out of range.") from None


def text(max_length=200, **kw):
    return fields.String(validate=validate.Length(min=1, max=max_length), **kw)


def page_of(item, name, description=None):
    """The answer of a list: a page of `item` and the cursor of the next."""
    return Schema.from_dict({
        "items": fields.List(fields.Nested(item), metadata={"description": description}
                             if description else {}),
        "next_cursor": fields.String(allow_none=True, metadata={
            "description": "pass as `after` for the next page; null on the last page"}),
    }, name=name)


class Error(Schema):
    class Inner(Schema):
        code = fields.String(required=True)
        message = fields.String(required=True)
        details = fields.Dict(required=True)
    error = fields.Nested(Inner, required=True)


class CompanyIn(Schema):
    name = text(required=True)
    email = fields.Email(allow_none=True, validate=validate.Length(max=320))
    phone = text(50, allow_none=True)
    address = text(500, allow_none=True)
    survey_enabled = fields.Boolean(load_default=False, metadata={
        "description": "email a satisfaction survey to the client when an intervention is delivered"})


class Company(CompanyIn):
    id = Id()
    active = fields.Boolean()
    created_at = fields.DateTime()
    version = fields.Integer()


class TechnicianIn(Schema):
    name = text(required=True)
    email = fields.Email(required=True)
    company_id = Id(required=True)
    phone = text(50, allow_none=True)
    company_ids = fields.List(Id(), validate=validate.Length(max=100), metadata={
        "description": "in a request: the other companies it also works for; "
                       "in a response: all its companies, its own (company_id) first"})


class Technician(TechnicianIn):
    id = Id()
    active = fields.Boolean()
    created_at = fields.DateTime()
    version = fields.Integer()


class ClientIn(Schema):
    name = text(required=True)
    email = fields.Email(required=True)
    company_id = Id(required=True)
    locale = fields.String(load_default="fr", validate=validate.OneOf(LOCALES))
    phone = text(50, allow_none=True)
    address = text(500, allow_none=True)


class Client(ClientIn):
    id = Id()
    active = fields.Boolean()
    created_at = fields.DateTime()
    version = fields.Integer()


class InterventionTypeIn(Schema):
    name = text(required=True)
    location = fields.String(required=True, validate=validate.OneOf(LOCATIONS))


class InterventionType(InterventionTypeIn):
    id = Id()
    active = fields.Boolean()
    created_at = fields.DateTime()
    version = fields.Integer()


class EquipmentIn(Schema):
    client_id = Id(required=True)
    kind = text(required=True)
    brand = text(allow_none=True)
    model = text(allow_none=True)
    serial_number = text(allow_none=True)
    site_id = Id(allow_none=True, metadata={"description": "one of the client's sites"})


class Equipment(EquipmentIn):
    id = Id()
    active = fields.Boolean()
    created_at = fields.DateTime()
    version = fields.Integer()


# --- master data: updates, lists, sites, contracts, statuses, settings ----------

CONTRACT_STATES = ("draft", "validated", "active", "ended")
COLOUR = r"^#[0-9a-fA-F]{6}$"


def version_field():
    return fields.Integer(validate=validate.Range(min=1), metadata={
        "description": "the version you read; or send it as If-Match"})


class MasterQuery(Schema):
    """limit and after (cursor pagination) for every master-data list."""
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))
    after = fields.String(validate=validate.Length(min=1, max=500),
                          metadata={"description": "the next_cursor of the previous page"})


class CompanyPatch(Schema):
    name = text()
    email = fields.Email(allow_none=True, validate=validate.Length(max=320))
    phone = text(50, allow_none=True)
    address = text(500, allow_none=True)
    survey_enabled = fields.Boolean()
    active = fields.Boolean(metadata={"description": "false deactivates it (it stays readable)"})
    version = version_field()


class CompanyQuery(MasterQuery):
    active = fields.Boolean()
    q = text(metadata={"description": "the name contains this (any case)"})


CompanyList = page_of(Company, "CompanyList")


class TechnicianPatch(Schema):
    name = text()
    email = fields.Email()
    phone = text(50, allow_none=True)
    company_id = Id()
    company_ids = fields.List(Id(), validate=validate.Length(max=100), metadata={
        "description": "the other companies it also works for (replaces the list)"})
    active = fields.Boolean()
    version = version_field()


class TechnicianQuery(MasterQuery):
    company_id = Id(metadata={"description": "technicians working for this company"})
    active = fields.Boolean()
    q = text()


TechnicianList = page_of(Technician, "TechnicianList")


class ClientPatch(Schema):
    name = text()
    email = fields.Email()
    phone = text(50, allow_none=True)
    address = text(500, allow_none=True)
    locale = fields.String(validate=validate.OneOf(LOCALES))
    active = fields.Boolean()
    version = version_field()


class ClientQuery(MasterQuery):
    company_id = Id()
    active = fields.Boolean()
    q = text()


ClientList = page_of(Client, "ClientList")


class SiteIn(Schema):
    client_id = Id(required=True)
    name = text(required=True)
    address = text(500, allow_none=True)


class Site(SiteIn):
    id = Id()
    active = fields.Boolean()
    created_at = fields.DateTime()
    version = fields.Integer()


class SitePatch(Schema):
    name = text()
    address = text(500, allow_none=True)
    active = fields.Boolean()
    version = version_field()


class SiteQuery(MasterQuery):
    client_id = Id()
    active = fields.Boolean()
    q = text()


SiteList = page_of(Site, "SiteList")


class EquipmentPatch(Schema):
    kind = text()
    brand = text(allow_none=True)
    model = text(allow_none=True)
    serial_number = text(allow_none=True)
    site_id = Id(allow_none=True)
    active = fields.Boolean()
    version = version_field()


class EquipmentQuery(MasterQuery):
    client_id = Id()
    site_id = Id()
    active = fields.Boolean()


EquipmentList = page_of(Equipment, "EquipmentList")


class ContractIn(Schema):
    client_id = Id(required=True)
    company_id = Id(allow_none=True, metadata={"description": "defaults to the client's company"})
    reference = text(required=True)
    billable = fields.Boolean(load_default=True)
    starts_on = fields.Date(allow_none=True)
    ends_on = fields.Date(allow_none=True)


class Contract(ContractIn):
    id = Id()
    state = fields.String(validate=validate.OneOf(CONTRACT_STATES))
    active = fields.Boolean()
    created_at = fields.DateTime()
    version = fields.Integer()


class ContractPatch(Schema):
    reference = text()
    billable = fields.Boolean()
    starts_on = fields.Date(allow_none=True)
    ends_on = fields.Date(allow_none=True)
    active = fields.Boolean()
    version = version_field()


class ContractStateIn(Schema):
    state = fields.String(required=True, validate=validate.OneOf(CONTRACT_STATES), metadata={
        "description": "draft → validated → active → ended"})
    version = version_field()


class ContractQuery(MasterQuery):
    client_id = Id()
    state = fields.String(validate=validate.OneOf(CONTRACT_STATES))
    billable = fields.Boolean()
    active = fields.Boolean()


ContractList = page_of(Contract, "ContractList")


class InterventionTypePatch(Schema):
    name = text()
    location = fields.String(validate=validate.OneOf(LOCATIONS), metadata={
        "description": "409 when interventions use the type"})
    active = fields.Boolean()
    version = version_field()


class InterventionTypeQuery(MasterQuery):
    location = fields.String(validate=validate.OneOf(LOCATIONS))
    active = fields.Boolean()
    q = text()


InterventionTypeList = page_of(InterventionType, "InterventionTypeList")


class CatalogStatusIn(Schema):
    """A status of the catalog (admins prepare them beforehand)."""
    label = text(required=True)
    colour = fields.String(load_default="#808080", validate=validate.Regexp(COLOUR, error="#rrggbb"),
                           metadata={"example": "#1e90ff"})
    position = fields.Integer(load_default=0, validate=validate.Range(min=-1000000, max=1000000),
                              metadata={"description": "the order statuses are offered in"})
    active = fields.Boolean(load_default=True)


class CatalogStatus(CatalogStatusIn):
    id = Id()
    created_at = fields.DateTime()
    version = fields.Integer()


class CatalogStatusPatch(Schema):
    label = text()
    colour = fields.String(validate=validate.Regexp(COLOUR, error="#rrggbb"))
    position = fields.Integer(validate=validate.Range(min=-1000000, max=1000000))
    active = fields.Boolean()
    version = version_field()


class CatalogStatusQuery(MasterQuery):
    active = fields.Boolean()


CatalogStatusList = page_of(CatalogStatus, "CatalogStatusList", "ordered by position, then label")


class PlatformSettingsIn(Schema):
    multi_company = fields.Boolean(required=True, metadata={
        "description": "when false, everything belongs to the main company"})
    main_company_id = Id(allow_none=True, load_default=None)
    version = version_field()


class PlatformSettings(Schema):
    multi_company = fields.Boolean()
    main_company_id = Id(allow_none=True)
    version = fields.Integer()


class InterventionIn(Schema):
    client_id = Id(required=True)
    equipment_id = Id(required=True)
    type_id = Id(required=True)
    technician_id = Id(allow_none=True, metadata={
        "description": "required for an admin; a technician may omit it (itself)"})
    location = fields.String(required=True, validate=validate.OneOf(LOCATIONS))
    description = fields.String(load_default="", validate=validate.Length(max=5000))
    company_id = Id(allow_none=True, metadata={
        "description": "an admin may pick another company the technician works for; "
                       "by default the technician's company (the main company when multi-company is off)"})
    site_id = Id(allow_none=True, metadata={"description": "a site of the client"})
    contract_id = Id(allow_none=True, metadata={
        "description": "a contract of the client, validated or active"})


class InterventionPatch(Schema):
    description = fields.String(validate=validate.Length(max=5000))
    version = fields.Integer(validate=validate.Range(min=1), metadata={
        "description": "the version you read; or send it as If-Match"})


class Intervention(Schema):
    id = Id()
    company_id = Id()
    client_id = Id()
    equipment_id = Id()
    type_id = Id()
    technician_id = Id()
    location = fields.String()
    description = fields.String()
    site_id = Id(allow_none=True)
    contract_id = Id(allow_none=True)
    step = fields.String(allow_none=True, metadata={
        "description": "picked_up, in_workshop, final_tests, awaiting_pickup, delivered; "
                       "null for interventions outside the workshop"})
    state = fields.String(metadata={"description": "open, closed or completed"})
    status_id = Id(allow_none=True, metadata={"description": "the status of the catalog shown"})
    diagnostic = fields.String(allow_none=True)
    tests_performed = fields.List(fields.String())
    pickup_at = fields.DateTime(allow_none=True)
    pickup_kind = fields.String(allow_none=True, metadata={"description": "pickup or delivery"})
    closed_at = fields.DateTime(allow_none=True)
    completed_at = fields.DateTime(allow_none=True)
    created_by = fields.String()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
    version = fields.Integer()


STEPS = ("picked_up", "in_workshop", "final_tests", "awaiting_pickup", "delivered")


class StepIn(Schema):
    step = fields.String(required=True, validate=validate.OneOf(STEPS))
    diagnostic = fields.String(validate=validate.Length(max=10000), metadata={
        "description": "only when moving to final_tests"})
    tests_performed = fields.List(text(500), validate=validate.Length(max=100), metadata={
        "description": "only when moving to final_tests"})
    pickup_at = Instant(metadata={
        "description": "only when moving to awaiting_pickup: RFC 3339 with its offset"})
    pickup_kind = fields.String(validate=validate.OneOf(("pickup", "delivery")), metadata={
        "description": "only when moving to awaiting_pickup (default pickup when a date is given)"})


class StatusIn(Schema):
    status_id = Id(required=True)


class AssignmentIn(Schema):
    technician_id = Id(required=True)
    company_id = Id(allow_none=True, metadata={
        "description": "another company the technician works for; by default its own"})


class HistoryEntry(Schema):
    id = fields.Integer()
    kind = fields.String(metadata={
        "description": "created, step, status, status_reset, assignment, fields or reopened"})
    data = fields.Dict(metadata={"description": "what changed"})
    author_id = fields.String()
    author_role = fields.String()
    at = fields.DateTime()


class History(Schema):
    items = fields.List(fields.Nested(HistoryEntry))


class Health(Schema):
    status = fields.String(metadata={"example": "ok"})
    services = fields.Dict(keys=fields.String(), values=fields.String())


SERVICE_NAMES = ("requests", "interventions", "timeclock", "notifications")


class DeadLetterQuery(Schema):
    service = fields.String(validate=validate.OneOf(SERVICE_NAMES))


class DeadLetter(Schema):
    id = fields.String()
    event_type = fields.String(allow_none=True)
    queue = fields.String(allow_none=True)
    attempts = fields.Integer(allow_none=True)
    last_error = fields.String(allow_none=True)
    dead_lettered_at = fields.String(allow_none=True)
    failed_at = fields.List(fields.String())
    original_exchange = fields.String(allow_none=True)
    original_routing_key = fields.String(allow_none=True)
    replays = fields.Integer()
    envelope = fields.Raw(allow_none=True)


class DeadLetters(Schema):
    services = fields.Dict(keys=fields.String(), values=fields.List(fields.Nested(DeadLetter)))


class DeadLetterReplay(Schema):
    service = fields.String(required=True, validate=validate.OneOf(SERVICE_NAMES))
    ids = fields.List(fields.String(validate=validate.Length(min=1, max=200)),
                      validate=validate.Length(max=1000))
    all = fields.Boolean(load_default=False)

    @validates_schema
    def ids_or_all(self, data, **kwargs):
        if bool(data.get("ids")) == bool(data.get("all")):
            raise ValidationError("give either a non-empty ids list or all: true", "ids")


class DeadLetterReplayResult(Schema):
    class Replayed(Schema):
        id = fields.String()
        queue = fields.String()

    class Failed(Schema):
        id = fields.String()
        error = fields.String()

    replayed = fields.List(fields.Nested(Replayed))
    not_found = fields.List(fields.String())
    failed = fields.List(fields.Nested(Failed))
    remaining = fields.Integer(allow_none=True)


class EmailQuery(Schema):
    status = fields.String(validate=validate.OneOf(("pending", "sent", "failed", "dead")))
    recipient = fields.Email()
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))
    after = Id(metadata={"description": "the next_cursor of the previous page"})


class Email(Schema):
    id = Id()
    event_id = Id()
    recipient = fields.Email()
    template = fields.String()
    language = fields.String()
    subject = fields.String()
    status = fields.String()
    attempts = fields.Integer()
    last_error = fields.String(allow_none=True)
    next_attempt_at = fields.DateTime()
    created_at = fields.DateTime()
    sent_at = fields.DateTime(allow_none=True)


EmailList = page_of(Email, "EmailList")


# --- read side: lists, calendar, tracking (views) ------------------------------------

STATES = ("open", "closed", "completed")
WORKSHOP_STEPS = ("picked_up", "in_workshop", "final_tests", "awaiting_pickup", "delivered")


class InterventionQuery(Schema):
    company_id = Id()
    technician_id = Id()
    client_id = Id()
    step = fields.String(validate=validate.OneOf(WORKSHOP_STEPS))
    state = fields.String(validate=validate.OneOf(STATES))
    created_from = Instant(metadata={
        "description": "RFC 3339 with its offset; created_at >= created_from"})
    created_to = Instant(metadata={
        "description": "RFC 3339 with its offset; created_at < created_to"})
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))
    after = fields.String(validate=validate.Length(min=1, max=500), metadata={
        "description": "the next_cursor of the previous page"})


InterventionList = page_of(Intervention, "InterventionList")


class CalendarQuery(Schema):
    start = Instant(required=True, data_key="from", metadata={
        "description": "RFC 3339 with its offset; pickup_at >= from"})
    end = Instant(required=True, data_key="to", metadata={
        "description": "RFC 3339 with its offset; pickup_at < to; at most 366 days after from"})
    technician_id = Id()
    company_id = Id()


class CalendarItem(Schema):
    class CalendarClient(Schema):
        id = Id()
        name = fields.String()

    class CalendarEquipment(Schema):
        kind = fields.String()
        brand = fields.String(allow_none=True)
        model = fields.String(allow_none=True)

    intervention_id = Id()
    reference = fields.String()
    pickup_at = fields.DateTime()
    pickup_kind = fields.String(allow_none=True, metadata={"description": "pickup or delivery"})
    step = fields.String(allow_none=True)
    state = fields.String()
    company_id = Id()
    technician_id = Id()
    client = fields.Nested(CalendarClient)
    equipment = fields.Nested(CalendarEquipment)


class Calendar(Schema):
    items = fields.List(fields.Nested(CalendarItem))


class CalendarFeedIn(Schema):
    technician_id = Id()
    company_id = Id()

    @validates_schema
    def one_subject(self, data, **kwargs):
        if bool(data.get("technician_id")) == bool(data.get("company_id")):
            raise ValidationError("give either technician_id or company_id", "technician_id")


class CalendarFeed(Schema):
    url = fields.String(metadata={"description": "the ICS feed to subscribe to; it is the key: keep it private"})
    kind = fields.String(metadata={"description": "technician or company"})
    subject_id = Id()


class Tracking(Schema):
    class TrackedCompany(Schema):
        name = fields.String()
        phone = fields.String(allow_none=True)
        email = fields.String(allow_none=True)

    class TrackedEquipment(Schema):
        kind = fields.String()
        brand = fields.String(allow_none=True)
        model = fields.String(allow_none=True)

    class ReachedStep(Schema):
        step = fields.String()
        reached_at = fields.DateTime()

    class TrackedStatus(Schema):
        label = fields.String()
        colour = fields.String()

    intervention_id = Id()
    reference = fields.String()
    company = fields.Nested(TrackedCompany)
    equipment = fields.Nested(TrackedEquipment)
    steps = fields.List(fields.Nested(ReachedStep), metadata={
        "description": "the steps passed, in order, each with the time it was (last) reached"})
    current_step = fields.String(allow_none=True)
    state = fields.String()
    status = fields.Nested(TrackedStatus, allow_none=True)
    pickup_at = fields.DateTime(allow_none=True)
    pickup_kind = fields.String(allow_none=True)
    locale = fields.String()


# --- satisfaction surveys (notifications) ---------------------------------------------

class SurveyAnswerIn(Schema):
    """POST /survey/<token> as JSON (the page posts the same as a form)."""
    score = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=5))
    comment = fields.String(allow_none=True, validate=validate.Length(max=2000))


class SurveyAnswer(Schema):
    survey_id = Id()
    intervention_id = Id()
    company_id = Id(allow_none=True)
    technician_id = Id(allow_none=True)
    client_id = Id(allow_none=True)
    score = fields.Integer()
    comment = fields.String(allow_none=True)
    answered_at = fields.DateTime()
    status = fields.String(metadata={"example": "answered"})


class SurveySummaryQuery(Schema):
    company_id = Id(metadata={"description": "a manager: its own company only"})
    technician_id = Id()
    from_ = Instant(data_key="from", metadata={
        "description": "answered at or after (RFC 3339 with offset)"})
    to = Instant(metadata={"description": "answered before (RFC 3339 with offset)"})


class SurveySummary(Schema):
    count = fields.Integer()
    average = fields.Float(allow_none=True, metadata={"description": "null when no answer"})
    distribution = fields.Dict(keys=fields.String(), values=fields.Integer(), metadata={
        "description": 'answers per score, "1" to "5"'})


class TrackingLink(Schema):
    url = fields.String(metadata={"description": "PUBLIC_URL + /track/<token>; the link is the key"})
    expires_at = fields.DateTime()
