"""Master data resources: companies, technicians, clients, sites,
equipment, contracts, intervention types, statuses, settings.

Every kind has the same five routes: POST /x (admin), GET /x/{id}, PATCH
/x/{id} (admin; the version read, as If-Match or `version`: 428 without,
409 when stale; `{"active": false}` deactivates), DELETE /x/{id} (admin;
409 when anything references it: deactivate it instead) and GET /x (a page
of what the caller may see, newest first, with filters). A record the
caller may not see answers 404.
"""
from datetime import date

from flask import current_app, request

from fieldwork_common.errors import Conflict
from fieldwork_common.serialize import is_uuid
from fieldwork_gateway.web import ADMIN, ALL, STAFF, api, call, expected_version, with_etag
from fieldwork_gateway.wings.masterdata import schemas

READERS = {
    "company": ("admin", "manager", "technician"),
    "technician": ("admin", "manager", "technician"),
    "client": ALL,
    "site": ALL,
    "equipment": ALL,
    "contract": ("admin", "manager", "client"),
    "intervention_type": ALL,
    "status": ALL,
}


def _plain(body):
    """Dates go to the service as ISO strings."""
    return {key: value.isoformat() if isinstance(value, date) else value for key, value in body.items()}


# logins (the gateway's accounts) point at companies, technicians and clients
LOGIN_LINKS = {"company": "company_id", "technician": "technician_id", "client": "client_id"}


def refuse_if_a_login_uses(kind, object_id):
    column = LOGIN_LINKS.get(kind)
    if column is None or not is_uuid(object_id):
        return
    count = current_app.extensions["accounts"].logins_linked_to(column, object_id)
    if count:
        raise Conflict(f"Logins belong to this {kind} and it cannot be deleted; deactivate it "
                       "instead (PATCH with {\"active\": false}).",
                       {"referenced_by": {"users": count}, "hint": "PATCH {\"active\": false}"})


def resource(kind, *, path, param, plural, label, schema_in, schema, schema_patch, query, listed,
             rpc_list, who_sees):
    """Declare the five routes of one kind of master data."""
    readers = READERS[kind]
    tag = "master data"

    def create(body):
        return call("interventions", f"create_{kind}", **_plain(body))
    create.__name__ = f"create_{kind}"
    create.__doc__ = f"Publishes `{kind}.created` with the full record."
    api.route(path, "POST", summary=f"Create {label}", roles=ADMIN, body=schema_in,
              response=schema, status=201, tag=tag)(create)

    def read(**kwargs):
        return with_etag(call("interventions", f"get_{kind}", **{param: kwargs[param]}))
    read.__name__ = f"get_{kind}"
    read.__doc__ = (f"{who_sees} Deactivated records stay readable. 404 for one the caller "
                    "may not see. The `ETag` header is its version: send it back in `If-Match`.")
    api.route(f"{path}/<{param}>", "GET", summary=label[0].upper() + label[1:], roles=readers,
              response=schema, tag=tag)(read)

    def update(body, **kwargs):
        version = expected_version(body.pop("version", None))
        return with_etag(call("interventions", f"update_{kind}", **{param: kwargs[param]},
                              version=version, changes=_plain(body)))
    update.__name__ = f"update_{kind}"
    update.__doc__ = (f"Change some fields; `{{\"active\": false}}` deactivates it. Optimistic "
                      "concurrency: the version comes from `If-Match` (the ETag of a GET) or the "
                      "body's `version` (428 without); 409 with the current version when someone "
                      f"changed it since. Publishes `{kind}.updated` with the full record.")
    api.route(f"{path}/<{param}>", "PATCH", summary=f"Change or deactivate {label}", roles=ADMIN,
              body=schema_patch, response=schema, tag=tag)(update)

    def delete(**kwargs):
        if kind in LOGIN_LINKS:  # visible first (404), then not used by a login (409)
            call("interventions", f"get_{kind}", **{param: kwargs[param]})
            refuse_if_a_login_uses(kind, kwargs[param])
        call("interventions", f"delete_{kind}", **{param: kwargs[param]})
        return "", 204
    delete.__name__ = f"delete_{kind}"
    delete.__doc__ = ("Only a record nothing references (other records, interventions, logins); "
                      "otherwise 409 with what references it in `details.referenced_by` "
                      f"(deactivate it instead). Publishes `{kind}.deleted`.")
    api.route(f"{path}/<{param}>", "DELETE", summary=f"Delete {label} nothing references",
              roles=ADMIN, status=204, tag=tag)(delete)

    def list_(query):
        return call("interventions", rpc_list, **query)
    list_.__name__ = f"list_{plural}"
    list_.__doc__ = (f"{who_sees} Newest first, a page at a time: pass `next_cursor` as `after`.")
    api.route(path, "GET", summary=f"List {plural.replace('_', ' ')}", roles=readers, query=query,
              response=listed, tag=tag)(list_)


resource("company", path="/companies", param="company_id", plural="companies", label="a company (shop)",
         schema_in=schemas.CompanyIn, schema=schemas.Company, schema_patch=schemas.CompanyPatch,
         query=schemas.CompanyQuery, listed=schemas.CompanyList, rpc_list="list_companies",
         who_sees="An admin of a company and a manager see their company, a technician the "
                  "companies it works for, a global admin every one.")
resource("technician", path="/technicians", param="technician_id", plural="technicians",
         label="a technician", schema_in=schemas.TechnicianIn, schema=schemas.Technician,
         schema_patch=schemas.TechnicianPatch, query=schemas.TechnicianQuery,
         listed=schemas.TechnicianList, rpc_list="list_technicians",
         who_sees="Admins and managers see the technicians working for their company; a "
                  "technician sees itself.")
resource("client", path="/clients", param="client_id", plural="clients", label="a client",
         schema_in=schemas.ClientIn, schema=schemas.Client, schema_patch=schemas.ClientPatch,
         query=schemas.ClientQuery, listed=schemas.ClientList, rpc_list="list_clients",
         who_sees="Admins, managers and technicians see the clients of their company(ies); a "
                  "client sees itself.")
resource("site", path="/sites", param="site_id", plural="sites", label="a client's site",
         schema_in=schemas.SiteIn, schema=schemas.Site, schema_patch=schemas.SitePatch,
         query=schemas.SiteQuery, listed=schemas.SiteList, rpc_list="list_sites",
         who_sees="Staff and technicians see the sites of their company's clients; a client "
                  "its own.")
resource("equipment", path="/equipment", param="equipment_id", plural="equipment",
         label="a client's equipment", schema_in=schemas.EquipmentIn, schema=schemas.Equipment,
         schema_patch=schemas.EquipmentPatch, query=schemas.EquipmentQuery,
         listed=schemas.EquipmentList, rpc_list="list_equipment",
         who_sees="Staff and technicians see the equipment of their company's clients; a "
                  "client its own. `site_id` must be one of the client's sites (400).")
resource("contract", path="/contracts", param="contract_id", plural="contracts",
         label="a client's contract", schema_in=schemas.ContractIn, schema=schemas.Contract,
         schema_patch=schemas.ContractPatch, query=schemas.ContractQuery,
         listed=schemas.ContractList, rpc_list="list_contracts",
         who_sees="Admins and managers see their company's contracts; a client its own. A "
                  "contract is created as a draft; its state moves with PUT /contracts/{id}/state.")
resource("intervention_type", path="/intervention-types", param="type_id",
         plural="intervention_types", label="an intervention type",
         schema_in=schemas.InterventionTypeIn, schema=schemas.InterventionType,
         schema_patch=schemas.InterventionTypePatch, query=schemas.InterventionTypeQuery,
         listed=schemas.InterventionTypeList, rpc_list="list_intervention_types",
         who_sees="Every role sees the types (a global catalog; global admins configure it). "
                  "A type used by interventions keeps its location (409).")
resource("status", path="/statuses", param="status_id", plural="statuses",
         label="a status of the catalog", schema_in=schemas.CatalogStatusIn,
         schema=schemas.CatalogStatus, schema_patch=schemas.CatalogStatusPatch,
         query=schemas.CatalogStatusQuery, listed=schemas.CatalogStatusList,
         rpc_list="list_statuses",
         who_sees="Every role sees the catalog of statuses (global admins configure it); the "
                  "list is ordered by position, then label. Colours are #rrggbb.")


@api.route("/contracts/<contract_id>/state", "PUT", summary="Move a contract to its next state",
           roles=ADMIN, body=schemas.ContractStateIn, response=schemas.Contract, tag="master data")
def set_contract_state(contract_id, body):
    """draft → validated → active → ended; any other move is 409 with the
    allowed moves in `details.allowed`. A `version` (or If-Match), when sent,
    must be the current one. Publishes `contract.updated`."""
    version = body.get("version")
    if version is None:
        if request.headers.get("If-Match") is not None:
            version = expected_version(None)
    return with_etag(call("interventions", "set_contract_state", contract_id=contract_id,
                          state=body["state"], version=version))


@api.route("/settings", "GET", summary="The platform settings (multi-company)", roles=STAFF,
           response=schemas.PlatformSettings, tag="master data")
def get_settings():
    """`multi_company` off: everything belongs to `main_company_id`."""
    return with_etag(call("interventions", "get_settings"))


@api.route("/settings", "PUT", summary="Change the platform settings (global admin)", roles=ADMIN,
           body=schemas.PlatformSettingsIn, response=schemas.PlatformSettings, tag="master data")
def update_settings(body):
    """Turning multi-company off needs a main company (400). An admin of one
    company gets 403. A `version`, when sent, must be the current one (409).
    Publishes `settings.updated`."""
    return with_etag(call("interventions", "update_settings", **body))
