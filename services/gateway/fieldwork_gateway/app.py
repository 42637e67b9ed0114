"""The gateway's app factory: the settings, the RPC pool, the accounts
store, and the wings (wings/__init__.py lists them) on one `web.api`."""
import importlib
import logging

from flask import Flask, request
from flask_cors import CORS
from werkzeug.middleware.proxy_fix import ProxyFix

from fieldwork_common import errors as _registered_errors  # noqa: F401  (RPC errors come back typed)
from fieldwork_gateway import errors, openapi
from fieldwork_gateway.rpc import RpcPool
from fieldwork_gateway.settings import Settings
from fieldwork_gateway.web import api
from fieldwork_gateway.wings import WINGS
from fieldwork_gateway.wings.accounts.store import Accounts

# each wing declares its routes on `api` when imported
for _wing in WINGS:
    importlib.import_module(f"fieldwork_gateway.wings.{_wing}.routes")

# answers that carry tokens or say who has an account are never cached
NO_STORE = ("/auth/", "/account", "/users", "/admin/")
# what a portal in a browser may send and read (CORS)
CORS_HEADERS = ["Authorization", "Content-Type", "If-Match", "Idempotency-Key", "X-Correlation-Id"]
CORS_EXPOSED = ["ETag", "Retry-After", "Location"]


def create_app(settings=None, rpc_pool=None, accounts=None):
    settings = settings or Settings()
    app = Flask(__name__)
    app.json.sort_keys = False
    app.config["SETTINGS"] = settings
    app.config["MAX_CONTENT_LENGTH"] = 1 * 1024 * 1024
    if settings.proxy_hops:
        # the client's address (login throttling, audit) from X-Forwarded-For,
        # as the operator's own proxies set it: never trusted beyond them
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.proxy_hops, x_proto=0, x_host=0)
    app.extensions["rpc"] = rpc_pool or RpcPool(settings.amqp_uri, settings.rpc_timeout,
                                                               pooled=settings.rpc_pool)
    app.extensions["health_rpc"] = RpcPool(settings.amqp_uri, settings.health_timeout)
    app.extensions["accounts"] = accounts or Accounts(settings.database_url, settings.accounts_policy())
    errors.register(app)
    api.register(app)
    app.register_blueprint(openapi.blueprint(api))
    # Bearer tokens, not cookies: browsers never need to send credentials,
    # so none are allowed, whatever the origins.
    anyone = settings.cors_origins == ("*",)
    CORS(app, origins="*" if anyone else list(settings.cors_origins), send_wildcard=anyone,
         supports_credentials=False, allow_headers=CORS_HEADERS, expose_headers=CORS_EXPOSED,
         max_age=600)
    app.after_request(_security_headers)
    logging.getLogger(__name__).debug("gateway app created")
    return app


def _security_headers(response):
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    if request.path.startswith(NO_STORE) or request.path.startswith("/password/"):
        response.headers["Cache-Control"] = "no-store"
    return response
