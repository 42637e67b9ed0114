"""The client's tracking: JSON by login, and the server-rendered page by an
unguessable link, checked in a real headless browser (Debian's chromium)."""
import shutil
import subprocess
import tempfile
import uuid
from datetime import datetime, timedelta, timezone
from html.parser import HTMLParser
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pytest

from conftest import created, ok, rfc

PICKUP = (datetime.now(timezone.utc) + timedelta(days=6)).replace(hour=14, minute=30, second=0,
                                                                   microsecond=0)
PARIS = ZoneInfo("Europe/Paris")


@pytest.fixture(scope="module")
def story(world, admin):
    """One workshop repair told from start to pickup, with a failed final
    test that sent it back to the workshop, and a status that stays shown."""
    tag = uuid.uuid4().hex[:6]
    company = created(admin.post("/companies", {"name": f"Atelier {tag}", "phone": "+33 1 23 45 67 89",
                                                "email": f"atelier-{tag}@example.test"}))
    technician = world.technician(company)
    client = world.client(company, locale="fr")
    status = created(admin.post("/statuses", {"label": f"En attente de pièce {tag}", "colour": "#ff8800"}))
    intervention = world.intervention(client=client, technician=technician)
    path = f"/interventions/{intervention['id']}"
    world.walk_to(intervention, "in_workshop")
    ok(admin.request("PUT", f"{path}/status", json={"status_id": status["id"]}))
    ok(world.move(intervention, "final_tests", diagnostic="Battery worn", tests_performed=["boot"]))
    ok(world.move(intervention, "in_workshop"))                 # the test failed: back
    ok(world.move(intervention, "final_tests", diagnostic="Battery replaced"))
    closed = ok(world.move(intervention, "awaiting_pickup", pickup_at=rfc(PICKUP), pickup_kind="pickup"))
    history = ok(admin.get(f"{path}/history"))["items"]
    moves = [(e["data"]["to"], e["at"]) for e in history if e["kind"] == "step"]
    return {"company": company, "technician": technician, "client": client, "status": status,
            "intervention": closed, "path": path, "moves": moves,
            "client_user": world.login_for("client", client_id=client["id"])}


def expected_steps(story):
    """picked_up at creation; in_workshop dated by the move back; then the rest."""
    moves = story["moves"]
    assert [to for to, _ in moves] == ["in_workshop", "final_tests", "in_workshop", "final_tests",
                                       "awaiting_pickup"]
    return [("picked_up", story["intervention"]["created_at"]), ("in_workshop", moves[2][1]),
            ("final_tests", moves[3][1]), ("awaiting_pickup", moves[4][1])]


def same_moment(a, b):
    return datetime.fromisoformat(a) == datetime.fromisoformat(b)


def test_a_client_follows_its_intervention(story):
    tracking = ok(story["client_user"].get(story["path"] + "/tracking"))
    i = story["intervention"]
    assert tracking["intervention_id"] == i["id"]
    assert tracking["reference"] == i["id"][:8].upper()
    assert tracking["company"] == {"name": story["company"]["name"], "phone": "+33 1 23 45 67 89",
                                   "email": story["company"]["email"]}
    assert tracking["equipment"] == {"kind": "laptop", "brand": "Lenovo", "model": "T14"}
    steps = [(s["step"], s["reached_at"]) for s in tracking["steps"]]
    expected = expected_steps(story)
    assert [s for s, _ in steps] == [s for s, _ in expected]
    assert all(same_moment(got, want) for (_, got), (_, want) in zip(steps, expected))
    assert tracking["current_step"] == "awaiting_pickup" and tracking["state"] == "closed"
    # set in the workshop, still shown after the step has passed
    assert tracking["status"] == {"label": story["status"]["label"], "colour": "#ff8800"}
    assert same_moment(tracking["pickup_at"], rfc(PICKUP)) and tracking["pickup_kind"] == "pickup"
    assert tracking["locale"] == "fr"


def test_tracking_is_seen_only_by_who_may_see_the_intervention(world, admin, story):
    path = story["path"] + "/tracking"
    other_client = world.login_for("client", client_id=world.client(story["company"])["id"])
    assert other_client.get(path).status_code == 404
    technician = world.login_for("technician", technician_id=story["technician"]["id"])
    assert technician.get(path).status_code == 200
    other_company = world.company()
    assert world.login_for("manager", company_id=other_company["id"]).get(path).status_code == 404
    assert world.login_for("manager", company_id=story["company"]["id"]).get(path).status_code == 200
    assert admin.get(f"/interventions/{uuid.uuid4()}/tracking").status_code == 404
    assert admin.get("/interventions/nope/tracking").status_code == 404


# --- the page by link --------------------------------------------------------------

class Page(HTMLParser):
    """What a reader sees of the tracking page: the steps (with their state
    and date), the text of each element with an id, the page's language."""

    def __init__(self, html):
        super().__init__()
        self.steps, self.lang, self.texts, self.times = [], None, {}, {}
        self._open = []        # (tag, id) of the elements with an id we are in
        self._step = None
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "html":
            self.lang = attrs.get("lang")
        if tag == "li" and "data-step" in attrs:
            self._step = {"step": attrs["data-step"], "state": attrs["data-state"], "text": "",
                          "datetime": None}
            self.steps.append(self._step)
        if tag == "time":
            if self._step is not None:
                self._step["datetime"] = attrs.get("datetime")
            for _, element_id in self._open:
                self.times[element_id] = attrs.get("datetime")
        if attrs.get("id"):
            self._open.append((tag, attrs["id"]))
            self.texts.setdefault(attrs["id"], "")

    def handle_endtag(self, tag):
        if tag == "li":
            self._step = None
        if self._open and self._open[-1][0] == tag:
            self._open.pop()

    def handle_data(self, data):
        if self._step is not None:
            self._step["text"] += data
        for _, element_id in self._open:
            self.texts[element_id] += data


def clean(text):
    return " ".join(text.split())


def tracking_link(admin, story):
    link = ok(admin.post(story["path"] + "/tracking-links"), 201)
    assert "/track/" in link["url"]
    expires = datetime.fromisoformat(link["expires_at"])
    assert timedelta(days=89) < expires - datetime.now(timezone.utc) <= timedelta(days=90)
    return urlsplit(link["url"]).path


def check_page(page, story, lang="fr"):
    expected = expected_steps(story)
    assert page.lang == lang
    assert [s["step"] for s in page.steps] == ["picked_up", "in_workshop", "final_tests",
                                               "awaiting_pickup", "delivered"]
    assert [s["state"] for s in page.steps] == ["reached", "reached", "reached", "current", "upcoming"]
    for got, (step, at) in zip(page.steps, expected):
        assert got["datetime"] is not None and same_moment(got["datetime"], at), (step, got)
    labels = {"fr": ["Prise en charge", "En atelier", "Tests finaux", "En attente de retrait", "Livrée"],
              "en": ["Picked up", "In the workshop", "Final tests", "Awaiting pickup", "Delivered"]}[lang]
    assert [clean(s["text"]).startswith(label) for s, label in zip(page.steps, labels)] == [True] * 5
    assert clean(page.texts["status-label"]) == story["status"]["label"]
    local = PICKUP.astimezone(PARIS)
    when = (f"{local:%d/%m/%Y} à {local:%H:%M}" if lang == "fr"
            else f"{local.day} {local:%b} {local.year}, {local:%H:%M}")
    assert when in clean(page.texts["pickup"]), page.texts["pickup"]
    assert same_moment(page.times["pickup"], rfc(PICKUP))
    assert clean(page.texts["reference"]) == story["intervention"]["id"][:8].upper()


def test_the_page_by_link_shows_the_same_in_the_clients_language(admin, anonymous, story):
    path = tracking_link(admin, story)
    response = anonymous.get(path)                   # no login: the link is the key
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("text/html")
    assert response.headers["Cache-Control"] == "no-store"
    assert "http://" not in response.text.replace("http://www.w3.org", "") \
        and "https://" not in response.text        # no external asset
    check_page(Page(response.text), story, "fr")
    english = anonymous.get(path + "?lang=en")
    assert english.status_code == 200
    check_page(Page(english.text), story, "en")


def test_an_english_client_reads_it_in_english(world, admin, anonymous):
    company = world.company()
    client = world.client(company, locale="en")
    intervention = world.intervention(client=client, technician=world.technician(company))
    link = ok(admin.post(f"/interventions/{intervention['id']}/tracking-links"), 201)
    path = urlsplit(link["url"]).path
    page = Page(anonymous.get(path).text)
    assert page.lang == "en"
    assert [(s["step"], s["state"]) for s in page.steps][:2] == [("picked_up", "current"),
                                                                 ("in_workshop", "upcoming")]
    assert "status-label" not in page.texts and "pickup" not in page.texts
    assert Page(anonymous.get(path + "?lang=fr").text).lang == "fr"


def test_only_admins_make_tracking_links(world, story):
    for role, links in (("manager", {"company_id": story["company"]["id"]}),
                        ("technician", {"technician_id": story["technician"]["id"]}),
                        ("client", {"client_id": story["client"]["id"]})):
        user = world.login_for(role, **links)
        assert user.post(story["path"] + "/tracking-links").status_code == 403


def test_an_unknown_or_expired_link_answers_a_clear_404_page(admin, anonymous, story, time_travel):
    unknown = anonymous.get("/track/" + "x" * 43)
    assert unknown.status_code == 404
    assert unknown.headers["Content-Type"].startswith("text/html")
    assert "introuvable" in unknown.text and 'lang="fr"' in unknown.text
    english = anonymous.get("/track/nope?lang=en")
    assert english.status_code == 404 and "not found" in english.text
    path = tracking_link(admin, story)
    assert anonymous.get(path).status_code == 200
    time_travel("interventions", "access_tokens", path.rsplit("/", 1)[1])
    expired = anonymous.get(path)
    assert expired.status_code == 404 and "introuvable" in expired.text


def test_a_reset_status_disappears_from_the_tracking(world, admin):
    company = world.company()
    client = world.client(company)
    status = created(admin.post("/statuses", {"label": f"Devis envoyé {uuid.uuid4().hex[:4]}",
                                              "colour": "#1e90ff"}))
    intervention = world.walk_to(world.intervention(client=client, technician=world.technician(company)),
                                 "in_workshop")
    path = f"/interventions/{intervention['id']}"
    ok(admin.request("PUT", f"{path}/status", json={"status_id": status["id"]}))
    assert ok(admin.get(f"{path}/tracking"))["status"]["label"] == status["label"]
    ok(admin.request("DELETE", f"{path}/status"))
    assert ok(admin.get(f"{path}/tracking"))["status"] is None


# --- in a real browser -----------------------------------------------------------------

def chromium():
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.fail("chromium is not installed: the tracking page must be checked in a real "
                    "browser. Install Debian's: apt-get install -y --no-install-recommends chromium")
    return found


def test_the_tracking_page_renders_in_a_headless_browser(admin, platform, story):
    browser = chromium()
    url = platform.base_url + tracking_link(admin, story)
    with tempfile.TemporaryDirectory() as profile:
        result = subprocess.run(
            [browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--disable-dev-shm-usage", f"--user-data-dir={profile}", "--dump-dom", url],
            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    dom = result.stdout
    assert "<li" in dom, f"chromium rendered no steps:\n{dom[:2000]}\n{result.stderr[-2000:]}"
    check_page(Page(dom), story, "fr")
