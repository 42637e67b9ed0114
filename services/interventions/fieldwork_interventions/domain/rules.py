"""Who may create and see an intervention (seed 000, DESIGN.md §3–4).

Plain Python: no nameko, no SQLAlchemy. The service loads the records and
asks these functions; they answer or raise a Fieldwork error.
"""
from dataclasses import dataclass

from fieldwork_common.errors import Forbidden, InvalidInput, NotFound

LOCATIONS = ("workshop", "at_home", "on_site")
LOCALES = ("fr", "en")  # the languages emails are written in

# Workshop steps (Proaxive: prise en charge → en atelier → tests finaux →
# en attente de retrait → livrée), in order, and the intervention's state
# once each is reached; the moves between them are domain/workshop.py.
WORKSHOP_STEPS = ("picked_up", "in_workshop", "final_tests", "awaiting_pickup", "delivered")
STATE_AFTER = {
    "picked_up": "open",
    "in_workshop": "open",
    "final_tests": "open",
    "awaiting_pickup": "closed",     # "met fin à l'intervention, elle sera donc Fermée"
    "delivered": "completed",        # "clôture intégralement l'intervention"
}
FIRST_WORKSHOP_STEP = WORKSHOP_STEPS[0]

CREATORS = ("admin", "technician")

# What PATCH /interventions/{id} may change; steps, statuses and assignment
# have commands of their own.
EDITABLE_FIELDS = ("description",)


# A contract an intervention may be done under.
WORKING_CONTRACT_STATES = ("validated", "active")

# Who may move an intervention along (steps, statuses); a client follows it
# on its tracking page instead.
WORKERS = ("admin", "manager", "technician")


@dataclass(frozen=True)
class Assignment:
    technician_id: str
    company_id: str


def assign_on_creation(principal, *, technician, client, equipment, intervention_type,
                       location, requested_technician_id, company_id=None,
                       technician_company_ids=(), multi_company=True, main_company_id=None):
    """Decide who the intervention belongs to, or refuse.

    - only admins and technicians create interventions;
    - a technician is assigned automatically and cannot create one for
      another technician;
    - an admin picks the technician;
    - the intervention belongs to its client's company (the main company
      when multi-company is off), and its technician must work for that
      company (its own or one of `technician_company_ids`);
    - client, equipment, type and technician must be active;
    - the equipment must be the client's; the location must be the type's.
    """
    if principal is None or principal.role not in CREATORS:
        raise Forbidden("Only admins and technicians create interventions.")
    if principal.role == "technician":
        if requested_technician_id and requested_technician_id != principal.technician_id:
            raise Forbidden("A technician creates interventions only for itself.",
                            {"technician_id": requested_technician_id})
    elif technician is None:
        raise InvalidInput("An admin must pick the technician.",
                           {"technician_id": "required"})
    if technician is None:
        raise NotFound("Technician not found.", {"technician_id": requested_technician_id})
    require_active(client=client, equipment=equipment, type=intervention_type,
                   technician=technician)
    if equipment.client_id != client.id:
        raise InvalidInput("This equipment does not belong to this client.",
                           {"equipment_id": equipment.id, "client_id": client.id})
    check_location(intervention_type, location)
    company = assigned_company(technician, company_id, technician_company_ids, client.company_id,
                               multi_company, main_company_id)
    return Assignment(technician_id=technician.id, company_id=company)


def assigned_company(technician, company_id, technician_company_ids, client_company_id,
                     multi_company=True, main_company_id=None):
    """The company of an intervention of a client of `client_company_id`,
    given to `technician` (on creation and on reassignment).

    Multi-company off: the main company (everything belongs to it).
    Otherwise the client's company: another one named in `company_id` is
    refused (its staff would see another company's client), and so is a
    technician who does not work for it."""
    if not multi_company and main_company_id:
        if company_id and company_id != main_company_id:
            raise InvalidInput("Multi-company is off: everything belongs to the main company.",
                               {"company_id": company_id, "main_company_id": main_company_id})
        return main_company_id
    if company_id and company_id != client_company_id:
        raise InvalidInput("The client belongs to another company: an intervention stays in its "
                           "client's company.",
                           {"company_id": company_id, "client_company_id": client_company_id})
    if client_company_id not in {technician.company_id, *technician_company_ids}:
        raise InvalidInput("The technician does not work for the client's company.",
                           {"company_id": client_company_id, "technician_id": technician.id,
                            "technician_company_ids": sorted({technician.company_id,
                                                              *technician_company_ids})})
    return client_company_id


def require_active(**records):
    """Deactivated master data cannot be used for new work (400)."""
    inactive = sorted(name for name, record in records.items()
                      if record is not None and getattr(record, "active", True) is False)
    if inactive:
        raise InvalidInput(f"Deactivated: {', '.join(inactive)}.",
                           {f"{name}_id": records[name].id for name in inactive})


def check_location(intervention_type, location):
    if intervention_type.location != location:
        raise InvalidInput(
            f"The intervention's location '{location}' does not match its type's "
            f"location '{intervention_type.location}'.",
            {"location": location, "type_location": intervention_type.location})


def check_site(site, client):
    """An optional site must be one of the client's, still active."""
    if site is None:
        return
    if site.client_id != client.id:
        raise InvalidInput("This site is not the client's.", {"site_id": site.id, "client_id": client.id})
    require_active(site=site)


def check_contract(contract, client):
    """An optional contract must be the client's, validated or active."""
    if contract is None:
        return
    if contract.client_id != client.id:
        raise InvalidInput("This contract is not the client's.",
                           {"contract_id": contract.id, "client_id": client.id})
    if contract.state not in WORKING_CONTRACT_STATES or getattr(contract, "active", True) is False:
        raise InvalidInput(f"This contract is '{contract.state}': an intervention needs a "
                           "validated or active contract.",
                           {"contract_id": contract.id, "state": contract.state,
                            "allowed": list(WORKING_CONTRACT_STATES)})


def can_work_on(principal, intervention):
    """Steps, statuses: admin (its scope), the company's manager, its
    technician. Call after can_see_intervention (which answers 404)."""
    return principal is not None and principal.role in WORKERS and \
        can_see_intervention(principal, intervention)


def can_manage_intervention(principal, intervention):
    """Reassign, reopen: an admin (its scope) or the company's manager."""
    return principal is not None and principal.role in ("admin", "manager") and \
        can_see_intervention(principal, intervention)


def reference(intervention_id):
    """What people read: the first 8 hex digits of the id, upper case."""
    return str(intervention_id).replace("-", "")[:8].upper()


def first_step(location):
    return FIRST_WORKSHOP_STEP if location == "workshop" else None


def can_see_intervention(principal, intervention):
    """Object-level access; callers answer 404 (not 403) when this is False,
    so that another tenant's ids reveal nothing."""
    if principal is None:
        return False
    if principal.role == "admin":
        return principal.company_id is None or principal.company_id == intervention.company_id
    if principal.role == "manager":
        return principal.company_id == intervention.company_id
    if principal.role == "technician":
        return principal.technician_id == intervention.technician_id
    if principal.role == "client":
        return principal.client_id == intervention.client_id
    return False


def can_manage_master_data(principal, company_id=None):
    """Companies, clients, technicians, types, equipment: admins configure."""
    if principal is None or principal.role != "admin":
        return False
    return principal.company_id is None or company_id is None or principal.company_id == company_id
