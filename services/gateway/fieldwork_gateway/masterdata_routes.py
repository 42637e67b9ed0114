"""Master data resources: companies, technicians, clients, sites,
equipment, contracts, intervention types, statuses, settings."""
from fieldwork_gateway import schemas
from fieldwork_gateway.routes import ADMIN, ALL, STAFF, api, call


# --- master data ---------------------------------------------------------------

@api.route("/companies", "POST", summary="Create a company (shop)", roles=ADMIN,
           body=schemas.CompanyIn, response=schemas.Company, status=201, tag="master data")
def create_company(body):
    return call("interventions", "create_company", **body)


@api.route("/companies/<company_id>", "GET", summary="A company", roles=STAFF,
           response=schemas.Company, tag="master data")
def get_company(company_id):
    return call("interventions", "get_company", company_id=company_id)


@api.route("/technicians", "POST", summary="Create a technician", roles=ADMIN,
           body=schemas.TechnicianIn, response=schemas.Technician, status=201, tag="master data")
def create_technician(body):
    return call("interventions", "create_technician", **body)


@api.route("/technicians/<technician_id>", "GET", summary="A technician",
           roles=("admin", "manager", "technician"), response=schemas.Technician, tag="master data")
def get_technician(technician_id):
    return call("interventions", "get_technician", technician_id=technician_id)


@api.route("/clients", "POST", summary="Create a client", roles=ADMIN,
           body=schemas.ClientIn, response=schemas.Client, status=201, tag="master data")
def create_client(body):
    return call("interventions", "create_client", **body)


@api.route("/clients/<client_id>", "GET", summary="A client", roles=ALL,
           response=schemas.Client, tag="master data")
def get_client(client_id):
    return call("interventions", "get_client", client_id=client_id)


@api.route("/intervention-types", "POST", summary="Create an intervention type", roles=ADMIN,
           body=schemas.InterventionTypeIn, response=schemas.InterventionType, status=201,
           tag="master data")
def create_intervention_type(body):
    return call("interventions", "create_intervention_type", **body)


@api.route("/equipment", "POST", summary="Register a client's equipment", roles=ADMIN,
           body=schemas.EquipmentIn, response=schemas.Equipment, status=201, tag="master data")
def create_equipment(body):
    return call("interventions", "create_equipment", **body)


@api.route("/equipment/<equipment_id>", "GET", summary="An equipment", roles=ALL,
           response=schemas.Equipment, tag="master data")
def get_equipment(equipment_id):
    return call("interventions", "get_equipment", equipment_id=equipment_id)
