"""Who may create and see an intervention (seed 000, DESIGN.md §3–4).

Plain Python: no nameko, no SQLAlchemy. The service loads the records and
asks these functions; they answer or raise a Fieldwork error.
"""
from dataclasses import dataclass

from fieldwork_common.errors import Forbidden, InvalidInput, NotFound

LOCATIONS = ("workshop", "at_home", "on_site")
LOCALES = ("fr", "en")  # the languages emails are written in

# Workshop steps (Proaxive: prise en charge → en atelier → tests finaux →
# en attente de retrait → livrée). The first step of a workshop repair.
FIRST_WORKSHOP_STEP = "picked_up"

CREATORS = ("admin", "technician")

# What PATCH /interventions/{id} may change; steps, statuses and assignment
# have commands of their own.
EDITABLE_FIELDS = ("description",)


@dataclass(frozen=True)
class Assignment:
    technician_id: str
    company_id: str


def assign_on_creation(principal, *, technician, client, equipment, intervention_type,
                       location, requested_technician_id):
    """Decide who the intervention belongs to, or refuse.

    - only admins and technicians create interventions;
    - a technician is assigned automatically and cannot create one for
      another technician;
    - an admin picks the technician; the technician's company is the
      intervention's company;
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
    if equipment.client_id != client.id:
        raise InvalidInput("This equipment does not belong to this client.",
                           {"equipment_id": equipment.id, "client_id": client.id})
    if intervention_type.location != location:
        raise InvalidInput(
            f"The intervention's location '{location}' does not match its type's "
            f"location '{intervention_type.location}'.",
            {"location": location, "type_location": intervention_type.location})
    return Assignment(technician_id=technician.id, company_id=technician.company_id)


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
