"""The clockings wing (seed 004, issue 11, docs/timeclock.md): the settings,
the places (position, QR codes, NFC tags), clock-ins and clock-outs by the
visit's worker, read-only for clients when shared, corrected, validated or
rejected by managers.

A clocking goes one way (`record_clocking`): the visit in the caller's
scope, the settings in force, a repeated tap answered with the first
clocking, the pairing made in the database (an `in` takes the worker's
one open slot, an `out` frees the one of this visit), then the device's
clock, the allowed delay, the code or tag and the position, then the row
and its event: one transaction, and any refusal writes nothing."""
import secrets
import uuid
from datetime import datetime, timezone
from urllib.parse import quote

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert

from fieldwork_common.commands import command
from fieldwork_common.envelope import rfc3339
from fieldwork_common.errors import Conflict, Forbidden, InvalidInput, NotFound, refuse
from fieldwork_common.pagination import page, with_ids
from fieldwork_common.rpc import rpc
from fieldwork_common.serialize import as_dict, is_uuid, parse_instant

from fieldwork_timeclock import filing
from fieldwork_timeclock import settings as timeclock_settings
from fieldwork_timeclock.access import (
    actor_of, company_record, company_scope, is_staff, require_admin, require_staff,
    sees_company, visible_visit)
from fieldwork_timeclock.domain import clockings as rules
from fieldwork_timeclock.models import (
    Clocking, ClockingSettings, KnownVisit, NfcTag, OpenClockIn, Place, UsedCode)

CLOCKING_FIELDS = ("id", "visit_id", "technician_id", "company_id", "client_id", "place_id",
                   "kind", "method", "in_id", "at", "device_time", "server_time", "lat", "lon",
                   "accuracy_m", "distance_m", "geo_status", "nfc_tag_id", "flags", "status",
                   "supersedes", "superseded_by", "reason", "decision_reason", "decided_by",
                   "decided_at", "created_by", "created_by_role", "created_at", "version")
#: what a client sees when the company shares clockings: no position, no flags
CLIENT_FIELDS = ("id", "visit_id", "kind", "method", "at", "status", "supersedes")
PLACE_FIELDS = ("id", "company_id", "client_id", "site_id", "label", "lat", "lon", "radius_m",
                "key_version", "created_at", "version")
TAG_FIELDS = ("id", "place_id", "company_id", "uid", "label", "last_counter", "active",
              "created_at", "version")
#: the events' payload: the clocking, plus who did it and the visit's reference
EVENT_EXTRAS = ("reference", "intervention_id", "by", "by_role")
CLOSED_VISIT_STATES = ("cancelled", "validated")
RECORD_FIELDS = ("kind", "method", "device_time", "code", "tag", "lat", "lon", "accuracy_m", "id",
                 "at", "reason", "incident")
MAX_REASON = 2000


def now():
    return datetime.now(timezone.utc)


def clocking_dict(clocking, **extra):
    item = as_dict(clocking, CLOCKING_FIELDS)
    item["flags"] = list(clocking.flags or [])
    item.update(extra)
    return item


def client_dict(clocking):
    item = as_dict(clocking, CLIENT_FIELDS)
    item["on_site"] = {"inside": True, "outside": False, "imprecise": False}.get(clocking.geo_status)
    return item


def _reason(value, field="reason", required=True):
    return filing.text(value, field, required=required, limit=MAX_REASON)


def _version(record, version, label):
    if version is not None and version != record.version:
        raise Conflict(f"The {label} was changed by someone else; reload it and retry.",
                       {"current_version": record.version, "your_version": version})


class Clockings:
    """Mixed into TimeclockService (needs `db` and `principal`)."""

    def _author(self):
        p = self.principal
        return (p.user_id, p.role) if p else ("system", "system")

    def _publish(self, uow, event_type, clocking, visit, **extra):
        author, role = self._author()
        uow.publish(event_type, clocking.id, clocking_dict(
            clocking, reference=visit.reference, intervention_id=visit.intervention_id,
            by=author, by_role=role, **extra))

    # --- settings -------------------------------------------------------------------------

    def _settings_company(self, company_id):
        p = self.principal
        require_staff(p)
        company_id = company_id or p.company_id
        if company_id is None:
            raise InvalidInput("company_id is required for an admin of the whole platform.",
                               {"company_id": "required"})
        if not is_uuid(company_id) or not sees_company(p, company_id):
            raise NotFound("Company not found.", {"company_id": company_id})
        return company_id

    def _settings_answer(self, s, company_id, type_id):
        row = s.scalars(sa.select(ClockingSettings).where(
            ClockingSettings.company_id == company_id,
            ClockingSettings.type_id.is_(None) if type_id is None
            else ClockingSettings.type_id == type_id)).first()
        return {"company_id": company_id, "type_id": type_id,
                "values": dict(row.values) if row else {},
                "settings": timeclock_settings.in_force(s, company_id, type_id),
                "version": row.version if row else 0,
                "updated_at": rfc3339(row.updated_at) if row else None,
                "updated_by": row.updated_by if row else None}

    @rpc
    def get_clocking_settings(self, company_id=None, type_id=None):
        """The settings of a company (type_id null) or of one of its services:
        what is stored there (`values`) and what is in force (`settings`)."""
        company_id = self._settings_company(company_id)
        if type_id is not None and not is_uuid(type_id):
            raise NotFound("Intervention type not found.", {"type_id": type_id})
        with self.db.session() as s:
            return self._settings_answer(s, company_id, type_id)

    @rpc
    @command
    def set_clocking_settings(self, uow, values, company_id=None, type_id=None, version=None):
        """Set some settings of a company or of a service (null: back to the
        company's, or to the default); admins only."""
        require_admin(self.principal)
        company_id = self._settings_company(company_id)
        if type_id is not None and not is_uuid(type_id):
            raise NotFound("Intervention type not found.", {"type_id": type_id})
        if not isinstance(values, dict) or not values:
            raise InvalidInput("Name at least one setting.", {"values": "required"})
        checked = rules.check_settings(values)
        s = uow.session
        s.execute(insert(ClockingSettings).values(company_id=company_id, type_id=type_id,
                                                  values={}, version=0)
                  .on_conflict_do_nothing())
        row = s.scalars(sa.select(ClockingSettings).where(
            ClockingSettings.company_id == company_id,
            ClockingSettings.type_id.is_(None) if type_id is None
            else ClockingSettings.type_id == type_id).with_for_update()).one()
        if version is not None and row.version != version and not (row.version == 0 and version == 0):
            raise Conflict("The settings were changed by someone else; reload them and retry.",
                           {"current_version": row.version, "your_version": version})
        merged = {**row.values, **checked}
        row.values = {k: v for k, v in merged.items() if v is not None}
        row.version += 1
        row.updated_at, row.updated_by = now(), self._author()[0]
        s.flush()
        return self._settings_answer(s, company_id, type_id)

    # --- places, codes, tags --------------------------------------------------------------

    def _place(self, s, place_id, lock=False):
        return company_record(s, self.principal, Place, place_id, "Place", "place_id", lock=lock)

    @rpc
    def list_places(self, client_id=None, company_id=None, limit=None, after=None):
        """Staff: the places of their company (one per client's home and
        site, made with the first visit there), newest first."""
        p = self.principal
        require_staff(p)
        query = sa.select(Place).where(company_scope(p, Place.company_id))
        query = with_ids(query, (client_id, Place.client_id, "client_id"),
                         (company_id, Place.company_id, "company_id"))
        with self.db.session() as s:
            rows, cursor = page(s, query, Place, limit, after)
            return {"items": [as_dict(r, PLACE_FIELDS) for r in rows], "next_cursor": cursor}

    @rpc
    def get_place(self, place_id):
        require_staff(self.principal)
        with self.db.session() as s:
            return as_dict(self._place(s, place_id), PLACE_FIELDS)

    @rpc
    @command
    def update_place(self, uow, place_id, version, changes):
        """Its position (lat and lon together), radius and label; admins."""
        require_admin(self.principal)
        s = uow.session
        place = self._place(s, place_id, lock=True)
        _version(place, version, "place")
        unknown = set(changes) - {"lat", "lon", "radius_m", "label"}
        if unknown or not changes:
            raise InvalidInput("Change lat and lon, radius_m or label.", {"fields": sorted(unknown)})
        if ("lat" in changes) != ("lon" in changes):
            raise InvalidInput("lat and lon go together.", {"fields": ["lat", "lon"]})
        for name, value in changes.items():
            setattr(place, name, value)
        place.version += 1
        s.flush()
        return as_dict(place, PLACE_FIELDS)

    @rpc
    def place_code(self, place_id):
        """The text of the place's printable QR code (admins)."""
        require_admin(self.principal)
        with self.db.session() as s:
            place = self._place(s, place_id)
            return {"place_id": place.id, "key_version": place.key_version,
                    "code": rules.static_code(place.id, place.key, place.key_version)}

    @rpc
    def place_rotating_device(self, place_id):
        """What a rotating-code device at the client's is set up with: an
        RFC 6238 secret (30 s, 6 digits, SHA-1) and its otpauth:// URI."""
        require_admin(self.principal)
        with self.db.session() as s:
            place = self._place(s, place_id)
            secret = rules.totp_secret(place.id, place.key, place.key_version)
            label = quote(f"Fieldwork:{place.label or place.id}")
            uri = (f"otpauth://totp/{label}?secret={secret}&issuer=Fieldwork"
                   f"&algorithm=SHA1&digits={rules.TOTP_DIGITS}&period={rules.TOTP_STEP_S}")
            return {"place_id": place.id, "key_version": place.key_version, "secret": secret,
                    "otpauth_uri": uri, "period_s": rules.TOTP_STEP_S, "digits": rules.TOTP_DIGITS,
                    "algorithm": "SHA1"}

    @rpc
    @command
    def renew_place_key(self, uow, place_id, version):
        """A new signing key: the printed QR code and the rotating device's
        secret of before stop working (a stolen sticker)."""
        require_admin(self.principal)
        s = uow.session
        place = self._place(s, place_id, lock=True)
        _version(place, version, "place")
        place.key = secrets.token_bytes(32)
        place.key_version += 1
        place.version += 1
        s.flush()
        return as_dict(place, PLACE_FIELDS)

    @rpc
    @command
    def add_nfc_tag(self, uow, place_id, uid, label=None):
        require_admin(self.principal)
        s = uow.session
        place = self._place(s, place_id, lock=True)
        uid = rules.normal_uid(uid)
        _reason(label, "label", required=False)
        taken = s.scalars(sa.select(NfcTag).where(NfcTag.uid == uid, NfcTag.active)).first()
        if taken is not None:
            raise Conflict("This tag is already registered; remove it first.", {"uid": uid})
        tag = NfcTag(place_id=place.id, company_id=place.company_id, uid=uid, label=label)
        s.add(tag)
        s.flush()
        return as_dict(tag, TAG_FIELDS)

    @rpc
    def list_nfc_tags(self, place_id):
        require_staff(self.principal)
        with self.db.session() as s:
            place = self._place(s, place_id)
            tags = s.scalars(sa.select(NfcTag).where(NfcTag.place_id == place.id, NfcTag.active)
                             .order_by(NfcTag.created_at, NfcTag.id)).all()
            return {"items": [as_dict(t, TAG_FIELDS) for t in tags], "next_cursor": None}

    @rpc
    @command
    def remove_nfc_tag(self, uow, tag_id):
        require_admin(self.principal)
        s = uow.session
        tag = company_record(s, self.principal, NfcTag, tag_id, "Tag", "tag_id", lock=True)
        if not tag.active:
            raise NotFound("Tag not found.", {"tag_id": tag_id})
        tag.active = False
        tag.version += 1
        s.flush()
        return as_dict(tag, TAG_FIELDS)

    # --- clocking -------------------------------------------------------------------------

    def _repeat_of(self, s, visit, kind, server_time):
        """The first clocking when this tap repeats it: the same worker,
        visit and kind within REPEAT_WINDOW, still in force; else None."""
        since = server_time - rules.REPEAT_WINDOW
        if kind == "in":
            # only the in that is still open is repeated (in, out, in is a new stint)
            open_row = s.get(OpenClockIn, visit.technician_id, populate_existing=True)
            if open_row is None or open_row.visit_id != visit.id:
                return None
            first = s.get(Clocking, open_row.clocking_id, populate_existing=True)
            return first if first is not None and first.server_time >= since else None
        return s.scalars(sa.select(Clocking).where(
            Clocking.visit_id == visit.id, Clocking.technician_id == visit.technician_id,
            Clocking.kind == "out", Clocking.status != "superseded",
            Clocking.server_time >= since).order_by(Clocking.server_time.desc())).first()

    def _pair(self, s, visit, kind, clocking_id, at):
        """Take (in) or free (out) the worker's open slot, in the database.
        Returns (in_id, None), or (None, first) when a concurrent tap got
        there first and this one repeats it."""
        worker = visit.technician_id
        if kind == "in":
            taken = s.execute(insert(OpenClockIn).values(
                technician_id=worker, visit_id=visit.id, clocking_id=clocking_id, since=at)
                .on_conflict_do_nothing().returning(OpenClockIn.technician_id)).first()
            if taken is not None:
                return None, None
            first = self._repeat_of(s, visit, kind, now())
            if first is not None:
                return None, first
            open_row = s.get(OpenClockIn, worker, populate_existing=True)
            raise refuse("already_clocked_in", "This worker is already clocked in; clock out first.",
                         status=409, visit_id=open_row.visit_id if open_row else None,
                         clocking_id=open_row.clocking_id if open_row else None)
        freed = s.execute(sa.delete(OpenClockIn).where(
            OpenClockIn.technician_id == worker, OpenClockIn.visit_id == visit.id)
            .returning(OpenClockIn.clocking_id)).first()
        if freed is not None:
            return freed.clocking_id, None
        first = self._repeat_of(s, visit, kind, now())
        if first is not None:
            return None, first
        elsewhere = s.get(OpenClockIn, worker, populate_existing=True)
        raise refuse("not_clocked_in", "Clock in on this visit before clocking out.", status=409,
                     open_visit_id=elsewhere.visit_id if elsewhere else None)

    def _check_code(self, s, place, code, clocking_id, server_time):
        if code is None:
            raise InvalidInput("A QR clocking sends the scanned code.", {"code": "required"})
        variant, step = rules.read_code(code, place.id, place.key, place.key_version,
                                        server_time.timestamp())
        if variant == "rotating":
            used = s.execute(insert(UsedCode).values(place_id=place.id, step=step,
                                                     clocking_id=clocking_id)
                             .on_conflict_do_nothing().returning(UsedCode.step)).first()
            if used is None:
                raise refuse("qr_replayed", "This rotating code was already used; scan the next one.")
        return variant

    def _check_tag(self, s, place, tag):
        if not isinstance(tag, dict) or "uid" not in tag:
            raise InvalidInput("An NFC clocking sends the tag read: {uid, counter?}.", {"tag": "required"})
        uid = rules.normal_uid(tag["uid"])
        counter = tag.get("counter")
        if counter is not None and (not isinstance(counter, int) or isinstance(counter, bool)
                                    or not 0 <= counter < 2 ** 63):
            raise InvalidInput("A tag's counter is a whole number.", {"field": "tag.counter"})
        found = s.scalars(sa.select(NfcTag).where(NfcTag.uid == uid, NfcTag.active)
                          .with_for_update()).first()
        if found is None or found.place_id != place.id:
            raise refuse("nfc_invalid", "This tag is not registered at this visit's place.")
        rules.check_counter(found.last_counter, counter)
        if counter is not None:
            found.last_counter = counter
        return found

    @rpc
    @command
    def record_clocking(self, uow, visit_id, clocking):
        """A clock-in or clock-out of the visit's worker (`clocking`: kind,
        method, device_time, code, tag, lat, lon, accuracy_m, id; staff: at
        and reason). The caller is the worker; staff may record one for the
        worker (a forgotten clock-out) with the time it happened and a reason."""
        unknown = set(clocking) - set(RECORD_FIELDS)
        if unknown or "kind" not in clocking:
            raise InvalidInput("A clocking has a kind and only the fields documented.",
                               {"fields": sorted(unknown)})
        return self._record(uow, visit_id, **clocking)

    def _record(self, uow, visit_id, kind, method="manual", device_time=None, code=None,
                tag=None, lat=None, lon=None, accuracy_m=None, id=None, at=None, reason=None,
                incident=None):
        s = uow.session
        p = self.principal
        visit = visible_visit(s, p, visit_id)
        actor = actor_of(p, visit)
        if actor == "client":
            raise Forbidden("Only the visit's worker clocks (clients read the clockings).")
        if kind not in rules.KINDS:
            raise InvalidInput("kind is in or out.", {"kind": kind})
        if method not in rules.METHODS:
            raise InvalidInput("method is manual, qr or nfc.", {"method": method})
        if id is not None and not is_uuid(id):
            raise InvalidInput("id is a UUID the device made.", {"id": id})
        if incident is not None and (not isinstance(incident, dict) or "reason_id" not in incident
                                     or set(incident) - {"reason_id", "description"}):
            raise InvalidInput("incident is {reason_id, description?}.", {"field": "incident"})
        settings = timeclock_settings.in_force(s, visit.company_id, visit.type_id)
        if not settings["clocking_enabled"]:
            raise refuse("clocking_disabled", "Clocking is not turned on for this service.",
                         status=409, setting="clocking_enabled")
        if visit.state in CLOSED_VISIT_STATES:
            raise refuse("visit_closed", f"This visit is {visit.state}: it takes no more clockings.",
                         status=409, state=visit.state)
        server_time = now()
        if id is not None:
            known = s.get(Clocking, id)
            if known is not None:
                if (known.visit_id, known.technician_id, known.kind) == (visit.id, visit.technician_id, kind):
                    return clocking_dict(known, repeated=True)
                if known.company_id != visit.company_id:  # another's: it reveals nothing
                    raise NotFound("Clocking not found.", {"id": id})
                raise Conflict("This clocking id is already used by another clocking.", {"id": id})
        first = self._repeat_of(s, visit, kind, server_time)
        if first is not None:
            return clocking_dict(first, repeated=True)

        clocking_id = id or str(uuid.uuid4())
        place = s.get(Place, visit.place_id)
        flags, tag_row, geo = [], None, (None, None, [])
        if actor == "staff":
            reason = _reason(reason)
            if method != "manual":
                raise InvalidInput("Staff record a manual clocking.", {"method": method})
            if at is None:
                raise InvalidInput("Staff give the time it happened (at).", {"at": "required"})
            at = parse_instant(at, "at")
            rules.device_time_flags(at, server_time)  # not in the future
            flags.append("by_staff")
            device_time = None
        else:
            if at is not None or reason is not None:
                raise InvalidInput("A worker's clocking counts at the server's time: no at, "
                                   "no reason.", {"fields": ["at", "reason"]})
            if method not in settings["methods"]:
                raise refuse("method_not_allowed", f"Clocking by {method} is not allowed here.",
                             method=method, allowed=settings["methods"])
            device_time = None if device_time is None else parse_instant(device_time, "device_time")
            flags += rules.device_time_flags(device_time, server_time)
            at = server_time
            flags += rules.window_flags(kind, at, visit.planned_start_at, visit.planned_end_at,
                                        settings)
        in_id, first = self._pair(s, visit, kind, clocking_id, at)
        if first is not None:
            return clocking_dict(first, repeated=True)
        if actor != "staff":
            if method == "qr":
                self._check_code(s, place, code, clocking_id, server_time)
            elif method == "nfc":
                tag_row = self._check_tag(s, place, tag)
            if (lat is None) != (lon is None):
                raise InvalidInput("lat and lon go together.", {"fields": ["lat", "lon"]})
            position = None if lat is None else (lat, lon, accuracy_m)
            geo = rules.locate(position, (place.lat, place.lon, place.radius_m), settings)
            flags += geo[2]
        if kind == "out":
            opened = s.get(Clocking, in_id)
            if opened is not None and at < opened.at:
                raise refuse("out_before_in", "A clock-out cannot come before its clock-in.",
                             clock_in_at=rfc3339(opened.at))
        author, role = self._author()
        clocking = Clocking(
            id=clocking_id, visit_id=visit.id, technician_id=visit.technician_id,
            company_id=visit.company_id, client_id=visit.client_id, place_id=visit.place_id,
            kind=kind, method=method, in_id=in_id, at=at, device_time=device_time,
            server_time=server_time, lat=lat if geo[0] else None, lon=lon if geo[0] else None,
            accuracy_m=accuracy_m if geo[0] else None, distance_m=geo[1], geo_status=geo[0],
            nfc_tag_id=tag_row.id if tag_row else None, flags=flags, reason=reason,
            created_by=author, created_by_role=role, created_at=server_time)
        s.add(clocking)
        s.flush()
        self._publish(uow, "clocking.recorded", clocking, visit)
        answer = clocking_dict(clocking, repeated=False)
        if incident is not None:
            # combined mode: the incident is made with the clocking, or neither
            if not settings["combined_mode"]:
                raise refuse("combined_mode_off", "An incident comes with a clocking only in "
                             "combined mode; declare it on the visit.", status=409,
                             setting="combined_mode")
            made = filing.declare(uow, visit, incident["reason_id"], incident.get("description"),
                                  "start" if kind == "in" else "end", server_time, author, role,
                                  clocking_id=clocking.id)
            answer["incident"] = filing.incident_dict(s, made)
        return answer

    # --- reading --------------------------------------------------------------------------

    @rpc
    def visit_clockings(self, visit_id):
        """A visit's clockings, oldest first: all of them (corrections and
        what they superseded) for its worker and staff; for its client, the
        ones in force, read-only, when the company shares them (else 404)."""
        with self.db.session() as s:
            visit = visible_visit(s, self.principal, visit_id)
            rows = s.scalars(sa.select(Clocking).where(Clocking.visit_id == visit.id)
                             .order_by(Clocking.created_at, Clocking.id)).all()
            if actor_of(self.principal, visit) == "client":
                shared = timeclock_settings.in_force(s, visit.company_id, visit.type_id)
                if not shared["share_with_clients"]:
                    raise NotFound("Clockings not found.", {"visit_id": visit_id})
                return {"items": [client_dict(r) for r in rows if r.status != "superseded"],
                        "next_cursor": None}
            return {"items": [clocking_dict(r) for r in rows], "next_cursor": None}

    @rpc
    def list_clockings(self, visit_id=None, technician_id=None, client_id=None, company_id=None,
                       status=None, kind=None, flagged=None, from_=None, to=None, limit=None,
                       after=None):
        """Staff: their company's; a worker: its own. Newest first."""
        p = self.principal
        if p.role == "client":
            raise Forbidden("Clients read the clockings of one visit at a time.")
        query = sa.select(Clocking)
        if p.role == "technician":
            query = query.where(Clocking.technician_id == (p.technician_id or ""))
        else:
            query = query.where(company_scope(p, Clocking.company_id))
        with self.db.session() as s:
            if visit_id is not None:
                visible_visit(s, p, visit_id)  # 404 for a visit the caller may not see
        query = with_ids(query, (visit_id, Clocking.visit_id, "visit_id"),
                         (technician_id, Clocking.technician_id, "technician_id"),
                         (client_id, Clocking.client_id, "client_id"),
                         (company_id, Clocking.company_id, "company_id"))
        if status is not None:
            query = query.where(Clocking.status == status)
        if kind is not None:
            query = query.where(Clocking.kind == kind)
        if flagged is not None:
            has = sa.func.cardinality(Clocking.flags) > 0
            query = query.where(has if flagged else sa.not_(has))
        if from_ is not None:
            query = query.where(Clocking.at >= parse_instant(from_, "from"))
        if to is not None:
            query = query.where(Clocking.at < parse_instant(to, "to"))
        with self.db.session() as s:
            rows, cursor = page(s, query, Clocking, limit, after)
            return {"items": [clocking_dict(r) for r in rows], "next_cursor": cursor}

    def _clocking(self, s, clocking_id, lock=False):
        """A clocking of the caller's scope (staff: the company's; worker: its own)."""
        p = self.principal
        if is_uuid(clocking_id):
            query = sa.select(Clocking).where(Clocking.id == clocking_id)
            if lock:
                query = query.with_for_update().execution_options(populate_existing=True)
            found = s.scalars(query).first()
            if found is not None and (
                    (is_staff(p) and sees_company(p, found.company_id))
                    or (p.role == "technician" and p.technician_id == found.technician_id)):
                return found
        raise NotFound("Clocking not found.", {"clocking_id": clocking_id})

    @rpc
    def get_clocking(self, clocking_id):
        with self.db.session() as s:
            return clocking_dict(self._clocking(s, clocking_id))

    # --- managers -------------------------------------------------------------------------

    def _chain(self, s, clocking):
        """The ids of a clocking and of every row it superseded."""
        ids, current = [clocking.id], clocking
        while current.supersedes:
            current = s.get(Clocking, current.supersedes)
            ids.append(current.id)
        return ids

    @rpc
    @command
    def correct_clocking(self, uow, clocking_id, at, reason, version=None):
        """A manager's correction: a new clocking at `at` that supersedes this
        one (which stays, marked superseded), with a mandatory reason."""
        p = self.principal
        require_staff(p)
        s = uow.session
        old = self._clocking(s, clocking_id, lock=True)
        reason = _reason(reason)
        if old.status == "superseded":
            raise refuse("clocking_superseded", "This clocking was corrected already: correct "
                         "the one in force.", status=409, superseded_by=old.superseded_by)
        _version(old, version, "clocking")
        at = parse_instant(at, "at")
        server_time = now()
        rules.device_time_flags(at, server_time)
        visit = s.get(KnownVisit, old.visit_id)
        if old.kind == "out":
            opened = s.get(Clocking, old.in_id)
            while opened.superseded_by:
                opened = s.get(Clocking, opened.superseded_by)
            if at < opened.at:
                raise refuse("out_before_in", "A clock-out cannot come before its clock-in.",
                             clock_in_at=rfc3339(opened.at))
        else:
            closing = s.scalars(sa.select(Clocking).where(
                Clocking.kind == "out", Clocking.status != "superseded",
                Clocking.in_id.in_(self._chain(s, old)))).first()
            if closing is not None and at > closing.at:
                raise refuse("out_before_in", "A clock-in cannot come after its clock-out.",
                             clock_out_at=rfc3339(closing.at))
        author, role = self._author()
        new_id = str(uuid.uuid4())
        old.status, old.superseded_by = "superseded", new_id
        old.version += 1
        s.flush()
        new = Clocking(
            id=new_id, visit_id=old.visit_id, technician_id=old.technician_id,
            company_id=old.company_id, client_id=old.client_id, place_id=old.place_id,
            kind=old.kind, method="correction", in_id=old.in_id, at=at, device_time=None,
            server_time=server_time, lat=old.lat, lon=old.lon, accuracy_m=old.accuracy_m,
            distance_m=old.distance_m, geo_status=old.geo_status, nfc_tag_id=old.nfc_tag_id,
            flags=["corrected"], supersedes=old.id, reason=reason, created_by=author,
            created_by_role=role, created_at=server_time)
        s.add(new)
        s.execute(sa.update(OpenClockIn).where(OpenClockIn.clocking_id == old.id)
                  .values(clocking_id=new_id))
        s.flush()
        self._publish(uow, "clocking.corrected", new, visit, previous=clocking_dict(old))
        return clocking_dict(new)

    @rpc
    @command
    def decide_clocking(self, uow, clocking_id, decision, reason=None, version=None):
        """Validate or reject (with a reason the worker reads) a clocking in
        force; nobody decides on a clocking they recorded."""
        p = self.principal
        require_staff(p)
        s = uow.session
        clocking = self._clocking(s, clocking_id, lock=True)
        if decision not in ("validate", "reject"):
            raise InvalidInput("decision is validate or reject.", {"decision": decision})
        reason = _reason(reason, required=decision == "reject")
        if clocking.created_by == p.user_id:
            raise refuse("own_clocking", "Nobody validates or rejects a clocking they recorded.",
                         status=403)
        if clocking.status == "superseded":
            raise refuse("clocking_superseded", "This clocking was corrected: decide on the one "
                         "in force.", status=409, superseded_by=clocking.superseded_by)
        if clocking.status != "recorded":
            raise refuse("already_decided", f"This clocking is {clocking.status} already.",
                         status=409, clocking_status=clocking.status)
        _version(clocking, version, "clocking")
        clocking.status = "validated" if decision == "validate" else "rejected"
        clocking.decision_reason = reason
        clocking.decided_by, clocking.decided_at = p.user_id, now()
        clocking.version += 1
        s.flush()
        visit = s.get(KnownVisit, clocking.visit_id)
        self._publish(uow, f"clocking.{clocking.status}", clocking, visit)
        return clocking_dict(clocking)
