"""Satisfaction surveys (issue 4), through the gateway, the bus and a real
SMTP server: a delivered intervention of a shop with the option gets one
survey email SURVEY_DELAY seconds later; its page takes one answer; the
answer is counted in the summary and published as `survey.answered`. No
survey goes out when the option is off by the time it is due, or when the
intervention was reopened before."""
import re

import requests

from fieldwork_common.testing.waiting import wait_until

# The survey email goes out SURVEY_DELAY seconds (6: the platform fixture)
# after the delivery.
SURVEY_WAIT = 60


def body_of(message):
    return message.get_body(preferencelist=("plain",)).get_content()


def emails_with_subject(smtp, recipient, prefix):
    return [m for m in smtp.to(recipient) if str(m["Subject"]).startswith(prefix)]


def survey_link(message, platform):
    match = re.search(r"(https?://\S+?/survey/[A-Za-z0-9_-]+)", body_of(message))
    assert match, body_of(message)
    assert match.group(1).startswith(platform.base_url + "/survey/")
    return match.group(1)


def surveys_of(service_db, intervention):
    return service_db("notifications", "SELECT id::text, status, cancel_reason, score, comment, "
                      "due_at FROM surveys WHERE intervention_id = :i", i=intervention["id"])


def survey_timer(service_db, survey):
    """(status, attempts) of the survey's `survey.due` timer."""
    return service_db("notifications", "SELECT status, attempts FROM timers "
                      "WHERE kind = 'survey.due' AND key = :k", k=survey.id)


def delivered(world, smtp, company, locale, receipt_subject):
    """A new client's intervention of `company`, walked to delivered; once
    its receipt confirmation arrived (the survey, if any, is recorded)."""
    client, intervention = world.shop_intervention(company, locale=locale)
    world.walk_to(intervention, "delivered")
    wait_until(lambda: emails_with_subject(smtp, client["email"], receipt_subject), timeout=30,
               message="the receipt confirmation")
    return client, intervention


def test_a_survey_is_emailed_answered_once_counted_and_published(world, smtp, platform, service_db,
                                                                    admin, anonymous):
    company = world.survey_company(survey_enabled=True)
    client, intervention = delivered(world, smtp, company, "en", "Your equipment has been handed back")
    reference = intervention["id"][:8].upper()
    [message] = wait_until(lambda: emails_with_subject(smtp, client["email"], "How did we do?"),
                           timeout=SURVEY_WAIT, message="the survey email")
    assert message["Subject"] == f"How did we do? Intervention {reference}"
    assert message["To"] == client["email"]
    link = survey_link(message, platform)

    page = requests.get(link, timeout=30)
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    assert '<html lang="en">' in page.text and reference in page.text
    assert all(f'name="score" value="{n}"' in page.text for n in range(1, 6))
    assert "<script" not in page.text and "http" not in page.text.split("<body>")[1]  # no external asset

    # bad scores: 400, from a program (JSON) or from the page (the form again, with the message)
    bad = requests.post(link, json={"score": 9}, timeout=30)
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_input"
    bad_form = requests.post(link, data={"score": "0"}, timeout=30)
    assert bad_form.status_code == 400 and "Choose a score from 1 to 5." in bad_form.text

    answered = requests.post(link, data={"score": "4", "comment": "Quick and friendly"}, timeout=30)
    assert answered.status_code == 200, answered.text
    assert "Thank you" in answered.text

    # once only
    again = requests.post(link, json={"score": 5}, timeout=30)
    assert again.status_code == 409 and again.json()["error"]["code"] == "conflict"
    again_form = requests.post(link, data={"score": "5"}, timeout=30)
    assert again_form.status_code == 409 and "already been answered" in again_form.text
    assert "already been answered" in requests.get(link, timeout=30).text
    [survey] = surveys_of(service_db, intervention)
    assert (survey.status, survey.score, survey.comment) == ("answered", 4, "Quick and friendly")
    assert survey_timer(service_db, survey) == [("fired", 1)]

    # counted in the summary, for the company and for its technician
    summary = admin.get(f"/surveys/summary?company_id={company['id']}")
    assert summary.status_code == 200, summary.text
    assert summary.json() == {"count": 1, "average": 4.0,
                              "distribution": {"1": 0, "2": 0, "3": 0, "4": 1, "5": 0}}
    by_technician = admin.get(f"/surveys/summary?technician_id={intervention['technician_id']}").json()
    assert by_technician["count"] == 1
    assert admin.get(f"/surveys/summary?company_id={company['id']}&from=2000-01-01T00:00:00Z"
                     f"&to=2001-01-01T00:00:00Z").json()["count"] == 0
    manager = world.login_for("manager", company_id=company["id"])
    assert manager.get("/surveys/summary").json()["count"] == 1
    other = world.survey_company()
    other_manager = world.login_for("manager", company_id=other["id"])
    assert other_manager.get(f"/surveys/summary?company_id={company['id']}").status_code == 404
    assert other_manager.get("/surveys/summary").json() == {
        "count": 0, "average": None, "distribution": {"1": 0, "2": 0, "3": 0, "4": 0, "5": 0}}
    technician = world.login_for("technician", technician_id=intervention["technician_id"])
    assert technician.get("/surveys/summary").status_code == 403

    # survey.answered, through notifications' outbox
    [event] = wait_until(lambda: service_db(
        "notifications", "SELECT envelope, published_at FROM outbox WHERE event_type = 'survey.answered' "
        "AND aggregate_id = :s AND published_at IS NOT NULL", s=survey.id),
        timeout=30, message="survey.answered published")
    envelope = event.envelope
    assert envelope["producer"] == "notifications" and envelope["aggregate_id"] == survey.id
    data = envelope["data"]
    assert data["score"] == 4 and data["comment"] == "Quick and friendly"
    assert (data["survey_id"], data["intervention_id"], data["company_id"], data["technician_id"],
            data["client_id"]) == (survey.id, intervention["id"], company["id"],
                                   intervention["technician_id"], client["id"])
    assert data["answered_at"].endswith("Z")
    assert len(emails_with_subject(smtp, client["email"], "How did we do?")) == 1


def test_unknown_survey_links_are_404(anonymous):
    page = requests.get(anonymous.base_url + "/survey/not-a-token", timeout=30)
    assert page.status_code == 404 and page.headers["Content-Type"].startswith("text/html")
    answer = requests.post(anonymous.base_url + "/survey/not-a-token", json={"score": 3}, timeout=30)
    assert answer.status_code == 404 and answer.json()["error"]["code"] == "not_found"


def test_no_survey_when_the_option_is_off_by_the_time_it_is_due(world, smtp, service_db):
    company = world.survey_company(survey_enabled=True)
    client, intervention = delivered(world, smtp, company, "fr",
                                     "Confirmation de remise de votre matériel")
    [planned] = surveys_of(service_db, intervention)
    assert planned.status == "scheduled"
    world.set_survey_option(company, False)
    survey = wait_until(lambda: (rows := surveys_of(service_db, intervention)) and
                        rows[0].status != "scheduled" and rows[0], timeout=SURVEY_WAIT,
                        message="the survey due")
    assert (survey.status, survey.cancel_reason) == ("cancelled", "survey_disabled")
    assert survey_timer(service_db, survey) == [("fired", 1)]  # fired: it found the option off
    assert emails_with_subject(smtp, client["email"], "Votre avis") == []


def test_no_survey_for_an_intervention_reopened_before_it_is_due(world, smtp, service_db):
    company = world.survey_company(survey_enabled=True)
    client, intervention = delivered(world, smtp, company, "fr",
                                     "Confirmation de remise de votre matériel")
    reopened = world.admin.post(f"/interventions/{intervention['id']}/reopen")
    assert reopened.status_code == 200, reopened.text
    survey = wait_until(lambda: (rows := surveys_of(service_db, intervention)) and
                        rows[0].status == "cancelled" and rows[0], timeout=SURVEY_WAIT,
                        message="the survey cancelled")
    assert survey.cancel_reason == "reopened"
    assert survey_timer(service_db, survey) == [("cancelled", 0)]
    assert emails_with_subject(smtp, client["email"], "Votre avis") == []


def test_no_survey_when_the_option_is_off_at_delivery(world, smtp, service_db):
    company = world.survey_company(survey_enabled=False)
    _, intervention = delivered(world, smtp, company, "fr", "Confirmation de remise de votre matériel")
    assert surveys_of(service_db, intervention) == []


def test_an_expired_survey_link_is_410_and_takes_no_answer(world, smtp, platform, service_db,
                                                           isolation):
    """The link's lifetime (SURVEY_TOKEN_DAYS) is days: the test moves the
    survey's expiry into the past in the database, as time would."""
    import sqlalchemy as sa
    from sqlalchemy.pool import NullPool

    from fieldwork_common.pg import create_engine
    company = world.survey_company(survey_enabled=True)
    client, intervention = delivered(world, smtp, company, "fr",
                                     "Confirmation de remise de votre matériel")
    [message] = wait_until(lambda: emails_with_subject(smtp, client["email"], "Votre avis"),
                           timeout=SURVEY_WAIT, message="the survey email")
    link = survey_link(message, platform)
    engine = create_engine(isolation.database_url("notifications"), poolclass=NullPool)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("UPDATE surveys SET expires_at = now() - interval '1 second' "
                                 "WHERE intervention_id = :i"), {"i": intervention["id"]})
    finally:
        engine.dispose()

    page = requests.get(link, timeout=30)
    assert page.status_code == 410 and "expiré" in page.text
    answer = requests.post(link, json={"score": 5}, timeout=30)
    assert answer.status_code == 410, answer.text
    assert answer.json()["error"]["code"] == "gone"
    form = requests.post(link, data={"score": "5"}, timeout=30)
    assert form.status_code == 410 and "expiré" in form.text
    [survey] = surveys_of(service_db, intervention)
    assert (survey.status, survey.score) == ("sent", None)


def test_a_sent_survey_is_void_once_reopened_and_the_next_delivery_sends_a_new_one(
        world, smtp, platform, service_db):
    company = world.survey_company(survey_enabled=True)
    client, intervention = delivered(world, smtp, company, "en", "Your equipment has been handed back")
    [first] = wait_until(lambda: emails_with_subject(smtp, client["email"], "How did we do?"),
                         timeout=SURVEY_WAIT, message="the survey email")
    link = survey_link(first, platform)
    assert requests.get(link, timeout=30).status_code == 200

    reopened = world.admin.post(f"/interventions/{intervention['id']}/reopen")
    assert reopened.status_code == 200, reopened.text
    [survey] = wait_until(lambda: (rows := surveys_of(service_db, intervention)) and
                          rows[0].status == "invalidated" and rows, timeout=30,
                          message="the sent survey invalidated")
    # its link is gone: the page, a program's answer, the form
    page = requests.get(link, timeout=30)
    assert page.status_code == 410 and "This survey link has expired." in page.text
    answer = requests.post(link, json={"score": 5}, timeout=30)
    assert answer.status_code == 410, answer.text
    assert answer.json()["error"]["code"] == "gone"
    form = requests.post(link, data={"score": "5"}, timeout=30)
    assert form.status_code == 410 and "This survey link has expired." in form.text

    # delivered again: a new survey, with a new link that works
    world.walk_to(reopened.json(), "delivered")
    second = wait_until(lambda: (found := emails_with_subject(smtp, client["email"], "How did we do?"))
                        and len(found) == 2 and found[1], timeout=SURVEY_WAIT,
                        message="the second survey email")
    new_link = survey_link(second, platform)
    assert new_link != link
    assert requests.get(new_link, timeout=30).status_code == 200
    answered = requests.post(new_link, json={"score": 5}, timeout=30)
    assert answered.status_code == 200, answered.text
    rows = {row.id: row for row in surveys_of(service_db, intervention)}
    assert sorted(row.status for row in rows.values()) == ["answered", "invalidated"]
    assert rows[survey.id].status == "invalidated" and rows[survey.id].score is None
    assert requests.get(link, timeout=30).status_code == 410
