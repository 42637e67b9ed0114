"""Local copies (fieldwork_common.projection): the rule that keeps a copy
from going back in time, and the statements it leads to, with a fake
database that records them."""
import uuid
from contextlib import contextmanager

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from fieldwork_common import projection
from fieldwork_common.envelope import make_envelope
from fieldwork_common.projection import APPLY, IGNORE, WAIT, CopyMissing, decide_change


class Base(DeclarativeBase):
    type_annotation_map = {str: sa.Text}


class Copy(Base):
    __tablename__ = "copies"
    id: Mapped[str] = mapped_column(primary_key=True)
    company_id: Mapped[str]
    technician_id: Mapped[str]
    version: Mapped[int] = mapped_column(sa.Integer, server_default=sa.text("1"))


class Result:
    def __init__(self, row):
        self.row = row

    def first(self):
        return self.row


class FakeSession:
    """Answers the version SELECT with the stored version (None: no row)
    and records every statement, compiled for PostgreSQL."""

    def __init__(self, stored):
        self.stored = stored
        self.statements = []

    def execute(self, statement):
        compiled = statement.compile(dialect=postgresql.dialect())
        self.statements.append((str(compiled), compiled.params))
        if isinstance(statement, sa.Select):
            return Result(None if self.stored is None else (self.stored,))
        return Result(None)


class FakeUow:
    def __init__(self, session, seen):
        self.session, self.seen = session, seen

    def first_time(self, envelope, consumer):
        key = (envelope["event_id"], consumer)
        if key in self.seen:
            return False
        self.seen.add(key)
        return True


class FakeDb:
    def __init__(self, stored=None):
        self.session = FakeSession(stored)
        self.seen = set()
        self.committed, self.rolled_back = 0, 0

    @contextmanager
    def unit_of_work(self):
        seen = set(self.seen)
        try:
            yield FakeUow(self.session, seen)
        except BaseException:
            self.rolled_back += 1
            raise
        self.seen = seen
        self.committed += 1

    def updates(self):
        return [(sql, params) for sql, params in self.session.statements if sql.startswith("UPDATE")]


def assigned(version, previous="t-old", technician="t-new", company="c-new", id_="i-1"):
    return make_envelope("interventions", "intervention.assigned", id_, {
        "id": id_, "company_id": company, "technician_id": technician,
        "previous_technician_id": previous,
        "technician": {"id": technician, "name": "T", "email": "t@example.test"},
        "at": "2026-01-01T00:00:00Z", "by": str(uuid.uuid4()), "version": version})


# --- the rule -----------------------------------------------------------------

@pytest.mark.parametrize("stored,event,expected,decision", [
    (1, 2, True, APPLY),       # a newer event changes the copy
    (3, 2, True, IGNORE),      # an older event arriving late never overwrites it
    (2, 2, True, IGNORE),      # the same version: already there
    (1, 1, False, IGNORE),     # the creation-time assignment over the created copy
    (None, 2, True, WAIT),     # no copy yet: wait for intervention.created
    (None, 1, False, IGNORE),  # no copy, none needed: intervention.created carries it
    (0, 1, True, APPLY),
])
def test_a_change_applies_only_when_newer_than_the_copy(stored, event, expected, decision):
    assert decide_change(stored, event, copy_expected=expected) == decision


# --- intervention.assigned on a copy -----------------------------------------

def test_a_reassignment_moves_the_copy_to_the_new_technician_and_company():
    db = FakeDb(stored=1)
    assert projection.follow_assignment(db, assigned(2), Copy, "svc.on_assigned") == APPLY
    [(sql, params)] = db.updates()
    assert sql.startswith("UPDATE copies SET")
    assert params["technician_id"] == "t-new" and params["company_id"] == "c-new"
    assert params["version"] == 2 and params["id_1"] == "i-1"


def test_an_older_assignment_arriving_after_a_newer_one_changes_nothing():
    db = FakeDb(stored=1)
    newer, older = assigned(3, technician="t-3"), assigned(2, technician="t-2")
    assert projection.follow_assignment(db, newer, Copy, "svc.on_assigned") == APPLY
    db.session.stored = 3   # what the UPDATE left
    assert projection.follow_assignment(db, older, Copy, "svc.on_assigned") == IGNORE
    [(_, params)] = db.updates()
    assert params["technician_id"] == "t-3" and params["version"] == 3


def test_the_version_is_read_under_a_row_lock():
    db = FakeDb(stored=1)
    projection.follow_assignment(db, assigned(2), Copy, "svc.on_assigned")
    select = db.session.statements[0][0]
    assert select.startswith("SELECT copies.version") and select.endswith("FOR UPDATE")


def test_a_reassignment_before_its_copy_exists_fails_to_be_retried_and_records_nothing():
    db = FakeDb(stored=None)
    envelope = assigned(2)
    with pytest.raises(CopyMissing, match="i-1"):
        projection.follow_assignment(db, envelope, Copy, "svc.on_assigned")
    assert db.rolled_back == 1 and db.seen == set()   # the inbox entry is rolled back too
    assert db.updates() == []
    # the retry, once intervention.created has made the copy
    db.session.stored = 1
    assert projection.follow_assignment(db, envelope, Copy, "svc.on_assigned") == APPLY
    assert len(db.updates()) == 1


def test_the_creation_time_assignment_needs_no_copy():
    db = FakeDb(stored=None)
    assert projection.follow_assignment(db, assigned(1, previous=None), Copy,
                                        "svc.on_assigned") == IGNORE
    assert db.committed == 1 and db.updates() == []


def test_a_redelivered_assignment_is_handled_once():
    db = FakeDb(stored=1)
    envelope = assigned(2)
    assert projection.follow_assignment(db, envelope, Copy, "svc.on_assigned") == APPLY
    assert projection.follow_assignment(db, envelope, Copy, "svc.on_assigned") == IGNORE
    assert len(db.updates()) == 1


# --- store_copy ---------------------------------------------------------------

def created(version=1):
    return make_envelope("interventions", "intervention.created", "i-1", {
        "id": "i-1", "company_id": "c-1", "technician_id": "t-1", "version": version,
        "client": {"id": "x"}, "location": "workshop"})


def test_store_copy_keeps_only_the_tables_columns():
    db = FakeDb()
    assert projection.store_copy(db, created(), Copy, "svc.on_created")
    [(sql, params)] = db.session.statements
    assert sql.startswith("INSERT INTO copies")
    assert {k: params[k] for k in ("id", "company_id", "technician_id", "version")} == {
        "id": "i-1", "company_id": "c-1", "technician_id": "t-1", "version": 1}
    assert "client" not in params and "location" not in params
    assert "WHERE" not in sql   # without a version guard it overwrites


def test_store_copy_with_a_version_guard_never_overwrites_a_newer_copy():
    db, envelope = FakeDb(), created()
    assert projection.store_copy(db, envelope, Copy, "svc.on_created", version_column="version")
    [(sql, _)] = db.session.statements
    assert "ON CONFLICT (id) DO UPDATE SET" in sql
    assert sql.endswith("WHERE copies.version IS NULL OR copies.version < excluded.version")
    assert not projection.store_copy(db, envelope, Copy, "svc.on_created",
                                     version_column="version")   # redelivery
    assert len(db.session.statements) == 1
