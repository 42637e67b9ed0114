"""The real platform for integration tests: the four nameko services and the
gateway as OS processes (the commands docker-compose.yml names), against
real RabbitMQ and PostgreSQL in a vhost and databases of this run's own,
and a real SMTP server and a real SeaweedFS (S3) owned by the test session."""
import time
import uuid
from datetime import timezone

import pytest
import requests
import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from fieldwork_common.db import engine_url
from fieldwork_common.testing import servers as servers_mod
from fieldwork_common.testing.platform import ALL_SERVICES, REPO, LocalPlatform
from fieldwork_common.testing.seaweed import SeaweedFS
from fieldwork_common.testing.smtp import SmtpSink, free_port

ADMIN_EMAIL = "admin@test.fieldwork"
ADMIN_PASSWORD = "admin-test-password"
JWT_SECRET = "integration-test-secret-of-at-least-32-bytes"
PORTAL_ORIGIN = "https://portal.example.test"


@pytest.fixture(scope="session")
def servers():
    try:
        found = servers_mod.resolve()
    except servers_mod.ServersUnavailable as exc:
        pytest.exit(str(exc), returncode=3)
    yield found
    found.stop()


@pytest.fixture(scope="session")
def isolation(servers):
    try:
        iso = servers_mod.Isolation.create(servers)
    except servers_mod.ServersUnavailable as exc:
        pytest.exit(str(exc), returncode=3)
    yield iso
    iso.destroy()


@pytest.fixture(scope="session")
def smtp():
    sink = SmtpSink().start()
    yield sink
    sink.stop()


@pytest.fixture(scope="session")
def seaweed(isolation, tmp_path_factory):
    """A real SeaweedFS serving S3 with one key on one bucket (files)."""
    server = SeaweedFS(tmp_path_factory.mktemp("seaweedfs"),
                       log_path=REPO / "var" / "test-logs" / isolation.run_id / "seaweedfs.log")
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def platform(isolation, smtp, seaweed):
    log_dir = REPO / "var" / "test-logs" / isolation.run_id
    env = {
        **isolation.environment(ALL_SERVICES),
        **seaweed.environment(),
        "SMTP_HOST": smtp.host, "SMTP_PORT": str(smtp.port),
        "JWT_SECRET": JWT_SECRET, "ADMIN_EMAIL": ADMIN_EMAIL, "ADMIN_PASSWORD": ADMIN_PASSWORD,
        "RPC_TIMEOUT": "5", "HEALTH_TIMEOUT": "2", "GATEWAY_HOST": "127.0.0.1",
        "GATEWAY_WORKERS": "2", "GATEWAY_THREADS": "8", "RETRY_DELAYS": "0.2,0.5",
        # the survey email goes out this many seconds after the delivery
        "SURVEY_DELAY": "6",
        # the tests play the reverse proxy: X-Forwarded-For names the client's
        # address, so that throttling tests use addresses of their own
        "GATEWAY_PROXY_HOPS": "1",
        # a locked login waits 5 s, doubled per further failure (30 s by default)
        "LOGIN_LOCKOUT": "5", "LOGIN_LOCKOUT_MAX": "30",
        # the one browser origin allowed to call the API (CORS)
        "CORS_ORIGINS": PORTAL_ORIGIN,
    }
    plat = LocalPlatform(env=env, log_dir=log_dir, gateway_port=free_port())
    started = time.monotonic()
    try:
        plat.start(timeout=120)
    except Exception:
        plat.stop()
        raise
    print(f"\nplatform healthy in {time.monotonic() - started:.1f}s; logs in {log_dir}")
    yield plat
    plat.stop()


class Client:
    """A thin HTTP client that remembers its token."""

    def __init__(self, base_url, token=None):
        self.base_url = base_url
        self.token = token

    def request(self, method, path, json=None, headers=None, data=None, files=None):
        headers = dict(headers or {})
        if self.token:
            headers.setdefault("Authorization", f"Bearer {self.token}")
        return requests.request(method, self.base_url + path, json=json, data=data, files=files,
                                headers=headers, timeout=30)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, json=None, **kw):
        return self.request("POST", path, json=json, **kw)

    def login(self, email, password):
        """A client with a new session of that login (it remembers the
        credentials, to open another session when a test needs one)."""
        response = self.post("/auth/token", {"email": email, "password": password})
        assert response.status_code == 200, response.text
        client = Client(self.base_url, response.json()["access_token"])
        client.email, client.password = email, password
        client.refresh_token = response.json()["refresh_token"]
        return client


@pytest.fixture(scope="session")
def anonymous(platform):
    return Client(platform.base_url)


@pytest.fixture(scope="session")
def admin(anonymous):
    return anonymous.login(ADMIN_EMAIL, ADMIN_PASSWORD)


def record_figures(path, name, figures):
    """Print a test's measured figures and keep them, dated, under `name` in
    the JSON file `path` (the reliability docs quote them)."""
    import json
    import os
    from datetime import date
    figures = {"date": date.today().isoformat(), **figures}
    print(f"\n[{name}]")
    for key, value in figures.items():
        print(f"  {key}: {value}")
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        everything = json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        everything = {}
    everything[name] = figures
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(everything, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)


def text_of(message):
    """The plain-text part of an email (every email is multipart: text + HTML)."""
    return message.get_body(preferencelist=("plain",)).get_content()


def created(response):
    assert response.status_code == 201, response.text
    return response.json()


def ok(response, status=200):
    """The body of an answer of `status` (None for an empty one)."""
    assert response.status_code == status, response.text
    return response.json() if response.content and status != 204 else None


def refused(response, status, code):
    """The error body of a refusal of `status` naming the rule `code`."""
    assert response.status_code == status, response.text
    body = response.json()["error"]
    assert set(body) >= {"code", "message", "details"}
    assert body["code"] == code, body
    return body


def rfc(moment):
    """An aware datetime as the API writes it (RFC 3339, UTC, Z)."""
    return moment.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


class World:
    """Builds master data through the gateway, with fresh names per test."""

    def __init__(self, admin, anonymous):
        self.admin = admin
        self.anonymous = anonymous

    def company(self, **fields):
        """POST /companies; `fields` (email, phone, address, survey_enabled, name) are optional."""
        return created(self.admin.post("/companies", {"name": f"Shop {uuid.uuid4().hex[:6]}", **fields}))

    def client(self, company, locale="fr"):
        tag = uuid.uuid4().hex[:8]
        return created(self.admin.post("/clients", {
            "name": f"Client {tag}", "email": f"client-{tag}@example.test",
            "company_id": company["id"], "locale": locale}))

    def technician(self, company):
        tag = uuid.uuid4().hex[:8]
        return created(self.admin.post("/technicians", {
            "name": f"Tech {tag}", "email": f"tech-{tag}@example.test", "company_id": company["id"]}))

    def intervention_type(self, location="workshop"):
        return created(self.admin.post("/intervention-types", {
            "name": f"Repair {uuid.uuid4().hex[:4]}", "location": location}))

    def equipment(self, client):
        return created(self.admin.post("/equipment", {
            "client_id": client["id"], "kind": "laptop", "brand": "Lenovo",
            "model": "T14", "serial_number": uuid.uuid4().hex[:10]}))

    def login_for(self, role, password="a-good-password", **links):
        email = f"{role}-{uuid.uuid4().hex[:8]}@example.test"
        created(self.admin.post("/users", {"email": email, "password": password, "role": role, **links}))
        return self.anonymous.login(email, password)

    def intervention(self, client=None, technician=None, location="workshop", as_user=None):
        """An intervention of `client`, by `technician`; what is not given is
        made in the company of what is (an intervention is its client's
        company's, its technician works for it), else in a new company."""
        company = ({"id": client["company_id"]} if client else
                   {"id": technician["company_id"]} if technician else self.company())
        client = client or self.client(company)
        technician = technician or self.technician(company)
        body = {"client_id": client["id"], "equipment_id": self.equipment(client)["id"],
                "type_id": self.intervention_type(location)["id"],
                "technician_id": technician["id"], "location": location,
                "description": "Screen flickers"}
        return created((as_user or self.admin).post("/interventions", body))


    # --- workshop steps (workflow) ---------------------------------------------

    WORKSHOP_PATH = ("picked_up", "in_workshop", "final_tests", "awaiting_pickup", "delivered")

    def move(self, intervention, step, as_user=None, **fields):
        """PUT /interventions/{id}/step; the raw response."""
        return (as_user or self.admin).request(
            "PUT", f"/interventions/{intervention['id']}/step", json={"step": step, **fields})

    def walk_to(self, intervention, target, as_user=None, **fields):
        """Move a workshop intervention forward, step by step, to `target`
        (`fields` go with the last move); the intervention as answered."""
        current = intervention
        path = self.WORKSHOP_PATH
        for step in path[path.index(current["step"]) + 1:path.index(target) + 1]:
            response = self.move(current, step, as_user=as_user, **(fields if step == target else {}))
            assert response.status_code == 200, response.text
            current = response.json()
        return current

    # --- master data (masterdata) -------------------------------------------------

    def status(self, **fields):
        """POST /statuses (a status of the catalog); `fields` override label, colour,
        position, active."""
        return created(self.admin.post("/statuses", {
            "label": f"Status {uuid.uuid4().hex[:6]}", "colour": "#1e90ff", "position": 10, **fields}))

    def site(self, client, **fields):
        return created(self.admin.post("/sites", {
            "client_id": client["id"], "name": f"Site {uuid.uuid4().hex[:6]}",
            "address": "1 rue de la Paix, Paris", **fields}))

    def contract(self, client, **fields):
        return created(self.admin.post("/contracts", {
            "client_id": client["id"], "reference": f"CT-{uuid.uuid4().hex[:6]}", **fields}))

    def patch(self, path, version, as_user=None, **changes):
        """PATCH a master-data record with the version read; the raw response."""
        return (as_user or self.admin).request("PATCH", path, json={**changes, "version": version})


    # --- files -------------------------------------------------------------------------

    PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                        "1f15c4890000000d49444154789c6360f8cfc0f01f0005000201e2b1a5"
                        "2e0000000049454e44ae426082")  # one transparent pixel

    def file(self, as_user=None, kind="document", data=PNG, name="scan.png", **form):
        """POST /files (multipart): `form` may name the company_id; the file as answered."""
        return created((as_user or self.admin).request(
            "POST", "/files", data={"kind": kind, **form}, files={"file": (name, data)}))

    # --- surveys and emails (notifications) ---------------------------------------

    def survey_company(self, survey_enabled=True):
        """A company with its satisfaction-survey option set."""
        return created(self.admin.post("/companies", {
            "name": f"Shop {uuid.uuid4().hex[:6]}", "survey_enabled": survey_enabled,
            "address": "12 rue des Ateliers, 75011 Paris", "phone": "01 23 45 67 89"}))

    def set_survey_option(self, company, survey_enabled):
        """PATCH the company's survey option; the company as answered."""
        current = self.admin.get(f"/companies/{company['id']}").json()
        response = self.admin.request("PATCH", f"/companies/{company['id']}", json={
            "survey_enabled": survey_enabled, "version": current["version"]})
        assert response.status_code == 200, response.text
        return response.json()

    def shop_intervention(self, company, locale="fr"):
        """A workshop intervention of `company` for a new client in `locale`:
        (client, intervention)."""
        client = self.client(company, locale=locale)
        return client, self.intervention(client=client, technician=self.technician(company))


@pytest.fixture(scope="session")
def world(admin, anonymous):
    return World(admin, anonymous)


@pytest.fixture(scope="session")
def service_db(isolation):
    """Read-only peeks into a service's own database, for assertions."""
    engines = {}

    def query(service, sql, **params):
        if service not in engines:
            engines[service] = sa.create_engine(engine_url(isolation.database_url(service)),
                                                poolclass=NullPool)
        with engines[service].connect() as conn:
            return conn.execute(sa.text(sql), params).all()
    yield query
    for engine in engines.values():
        engine.dispose()


@pytest.fixture(scope="session")
def time_travel(isolation):
    """`expire(database, table, token)`: moves a stored link's expiry into
    the past, as if its days had gone by (the table keeps the token's
    SHA-256 in `token_hash`)."""
    import hashlib
    engines = {}

    def expire(database, table, token):
        if database not in engines:
            engines[database] = sa.create_engine(engine_url(isolation.database_url(database)),
                                                 poolclass=NullPool)
        with engines[database].begin() as conn:
            conn.execute(sa.text(f"UPDATE {table} SET expires_at = now() - interval '1 second' "
                                 "WHERE token_hash = :h"),
                         {"h": hashlib.sha256(token.encode()).hexdigest()})
    yield expire
    for engine in engines.values():
        engine.dispose()


@pytest.fixture(scope="session")
def timers(isolation):
    """The interventions service's durable timers: `timers.due_now(kind,
    key)` makes a pending timer due now, as if its days had gone by (the
    poller fires it within TIMER_POLL); `timers.status(kind, key)` is its
    row (status, due_at), None when there is none."""
    engine = sa.create_engine(engine_url(isolation.database_url("interventions")),
                              poolclass=NullPool)

    class Timers:
        @staticmethod
        def due_now(kind, key, revive=False):
            """`revive`: a cancelled one too, as a timer caught in a race with
            the move that cancelled it would fire."""
            states = ("pending", "cancelled") if revive else ("pending",)
            with engine.begin() as conn:
                changed = conn.execute(sa.text(
                    "UPDATE timers SET due_at = now(), next_attempt_at = now(), status = 'pending' "
                    "WHERE kind = :kind AND key = :key AND status = ANY(:states)"),
                    {"kind": kind, "key": key, "states": list(states)}).rowcount
            assert changed == 1, (kind, key)

        @staticmethod
        def status(kind, key):
            with engine.connect() as conn:
                return conn.execute(sa.text("SELECT status, due_at FROM timers "
                                            "WHERE kind = :kind AND key = :key"),
                                    {"kind": kind, "key": key}).first()
    yield Timers()
    engine.dispose()


@pytest.fixture(scope="session")
def interventions_stub():
    """For fixtures that run notifications alone with events of interventions
    that exist nowhere: `start(amqp_uri, log_path)` runs a stand-in
    interventions service (tests/integration/support/interventions_stub.py)
    that answers the tracking-token RPC notifications makes per email."""
    import os
    import sys
    from pathlib import Path

    from nameko.standalone.rpc import ClusterRpcProxy

    from fieldwork_common.testing.platform import Process
    from fieldwork_common.testing.waiting import wait_until

    support = Path(__file__).parent / "support"
    started = []

    def start(amqp_uri, log_path):
        log_path.parent.mkdir(parents=True, exist_ok=True)
        config = log_path.with_suffix(".yml")
        config.write_text("AMQP_URI: ${AMQP_URI}\n")
        env = {**os.environ, "AMQP_URI": amqp_uri, "PYTHONPATH": str(support)}
        proc = Process("interventions-stub", [str(Path(sys.executable).parent / "nameko"), "run",
                                              "--config", str(config), "interventions_stub"],
                       support, env, log_path).start()
        started.append(proc)
        rpc = ClusterRpcProxy({"AMQP_URI": amqp_uri}, timeout=5)
        cluster = rpc.start()
        try:
            def up():
                if not proc.alive:
                    raise RuntimeError(proc.log_tail())
                try:
                    return cluster.interventions.health()["status"] == "ok"
                except Exception:
                    return False
            wait_until(up, timeout=30, interval=0.2, message="the interventions stand-in")
        finally:
            rpc.stop()
        return proc

    yield start
    for proc in started:
        proc.stop()
