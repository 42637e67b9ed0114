"""Read side of interventions: lists, the calendar and its ICS feeds, the
client's tracking (JSON by login, an HTML page by token)."""
import re
from datetime import datetime

from flask import Response, current_app, render_template

from fieldwork_common import config
from fieldwork_common.errors import NotFound
from fieldwork_gateway import pages
from fieldwork_gateway.web import ALL, PUBLIC, api, call
from fieldwork_gateway.wings.reads import schemas

FEED_ROLES = ("admin", "manager", "technician")


def _iso(value):
    return value.isoformat() if value is not None else None


# --- lists ---------------------------------------------------------------------------

@api.route("/interventions", "GET", summary="Interventions, newest first, with filters",
           roles=ALL, query=schemas.InterventionQuery, response=schemas.InterventionList,
           tag="interventions")
def list_interventions(query):
    """A client sees its own, a technician those assigned to it, a manager
    (or an admin of one company) its company's, a global admin all; the
    filters narrow that down. `created_from` ≤ created_at < `created_to`.
    A page at a time: pass `next_cursor` as `after`."""
    for key in ("created_from", "created_to"):
        if key in query:
            query[key] = _iso(query[key])
    return call("interventions", "list_interventions", **query)


# --- calendar --------------------------------------------------------------------------

@api.route("/calendar", "GET", summary="Pickup and delivery dates between two moments",
           roles=ALL, query=schemas.CalendarQuery, response=schemas.Calendar, tag="calendar")
def calendar(query):
    """The interventions the caller may see whose pickup (or delivery) date
    is in [from, to), in time order, and the visits (not cancelled) that
    overlap [from, to). The range is at most 366 days."""
    return call("interventions", "calendar", start=_iso(query["start"]), end=_iso(query["end"]),
                technician_id=query.get("technician_id"), company_id=query.get("company_id"))


@api.route("/calendar/feeds", "POST", summary="A calendar feed (ICS) to subscribe to",
           roles=FEED_ROLES, body=schemas.CalendarFeedIn, response=schemas.CalendarFeed,
           status=201, tag="calendar")
def create_calendar_feed(body):
    """For a technician (`technician_id`) or a company (`company_id`): admins
    and managers for their company or its technicians, a technician for
    itself. The URL works without login (calendar apps cannot send a
    token): it is the key, and is shown only once. Revoke it with DELETE."""
    feed = call("interventions", "create_calendar_feed", **body)
    return {"url": f"{config.public_url()}/calendar/feeds/{feed['token']}.ics",
            "kind": feed["kind"], "subject_id": feed["subject_id"]}, 201


def _feed_token(token):
    return token[:-len(".ics")] if token.endswith(".ics") else token


@api.route("/calendar/feeds/<token>", "GET", summary="An ICS calendar feed (no login: the URL is the key)",
           roles=PUBLIC, tag="calendar")
def calendar_feed(token):
    """`token` is the feed's token followed by `.ics`, as in the URL
    POST /calendar/feeds answered. One event per pickup or delivery date,
    with a stable UID and SEQUENCE = the intervention's version. 404 for an
    unknown or revoked feed."""
    text = call("interventions", "calendar_feed", token=_feed_token(token))
    response = Response(text, mimetype="text/calendar",
                        headers={"Cache-Control": "private, max-age=300",
                                 "Content-Disposition": 'inline; filename="fieldwork.ics"'})
    return response, 200


@api.route("/calendar/feeds/<token>", "DELETE", summary="Revoke a calendar feed",
           roles=FEED_ROLES, status=204, tag="calendar")
def revoke_calendar_feed(token):
    """Its creator, or an admin of its company. The feed's URL answers 404 from then on."""
    call("interventions", "revoke_calendar_feed", token=_feed_token(token))
    return "", 204


# --- tracking --------------------------------------------------------------------------

@api.route("/interventions/<intervention_id>/tracking", "GET",
           summary="Where an intervention stands, as its client sees it", roles=ALL,
           response=schemas.Tracking, tag="interventions")
def tracking(intervention_id):
    """The steps passed with their dates, the current step and state, the
    status shown (it stays after the workshop step has passed), the pickup
    date. A client its own; staff and technicians what they may see."""
    return call("interventions", "get_tracking", intervention_id=intervention_id)



@api.route("/interventions/<intervention_id>/tracking-links", "POST",
           summary="A new link to the client's tracking page (admin)", roles=("admin",),
           response=schemas.TrackingLink, status=201, tag="interventions")
def create_tracking_link(intervention_id):
    """For giving the client a link by other means than the emails (which
    carry one). It opens the page without login until `expires_at`
    (TRACKING_TOKEN_DAYS, default 90 days); it is shown only once."""
    link = call("interventions", "issue_tracking_token", intervention_id=intervention_id)
    return {"url": config.public_url() + link["url_path"], "expires_at": link["expires_at"]}, 201


TEXTS = {
    "fr": {
        "title": "Suivi de votre intervention",
        "reference": "Référence",
        "equipment": "Matériel",
        "steps": "Étapes",
        "status": "Statut",
        "pickup": "Retrait prévu le",
        "delivery": "Livraison prévue le",
        "contact": "Une question ? Contactez",
        "reached": "le",
        "states": {"open": "En cours", "closed": "Terminée, en attente de retrait",
                   "completed": "Clôturée"},
        # an intervention at the client's: nothing to pick up, visits to validate
        "home_states": {"open": "En cours", "closed": "Visites réalisées, en attente de validation",
                        "completed": "Clôturée"},
        "state": "État",
        "visits": "Visites",
        "visit_states": {"planned": "Prévue", "done": "Réalisée", "disputed": "Contestée",
                         "arbitration": "En cours d'arbitrage", "validated": "Validée"},
        "not_found_title": "Lien de suivi introuvable",
        "not_found": "Ce lien de suivi est inconnu ou a expiré. "
                     "Demandez un nouveau lien à l'atelier qui a pris votre matériel en charge.",
    },
    "en": {
        "title": "Tracking your repair",
        "reference": "Reference",
        "equipment": "Equipment",
        "steps": "Steps",
        "status": "Status",
        "pickup": "Ready for pickup on",
        "delivery": "Delivery planned on",
        "contact": "A question? Contact",
        "reached": "on",
        "states": {"open": "In progress", "closed": "Done, awaiting pickup",
                   "completed": "Completed"},
        "home_states": {"open": "In progress", "closed": "Visits done, awaiting validation",
                        "completed": "Completed"},
        "state": "State",
        "visits": "Visits",
        "visit_states": {"planned": "Planned", "done": "Done", "disputed": "Disputed",
                         "arbitration": "Being settled", "validated": "Validated"},
        "not_found_title": "Tracking link not found",
        "not_found": "This tracking link is unknown or has expired. "
                     "Ask the workshop that took your equipment in for a new link.",
    },
}

STEP_LABELS = {
    "fr": {"picked_up": "Prise en charge", "in_workshop": "En atelier",
           "final_tests": "Tests finaux", "awaiting_pickup": "En attente de retrait",
           "delivered": "Livrée"},
    "en": {"picked_up": "Picked up", "in_workshop": "In the workshop",
           "final_tests": "Final tests", "awaiting_pickup": "Awaiting pickup",
           "delivered": "Delivered"},
}
STEPS = tuple(STEP_LABELS["fr"])
COLOUR = re.compile(r"#[0-9A-Fa-f]{6}")
MONTHS_EN = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def format_moment(iso, lang):
    """'25/12/2026 à 14:30' (fr) or '25 Dec 2026, 14:30' (en), in the display zone."""
    moment = datetime.fromisoformat(iso).astimezone(current_app.config["SETTINGS"].tracking_timezone)
    if lang == "en":
        return f"{moment.day} {MONTHS_EN[moment.month - 1]} {moment.year}, {moment:%H:%M}"
    return f"{moment:%d/%m/%Y} à {moment:%H:%M}"


@api.route("/track/<token>", "GET", summary="The client's tracking page (HTML; the link is the key)",
           roles=PUBLIC, tag="interventions")
def tracking_page(token):
    """Server-rendered, in the client's language (French by default,
    English for the locale en; `?lang=fr|en` overrides), with no external
    asset. An unknown or expired link answers a 404 page."""
    try:
        view = call("interventions", "tracking_by_token", token=token)
    except NotFound:
        lang = pages.language()
        html = render_template("tracking/not_found.html", lang=lang, t=TEXTS[lang])
        return html, 404, pages.HEADERS
    lang = pages.language(view.get("locale"))
    reached = {s["step"]: s["reached_at"] for s in view["steps"]}
    steps = []
    if view["current_step"] is not None:
        for step in STEPS:
            state = ("current" if step == view["current_step"]
                     else "reached" if step in reached else "upcoming")
            steps.append({"step": step, "label": STEP_LABELS[lang][step], "state": state,
                          "reached_at": reached.get(step),
                          "reached_text": format_moment(reached[step], lang) if step in reached else None})
    status = view.get("status")
    if status:
        status = {"label": status["label"],
                  "colour": status["colour"] if COLOUR.fullmatch(status.get("colour") or "") else "#808080"}
    pickup_text = format_moment(view["pickup_at"], lang) if view.get("pickup_at") else None
    equipment = " ".join(p for p in (view["equipment"].get("kind"), view["equipment"].get("brand"),
                                     view["equipment"].get("model")) if p)
    visits = [{**v, "start_text": format_moment(v["start_at"], lang),
               "end_text": format_moment(v["end_at"], lang),
               "state_text": TEXTS[lang]["visit_states"].get(v["state"], v["state"])}
              for v in view.get("visits") or []]
    html = render_template("tracking/page.html", lang=lang, t=TEXTS[lang], view=view, steps=steps,
                           visits=visits,
                           status=status, pickup_text=pickup_text, equipment=equipment,
                           state_text=TEXTS[lang]["states" if view.get("current_step") else "home_states"]
                           .get(view["state"], view["state"]))
    return html, 200, pages.HEADERS
