"""The real platform for integration tests: the four nameko services and the
gateway as OS processes (the commands docker-compose.yml names), against
real RabbitMQ and PostgreSQL in a vhost and databases of this run's own,
and a real SMTP server owned by the test session."""
import time
import uuid

import pytest
import requests
import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from fieldwork_common.db import engine_url
from fieldwork_common.testing import servers as servers_mod
from fieldwork_common.testing.platform import ALL_SERVICES, REPO, LocalPlatform
from fieldwork_common.testing.smtp import SmtpSink, free_port

ADMIN_EMAIL = "admin@test.fieldwork"
ADMIN_PASSWORD = "admin-test-password"
JWT_SECRET = "integration-test-secret-of-at-least-32-bytes"


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
def platform(isolation, smtp):
    log_dir = REPO / "var" / "test-logs" / isolation.run_id
    env = {
        **isolation.environment(ALL_SERVICES),
        "SMTP_HOST": smtp.host, "SMTP_PORT": str(smtp.port),
        "JWT_SECRET": JWT_SECRET, "ADMIN_EMAIL": ADMIN_EMAIL, "ADMIN_PASSWORD": ADMIN_PASSWORD,
        "RPC_TIMEOUT": "5", "HEALTH_TIMEOUT": "2", "GATEWAY_HOST": "127.0.0.1",
        "GATEWAY_WORKERS": "2", "GATEWAY_THREADS": "8", "RETRY_DELAYS": "0.2,0.5",
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

    def request(self, method, path, json=None, headers=None, data=None):
        headers = dict(headers or {})
        if self.token:
            headers.setdefault("Authorization", f"Bearer {self.token}")
        return requests.request(method, self.base_url + path, json=json, data=data,
                                headers=headers, timeout=30)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, json=None, **kw):
        return self.request("POST", path, json=json, **kw)

    def login(self, email, password):
        response = self.post("/auth/token", {"email": email, "password": password})
        assert response.status_code == 200, response.text
        return Client(self.base_url, response.json()["access_token"])


@pytest.fixture(scope="session")
def anonymous(platform):
    return Client(platform.base_url)


@pytest.fixture(scope="session")
def admin(anonymous):
    return anonymous.login(ADMIN_EMAIL, ADMIN_PASSWORD)


def created(response):
    assert response.status_code == 201, response.text
    return response.json()


class World:
    """Builds master data through the gateway, with fresh names per test."""

    def __init__(self, admin, anonymous):
        self.admin = admin
        self.anonymous = anonymous

    def company(self):
        return created(self.admin.post("/companies", {"name": f"Shop {uuid.uuid4().hex[:6]}"}))

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
        company = self.company()
        client = client or self.client(company)
        technician = technician or self.technician(company)
        body = {"client_id": client["id"], "equipment_id": self.equipment(client)["id"],
                "type_id": self.intervention_type(location)["id"],
                "technician_id": technician["id"], "location": location,
                "description": "Screen flickers"}
        return created((as_user or self.admin).post("/interventions", body))


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
