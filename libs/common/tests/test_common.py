import re
import uuid

import pytest

from fieldwork_common import config
from fieldwork_common.db import engine_url
from fieldwork_common.envelope import ENVELOPE_FIELDS, exchange_name, make_envelope
from fieldwork_common.errors import Conflict, FieldworkError, InvalidInput, NotFound
from fieldwork_common.principal import Principal


def test_envelope_has_every_field_of_the_contract():
    envelope = make_envelope("interventions", "intervention.created", "abc", {"x": 1},
                             correlation_id="req-1")
    assert tuple(envelope) == ENVELOPE_FIELDS
    uuid.UUID(envelope["event_id"])
    assert envelope["event_version"] == 1
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", envelope["occurred_at"])
    assert envelope["producer"] == "interventions"
    assert envelope["correlation_id"] == "req-1"
    assert envelope["data"] == {"x": 1}


def test_an_envelope_without_correlation_correlates_to_itself():
    envelope = make_envelope("p", "t", 1, {})
    assert envelope["correlation_id"] == envelope["event_id"]
    assert envelope["aggregate_id"] == "1"


def test_exchange_naming_follows_nameko():
    assert exchange_name("interventions") == "interventions.events"


def test_each_service_derives_its_own_database(monkeypatch):
    monkeypatch.delenv("INTERVENTIONS_DATABASE_URL", raising=False)
    monkeypatch.setenv("POSTGRES_URL", "postgresql://u:p@db:5432/ignored")
    assert config.database_url("interventions") == "postgresql://u:p@db:5432/fieldwork_interventions"
    monkeypatch.setenv("INTERVENTIONS_DATABASE_URL", "postgresql://x@y/z")
    assert config.database_url("interventions") == "postgresql://x@y/z"


def test_bare_postgresql_urls_use_psycopg2():
    assert engine_url("postgresql://u@h/d").drivername == "postgresql+psycopg2"
    assert engine_url("postgresql+psycopg2://u@h/d").drivername == "postgresql+psycopg2"


def test_principal_round_trips_through_json():
    principal = Principal(user_id="u", role="client", client_id="c")
    assert Principal.from_json(principal.to_json()) == principal


@pytest.mark.parametrize("error,status", [(InvalidInput, 400), (NotFound, 404), (Conflict, 409)])
def test_errors_carry_code_message_and_details(error, status):
    exc = error("Nope.", {"field": "x"})
    assert exc.http_status == status
    assert exc.as_body() == {"error": {"code": exc.code, "message": "Nope.", "details": {"field": "x"}}}
    assert isinstance(exc, FieldworkError)


def test_errors_survive_nameko_serialisation():
    from nameko.exceptions import deserialize, serialize
    back = deserialize(serialize(InvalidInput("Bad.", {"a": ["b"], "n": 2, "none": None})))
    assert isinstance(back, InvalidInput)
    assert (back.message, back.details) == ("Bad.", {"a": ["b"], "n": 2, "none": None})


def test_a_cursor_round_trips_and_garbage_is_bad_input():
    from datetime import datetime, timezone

    import pytest

    from fieldwork_common.errors import InvalidInput
    from fieldwork_common.pagination import clamp_limit, decode_cursor, encode_cursor
    at = datetime(2026, 11, 22, 10, 0, 0, 123456, tzinfo=timezone.utc)
    assert decode_cursor(encode_cursor(at, "abc")) == (at, "abc")
    for garbage in ("", "!!!", "bm90IGpzb24", encode_cursor(at, "x")[:-3]):
        with pytest.raises(InvalidInput):
            decode_cursor(garbage)
    for bad in (0, 201, "ten"):
        with pytest.raises(InvalidInput):
            clamp_limit(bad)


def test_an_invitation_is_valid_icalendar():
    from datetime import datetime, timedelta, timezone

    from fieldwork_common.ics import CalendarEvent, calendar, parse
    start = datetime(2026, 12, 1, 14, 30, tzinfo=timezone.utc)
    doc = calendar([CalendarEvent(uid="i-1@fieldwork", start=start, summary="Retrait",
                                  duration=timedelta(minutes=15))], method="REQUEST")
    assert b"METHOD:REQUEST" in doc
    [event] = parse(doc)
    assert event.decoded("dtstart") == start
    assert event.decoded("dtend") == start + timedelta(minutes=15)
    assert str(event["uid"]) == "i-1@fieldwork"


def test_a_callers_instant_comes_back_in_utc_or_is_bad_input():
    from datetime import datetime, timezone

    import pytest

    from fieldwork_common.errors import InvalidInput
    from fieldwork_common.serialize import parse_instant
    assert parse_instant("2026-07-25T04:47:34.13-21:32", "to") == datetime(
        2026, 7, 26, 2, 19, 34, 130000, tzinfo=timezone.utc)
    assert parse_instant("2026-01-01T00:00:00Z", "to").utcoffset().total_seconds() == 0
    for bad in ("2026-01-01T00:00:00", "yesterday", "", "0001-01-01T00:00:00+05:00"):
        with pytest.raises(InvalidInput):
            parse_instant(bad, "to")


def test_a_cursor_whose_values_do_not_fit_the_keys_is_bad_input():
    """Checked against the key columns' types, so that a crafted cursor
    never reaches PostgreSQL (a non-UUID id there is a server error)."""
    from datetime import datetime, timezone
    import uuid

    import pytest
    import sqlalchemy as sa
    from sqlalchemy.dialects.postgresql import UUID

    from fieldwork_common.errors import InvalidInput
    from fieldwork_common.pagination import decode_cursor, encode_cursor
    table = sa.Table("t", sa.MetaData(), sa.Column("position", sa.Integer),
                     sa.Column("created_at", sa.DateTime(timezone=True)),
                     sa.Column("id", UUID(as_uuid=False)))
    keys = (table.c.position, table.c.created_at, table.c.id)
    at, row_id = datetime(2026, 1, 1, tzinfo=timezone.utc), str(uuid.uuid4())
    assert decode_cursor(encode_cursor(3, at, row_id), keys) == (3, at, row_id)
    for values in ((3, at, "not-an-id"), ("3", at, row_id), (3, "yesterday", row_id), (3, at)):
        with pytest.raises(InvalidInput):
            decode_cursor(encode_cursor(*values), keys)


def test_a_command_that_must_not_store_its_answer_keeps_the_deadline():
    """`@command(remember=False)`: a new token's answer is never written to
    the idempotency table; the deadline still refuses a late call."""
    import time

    import pytest

    from fieldwork_common.commands import command
    from fieldwork_common.db import CallContext
    from fieldwork_common.errors import Unavailable
    from fieldwork_common.testing.fakes import FakeDb

    class Service:
        def __init__(self, call):
            self.db = FakeDb(call)

        @command(remember=False)
        def mint(self, uow):
            return {"token": "secret"}

    service = Service(CallContext(idempotency_key="k1", request_hash="h"))
    assert service.mint() == {"token": "secret"}
    [uow] = service.db.committed
    assert uow.remembered == {}
    late = Service(CallContext(idempotency_key="k2", request_hash="h", deadline=time.time() - 1))
    with pytest.raises(Unavailable):
        late.mint()
    assert late.db.committed == []
