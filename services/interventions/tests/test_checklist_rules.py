"""The checklist rules (domain/reports.py): templates' items and answers."""
import pytest

from fieldwork_common.errors import InvalidInput, Refused
from fieldwork_interventions.domain import reports as rules

NUMBER = {"key": "p", "kind": "number", "label": "Pression", "min": 1, "max": 2.5, "unit": "bar"}


def test_items_are_cleaned_with_their_defaults():
    [item] = rules.check_items([{"key": "ok", "kind": "check", "label": " Coupé "}])
    assert item == {"key": "ok", "kind": "check", "label": "Coupé", "required": False,
                    "help": None}
    [number] = rules.check_items([NUMBER])
    assert (number["min"], number["max"], number["unit"]) == (1, 2.5, "bar")


@pytest.mark.parametrize("items", [
    [], "x", [{"key": "a", "kind": "check"}],                            # no label
    [{"key": "a", "kind": "wat", "label": "A"}],
    [{"key": "A", "kind": "check", "label": "A"}],
    [{"key": "a", "kind": "check", "label": "A"}, {"key": "a", "kind": "text", "label": "B"}],
    [{"key": "a", "kind": "check", "label": "A", "colour": "red"}],
    [{**NUMBER, "min": 5}], [{**NUMBER, "max": float("inf")}], [{**NUMBER, "min": True}],
    [{"key": "c", "kind": "choice", "label": "C", "choices": ["un"]}],
    [{"key": "c", "kind": "choice", "label": "C", "choices": ["un", "un"]}],
    [{"key": "c", "kind": "choice", "label": "C", "choices": ["un", ""]}],
])
def test_bad_templates_are_refused(items):
    with pytest.raises(InvalidInput):
        rules.check_items(items)


@pytest.mark.parametrize("kind,good,bad", [
    ("check", [True, False], ["yes", 1, None]),
    ("yes_no_na", ["yes", "no", "na"], [True, "maybe"]),
    ("text", ["Rien à signaler"], ["", "   ", 3, "x" * 2001]),
    ("photo", ["6f1c…"], [3, None]),
])
def test_each_kind_takes_its_own_answers(kind, good, bad):
    item = {"key": "k", "kind": kind, "label": "K"}
    for value in good:
        assert rules.check_answer(item, value, None) == (value, False, None)
    for value in bad:
        with pytest.raises(InvalidInput):
            rules.check_answer(item, value, None)


def test_a_choice_is_one_of_the_item_s():
    item = {"key": "s", "kind": "choice", "label": "État", "choices": ["bon", "usé"]}
    assert rules.check_answer(item, "usé", None)[0] == "usé"
    with pytest.raises(InvalidInput):
        rules.check_answer(item, "neuf", None)


def test_a_number_outside_its_range_is_flagged_and_needs_a_note():
    assert rules.check_answer(NUMBER, 1.8, None) == (1.8, False, None)
    assert rules.check_answer(NUMBER, 1, None)[1] is False and rules.check_answer(NUMBER, 2.5, None)[1] is False
    for value in (0.9, 3):
        with pytest.raises(Refused) as caught:
            rules.check_answer(NUMBER, value, None)
        assert caught.value.details["rule"] == "note_required"
        assert rules.check_answer(NUMBER, value, "Purgé") == (value, True, "Purgé")
    for value in ("2", True, float("nan")):
        with pytest.raises(InvalidInput):
            rules.check_answer(NUMBER, value, None)


def test_the_required_items_still_missing():
    items = rules.check_items([{"key": "a", "kind": "check", "label": "A", "required": True},
                               {"key": "b", "kind": "text", "label": "B"},
                               {"key": "c", "kind": "check", "label": "C", "required": True}])
    assert rules.missing(items, set()) == ["a", "c"]
    assert rules.missing(items, {"c", "b"}) == ["a"]


def test_a_measurement_outside_its_range_is_flagged_and_needs_a_note():
    assert rules.check_measurement("Pression", 1.5, "bar", 1, 2.5) == (
        "Pression", "bar", 1.5, 1, 2.5, False, None)
    with pytest.raises(Refused):
        rules.check_measurement("CO", 60, "ppm", None, 50)
    assert rules.check_measurement("CO", 60, "ppm", None, 50, "Aéré")[5:] == (True, "Aéré")
    assert rules.check_measurement("Libre", -3)[5] is False   # no range: never flagged
    for args in (("", 1), ("P", "1"), ("P", 1, None, 3, 1), ("P", 1, None, True)):
        with pytest.raises(InvalidInput):
            rules.check_measurement(*args)
