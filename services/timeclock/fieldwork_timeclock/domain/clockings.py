"""The rules of a clocking (seed 004, issue 11, docs/timeclock.md), as plain
functions: the settings in force, the device's clock, the allowed delay,
the position, the QR codes (signed static ones and rotating ones), the
NFC counter. Each refusal names its rule (`fieldwork_common.errors.refuse`)."""
import base64
import hashlib
import hmac
import math
import struct
from datetime import timedelta

from fieldwork_common.errors import InvalidInput, refuse

METHODS = ("manual", "qr", "nfc")
KINDS = ("in", "out")
GEOLOCATION = ("off", "recorded", "required")
OUTSIDE = ("refuse", "flag")

#: Every setting, its default and how it is checked. A company's row holds
#: its values; a service's (intervention type's) row holds overrides.
DEFAULTS = {
    "clocking_enabled": False,
    "incidents_enabled": False,
    "combined_mode": False,
    "methods": ["manual", "qr", "nfc"],
    "geolocation": "recorded",   # off: ignored; recorded: kept when sent; required
    "radius_m": 200,
    "outside_zone": "flag",      # refuse or flag a position outside or too imprecise
    "early_minutes": 30,         # how early a clock-in/out may come before the planned time
    "late_minutes": 60,          # how late after it
    "outside_window": "flag",    # refuse or flag a clocking outside that delay
    "share_with_clients": False,
}

#: the device's clock may be this far off before its clocking is flagged
SKEW_FLAG = timedelta(minutes=5)
#: a device time later than this past the server's is refused (future_time)
FUTURE_LIMIT = timedelta(minutes=2)
#: a second tap of the same worker, visit and kind within this returns the first
REPEAT_WINDOW = timedelta(minutes=2)
#: rotating codes: one per step, the step before and after accepted (clock drift)
TOTP_STEP_S = 30
TOTP_DIGITS = 6
QR_PREFIX = "FW1"


def check_settings(values, partial=True):
    """The settings a body sets, checked (400 naming the field)."""
    out = {}
    for name, value in values.items():
        if name not in DEFAULTS:
            raise InvalidInput(f"Unknown setting {name}.", {"field": name})
        if value is None and partial:
            out[name] = None  # a service's override removed: the company's applies
            continue
        default = DEFAULTS[name]
        if isinstance(default, bool):
            ok = isinstance(value, bool)
        elif name == "methods":
            ok = (isinstance(value, list) and value and all(m in METHODS for m in value)
                  and len(set(value)) == len(value))
        elif name == "geolocation":
            ok = value in GEOLOCATION
        elif name in ("outside_zone", "outside_window"):
            ok = value in OUTSIDE
        elif name == "radius_m":
            ok = isinstance(value, int) and not isinstance(value, bool) and 10 <= value <= 100000
        else:  # minutes
            ok = isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 1440
        if not ok:
            raise InvalidInput(f"{name} is not a valid value.", {"field": name, "value": value})
        out[name] = value
    return out


def effective_settings(company_values=None, type_values=None):
    """Defaults, then the company's values, then the service's overrides."""
    settings = dict(DEFAULTS)
    for layer in (company_values or {}, type_values or {}):
        settings.update({k: v for k, v in layer.items() if k in DEFAULTS and v is not None})
    return settings


# --- time -----------------------------------------------------------------------------------

def device_time_flags(device_time, server_time):
    """[] or ["device_time_off"]; a time in the future refused."""
    if device_time is None:
        return []
    if device_time > server_time + FUTURE_LIMIT:
        raise refuse("future_time", "The device's time is in the future: check its clock.",
                     device_time=device_time.isoformat(), server_time=server_time.isoformat())
    return ["device_time_off"] if abs(server_time - device_time) > SKEW_FLAG else []


def window(kind, planned_start, planned_end, settings):
    """(earliest, latest) moments a clocking of `kind` is accepted."""
    reference = planned_start if kind == "in" else planned_end
    return (reference - timedelta(minutes=settings["early_minutes"]),
            reference + timedelta(minutes=settings["late_minutes"]))


def window_flags(kind, at, planned_start, planned_end, settings):
    """[] inside the allowed delay; outside it, refused or ["outside_window"]."""
    earliest, latest = window(kind, planned_start, planned_end, settings)
    if earliest <= at <= latest:
        return []
    if settings["outside_window"] == "refuse":
        raise refuse("outside_clocking_window",
                     f"A clock-{kind} of this visit is accepted between {earliest.isoformat()} "
                     f"and {latest.isoformat()}.",
                     earliest=earliest.isoformat(), latest=latest.isoformat())
    return ["outside_window"]


# --- position -------------------------------------------------------------------------------

EARTH_RADIUS_M = 6371008.8


def haversine_m(lat1, lon1, lat2, lon2):
    """The great-circle distance in metres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def locate(position, place, settings):
    """(geo_status, distance_m, flags). `position`: (lat, lon, accuracy_m)
    or None; `place`: (lat, lon, radius_m or None) with lat None when the
    place's position is not set. Inside: within the radius plus the
    reported accuracy; imprecise: an accuracy wider than the radius (it
    cannot tell); outside otherwise. Refused or flagged by setting."""
    mode = settings["geolocation"]
    if mode == "off":
        return None, None, []
    if position is None:
        if mode == "required":
            raise refuse("position_required", "This clocking needs the device's position.")
        return "no_position", None, []
    lat, lon, accuracy = position
    place_lat, place_lon, place_radius = place
    if place_lat is None:
        return "place_unknown", None, ["place_position_unknown"]
    radius = place_radius or settings["radius_m"]
    distance = round(haversine_m(lat, lon, place_lat, place_lon), 1)
    accuracy = accuracy or 0.0
    if accuracy > radius:
        status, rule = "imprecise", "position_imprecise"
    elif distance <= radius + accuracy:
        return "inside", distance, []
    else:
        status, rule = "outside", "out_of_zone"
    if settings["outside_zone"] == "refuse":
        message = ("The position is too imprecise to tell whether you are on site."
                   if status == "imprecise" else "You are not at the visit's place.")
        raise refuse(rule, message, distance_m=distance, radius_m=radius, accuracy_m=accuracy)
    return status, distance, [rule]


# --- QR codes -------------------------------------------------------------------------------

def _mac(key, *parts):
    return hmac.new(key, "|".join(str(p) for p in parts).encode(), hashlib.sha256).digest()


def static_code(place_id, key, key_version):
    """The text of a place's printed QR code: signed with its key."""
    signature = base64.urlsafe_b64encode(_mac(key, "qr", place_id, key_version)[:18]).decode()
    return f"{QR_PREFIX}:{place_id}:{key_version}:{signature}"


def totp_secret(place_id, key, key_version):
    """The base32 secret of the place's rotating-code device (RFC 6238)."""
    return base64.b32encode(_mac(key, "totp", place_id, key_version)[:20]).decode()


def totp_at(secret, step):
    """The RFC 6238 code of `step` (30-second steps since the epoch)."""
    digest = hmac.new(base64.b32decode(secret), struct.pack(">Q", step), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    number = struct.unpack(">I", digest[offset:offset + 4])[0] & 0x7FFFFFFF
    return str(number % 10 ** TOTP_DIGITS).zfill(TOTP_DIGITS)


def read_code(code, place_id, key, key_version, now_ts):
    """What a scanned or typed code is: ("static", None) for the place's
    printed code, ("rotating", step) for a current rotating one; refused
    (qr_invalid) otherwise, another place's code included. A rotating code
    is `FW1:<place>:T:<digits>` or the digits alone."""
    if not isinstance(code, str) or not 1 <= len(code) <= 200:
        raise refuse("qr_invalid", "This code is not a Fieldwork code.")
    parts = code.split(":")
    if len(parts) == 1 and parts[0].isdigit():
        digits = parts[0]
    elif len(parts) == 4 and parts[0] == QR_PREFIX and parts[2] == "T":
        if parts[1] != place_id:
            raise refuse("qr_invalid", "This code is another place's.")
        digits = parts[3]
    elif len(parts) == 4 and parts[0] == QR_PREFIX:
        if parts[1] != place_id:
            raise refuse("qr_invalid", "This code is another place's.")
        if not hmac.compare_digest(code, static_code(place_id, key, key_version)):
            raise refuse("qr_invalid", "This code is not valid (withdrawn or forged).")
        return "static", None
    else:
        raise refuse("qr_invalid", "This code is not a Fieldwork code.")
    if len(digits) != TOTP_DIGITS or not digits.isdigit():
        raise refuse("qr_invalid", "A rotating code has 6 digits.")
    secret = totp_secret(place_id, key, key_version)
    current = int(now_ts // TOTP_STEP_S)
    for step in (current, current - 1, current + 1):
        if hmac.compare_digest(digits, totp_at(secret, step)):
            return "rotating", step
    raise refuse("qr_invalid", "This rotating code is not (or no longer) valid.")


# --- NFC ------------------------------------------------------------------------------------

def normal_uid(uid):
    """A tag's UID as upper-case hex without separators (04:A2:... → 04A2...)."""
    if not isinstance(uid, str):
        raise InvalidInput("A tag's uid is its hexadecimal serial number.", {"field": "uid"})
    text = uid.replace(":", "").replace("-", "").replace(" ", "").upper()
    if not 8 <= len(text) <= 40 or any(c not in "0123456789ABCDEF" for c in text):
        raise InvalidInput("A tag's uid is 4 to 20 bytes in hexadecimal.", {"field": "uid"})
    return text


def check_counter(last, sent):
    """A tag that sends a counter must send a higher one than last time."""
    if sent is None:
        return
    if last is not None and sent <= last:
        raise refuse("nfc_replayed", "This tag's reading was already used (its counter did not "
                     "go up).", counter=sent, last_counter=last)
