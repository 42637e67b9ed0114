"""Bodies of the master data routes."""
from marshmallow import Schema, fields, validate

from fieldwork_gateway.fields import LOCALES, LOCATIONS, Id, MasterQuery, page_of, text, version_field


class CompanyIn(Schema):
    name = text(required=True)
    email = fields.Email(allow_none=True, validate=validate.Length(max=320))
    phone = text(50, allow_none=True)
    address = text(500, allow_none=True)
    survey_enabled = fields.Boolean(load_default=False, metadata={
        "description": "email a satisfaction survey to the client when an intervention is delivered"})
    portal_validation = fields.Boolean(metadata={
        "description": "visits: the module 'validation from the portals' (worker and client "
                       "validate their visits); off: staff validate them (default false)"})
    validation_reminder_days = fields.Integer(validate=validate.Range(min=1, max=60), metadata={
        "description": "visits: days before the client is reminded of a visit to validate "
                       "(then a manager, or tacit validation, after twice as many; default 3)"})
    tacit_validation = fields.Boolean(metadata={
        "description": "visits: a done visit the client leaves unanswered for twice "
                       "validation_reminder_days is validated tacitly (default false)"})
    max_visit_km = fields.Integer(validate=validate.Range(min=1, max=100000), metadata={
        "description": "visits: the most kilometres one visit may carry (default 1000)"})


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


CONTRACT_STATES = ("draft", "validated", "active", "ended")
COLOUR = r"^#[0-9a-fA-F]{6}$"


class CompanyPatch(Schema):
    name = text()
    email = fields.Email(allow_none=True, validate=validate.Length(max=320))
    phone = text(50, allow_none=True)
    address = text(500, allow_none=True)
    survey_enabled = fields.Boolean()
    portal_validation = fields.Boolean()
    validation_reminder_days = fields.Integer(validate=validate.Range(min=1, max=60))
    tacit_validation = fields.Boolean()
    max_visit_km = fields.Integer(validate=validate.Range(min=1, max=100000))
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
