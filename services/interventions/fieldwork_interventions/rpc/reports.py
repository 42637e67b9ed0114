"""The reports wing (seed 003, issue 13, docs/reports.md), first part: the
checklist templates of the intervention types (versioned) and the
checklist the assigned technician fills in on site. The report itself
(signature, PDF, review) comes with the rest of issue 13."""
from datetime import datetime, timezone

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert

from fieldwork_common.commands import command
from fieldwork_common.errors import Forbidden, NotFound, refuse
from fieldwork_common.pagination import page
from fieldwork_common.rpc import rpc
from fieldwork_common.serialize import as_dict, is_uuid, plain

from fieldwork_interventions.access import require_global_admin, resolve, visible
from fieldwork_interventions.domain import reports as rules
from fieldwork_interventions.models import (ChecklistAnswer, ChecklistAnswerEntry,
                                            ChecklistTemplate, File, InterventionChecklist,
                                            InterventionComment, InterventionType, Measurement)

TEMPLATE_FIELDS = ("id", "type_id", "version", "items", "created_by", "created_at")
ANSWER_FIELDS = ("item_key", "value", "note", "flagged", "answered_by", "answered_at")
COMMENT_FIELDS = ("id", "intervention_id", "body", "visible_to_client", "author_id", "author_role",
                  "at")
MEASUREMENT_FIELDS = ("id", "intervention_id", "parameter", "unit", "value", "min", "max",
                      "flagged", "note", "by", "at")


def now():
    return datetime.now(timezone.utc)


class Reports:
    """Mixin of InterventionsService (needs `db` and `principal`)."""

    def _workable(self, s, intervention_id, staff_too=False):
        """The intervention, locked, for its technician (and staff when
        `staff_too`), still open."""
        p = self.principal
        intervention = visible(s, p, "intervention", intervention_id, lock=True)
        own = p.role == "technician" and intervention.technician_id == p.technician_id
        if not own and not (staff_too and p.role in ("admin", "manager")):
            raise Forbidden("Only the intervention's technician"
                            + (" or staff" if staff_too else "") + " may do this.")
        if intervention.state != "open":
            raise refuse("intervention_closed", f"This intervention is {intervention.state}.",
                         status=409, state=intervention.state)
        return intervention

    def _latest_template(self, s, type_id):
        return s.scalars(sa.select(ChecklistTemplate).where(ChecklistTemplate.type_id == type_id)
                         .order_by(ChecklistTemplate.version.desc()).limit(1)).first()

    @rpc
    @command
    def create_checklist_template(self, uow, type_id, items):
        """Global admin (intervention types are a shared catalog): the next
        version of the type's checklist."""
        p = self.principal
        require_global_admin(p)
        s = uow.session
        resolve(s, p, "intervention_type", type_id, "type_id")
        items = rules.check_items(items)
        s.execute(sa.select(InterventionType).where(InterventionType.id == type_id)
                  .with_for_update())  # one new version at a time per type
        latest = self._latest_template(s, type_id)
        template = ChecklistTemplate(type_id=type_id, version=(latest.version + 1) if latest else 1,
                                     items=items, created_by=p.user_id)
        s.add(template)
        s.flush()
        return as_dict(template, TEMPLATE_FIELDS)

    @rpc
    def list_checklist_templates(self, type_id=None, limit=None, after=None):
        """Every version, newest first (a type's, when named)."""
        query = sa.select(ChecklistTemplate)
        with self.db.session() as s:
            if type_id is not None:
                resolve(s, self.principal, "intervention_type", type_id, "type_id", active=False)
                query = query.where(ChecklistTemplate.type_id == type_id)
            rows, cursor = page(s, query, ChecklistTemplate, limit, after)
            return {"items": [as_dict(r, TEMPLATE_FIELDS) for r in rows], "next_cursor": cursor}

    @rpc
    def get_checklist_template(self, template_id):
        with self.db.session() as s:
            template = s.get(ChecklistTemplate, template_id) if is_uuid(template_id) else None
            if template is None:
                raise NotFound("Checklist template not found.", {"template_id": template_id})
            return as_dict(template, TEMPLATE_FIELDS)

    # --- an intervention's checklist ----------------------------------------------------

    def _checklist_dict(self, s, intervention, checklist):
        template = s.get(ChecklistTemplate, checklist.template_id) if checklist else \
            self._latest_template(s, intervention.type_id)
        if template is None:
            return {"intervention_id": intervention.id, "template": None, "started_at": None,
                    "answers": [], "missing": [], "flagged": []}
        answers = s.scalars(sa.select(ChecklistAnswer).where(
            ChecklistAnswer.intervention_id == intervention.id)).all() if checklist else []
        by_key = {a.item_key: a for a in answers}
        order = [item["key"] for item in template.items]
        return {"intervention_id": intervention.id,
                "template": as_dict(template, TEMPLATE_FIELDS),
                "started_at": plain(checklist.started_at) if checklist else None,
                "answers": [as_dict(by_key[k], ANSWER_FIELDS) for k in order if k in by_key],
                "missing": rules.missing(template.items, set(by_key)),
                "flagged": [k for k in order if k in by_key and by_key[k].flagged]}

    @rpc
    def get_checklist(self, intervention_id):
        """The intervention's checklist (the version it started on, else the
        type's latest), its answers, the required items still missing and
        the flagged ones. Staff and its technician."""
        p = self.principal
        if p is None or p.role == "client":
            raise Forbidden("The checklist is the provider's.")
        with self.db.session() as s:
            intervention = visible(s, p, "intervention", intervention_id)
            return self._checklist_dict(s, intervention,
                                        s.get(InterventionChecklist, intervention.id))

    @rpc
    @command
    def answer_checklist_item(self, uow, intervention_id, item_key, value, note=None):
        """The assigned technician answers an item (the first answer pins
        the template version); each answer is kept, the last one in force."""
        p = self.principal
        s = uow.session
        intervention = self._workable(s, intervention_id)
        checklist = s.get(InterventionChecklist, intervention.id)
        if checklist is None:
            template = self._latest_template(s, intervention.type_id)
            if template is None:
                raise refuse("no_checklist", "This intervention's type has no checklist.",
                             status=409, type_id=intervention.type_id)
            s.execute(insert(InterventionChecklist).values(
                intervention_id=intervention.id, template_id=template.id, started_by=p.user_id)
                .on_conflict_do_nothing())
            checklist = s.get(InterventionChecklist, intervention.id)
        template = s.get(ChecklistTemplate, checklist.template_id)
        item = next((i for i in template.items if i["key"] == item_key), None)
        if item is None:
            raise NotFound("No such item in this checklist.", {"item_key": item_key})
        value, flagged, note = rules.check_answer(item, value, note)
        if item["kind"] == "photo":
            photo = resolve(s, p, "file", value, "value")
            if s.get(File, photo.id).company_id != intervention.company_id:
                raise NotFound("File not found.", {"value": value})
        at = now()
        row = {"intervention_id": intervention.id, "item_key": item_key, "value": value,
               "note": note, "flagged": flagged, "answered_by": p.user_id, "answered_at": at}
        s.execute(insert(ChecklistAnswer).values(**row).on_conflict_do_update(
            index_elements=[ChecklistAnswer.intervention_id, ChecklistAnswer.item_key],
            set_={k: v for k, v in row.items() if k not in ("intervention_id", "item_key")}))
        s.add(ChecklistAnswerEntry(**row))
        s.flush()
        return self._checklist_dict(s, intervention, checklist)

    @rpc
    def checklist_history(self, intervention_id, limit=None, after=None):
        """Every answer given, in order, with who and when."""
        p = self.principal
        if p is None or p.role == "client":
            raise Forbidden("The checklist is the provider's.")
        with self.db.session() as s:
            intervention = visible(s, p, "intervention", intervention_id)
            query = sa.select(ChecklistAnswerEntry).where(
                ChecklistAnswerEntry.intervention_id == intervention.id)
            rows, cursor = page(s, query, limit=limit, after=after, descending=False,
                                keys=(ChecklistAnswerEntry.id,))
            return {"items": [as_dict(r, ("id",) + ANSWER_FIELDS) for r in rows],
                    "next_cursor": cursor}

    # --- comments and measurements ------------------------------------------------------

    @rpc
    @command
    def add_intervention_comment(self, uow, intervention_id, body, visible_to_client=False):
        """Its technician or staff: a comment, internal unless visible to the client."""
        s = uow.session
        intervention = self._workable(s, intervention_id, staff_too=True)
        comment = InterventionComment(
            intervention_id=intervention.id, body=rules.check_comment(body),
            visible_to_client=bool(visible_to_client), author_id=self.principal.user_id,
            author_role=self.principal.role, at=now())
        s.add(comment)
        s.flush()
        return as_dict(comment, COMMENT_FIELDS)

    @rpc
    def list_intervention_comments(self, intervention_id, limit=None, after=None):
        """Oldest first; the client reads only those visible to it."""
        p = self.principal
        with self.db.session() as s:
            intervention = visible(s, p, "intervention", intervention_id)
            query = sa.select(InterventionComment).where(
                InterventionComment.intervention_id == intervention.id)
            if p is not None and p.role == "client":
                query = query.where(InterventionComment.visible_to_client)
            rows, cursor = page(s, query, limit=limit, after=after, descending=False,
                                keys=(InterventionComment.at, InterventionComment.id))
            return {"items": [as_dict(r, COMMENT_FIELDS) for r in rows], "next_cursor": cursor}

    @rpc
    @command
    def add_measurement(self, uow, intervention_id, parameter, value, unit=None, min=None,
                        max=None, note=None):
        """Its technician: a measurement; outside [min, max] it is flagged
        and needs a note."""
        s = uow.session
        intervention = self._workable(s, intervention_id)
        parameter, unit, value, low, high, flagged, note = rules.check_measurement(
            parameter, value, unit, min, max, note)
        row = Measurement(intervention_id=intervention.id, parameter=parameter, unit=unit,
                          value=value, min=low, max=high, flagged=flagged, note=note,
                          by=self.principal.user_id, at=now())
        s.add(row)
        s.flush()
        return as_dict(row, MEASUREMENT_FIELDS)

    @rpc
    def list_measurements(self, intervention_id, limit=None, after=None):
        p = self.principal
        if p is None or p.role == "client":
            raise Forbidden("Measurements are the provider's.")
        with self.db.session() as s:
            intervention = visible(s, p, "intervention", intervention_id)
            query = sa.select(Measurement).where(Measurement.intervention_id == intervention.id)
            rows, cursor = page(s, query, limit=limit, after=after, descending=False,
                                keys=(Measurement.at, Measurement.id))
            return {"items": [as_dict(r, MEASUREMENT_FIELDS) for r in rows], "next_cursor": cursor}
