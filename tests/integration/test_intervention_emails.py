"""The client's emails along an intervention (issue 4), through the gateway,
the bus and a real SMTP server: created (with the tracking link), awaiting
pickup (the date in the client's language and Paris time, an ICS invitation
attached), delivered (receipt confirmation). Each link is fetched."""
import re
from datetime import datetime, timezone

import requests

from fieldwork_common import ics
from fieldwork_common.testing.waiting import wait_until

PICKUP_AT = "2026-12-01T09:30:00Z"   # 10:30 in Paris (UTC+1 in winter)


def reference(intervention):
    return intervention["id"][:8].upper()


def body_of(message):
    return message.get_body(preferencelist=("plain",)).get_content()


def with_subject(smtp, recipient, prefix, count):
    """The one email to `recipient` whose subject starts with `prefix`, once
    `count` emails reached it."""
    messages = smtp.wait_for(recipient, count=count, timeout=30)
    found = [m for m in messages if str(m["Subject"]).startswith(prefix)]
    assert len(found) == 1, [str(m["Subject"]) for m in messages]
    return found[0]


def link_in(body, path, platform):
    match = re.search(r"(https?://\S+?%s[A-Za-z0-9_-]+)" % re.escape(path), body)
    assert match, f"no {path} link in:\n{body}"
    link = match.group(1)
    assert link.startswith(platform.base_url + path), link
    return link


def assert_page(link):
    response = requests.get(link, timeout=30)
    assert response.status_code == 200, response.text[:500]
    assert response.headers["Content-Type"].startswith("text/html")
    return response.text


def test_the_created_email_links_to_the_tracking_page(world, smtp, platform):
    company = world.survey_company(survey_enabled=False)
    client, intervention = world.shop_intervention(company, locale="en")
    message = with_subject(smtp, client["email"], "Your intervention", count=1)
    assert message["Subject"] == f"Your intervention {reference(intervention)} is registered"
    assert message["To"] == client["email"]
    body = body_of(message)
    assert body.startswith(f"Hello {client['name']}")
    assert_page(link_in(body, "/track/", platform))


def test_awaiting_pickup_gives_the_date_in_paris_time_and_an_invitation(world, smtp, platform):
    company = world.survey_company(survey_enabled=False)
    client, intervention = world.shop_intervention(company, locale="fr")
    world.walk_to(intervention, "awaiting_pickup", pickup_at=PICKUP_AT, pickup_kind="pickup")
    message = with_subject(smtp, client["email"], "Votre matériel est prêt", count=2)
    assert message["Subject"] == f"Votre matériel est prêt : intervention {reference(intervention)}"
    body = body_of(message)
    assert "Date de retrait prévue : mardi 1er décembre 2026 à 10h30 (heure de Paris, UTC+1)" in body
    assert company["name"] in body and "12 rue des Ateliers" in body
    assert_page(link_in(body, "/track/", platform))

    [attachment] = list(message.iter_attachments())
    assert attachment.get_content_type() == "text/calendar"
    assert attachment.get_param("method") == "REQUEST"
    assert attachment.get_filename() == "invitation.ics"
    data = attachment.get_payload(decode=True)
    assert b"METHOD:REQUEST" in data
    [event] = ics.parse(data)
    assert str(event["uid"]) == f"{intervention['id']}-pickup@fieldwork"
    assert event.decoded("dtstart") == datetime(2026, 12, 1, 9, 30, tzinfo=timezone.utc)
    assert company["name"] in str(event["summary"])


def test_awaiting_pickup_without_a_date_has_neither_date_nor_invitation(world, smtp, platform):
    company = world.survey_company(survey_enabled=False)
    client, intervention = world.shop_intervention(company, locale="en")
    world.walk_to(intervention, "awaiting_pickup")
    message = with_subject(smtp, client["email"], "Your equipment is ready", count=2)
    body = body_of(message)
    assert "Planned" not in body and "invitation" not in body
    assert list(message.iter_attachments()) == []
    assert_page(link_in(body, "/track/", platform))


def test_the_delivery_is_confirmed_in_the_clients_language(world, smtp, platform, service_db):
    company = world.survey_company(survey_enabled=False)
    client, intervention = world.shop_intervention(company, locale="en")
    closed = world.walk_to(intervention, "awaiting_pickup", pickup_at=PICKUP_AT, pickup_kind="delivery")
    world.walk_to(closed, "delivered")
    message = with_subject(smtp, client["email"], "Your equipment has been handed back", count=3)
    assert message["Subject"] == f"Your equipment has been handed back: intervention {reference(intervention)}"
    body = body_of(message)
    assert body.startswith(f"Hello {client['name']}") and "(Paris time, UTC" in body
    assert_page(link_in(body, "/track/", platform))
    # the awaiting-pickup email of a delivery says so, in English
    pickup = with_subject(smtp, client["email"], "Your equipment is ready", count=3)
    assert "Planned delivery: Tuesday 1 December 2026 at 10:30 (Paris time, UTC+1)" in body_of(pickup)
    # every email is recorded sent, the invitation kept with its email
    rows = wait_until(lambda: (found := service_db(
        "notifications", "SELECT template, status, attachments FROM emails WHERE recipient = :r",
        r=client["email"])) and all(row.status == "sent" for row in found) and found,
        message="the three emails recorded as sent")
    assert sorted(row.template for row in rows) == ["awaiting_pickup", "delivered", "intervention_created"]
    [kept] = [row.attachments for row in rows if row.template == "awaiting_pickup"]
    assert [a["filename"] for a in kept] == ["invitation.ics"]
    # the company's option is off: no survey
    assert service_db("notifications", "SELECT id FROM surveys WHERE intervention_id = :i",
                      i=intervention["id"]) == []
