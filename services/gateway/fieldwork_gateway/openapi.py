"""The OpenAPI 3 document, built from the route declarations, and an
interactive page whose assets are served by the gateway itself (it works
with no internet)."""
import re

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Blueprint, jsonify, send_from_directory
from swagger_ui_bundle import swagger_ui_path

from fieldwork_gateway import fields

ERRORS = {
    400: "Invalid JSON, unknown field or wrong type",
    401: "No token, or a bad or expired token",
    403: "The caller's role may not do this",
    404: "Not found, or not the caller's to see",
    409: "Conflict with the current state (a stale version, a reused Idempotency-Key)",
    428: "An update without the version it applies to (If-Match)",
    503: "A service did not answer in time",
}


def build_spec(api):
    spec = APISpec(title="Fieldwork API", version="0.1.0", openapi_version="3.0.3",
                   plugins=[MarshmallowPlugin()],
                   info={"description": "HTTP API of the Fieldwork field-service platform. "
                                        "Log in at POST /auth/token, then send "
                                        "`Authorization: Bearer <access_token>`.\n\n"
                                        "Mutating calls accept an `Idempotency-Key` header: "
                                        "retry a call that failed with 503 or a lost connection "
                                        "with the same key and body, and you get the first "
                                        "answer, never a second change. Updates take the "
                                        "version read (`If-Match`)."})
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer",
                                                "bearerFormat": "JWT"})
    spec.components.schema("Error", schema=fields.Error)
    paths = {}
    for route in api.routes:
        path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", route.path)
        operation = {
            "summary": route.summary,
            "description": route.description + (
                f"\n\nRoles: {', '.join(route.roles)}"
                + (" (of the whole platform, not of one company)" if route.platform else "") + "."
                if route.roles else "\n\nNo token needed."),
            "operationId": route.endpoint,
            "tags": [route.tag],
            "responses": {str(route.status): {
                "description": "OK",
                "content": {"application/json": {"schema": route.response}} if route.response else {},
            }},
        }
        if route.roles:
            operation["security"] = [{"bearer": []}]
        if route.path_params:
            operation["parameters"] = [{"name": p, "in": "path", "required": True,
                                        "schema": {"type": "string"}} for p in route.path_params]
        if route.query is not None:
            operation.setdefault("parameters", []).append({"in": "query", "schema": route.query})
        if route.body is not None:
            operation["requestBody"] = {"required": True, "content": {
                "application/json": {"schema": route.body}}}
        if route.form is not None:
            operation["requestBody"] = {"required": True, "content": {
                "multipart/form-data": {"schema": route.form}}}
        for status, text in sorted({**ERRORS, **route.errors}.items()):
            if status in (401, 403) and not route.roles or status == 428 and route.method != "PATCH":
                continue
            operation["responses"][str(status)] = {
                "description": text,
                "content": {"application/json": {"schema": "Error"}}}
        paths.setdefault(path, {})[route.method.lower()] = operation
    for path, operations in paths.items():
        spec.path(path=path, operations=operations)
    return spec.to_dict()


DOCS_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Fieldwork API</title>
<link rel="stylesheet" href="/docs/assets/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script>window.ui = SwaggerUIBundle({url: "/openapi.json", dom_id: "#swagger-ui",
persistAuthorization: true});</script>
</body></html>"""


def blueprint(api):
    bp = Blueprint("openapi", __name__)
    document = {}

    @bp.get("/openapi.json")
    def openapi_json():
        if not document:
            document.update(build_spec(api))
        return jsonify(document)

    @bp.get("/docs")
    def docs():
        return DOCS_PAGE, 200, {"Content-Type": "text/html; charset=utf-8"}

    @bp.get("/docs/assets/<path:name>")
    def docs_assets(name):
        return send_from_directory(str(swagger_ui_path), name)

    return bp
