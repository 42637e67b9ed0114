"""Every error leaves the gateway as `{"error": {"code", "message",
"details"}}`. Known errors keep their code and status; anything else is a
500 with a generic message (the traceback goes to the log only)."""
import logging

from flask import jsonify
from nameko.exceptions import RemoteError
from werkzeug.exceptions import HTTPException

from fieldwork_common.errors import FieldworkError

log = logging.getLogger(__name__)


def error_body(code, message, details=None):
    return {"error": {"code": code, "message": message, "details": details or {}}}


def register(app):
    @app.errorhandler(FieldworkError)
    def fieldwork_error(exc):
        return jsonify(exc.as_body()), exc.http_status, exc.headers

    @app.errorhandler(HTTPException)
    def http_error(exc):
        code = (exc.name or "error").lower().replace(" ", "_")
        return jsonify(error_body(code, exc.description or exc.name)), exc.code

    @app.errorhandler(RemoteError)
    def remote_error(exc):
        log.error("unexpected error in a service: %s", exc.exc_type)
        return jsonify(error_body("internal_error", "An unexpected error occurred.")), 500

    @app.errorhandler(Exception)
    def unexpected(exc):
        log.exception("unexpected error")
        return jsonify(error_body("internal_error", "An unexpected error occurred.")), 500
