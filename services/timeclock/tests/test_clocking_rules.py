"""The rules of a clocking (domain/clockings.py), without a database."""
import base64
from datetime import datetime, timedelta, timezone

import pyotp
import pytest

from fieldwork_common.errors import InvalidInput, Refused
from fieldwork_timeclock.domain import clockings as rules

T0 = datetime(2026, 12, 3, 9, 0, tzinfo=timezone.utc)
PLACE = "6f1c3c8e-4a55-4b8f-9d59-2f0c9e7a1b01"
OTHER = "0b3e2d1c-7a6b-4c5d-8e9f-a0b1c2d3e4f5"
KEY = bytes(range(32))


def refused(rule, call, *args, **kwargs):
    with pytest.raises(Refused) as caught:
        call(*args, **kwargs)
    assert caught.value.code == rule, caught.value.details
    return caught.value


# --- settings -------------------------------------------------------------------------------

def test_settings_layer_defaults_then_company_then_service():
    settings = rules.effective_settings({"radius_m": 300, "methods": ["qr"]},
                                        {"methods": ["nfc"], "late_minutes": None})
    assert settings["radius_m"] == 300 and settings["methods"] == ["nfc"]
    assert settings["late_minutes"] == rules.DEFAULTS["late_minutes"]
    assert rules.effective_settings()["clocking_enabled"] is False


@pytest.mark.parametrize("values", [
    {"radius_m": 5}, {"radius_m": True}, {"methods": []}, {"methods": ["manual", "manual"]},
    {"methods": ["sms"]}, {"geolocation": "always"}, {"outside_zone": "ignore"},
    {"early_minutes": -1}, {"late_minutes": 1441}, {"clocking_enabled": "yes"}, {"colour": 1}])
def test_bad_settings_are_refused(values):
    with pytest.raises(InvalidInput):
        rules.check_settings(values)


def test_a_null_setting_goes_back_to_the_level_below():
    assert rules.check_settings({"radius_m": None, "methods": ["qr", "nfc"]}) == {
        "radius_m": None, "methods": ["qr", "nfc"]}


# --- time -----------------------------------------------------------------------------------

def test_the_device_clock():
    assert rules.device_time_flags(None, T0) == []
    assert rules.device_time_flags(T0 - timedelta(minutes=4), T0) == []
    assert rules.device_time_flags(T0 + timedelta(minutes=1), T0) == []
    assert rules.device_time_flags(T0 - timedelta(minutes=6), T0) == ["device_time_off"]
    refused("future_time", rules.device_time_flags, T0 + timedelta(minutes=3), T0)


@pytest.mark.parametrize("kind,minutes,inside", [
    ("in", -31, False), ("in", -30, True), ("in", 60, True), ("in", 61, False),
    ("out", 120 - 30, True), ("out", 120 + 61, False), ("out", 0, False)])
def test_the_allowed_delay_around_the_planned_start_and_end(kind, minutes, inside):
    settings = rules.effective_settings()
    at = T0 + timedelta(minutes=minutes)
    end = T0 + timedelta(hours=2)
    assert rules.window_flags(kind, at, T0, end, settings) == ([] if inside else ["outside_window"])
    strict = {**settings, "outside_window": "refuse"}
    if inside:
        assert rules.window_flags(kind, at, T0, end, strict) == []
    else:
        error = refused("outside_clocking_window", rules.window_flags, kind, at, T0, end, strict)
        assert error.http_status == 422


# --- position -------------------------------------------------------------------------------

def test_haversine_paris_to_lyon():
    assert rules.haversine_m(48.8566, 2.3522, 45.7640, 4.8357) == pytest.approx(391_500, rel=0.003)
    assert rules.haversine_m(48.8566, 2.3522, 48.8566, 2.3522) == 0


SITE = (48.8566, 2.3522, None)
NORTH_M = 1 / 111_195  # degrees of latitude per metre


@pytest.mark.parametrize("metres,accuracy,status", [
    (0, 5, "inside"), (199, 0, "inside"), (250, 60, "inside"), (250, 40, "outside"),
    (1000, 20, "outside"), (0, 201, "imprecise")])
def test_inside_outside_imprecise(metres, accuracy, status):
    settings = rules.effective_settings({"geolocation": "required"})
    position = (SITE[0] + metres * NORTH_M, SITE[1], accuracy)
    found, distance, flags = rules.locate(position, SITE, settings)
    assert found == status and distance == pytest.approx(metres, abs=1)
    assert flags == {"inside": [], "outside": ["out_of_zone"], "imprecise": ["position_imprecise"]}[status]
    if status != "inside":
        rule = {"outside": "out_of_zone", "imprecise": "position_imprecise"}[status]
        refused(rule, rules.locate, position, SITE, {**settings, "outside_zone": "refuse"})


def test_a_place_radius_beats_the_settings_and_positions_may_be_missing():
    settings = rules.effective_settings({"geolocation": "required"})
    assert rules.locate((SITE[0] + 400 * NORTH_M, SITE[1], 0), (SITE[0], SITE[1], 500),
                        settings)[0] == "inside"
    refused("position_required", rules.locate, None, SITE, settings)
    recorded = rules.effective_settings()
    assert rules.locate(None, SITE, recorded) == ("no_position", None, [])
    assert rules.locate((1.0, 1.0, 5), (None, None, None), recorded) == (
        "place_unknown", None, ["place_position_unknown"])
    assert rules.locate((1.0, 1.0, 5), SITE, {**recorded, "geolocation": "off"}) == (None, None, [])


# --- QR codes -------------------------------------------------------------------------------

def test_the_printed_code_is_the_place_s_and_signed():
    code = rules.static_code(PLACE, KEY, 1)
    assert code.startswith(f"FW1:{PLACE}:1:")
    assert rules.read_code(code, PLACE, KEY, 1, T0.timestamp()) == ("static", None)
    refused("qr_invalid", rules.read_code, code, OTHER, KEY, 1, T0.timestamp())
    refused("qr_invalid", rules.read_code, code, PLACE, KEY, 2, T0.timestamp())  # renewed
    refused("qr_invalid", rules.read_code, code, PLACE, bytes(32), 1, T0.timestamp())
    forged = code[:-3] + ("AAA" if not code.endswith("AAA") else "BBB")
    refused("qr_invalid", rules.read_code, forged, PLACE, KEY, 1, T0.timestamp())
    for junk in ("", "hello", "FW1:x", f"FW1:{PLACE}:T:12345", "12345", "x" * 300, None):
        refused("qr_invalid", rules.read_code, junk, PLACE, KEY, 1, T0.timestamp())


def test_totp_matches_rfc_6238_and_any_authenticator():
    # RFC 6238 appendix B, SHA-1, T = 59 s: 94287082 (its last 6 digits)
    secret = base64.b32encode(b"12345678901234567890").decode()
    assert rules.totp_at(secret, 59 // 30) == "287082"
    assert rules.totp_at(secret, 1111111109 // 30) == "081804"
    place_secret = rules.totp_secret(PLACE, KEY, 1)
    assert pyotp.TOTP(place_secret).at(T0) == rules.totp_at(place_secret, int(T0.timestamp()) // 30)


def test_a_rotating_code_is_valid_for_its_step_and_its_neighbours():
    secret = rules.totp_secret(PLACE, KEY, 1)
    step = int(T0.timestamp()) // 30
    for offset in (-1, 0, 1):
        code = rules.totp_at(secret, step + offset)
        assert rules.read_code(code, PLACE, KEY, 1, T0.timestamp()) == ("rotating", step + offset)
        assert rules.read_code(f"FW1:{PLACE}:T:{code}", PLACE, KEY, 1, T0.timestamp()) == (
            "rotating", step + offset)
    stale = rules.totp_at(secret, step - 3)
    if stale not in {rules.totp_at(secret, step + o) for o in (-1, 0, 1)}:
        refused("qr_invalid", rules.read_code, stale, PLACE, KEY, 1, T0.timestamp())
    code = rules.totp_at(secret, step)
    refused("qr_invalid", rules.read_code, f"FW1:{OTHER}:T:{code}", PLACE, KEY, 1, T0.timestamp())
    assert rules.totp_secret(PLACE, KEY, 2) != secret  # a renewed key: another device secret


# --- NFC ------------------------------------------------------------------------------------

def test_a_tag_uid_and_its_counter():
    assert rules.normal_uid("04:a2:3b:4c:5d:6e:7f") == "04A23B4C5D6E7F"
    for bad in ("04:A2", "zz" * 7, 7, "0" * 42):
        with pytest.raises(InvalidInput):
            rules.normal_uid(bad)
    rules.check_counter(None, 1)
    rules.check_counter(4, 5)
    rules.check_counter(4, None)  # a tag without a counter
    refused("nfc_replayed", rules.check_counter, 5, 5)
    refused("nfc_replayed", rules.check_counter, 5, 2)


def test_a_refusal_travels_with_its_rule_and_status():
    from fieldwork_common.errors import refuse
    error = refuse("already_clocked_in", "x", status=409, visit_id=PLACE)
    copy = Refused(*error.args)  # as nameko rebuilds it on the caller's side
    assert (copy.code, copy.http_status, copy.details["visit_id"]) == ("already_clocked_in", 409, PLACE)
    assert copy.as_body()["error"]["code"] == "already_clocked_in"
