"""Field work (seed 003, issue 13, docs/reports.md): the checklist that
guides a maintenance, as plain functions.

A checklist template belongs to an intervention type and is versioned: a
new version never changes the checklists already started, which keep the
version they started on. Each item has a kind:

    check       done or not (true / false)
    yes_no_na   "yes", "no" or "na"
    number      a number, with a unit and an accepted range (min, max): a
                value outside it is flagged and needs a note
    text        free text
    choice      one of the item's choices
    photo       a photo of the files store (its id)

A required item must be answered before the report can be signed.
"""
import math
import re

from fieldwork_common.errors import InvalidInput, refuse
from fieldwork_common.serialize import checked_text

KINDS = ("check", "yes_no_na", "number", "text", "choice", "photo")
KEY = re.compile(r"[a-z0-9_]{1,40}")
MAX_ITEMS = 200
MAX_TEXT = 2000
ITEM_FIELDS = ("key", "kind", "label", "required", "help", "unit", "min", "max", "choices")


def _text(value, field, required=False, limit=MAX_TEXT):
    return checked_text(value, field, required, limit, strip=True)


def _number(value):
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and math.isfinite(value))


def check_items(items):
    """A template's items, checked (400 naming the item); keys unique."""
    if not isinstance(items, list) or not 1 <= len(items) <= MAX_ITEMS:
        raise InvalidInput(f"A template has 1 to {MAX_ITEMS} items.", {"field": "items"})
    out, keys = [], set()
    for n, item in enumerate(items):
        where = f"items[{n}]"
        if not isinstance(item, dict) or set(item) - set(ITEM_FIELDS):
            raise InvalidInput(f"{where} has the fields {', '.join(ITEM_FIELDS)}.", {"field": where})
        key, kind = item.get("key"), item.get("kind")
        if not isinstance(key, str) or not KEY.fullmatch(key) or key in keys:
            raise InvalidInput(f"{where}.key is 1 to 40 of a-z, 0-9, _ and unique.",
                               {"field": f"{where}.key"})
        if kind not in KINDS:
            raise InvalidInput(f"{where}.kind is one of {', '.join(KINDS)}.",
                               {"field": f"{where}.kind"})
        clean = {"key": key, "kind": kind, "label": _text(item.get("label"), f"{where}.label",
                                                          required=True, limit=200),
                 "required": bool(item.get("required", False)),
                 "help": _text(item.get("help"), f"{where}.help")}
        if kind == "number":
            low, high = item.get("min"), item.get("max")
            for name, value in (("min", low), ("max", high)):
                if value is not None and not _number(value):
                    raise InvalidInput(f"{where}.{name} is a number.", {"field": f"{where}.{name}"})
            if low is not None and high is not None and low > high:
                raise InvalidInput(f"{where}: min is above max.", {"field": f"{where}.min"})
            clean.update(unit=_text(item.get("unit"), f"{where}.unit", limit=20), min=low, max=high)
        elif kind == "choice":
            choices = item.get("choices")
            if (not isinstance(choices, list) or not 2 <= len(choices) <= 50
                    or len(set(map(str, choices))) != len(choices)
                    or not all(isinstance(c, str) and c.strip() for c in choices)):
                raise InvalidInput(f"{where}.choices is 2 to 50 different texts.",
                                   {"field": f"{where}.choices"})
            clean["choices"] = choices
        keys.add(key)
        out.append(clean)
    return out


def check_answer(item, value, note):
    """(value, flagged, note) of an answer to `item`; refused when it does
    not fit the item's kind (400), or when a number outside its range comes
    without a note (422 note_required)."""
    kind = item["kind"]
    note = _text(note, "note")
    flagged = False
    if kind == "check":
        ok = isinstance(value, bool)
    elif kind == "yes_no_na":
        ok = value in ("yes", "no", "na")
    elif kind == "number":
        ok = _number(value)
        if ok:
            low, high = item.get("min"), item.get("max")
            flagged = (low is not None and value < low) or (high is not None and value > high)
            if flagged and note is None:
                raise refuse("note_required", f"{item['label']}: {value} is outside the accepted "
                             "range; say why in a note.", status=422, key=item["key"],
                             min=low, max=high, unit=item.get("unit"))
    elif kind == "text":
        ok = isinstance(value, str) and bool(value.strip()) and len(value) <= MAX_TEXT
    elif kind == "choice":
        ok = value in item.get("choices", ())
    else:  # photo: a file id, resolved by the caller
        ok = isinstance(value, str)
    if not ok:
        raise InvalidInput(f"{item['label']}: not a valid {kind} answer.",
                           {"key": item["key"], "kind": kind, "value": value})
    return value, flagged, note


def missing(items, answered_keys):
    """The keys of the required items not answered yet."""
    return [item["key"] for item in items if item["required"] and item["key"] not in answered_keys]


def check_comment(body):
    return _text(body, "body", required=True, limit=5000)


def check_measurement(parameter, value, unit=None, low=None, high=None, note=None):
    """(parameter, unit, value, low, high, flagged, note): a value outside
    [low, high] is flagged and needs a note (422 note_required)."""
    parameter = _text(parameter, "parameter", required=True, limit=200)
    unit = _text(unit, "unit", limit=20)
    for name, number in (("value", value), ("min", low), ("max", high)):
        if (number is not None or name == "value") and not _number(number):
            raise InvalidInput(f"{name} is a number.", {"field": name})
    if low is not None and high is not None and low > high:
        raise InvalidInput("min is above max.", {"field": "min"})
    item = {"key": parameter, "kind": "number", "label": parameter, "min": low, "max": high,
            "unit": unit}
    value, flagged, note = check_answer(item, value, note)
    return parameter, unit, value, low, high, flagged, note
