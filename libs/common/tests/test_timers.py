"""The pure parts of fieldwork_common.timers (the poller against real
PostgreSQL and two replicas: tests/integration/test_timers.py)."""
import logging
from datetime import datetime, timedelta, timezone
from unittest.mock import MagicMock

import pytest
from nameko.extensions import ENTRYPOINT_EXTENSIONS_ATTR
from sqlalchemy.dialects import postgresql

from fieldwork_common import timers
from fieldwork_common.db import UnitOfWork
from fieldwork_common.testing.fakes import FakeDb

NOON = datetime(2026, 3, 3, 12, 0, tzinfo=timezone.utc)


def sql_of(statement):
    return str(statement.compile(dialect=postgresql.dialect()))


@pytest.mark.parametrize("attempts,expected", [(1, 5), (2, 10), (3, 20), (4, 40), (12, 3600), (40, 3600)])
def test_retries_wait_longer_each_time_at_most_an_hour(attempts, expected):
    assert timers.retry_delay(attempts, 5) == expected


def test_after_the_last_attempt_a_timer_is_failed():
    assert timers.after_failure(1, 3, 0.5) == ("retry", 0.5)
    assert timers.after_failure(2, 3, 0.5) == ("retry", 1.0)
    assert timers.after_failure(3, 3, 0.5) == ("failed", None)
    assert timers.after_failure(1, 1, 0.5) == ("failed", None)


def test_a_due_time_is_aware_or_counted_from_the_transactions_now():
    assert timers.due_expression(NOON) is NOON
    relative = timers.due_expression(timedelta(minutes=5))
    assert "now()" in sql_of(relative)
    with pytest.raises(ValueError):
        timers.due_expression(datetime(2026, 3, 3, 12, 0))
    with pytest.raises(TypeError):
        timers.due_expression(3600)


@pytest.mark.parametrize("kind,key", [("", "k"), ("  ", "k"), (None, "k"), ("kind", ""), ("kind", None)])
def test_a_timer_is_named_by_a_kind_and_a_key(kind, key):
    with pytest.raises(ValueError):
        timers.check_name(kind, key)


def test_keys_are_stored_as_text():
    assert timers.check_name("survey.due", 42) == ("survey.due", "42")


def test_settings_come_from_the_environment():
    assert timers.settings({}) == (1.0, 5.0, 8)
    assert timers.settings({"TIMER_POLL": "0.2", "TIMER_RETRY_BASE": "0.5",
                            "TIMER_MAX_ATTEMPTS": "3"}) == (0.2, 0.5, 3)
    for bad in ({"TIMER_POLL": "0"}, {"TIMER_MAX_ATTEMPTS": "0"}, {"TIMER_RETRY_BASE": "-1"}):
        with pytest.raises(ValueError):
            timers.settings(bad)


def test_an_error_is_kept_short():
    assert timers.error_text(ValueError("bad\nsecond line")) == "ValueError: bad"
    assert timers.error_text(KeyError()) == "KeyError"
    assert len(timers.error_text(ValueError("x" * 2000))) == timers.ERROR_MAX_LENGTH


def test_scheduling_inserts_or_moves_the_timer_of_that_kind_and_key():
    session = MagicMock()
    session.execute.return_value.one.return_value = MagicMock(id=7, created=True)
    assert timers.schedule(session, "survey.due", "s1", NOON, {"a": 1}) == (7, True)
    [call] = session.execute.call_args_list
    sql = sql_of(call.args[0])
    assert sql.startswith("INSERT INTO timers")
    assert "ON CONFLICT (kind, key) DO UPDATE SET due_at = excluded.due_at" in sql
    assert "status = %(param_1)s" in sql and "attempts = %(param_2)s" in sql
    assert "RETURNING timers.id, xmax = 0 AS created" in sql
    params = call.args[0].compile(dialect=postgresql.dialect()).params
    assert params["kind"] == "survey.due" and params["key"] == "s1" and params["payload"] == {"a": 1}
    assert params["status"] == "pending" and params["param_1"] == "pending" and params["param_2"] == 0


def test_cancelling_leaves_a_fired_timer_alone():
    session = MagicMock()
    session.execute.return_value.first.return_value = None
    assert timers.cancel(session, "survey.due", "s1") is False
    sql = sql_of(session.execute.call_args.args[0])
    assert sql.startswith("UPDATE timers SET status=")
    assert "timers.status IN (__[POSTCOMPILE_status_1])" in sql
    params = session.execute.call_args.args[0].compile(dialect=postgresql.dialect()).params
    assert params["status_1"] == ["pending", "failed"] and params["status"] == "cancelled"


def test_the_unit_of_work_schedules_and_cancels_in_its_session():
    session = MagicMock()
    session.execute.return_value.one.return_value = MagicMock(id=3, created=False)
    uow = UnitOfWork(session, "notifications", "c")
    assert uow.schedule("survey.due", "s1", timedelta(seconds=6)) == 3
    session.execute.return_value.first.return_value = MagicMock(id=3)
    assert uow.cancel_timer("survey.due", "s1") is True


def test_after_commit_actions_run_once_and_a_failing_one_is_only_logged(caplog):
    uow = UnitOfWork(MagicMock(), "p", "c")
    ran = []
    uow.after_commit(lambda: ran.append(1))
    uow.after_commit(lambda: 1 / 0)
    uow.after_commit(lambda: ran.append(3))
    with caplog.at_level(logging.ERROR):
        uow.run_after_commit()
    assert ran == [1, 3] and "after-commit action failed" in caplog.text
    uow.run_after_commit()
    assert ran == [1, 3]


def test_what_a_rolled_back_savepoint_did_is_forgotten():
    uow = UnitOfWork(MagicMock(), "p", "c")
    uow.publish("a.happened", "1", {})
    uow.after_commit(lambda: None)
    mark = uow.mark()
    uow.publish("b.happened", "2", {})
    uow.after_commit(lambda: pytest.fail("rolled back"))
    uow.rollback_to(mark)
    assert [e["event_type"] for e in uow.events] == ["a.happened"]
    uow.run_after_commit()


def test_the_fake_unit_of_work_records_timers_and_runs_after_commit_actions():
    db = FakeDb()
    ran = []
    with db.unit_of_work() as uow:
        uow.schedule("survey.due", "s1", NOON, {"x": 1})
        uow.after_commit(lambda: ran.append("sent"))
        assert ran == []
    assert uow.scheduled == {("survey.due", "s1"): (NOON, {"x": 1})} and ran == ["sent"]
    with db.unit_of_work() as uow:
        assert uow.cancel_timer("survey.due", "s2") is False
    assert uow.cancelled == [("survey.due", "s2")]


class Service:
    @timers.timer_handler("visit.remind")
    def remind(self, uow, timer):
        return timer.key


def test_a_handler_is_a_plain_method_marked_with_its_kind():
    [entrypoint] = getattr(Service.remind, ENTRYPOINT_EXTENSIONS_ATTR)
    assert isinstance(entrypoint, timers.TimerHandler) and entrypoint.kind == "visit.remind"
    assert Service().remind(None, timers.Timer(1, "visit.remind", "v1", NOON)) == "v1"
    with pytest.raises(ValueError):
        timers.timer_handler("")(lambda self, uow, timer: None)


def test_one_kind_has_one_handler_per_service():
    poller = timers.TimerPoller()
    first, second = MagicMock(kind="a", method_name="one"), MagicMock(kind="a", method_name="two")
    poller.register(first)
    poller.register(first)  # the same entrypoint again is harmless
    with pytest.raises(ValueError, match="two handlers"):
        poller.register(second)
    poller.unregister(first)
    assert poller._handlers == {}
