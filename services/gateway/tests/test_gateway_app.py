"""The gateway with its boundaries faked: the RPC pool and the accounts
store. What is tested here is the HTTP layer: tokens, roles, bodies, error
mapping and the OpenAPI document."""
import time
from contextlib import contextmanager
from types import SimpleNamespace

import jwt
import pytest
from nameko.exceptions import RemoteError, RpcTimeout

from fieldwork_common.errors import NotFound
from fieldwork_gateway.app import create_app
from fieldwork_gateway.auth import issue_token
from fieldwork_gateway.web import api
from fieldwork_gateway.settings import Settings

SECRET = "unit-test-secret-that-is-long-enough-for-hs256"


class FakeCluster:
    def __init__(self, answers):
        self.answers = answers
        self.calls = []

    def __getitem__(self, service):
        cluster = self

        class Service:
            def __getattr__(self, method):
                def call(**kwargs):
                    cluster.calls.append((service, method, kwargs, cluster.principal))
                    answer = cluster.answers.get((service, method))
                    if isinstance(answer, BaseException):
                        raise answer
                    return answer
                return call
        return Service()


class FakePool:
    def __init__(self, answers=None):
        self.cluster_ = FakeCluster(answers or {})

    @contextmanager
    def cluster(self, principal=None, correlation_id=None, **call):
        self.cluster_.principal = principal
        self.cluster_.context = call
        yield self.cluster_


class FakeAccounts:
    """The accounts store at its boundary: a login opens session "s1"; a
    token's principal is read from its claims unless the session ended."""

    def __init__(self):
        self.users = {}
        self.ended = set()

    def login(self, email, password, address=None, user_agent=None):
        from fieldwork_common.errors import Unauthenticated
        from fieldwork_gateway.wings.accounts.store import Tokens
        user = self.users.get(email)
        if not user or user.password != password:
            raise Unauthenticated("Wrong email or password.")
        return Tokens("s1", vars(user), "refresh-1", 86400)

    def principal_for(self, claims):
        from fieldwork_common.errors import Unauthenticated
        from fieldwork_common.principal import Principal
        if claims["sid"] in self.ended:
            raise Unauthenticated("The session has ended; log in again.")
        return Principal(user_id=claims["sub"], role=claims["role"], company_id=claims["company_id"],
                         technician_id=claims["technician_id"], client_id=claims["client_id"])


@pytest.fixture
def pool():
    return FakePool()


@pytest.fixture
def accounts():
    return FakeAccounts()


@pytest.fixture
def client(pool, accounts):
    app = create_app(Settings(jwt_secret=SECRET, amqp_uri="memory://", database_url="postgresql://x@y/z"),
                     rpc_pool=pool, accounts=accounts)
    return app.test_client()


def token(role="admin", **links):
    user = SimpleNamespace(id="u1", role=role, company_id=links.get("company_id"),
                           technician_id=links.get("technician_id"), client_id=links.get("client_id"))
    return {"Authorization": "Bearer " + issue_token(user, SECRET, 600, "s1")}


def error_of(response, status):
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert set(body["error"]) == {"code", "message", "details"}
    return body["error"]


def test_login_issues_a_bearer_token(client, accounts):
    accounts.users["a@example.test"] = SimpleNamespace(
        id="u1", role="manager", company_id="co1", technician_id=None, client_id=None, password="pw")
    body = client.post("/auth/token", json={"email": "a@example.test", "password": "pw"}).get_json()
    claims = jwt.decode(body["access_token"], SECRET, algorithms=["HS256"])
    assert (claims["sub"], claims["sid"], claims["role"], claims["company_id"]) == (
        "u1", "s1", "manager", "co1")
    assert body["token_type"] == "Bearer" and body["expires_in"] == 900
    assert body["refresh_token"] == "refresh-1" and body["refresh_expires_in"] == 86400


def test_a_token_of_an_ended_session_is_401_and_no_service_is_called(client, accounts, pool):
    accounts.ended.add("s1")
    error = error_of(client.get("/interventions/x", headers=token()), 401)
    assert "ended" in error["message"]
    assert pool.cluster_.calls == []


def test_a_token_without_a_session_is_401(client):
    now = int(time.time())
    sessionless = jwt.encode({"sub": "u", "role": "admin", "iat": now, "exp": now + 60}, SECRET,
                             algorithm="HS256")
    error_of(client.get("/interventions/x", headers={"Authorization": f"Bearer {sessionless}"}), 401)


def test_a_wrong_password_is_401(client):
    error_of(client.post("/auth/token", json={"email": "a@example.test", "password": "x"}), 401)


def test_the_principal_travels_to_the_service(client, pool):
    pool.cluster_.answers[("interventions", "get_intervention")] = {"id": "i1", "version": 1}
    response = client.get("/interventions/i1", headers=token("client", client_id="c1"))
    assert response.status_code == 200
    [(service, method, kwargs, principal)] = pool.cluster_.calls
    assert (service, method, kwargs) == ("interventions", "get_intervention", {"intervention_id": "i1"})
    assert (principal.role, principal.client_id, principal.user_id) == ("client", "c1", "u1")


def test_a_role_outside_the_route_is_403_and_no_service_is_called(client, pool):
    error = error_of(client.post("/companies", json={"name": "X"}, headers=token("manager")), 403)
    assert error["details"]["allowed_roles"] == ["admin"]
    assert pool.cluster_.calls == []


def test_an_expired_token_is_401(client):
    now = int(time.time())
    expired = jwt.encode({"sub": "u", "sid": "s1", "role": "admin", "iat": now - 100, "exp": now - 1},
                         SECRET, algorithm="HS256")
    error = error_of(client.get("/interventions/x", headers={"Authorization": f"Bearer {expired}"}), 401)
    assert "expired" in error["message"]


def test_unknown_fields_and_wrong_types_are_400_and_no_service_is_called(client, pool):
    error = error_of(client.post("/companies", json={"name": "X", "extra": 1}, headers=token()), 400)
    assert error["details"]["fields"] == {"extra": ["Unknown field."]}
    error = error_of(client.post("/intervention-types", json={"name": "X", "location": "moon"},
                                 headers=token()), 400)
    assert "location" in error["details"]["fields"]
    assert pool.cluster_.calls == []


def test_text_no_database_can_store_is_400_and_no_service_is_called(client, pool):
    """NUL characters and lone surrogates (found by schemathesis: they
    reached PostgreSQL and answered 500)."""
    for raw in ('{"name": "a\\u0000b"}', '{"name": "\\ud83d"}'):
        response = client.post("/companies", data=raw, content_type="application/json",
                               headers=token())
        assert error_of(response, 400)["details"] == {"field": "body.name"}
    error = error_of(client.get("/interventions?description=%00", headers=token()), 400)
    assert error["details"] == {"field": "query.description"}
    assert pool.cluster_.calls == []


def test_service_errors_keep_their_status(client, pool):
    pool.cluster_.answers[("interventions", "get_intervention")] = NotFound("Intervention not found.",
                                                                             {"intervention_id": "x"})
    error = error_of(client.get("/interventions/x", headers=token()), 404)
    assert error == {"code": "not_found", "message": "Intervention not found.",
                     "details": {"intervention_id": "x"}}


def test_an_unexpected_service_error_is_a_generic_500(client, pool):
    pool.cluster_.answers[("interventions", "get_intervention")] = RemoteError(
        "ZeroDivisionError", "division by zero at /srv/secret/path.py")
    response = client.get("/interventions/x", headers=token())
    error = error_of(response, 500)
    assert error == {"code": "internal_error", "message": "An unexpected error occurred.", "details": {}}
    assert "ZeroDivision" not in response.get_data(as_text=True)


def test_an_unexpected_gateway_error_is_a_generic_500(client, pool):
    pool.cluster_.answers[("interventions", "create_company")] = RuntimeError("secret internals")
    response = client.post("/companies", json={"name": "X"}, headers=token())
    error_of(response, 500)
    assert "secret" not in response.get_data(as_text=True)
    assert "Traceback" not in response.get_data(as_text=True)


def test_rpc_timeouts_become_503():
    from fieldwork_gateway.rpc import RpcPool

    class TimingOut(RpcPool):
        def _new(self):
            proxy = SimpleNamespace(_worker_ctx=SimpleNamespace(data={}), stop=lambda: None)
            return proxy, None

    pool = TimingOut("memory://", timeout=1.5)
    app = create_app(Settings(jwt_secret=SECRET, amqp_uri="memory://", database_url="postgresql://x@y/z"),
                     rpc_pool=pool, accounts=FakeAccounts())

    @app.get("/boom")
    def boom():
        with pool.cluster():
            raise RpcTimeout(1.5)
    error = error_of(app.test_client().get("/boom"), 503)
    assert error["details"] == {"timeout_s": 1.5}
    assert pool._idle.empty(), "a proxy that timed out must not go back to the pool"


def test_the_openapi_document_lists_every_route(client):
    document = client.get("/openapi.json").get_json()
    assert document["openapi"].startswith("3.")
    for route in api.routes:
        path = route.path.replace("<", "{").replace(">", "}")
        assert route.method.lower() in document["paths"][path], (route.method, path)
    create = document["paths"]["/interventions"]["post"]
    assert create["security"] == [{"bearer": []}]
    assert set(create["responses"]) >= {"201", "400", "401", "403", "503"}


def test_the_docs_page_works_offline(client):
    page = client.get("/docs")
    assert page.status_code == 200
    assert b"/docs/assets/swagger-ui-bundle.js" in page.data and b"https://" not in page.data
    assert client.get("/docs/assets/swagger-ui-bundle.js").status_code == 200
    assert client.get("/docs/assets/swagger-ui.css").status_code == 200


def test_the_committed_openapi_document_is_current():
    import json
    from pathlib import Path

    from fieldwork_gateway.openapi import build_spec
    committed = Path(__file__).resolve().parents[3] / "docs" / "openapi.json"
    assert json.loads(committed.read_text()) == json.loads(json.dumps(build_spec(api))), \
        "docs/openapi.json is stale: run `python tools/export_openapi.py`"


def test_every_mutating_request_carries_an_idempotency_key(client, pool):
    pool.cluster_.answers[("interventions", "create_company")] = {"id": "c1"}
    keys = []
    for headers in ({"Idempotency-Key": "abc"}, {"Idempotency-Key": "abc"}, {"Idempotency-Key": "xyz"}, {}):
        client.post("/companies", json={"name": "X"}, headers={**token(), **headers})
        keys.append(pool.cluster_.context["idempotency_key"])
    assert keys[0] == keys[1], "the same client key maps to the same scoped key"
    assert len({keys[0], keys[2], keys[3]}) == 3, "another key, or none, is another request"
    assert pool.cluster_.context["request_hash"]


def test_the_same_key_with_another_body_hashes_differently(client, pool):
    hashes = []
    for name in ("A", "B"):
        client.post("/companies", json={"name": name}, headers={**token(), "Idempotency-Key": "k"})
        hashes.append(pool.cluster_.context["request_hash"])
    assert hashes[0] != hashes[1]


def test_a_malformed_idempotency_key_is_400(client, pool):
    error = error_of(client.post("/companies", json={"name": "X"},
                                 headers={**token(), "Idempotency-Key": "x" * 300}), 400)
    assert error["details"] == {"header": "Idempotency-Key"}
    assert pool.cluster_.calls == []


def test_an_update_needs_the_version_read(client, pool):
    error = error_of(client.patch("/interventions/i1", json={"description": "x"}, headers=token()), 428)
    assert error["code"] == "precondition_required"
    error_of(client.patch("/interventions/i1", json={"description": "x"},
                          headers={**token(), "If-Match": "not-a-version"}), 400)
    assert pool.cluster_.calls == []


def test_if_match_carries_the_version_and_the_answer_its_etag(client, pool):
    pool.cluster_.answers[("interventions", "update_intervention")] = {"id": "i1", "version": 4}
    response = client.patch("/interventions/i1", json={"description": "x"},
                            headers={**token(), "If-Match": '"3"'})
    assert response.status_code == 200 and response.headers["ETag"] == '"4"'
    [(_, method, kwargs, _)] = pool.cluster_.calls
    assert (method, kwargs) == ("update_intervention", {"intervention_id": "i1", "version": 3,
                                                         "changes": {"description": "x"}})


def cors_client(origins):
    settings = Settings(jwt_secret=SECRET, amqp_uri="memory://", database_url="postgresql://x@y/z",
                        cors_origins=origins)
    return create_app(settings, rpc_pool=FakePool(), accounts=FakeAccounts()).test_client()


PREFLIGHT = {"Access-Control-Request-Method": "POST",
             "Access-Control-Request-Headers": "authorization, content-type, idempotency-key"}


def test_without_configured_origins_no_browser_origin_is_allowed():
    response = cors_client(()).options("/interventions", headers={
        "Origin": "https://portal.example.test", **PREFLIGHT})
    assert "Access-Control-Allow-Origin" not in response.headers


def test_a_configured_origin_gets_its_preflight_and_a_refused_one_nothing():
    client = cors_client(("https://portal.example.test",))
    allowed = client.options("/interventions", headers={"Origin": "https://portal.example.test",
                                                         **PREFLIGHT})
    assert allowed.status_code == 200
    assert allowed.headers["Access-Control-Allow-Origin"] == "https://portal.example.test"
    assert "POST" in allowed.headers["Access-Control-Allow-Methods"]
    assert {"authorization", "content-type", "idempotency-key"} <= {
        h.strip().lower() for h in allowed.headers["Access-Control-Allow-Headers"].split(",")}
    assert "Access-Control-Allow-Credentials" not in allowed.headers
    refused = client.options("/interventions", headers={"Origin": "https://evil.example.test",
                                                         **PREFLIGHT})
    assert "Access-Control-Allow-Origin" not in refused.headers


def test_any_origin_never_comes_with_credentials():
    response = cors_client(("*",)).options("/interventions", headers={
        "Origin": "https://anywhere.example.test", **PREFLIGHT})
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert "Access-Control-Allow-Credentials" not in response.headers


def test_token_and_account_answers_are_never_cached_and_none_is_sniffed(client, accounts):
    accounts.users["a@example.test"] = SimpleNamespace(
        id="u1", role="admin", company_id=None, technician_id=None, client_id=None, password="pw")
    login = client.post("/auth/token", json={"email": "a@example.test", "password": "pw"})
    assert login.headers["Cache-Control"] == "no-store"
    assert login.headers["X-Content-Type-Options"] == "nosniff"
    assert client.get("/openapi.json").headers["X-Content-Type-Options"] == "nosniff"
