"""The gateway's app factory."""
import logging

from flask import Flask

from fieldwork_common import errors as _registered_errors  # noqa: F401  (RPC errors come back typed)
from fieldwork_gateway import errors, openapi
from fieldwork_gateway.accounts import Accounts
from fieldwork_gateway.routes import api
from fieldwork_gateway.rpc import RpcPool
from fieldwork_gateway.settings import Settings


def create_app(settings=None, rpc_pool=None, accounts=None):
    settings = settings or Settings()
    app = Flask(__name__)
    app.json.sort_keys = False
    app.config["SETTINGS"] = settings
    app.config["MAX_CONTENT_LENGTH"] = 1 * 1024 * 1024
    app.extensions["rpc"] = rpc_pool or RpcPool(settings.amqp_uri, settings.rpc_timeout,
                                                               pooled=settings.rpc_pool)
    app.extensions["health_rpc"] = RpcPool(settings.amqp_uri, settings.health_timeout)
    app.extensions["accounts"] = accounts or Accounts(settings.database_url)
    errors.register(app)
    api.register(app)
    app.register_blueprint(openapi.blueprint(api))
    logging.getLogger(__name__).debug("gateway app created")
    return app
