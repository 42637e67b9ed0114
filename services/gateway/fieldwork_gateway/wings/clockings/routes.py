"""Clockings (seed 004, issue 11, docs/timeclock.md): the timeclock
settings, the places where visits happen (position, printable QR code,
rotating-code device, NFC tags), clock-ins and clock-outs by the visit's
worker, shared read-only with clients, corrected, validated or rejected by
managers. The timeclock service owns them all."""
import io
from datetime import datetime

import segno
from flask import Response

from fieldwork_gateway.web import (ADMIN, ALL, STAFF, WORKERS, api, call, expected_version, resolved,
                                   with_etag)
from fieldwork_gateway.wings.clockings import schemas

TAG = "clockings"


def _plain(body):
    return {key: value.isoformat() if isinstance(value, datetime) else value
            for key, value in body.items()}


#: the ids a body or a filter may carry, resolved by interventions in the caller's scope
REFERENCES = {"company_id": "company", "type_id": "intervention_type", "client_id": "client",
              "technician_id": "technician"}


# --- settings ---------------------------------------------------------------------------

@api.route("/timeclock/settings", "GET", summary="The timeclock settings of a company or a service",
           roles=STAFF, query=schemas.SettingsQuery, response=schemas.Settings, tag=TAG)
def get_timeclock_settings(query):
    """`settings` is what is in force (defaults, then the company's values,
    then the service's); `values` what is stored at this level."""
    return call("timeclock", "get_clocking_settings", **resolved(query, REFERENCES))


@api.route("/timeclock/settings", "PUT", summary="Set timeclock settings", roles=ADMIN,
           body=schemas.SettingsIn, response=schemas.Settings, tag=TAG)
def set_timeclock_settings(body):
    """The modules (clocking, incidents, combined mode) and the clocking
    options, for the company (no type_id) or for one service (type_id: its
    overrides; a null value follows the company's). Only the values sent
    change."""
    return call("timeclock", "set_clocking_settings", **resolved(body, REFERENCES))


# --- places -----------------------------------------------------------------------------

@api.route("/clocking-places", "GET", summary="The places where visits happen", roles=STAFF,
           query=schemas.PlaceQuery, response=schemas.PlaceList, tag=TAG)
def list_clocking_places(query):
    """One per client's home and per site, made with the first visit there."""
    return call("timeclock", "list_places", **resolved(query, REFERENCES))


@api.route("/clocking-places/<place_id>", "GET", summary="A place", roles=STAFF,
           response=schemas.Place, tag=TAG)
def get_clocking_place(place_id):
    return with_etag(call("timeclock", "get_place", place_id=place_id))


@api.route("/clocking-places/<place_id>", "PATCH", summary="Set a place's position, radius or label",
           roles=ADMIN, body=schemas.PlacePatch, response=schemas.Place, tag=TAG)
def update_clocking_place(place_id, body):
    """lat and lon together; radius_m null: the settings' radius."""
    version = expected_version(body.pop("version", None))
    return with_etag(call("timeclock", "update_place", place_id=place_id, version=version,
                          changes=body))


@api.route("/clocking-places/<place_id>/qr", "GET", summary="The place's printable QR code",
           roles=ADMIN, query=schemas.QrQuery, tag=TAG)
def place_qr(place_id, query):
    """SVG (default) or PNG (or the code as text), signed with the place's
    key: stick it at the client's. Renewing the key withdraws it."""
    code = call("timeclock", "place_code", place_id=place_id)
    kind = query["format"]
    if kind == "text":
        return Response(code["code"], mimetype="text/plain",
                        headers={"Cache-Control": "no-store"}), 200
    qr = segno.make(code["code"], error="m")
    out = io.BytesIO()
    qr.save(out, kind=kind, scale=query["scale"], border=4)
    return Response(out.getvalue(), mimetype="image/svg+xml" if kind == "svg" else "image/png",
                    headers={"Content-Disposition": f'inline; filename="place-{place_id}.{kind}"',
                             "Cache-Control": "no-store"}), 200


@api.route("/clocking-places/<place_id>/rotating-device", "GET",
           summary="Set up a rotating-code device for a place (TOTP)", roles=ADMIN,
           response=schemas.RotatingDevice, tag=TAG)
def rotating_device(place_id):
    """The RFC 6238 secret and otpauth:// URI of a device left at the
    client's that shows a new code every 30 s; each code is accepted once."""
    response = call("timeclock", "place_rotating_device", place_id=place_id)
    return response, 200, {"Cache-Control": "no-store"}


@api.route("/clocking-places/<place_id>/key", "POST", summary="Renew a place's key",
           roles=ADMIN, body=schemas.VersionIn, response=schemas.Place, tag=TAG)
def renew_key(place_id, body):
    """The printed code and the rotating device's secret of before stop working."""
    version = expected_version(body.get("version"))
    return with_etag(call("timeclock", "renew_place_key", place_id=place_id, version=version))


@api.route("/clocking-places/<place_id>/nfc-tags", "POST", summary="Register an NFC tag at a place",
           roles=ADMIN, body=schemas.TagIn, response=schemas.Tag, status=201, tag=TAG)
def add_tag(place_id, body):
    """A tag is registered at one place at a time (409 if it is elsewhere)."""
    return call("timeclock", "add_nfc_tag", place_id=place_id, **body), 201


@api.route("/clocking-places/<place_id>/nfc-tags", "GET", summary="A place's NFC tags",
           roles=STAFF, response=schemas.TagList, tag=TAG)
def list_tags(place_id):
    return call("timeclock", "list_nfc_tags", place_id=place_id)


@api.route("/nfc-tags/<tag_id>", "DELETE", summary="Withdraw an NFC tag", roles=ADMIN,
           response=schemas.Tag, tag=TAG)
def remove_tag(tag_id):
    return call("timeclock", "remove_nfc_tag", tag_id=tag_id)


# --- clockings --------------------------------------------------------------------------

@api.route("/visits/<visit_id>/clockings", "POST", summary="Clock in or out on a visit",
           roles=WORKERS, body=schemas.ClockingIn, response=schemas.Clocking, status=201, tag=TAG,
           errors={409: "already_clocked_in, not_clocked_in, clocking_disabled, visit_closed",
                   422: "future_time, outside_clocking_window, out_of_zone, position_required, "
                        "position_imprecise, method_not_allowed, qr_invalid, qr_replayed, "
                        "nfc_invalid, nfc_replayed, out_before_in"})
def record_clocking(visit_id, body):
    """The visit's worker is the caller (never named in the body). The server
    keeps the device's time and its own: a device time more than 5 minutes
    off is flagged, one in the future refused. A repeated tap (the same
    kind within 2 minutes, or the same `id`) answers 200 with the first
    clocking. Staff record one for the worker with `at` and `reason`."""
    result = call("timeclock", "record_clocking", visit_id=visit_id, clocking=_plain(body))
    return result, 200 if result.get("repeated") else 201


@api.route("/visits/<visit_id>/clockings", "GET", summary="A visit's clockings", roles=ALL,
           response=schemas.VisitClockings, tag=TAG)
def visit_clockings(visit_id):
    """Oldest first. The worker and staff see every row (a correction and
    what it superseded); the client, when its provider shares clockings,
    the rows in force without position (on_site yes/no), else 404."""
    return call("timeclock", "visit_clockings", visit_id=visit_id)


@api.route("/clockings", "GET", summary="Clockings, newest first", roles=WORKERS,
           query=schemas.ClockingQuery, response=schemas.ClockingList, tag=TAG)
def list_clockings(query):
    """Staff: their company's (to validate: status=recorded; flagged=true);
    a technician: its own."""
    return call("timeclock", "list_clockings", **resolved(query, REFERENCES))


@api.route("/clockings/<clocking_id>", "GET", summary="A clocking", roles=WORKERS,
           response=schemas.Clocking, tag=TAG)
def get_clocking(clocking_id):
    return with_etag(call("timeclock", "get_clocking", clocking_id=clocking_id))


@api.route("/clockings/<clocking_id>/corrections", "POST",
           summary="Correct a clocking (a new one supersedes it)", roles=STAFF,
           body=schemas.CorrectionIn, response=schemas.Clocking, status=201, tag=TAG)
def correct_clocking(clocking_id, body):
    """The old clocking stays, marked superseded; the new one needs a
    reason and is validated by someone else. Publishes clocking.corrected."""
    version = expected_version(body.pop("version", None))
    return call("timeclock", "correct_clocking", clocking_id=clocking_id, version=version,
                **_plain(body)), 201


@api.route("/clockings/<clocking_id>/decision", "POST", summary="Validate or reject a clocking",
           roles=STAFF, body=schemas.DecisionIn, response=schemas.Clocking, tag=TAG,
           errors={403: "own_clocking: nobody decides on a clocking they recorded"})
def decide_clocking(clocking_id, body):
    """A rejection carries a reason shown to the worker. Publishes
    clocking.validated or clocking.rejected."""
    version = expected_version(body.pop("version", None))
    return with_etag(call("timeclock", "decide_clocking", clocking_id=clocking_id,
                          version=version, **body))
