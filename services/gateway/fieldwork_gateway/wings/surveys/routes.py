"""Satisfaction surveys (notifications service): the public page the
survey email links to, its answer, and the summary for staff.

`GET /survey/<token>` and `POST /survey/<token>` need no login: the token in
the link is the key (only its hash is stored; it expires). The page is
server-rendered in the survey's language (French or English; `?lang=`
overrides), with no external asset; it posts a form to itself. A program
may post JSON `{"score", "comment"}` instead and gets JSON back.
"""
from flask import render_template, request

from fieldwork_common.errors import Conflict, FieldworkError, Gone, InvalidInput, NotFound
from fieldwork_gateway import pages
from fieldwork_gateway.web import PUBLIC, STAFF, api, call, json_body, load, storable
from fieldwork_gateway.wings.surveys import schemas

TEXTS = {
    "fr": {
        "title": "Votre avis nous intéresse",
        "intro": "Comment s'est passée l'intervention {reference}{by} ?",
        "by": " réalisée par {name}",
        "company": "{name}",
        "score": "Votre note (1 = pas du tout satisfait, 5 = très satisfait)",
        "comment": "Un commentaire (facultatif)",
        "send": "Envoyer mon avis",
        "thanks_title": "Merci !",
        "thanks": "Votre avis a bien été enregistré. Merci d'avoir pris le temps de répondre.",
        "answered_title": "Déjà répondu",
        "answered": "Ce questionnaire a déjà reçu une réponse. Merci !",
        "expired_title": "Lien expiré",
        "expired": "Ce lien de questionnaire a expiré.",
        "not_found_title": "Lien inconnu",
        "not_found": "Ce lien de questionnaire est inconnu.",
        "bad_score": "Choisissez une note de 1 à 5.",
        "too_long": "Le commentaire est limité à 2000 caractères.",
        "your_score": "Votre note : {score}/5",
    },
    "en": {
        "title": "Tell us how we did",
        "intro": "How did intervention {reference}{by} go?",
        "by": " carried out by {name}",
        "company": "{name}",
        "score": "Your score (1 = not satisfied at all, 5 = very satisfied)",
        "comment": "A comment (optional)",
        "send": "Send my answer",
        "thanks_title": "Thank you!",
        "thanks": "Your answer has been recorded. Thank you for taking the time.",
        "answered_title": "Already answered",
        "answered": "This survey has already been answered. Thank you!",
        "expired_title": "Link expired",
        "expired": "This survey link has expired.",
        "not_found_title": "Unknown link",
        "not_found": "This survey link is unknown.",
        "bad_score": "Choose a score from 1 to 5.",
        "too_long": "The comment is limited to 2000 characters.",
        "your_score": "Your score: {score}/5",
    },
}


def _message(kind, status, lang, score=None):
    t = TEXTS[lang]
    html = render_template("survey_message.html", lang=lang, t=t, title=t[f"{kind}_title"],
                           message=t[kind], kind=kind,
                           score_text=t["your_score"].format(score=score) if score else None)
    return html, status, pages.HEADERS


def _form(token, survey, lang, status=200, error=None, score=None, comment=""):
    t = TEXTS[lang]
    by = t["by"].format(name=survey["technician_name"]) if survey.get("technician_name") else ""
    html = render_template("survey_page.html", lang=lang, t=t, token=token,
                           intro=t["intro"].format(reference=survey.get("reference", ""), by=by),
                           company_name=survey.get("company_name") or "",
                           error=error, score=score, comment=comment or "")
    return html, status, pages.HEADERS


@api.route("/survey/<token>", "GET", summary="The satisfaction survey page (HTML; the link is the key)",
           roles=PUBLIC, tag="surveys")
def survey_page(token):
    """A score from 1 to 5 and a comment, in the client's language. 404 for
    an unknown link, 410 once expired; an answered survey says so."""
    try:
        survey = call("notifications", "get_survey", token=token)
    except NotFound:
        return _message("not_found", 404, pages.language())
    lang = pages.language(survey.get("language"))
    if survey["status"] == "answered":
        return _message("answered", 200, lang, survey.get("score"))
    if survey.get("expired"):
        return _message("expired", 410, lang)
    return _form(token, survey, lang)


@api.route("/survey/<token>", "POST", summary="Answer a satisfaction survey (once; the link is the key)",
           roles=PUBLIC, response=schemas.SurveyAnswer, tag="surveys",
           description="Form-encoded from the page (`score`, `comment`), answered with HTML; or "
                       "JSON `{\"score\": 1..5, \"comment\"}`, answered with JSON. Publishes "
                       "`survey.answered`. 404 unknown link, 409 answered already, 410 expired, "
                       "400 a score outside 1..5.")
def answer_survey(token):
    if request.is_json:
        return _answer_json(token)
    return _answer_form(token)


def _answer_json(token):
    body = load(schemas.SurveyAnswerIn(), json_body())
    answer = call("notifications", "answer_survey", token=token, score=body["score"],
                  comment=body.get("comment"))
    answer.pop("language", None)
    return answer, 200


def _answer_form(token):
    storable(request.form.to_dict())
    score = (request.form.get("score") or "").strip()
    comment = request.form.get("comment") or ""
    try:
        answer = call("notifications", "answer_survey", token=token,
                      score=int(score) if score.isdigit() else score, comment=comment)
    except NotFound:
        return _message("not_found", 404, pages.language())
    except Gone:
        return _message("expired", 410, pages.language(_survey_language(token)))
    except Conflict:
        return _message("answered", 409, pages.language(_survey_language(token)))
    except InvalidInput as exc:
        try:
            survey = call("notifications", "get_survey", token=token)
        except NotFound:
            return _message("not_found", 404, pages.language())
        lang = pages.language(survey.get("language"))
        fields = (exc.details or {}).get("fields") or {}
        error = TEXTS[lang]["too_long"] if "comment" in fields else TEXTS[lang]["bad_score"]
        return _form(token, survey, lang, status=400, error=error, score=score, comment=comment)
    return _message("thanks", 200, pages.language(answer.get("language")), answer.get("score"))


def _survey_language(token):
    try:
        return call("notifications", "get_survey", token=token).get("language")
    except FieldworkError:
        return None


@api.route("/surveys/summary", "GET", summary="Satisfaction: count, average and distribution of the scores",
           roles=STAFF, query=schemas.SurveySummaryQuery, response=schemas.SurveySummary, tag="surveys")
def survey_summary(query):
    """Over answered surveys, filtered by company, technician and answer
    time (`from` ≤ answered_at < `to`). A manager sees its company only
    (another company: 404); `average` is null when there is no answer."""
    return call("notifications", "survey_summary", company_id=query.get("company_id"),
                technician_id=query.get("technician_id"),
                date_from=query["from_"].isoformat() if query.get("from_") else None,
                date_to=query["to"].isoformat() if query.get("to") else None)
