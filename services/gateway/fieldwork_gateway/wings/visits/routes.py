"""Visits of interventions at a client's and their validation from the
portals (seed 001, docs/visits.md): planning, rescheduling, cancelling;
the worker's declaration, the client's validation or dispute, the worker's
answer, a manager's decision; the validation board and batch validation;
the reasons' catalogs."""
import csv
import io
from datetime import date, datetime
from decimal import Decimal

from flask import Response

from fieldwork_gateway.web import ADMIN, ALL, STAFF, WORKERS, api, call, expected_version, with_etag
from fieldwork_gateway.wings.visits import schemas

TAG = "visits"
CSV_MAX_ROWS = 50000


def _plain(body):
    """What the service takes: instants and dates as ISO text, km as text (exact)."""
    out = {}
    for key, value in body.items():
        if isinstance(value, (datetime, date)):
            value = value.isoformat()
        elif isinstance(value, (Decimal, float)):
            value = str(value)  # 12.3, not 12.300000000000001: the service keeps it exact
        elif isinstance(value, dict):
            value = _plain(value)
        out[key] = value
    return out


def _move(method, visit_id, body):
    version = expected_version(body.pop("version", None))
    return with_etag(call("interventions", method, visit_id=visit_id, version=version,
                          **_plain(body)))


# --- planning ----------------------------------------------------------------------------

@api.route("/interventions/<intervention_id>/visits", "POST",
           summary="Plan a visit (or a weekly series) of an intervention at a client's",
           roles=WORKERS, body=schemas.VisitIn, response=schemas.Planned, status=201, tag=TAG)
def plan_visits(intervention_id, body):
    """Only at_home/on_site interventions (workshop: 409), not completed
    (409: reopen it first). The contract must be the client's and billable
    (400) and validated or active (409 naming its state); the technician
    must work for the intervention's company. `repeat` {weekly_on, until}
    makes one visit per day (at most 200). A technician plans for itself
    under the intervention's contract; its visit is marked
    created_by_worker and carries the mission order. Publishes
    `visit.planned` per visit."""
    return call("interventions", "plan_visits", intervention_id=intervention_id,
                **_plain(body)), 201


@api.route("/visits", "GET", summary="Visits, in time order, with filters", roles=ALL,
           query=schemas.VisitQuery, response=schemas.VisitList, tag=TAG)
def list_visits(query):
    """A client sees its own, a technician its own, a manager (or an admin
    of one company) its company's. `overdue=true`: planned visits whose end
    has passed (to validate by the worker). A page at a time."""
    return call("interventions", "list_visits", **_plain(query))


@api.route("/planning", "GET", summary="The caller's planning between two moments", roles=ALL,
           query=schemas.PlanningQuery, response=schemas.Planning, tag=TAG)
def planning(query):
    """A worker's own visits, a client's own, a manager's company's (narrowed
    by technician, client, company), in time order, with the names a planning
    shows; cancelled visits only with include_cancelled. At most 92 days."""
    return call("interventions", "planning", **_plain(query))


@api.route("/visits/<visit_id>", "GET", summary="A visit", roles=ALL, response=schemas.Visit,
           tag=TAG)
def get_visit(visit_id):
    """Its ETag is its version: send it back as If-Match (or `version`) with a move."""
    return with_etag(call("interventions", "get_visit", visit_id=visit_id))


@api.route("/visits/<visit_id>", "PATCH", summary="Reschedule or reassign a planned visit",
           roles=STAFF, body=schemas.VisitPatch, response=schemas.Visit, tag=TAG)
def update_visit(visit_id, body):
    """New times and/or another technician of the company, while planned
    (otherwise 409). The version is required (428 without, 409 stale).
    Publishes `visit.rescheduled`."""
    return _move("update_visit", visit_id, body)


@api.route("/visits/<visit_id>/cancel", "POST", summary="Cancel a visit before it starts",
           roles=STAFF, body=schemas.CancelIn, response=schemas.Visit, tag=TAG)
def cancel_visit(visit_id, body):
    """With a reason of the company's cancellation catalog; once the visit
    has started, 409 (the worker declares it cancelled). Publishes `visit.cancelled`."""
    return _move("cancel_visit", visit_id, body)


@api.route("/visits/<visit_id>/history", "GET",
           summary="Every value proposed for a visit, who and when", roles=ALL,
           response=schemas.VisitHistory, tag=TAG)
def visit_history(visit_id):
    """Oldest first: the plan, reschedulings, the worker's declaration, the
    client's correction (accepted or not), the manager's decision."""
    return call("interventions", "visit_history", visit_id=visit_id)


# --- validation -------------------------------------------------------------------------

@api.route("/visits/<visit_id>/worker-validation", "POST",
           summary="The worker validates a past visit: done (times, km, comment) or cancelled",
           roles=WORKERS, body=schemas.WorkerValidationIn, response=schemas.WorkerValidated,
           tag=TAG)
def worker_validation(visit_id, body):
    """Its worker, or staff on its behalf (recorded as such), once the visit's
    end has passed (a visit still to do: 409). The times given become the
    planning's; the client is emailed. It may be sent again until the client
    answers. `next_visit` plans a new visit carrying a mission order. With
    the company's portal validation off, a technician gets 409 naming the
    setting. Publishes `visit.declared` (and `visit.planned`)."""
    return _move("worker_validation", visit_id, body)


@api.route("/visits/<visit_id>/client-validation", "POST",
           summary="The client validates, disputes or cancels a done visit", roles=("client",),
           body=schemas.ClientValidationIn, response=schemas.Visit, tag=TAG)
def client_validation(visit_id, body):
    """Only a `done` visit (still to do: 409). `dispute` needs a refusal
    reason and corrected times and/or km; the planning changes only when the
    worker accepts. `cancel` needs a cancellation reason. Portal validation
    off: 409 naming the setting. Publishes `visit.validated` (mode client),
    `visit.disputed` or `visit.cancelled`."""
    return _move("client_validation", visit_id, body)


@api.route("/visits/<visit_id>/dispute-answer", "POST",
           summary="The worker accepts or refuses the client's correction",
           roles=("technician",), body=schemas.DisputeAnswerIn, response=schemas.Visit, tag=TAG)
def dispute_answer(visit_id, body):
    """Accepting applies the client's values and validates the visit;
    refusing sends it to a manager, who is emailed. Publishes
    `visit.dispute_accepted` and `visit.validated`, or `visit.dispute_refused`."""
    return _move("dispute_answer", visit_id, body)


@api.route("/visits/<visit_id>/arbitration", "POST",
           summary="A manager settles a disputed visit", roles=STAFF, body=schemas.ArbitrationIn,
           response=schemas.Visit, tag=TAG)
def arbitrate(visit_id, body):
    """The worker's values, the client's, or custom ones; the reason is shown
    to both. Publishes `visit.arbitrated` and `visit.validated` (mode arbitrated)."""
    return _move("arbitrate", visit_id, body)


@api.route("/visits/validate-batch", "POST",
           summary="Validate done visits in the client's place", roles=STAFF,
           body=schemas.BatchIn, response=schemas.BatchResult, tag=TAG)
def validate_batch(body):
    """Each visit is answered on its own: validated (mode on_behalf, with who,
    when and for which client), or the error that refused it (an open
    dispute, still to do); the others go through. An id the caller cannot
    see (unknown, another company's) refuses the whole batch: 404 naming
    them, nothing validated."""
    return call("interventions", "validate_batch", visit_ids=body["visit_ids"])


@api.route("/validation-board", "GET", summary="Every visit waiting for someone",
           roles=STAFF, query=schemas.BoardQuery, response=schemas.Board, tag=TAG)
def validation_board(query):
    """Who it waits for (worker, client, manager) and since when, oldest
    first, with totals per party for the same filters. CSV: /validation-board.csv."""
    return call("interventions", "validation_board", **_plain(query))


CSV_COLUMNS = ("id", "reference", "state", "waiting_for", "waiting_since", "start_at", "end_at",
               "km", "client_id", "client_name", "technician_id", "technician_name",
               "intervention_id", "type_id", "version")


@api.route("/validation-board.csv", "GET", summary="The validation board as CSV",
           roles=STAFF, query=schemas.CsvQuery, tag=TAG)
def validation_board_csv(query):
    """Every row of the board for the filters (at most 50,000), UTF-8 with
    a header line."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    after, rows = None, 0
    while rows < CSV_MAX_ROWS:
        found = call("interventions", "validation_board", limit=200, after=after, totals=False,
                     **_plain(query))
        for item in found["items"]:
            flat = {**item, "client_id": item["client"]["id"], "client_name": item["client"]["name"],
                    "technician_id": item["technician"]["id"],
                    "technician_name": item["technician"]["name"]}
            writer.writerow([_cell(flat.get(column)) for column in CSV_COLUMNS])
            rows += 1
        after = found["next_cursor"]
        if after is None:
            break
    return Response(out.getvalue(), mimetype="text/csv", headers={
        "Content-Disposition": 'attachment; filename="validation-board.csv"',
        "Cache-Control": "no-store"}), 200


def _cell(value):
    """No spreadsheet formula from a name a client typed."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


# --- reasons ----------------------------------------------------------------------------

@api.route("/visit-reasons", "GET", summary="The refusal and cancellation reasons", roles=ALL,
           query=schemas.ReasonQuery, response=schemas.ReasonList, tag=TAG)
def list_visit_reasons(query):
    """Those of the caller's company (a client: its client's company's)."""
    return call("interventions", "list_visit_reasons", **query)


@api.route("/visit-reasons", "POST", summary="Add a refusal or cancellation reason",
           roles=ADMIN, body=schemas.ReasonIn, response=schemas.Reason, status=201, tag=TAG)
def create_visit_reason(body):
    """An admin of the company (a platform admin names company_id)."""
    return call("interventions", "create_visit_reason", **body), 201


@api.route("/visit-reasons/<reason_id>", "PATCH", summary="Change or deactivate a reason",
           roles=ADMIN, body=schemas.ReasonPatch, response=schemas.Reason, tag=TAG)
def update_visit_reason(reason_id, body):
    """Label, position, active (a deactivated reason can no longer be picked)."""
    version = expected_version(body.pop("version", None))
    return with_etag(call("interventions", "update_visit_reason", reason_id=reason_id,
                          version=version, changes=body))
