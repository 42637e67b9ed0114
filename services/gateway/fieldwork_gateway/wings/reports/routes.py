"""Field work and the visit report (seed 003, issue 13, docs/reports.md),
first part: the checklist templates of the intervention types and the
checklist the assigned technician fills in. The interventions service owns
them (its reports wing)."""
from fieldwork_gateway.fields import MasterQuery
from fieldwork_gateway.web import ADMIN, ALL, WORKERS, api, call
from fieldwork_gateway.wings.reports import schemas

TAG = "reports"


@api.route("/checklist-templates", "POST", summary="A new version of a type's checklist",
           roles=ADMIN, body=schemas.ChecklistTemplateIn, response=schemas.ChecklistTemplate,
           status=201, tag=TAG)
def create_checklist_template(body):
    """The platform's admin (intervention types are shared). Checklists
    already started keep the version they started on."""
    return call("interventions", "create_checklist_template", **body), 201


@api.route("/checklist-templates", "GET", summary="Checklist template versions, newest first",
           roles=ALL, query=schemas.ChecklistTemplateQuery, response=schemas.ChecklistTemplateList,
           tag=TAG)
def list_checklist_templates(query):
    return call("interventions", "list_checklist_templates", **query)


@api.route("/checklist-templates/<template_id>", "GET", summary="A checklist template version",
           roles=ALL, response=schemas.ChecklistTemplate, tag=TAG)
def get_checklist_template(template_id):
    return call("interventions", "get_checklist_template", template_id=template_id)


@api.route("/interventions/<intervention_id>/checklist", "GET",
           summary="An intervention's checklist and its answers", roles=WORKERS,
           response=schemas.Checklist, tag=TAG)
def get_checklist(intervention_id):
    """With the required items still missing and the flagged answers."""
    return call("interventions", "get_checklist", intervention_id=intervention_id)


@api.route("/interventions/<intervention_id>/checklist/<item_key>", "PUT",
           summary="Answer a checklist item", roles=("technician",), body=schemas.AnswerIn,
           response=schemas.Checklist, tag=TAG,
           errors={409: "intervention_closed, no_checklist",
                   422: "note_required: a number outside its range needs a note"})
def answer_checklist_item(intervention_id, item_key, body):
    """By the intervention's technician; the first answer pins the template
    version. Each answer is kept (GET …/checklist/history)."""
    return call("interventions", "answer_checklist_item", intervention_id=intervention_id,
                item_key=item_key, **body)


@api.route("/interventions/<intervention_id>/checklist/history", "GET",
           summary="Every checklist answer given, in order", roles=WORKERS,
           query=MasterQuery, response=schemas.AnswerEntryList, tag=TAG)
def checklist_history(intervention_id, query):
    return call("interventions", "checklist_history", intervention_id=intervention_id, **query)


@api.route("/interventions/<intervention_id>/comments", "POST", summary="Comment on an intervention",
           roles=WORKERS, body=schemas.CommentIn, response=schemas.Comment, status=201, tag=TAG,
           errors={409: "intervention_closed"})
def add_intervention_comment(intervention_id, body):
    """Its technician or staff; internal unless visible to the client."""
    return call("interventions", "add_intervention_comment", intervention_id=intervention_id,
                **body), 201


@api.route("/interventions/<intervention_id>/comments", "GET",
           summary="An intervention's comments, oldest first", roles=ALL,
           query=MasterQuery, response=schemas.CommentList, tag=TAG)
def list_intervention_comments(intervention_id, query):
    """The client reads only those visible to it."""
    return call("interventions", "list_intervention_comments", intervention_id=intervention_id,
                **query)


@api.route("/interventions/<intervention_id>/measurements", "POST", summary="Record a measurement",
           roles=("technician",), body=schemas.MeasurementIn, response=schemas.Measurement,
           status=201, tag=TAG, errors={409: "intervention_closed",
                                        422: "note_required: a value outside its range"})
def add_measurement(intervention_id, body):
    return call("interventions", "add_measurement", intervention_id=intervention_id, **body), 201


@api.route("/interventions/<intervention_id>/measurements", "GET",
           summary="An intervention's measurements", roles=WORKERS, query=MasterQuery,
           response=schemas.MeasurementList, tag=TAG)
def list_measurements(intervention_id, query):
    return call("interventions", "list_measurements", intervention_id=intervention_id, **query)
