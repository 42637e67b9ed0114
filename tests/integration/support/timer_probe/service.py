"""The timer probe: `nameko run timer_probe.service` (PYTHONPATH = the
support folder). RPC `schedule` and `cancel` set timers in a unit of work,
as a command would; the handlers below fire them.

- `probe.effect`: records one `effects` row and publishes `probe.fired`, in
  the timer's transaction; `payload.work_ms` makes the handler hold that
  transaction open for a while, as a handler doing real database work would
  (so that a kill lands inside some transactions);
- `probe.flaky`: fails until its attempt number reaches `payload.succeed_at`;
- `probe.until_fixed`: fails until a `fixes` row names its key (an operator
  then retries it).
"""
import os
from datetime import datetime, timedelta

import sqlalchemy as sa

from fieldwork_common.db import Database
from fieldwork_common.rpc import rpc
from fieldwork_common.timers import timer_handler

SERVICE_NAME = "timer_probe"


class ProbeFailure(Exception):
    pass


def _due(item):
    if "due_at" in item:
        return datetime.fromisoformat(item["due_at"].replace("Z", "+00:00"))
    return timedelta(seconds=float(item["due_in"]))


class TimerProbe:
    name = SERVICE_NAME

    db = Database(SERVICE_NAME, "timer_probe:migrations")

    @rpc
    def health(self):
        self.db.ping()
        return {"service": SERVICE_NAME, "status": "ok", "pid": os.getpid()}

    @rpc
    def schedule(self, items):
        """[{kind, key, due_in (seconds) or due_at (RFC 3339), payload}]: one
        unit of work; the ids."""
        with self.db.unit_of_work() as uow:
            return [uow.schedule(i["kind"], i["key"], _due(i), i.get("payload")) for i in items]

    @rpc
    def cancel(self, kind, key):
        with self.db.unit_of_work() as uow:
            return uow.cancel_timer(kind, key)

    def _effect(self, uow, timer):
        uow.session.execute(sa.text(
            "INSERT INTO effects (kind, key, replica, attempt, payload) "
            "VALUES (:kind, :key, :replica, :attempt, CAST(:payload AS jsonb))"),
            {"kind": timer.kind, "key": timer.key, "replica": os.getpid(),
             "attempt": timer.attempt, "payload": _json(timer.payload)})
        uow.publish("probe.fired", timer.key, {"kind": timer.kind, "key": timer.key})

    @timer_handler("probe.effect")
    def on_effect(self, uow, timer):
        self._effect(uow, timer)
        work_ms = float(timer.payload.get("work_ms") or 0)
        if work_ms:
            uow.session.execute(sa.text("SELECT pg_sleep(:s)"), {"s": work_ms / 1000})

    @timer_handler("probe.flaky")
    def on_flaky(self, uow, timer):
        self._effect(uow, timer)  # rolled back with the failure: never seen twice
        if timer.attempt < int(timer.payload.get("succeed_at", 1)):
            raise ProbeFailure(f"attempt {timer.attempt} fails on purpose")

    @timer_handler("probe.until_fixed")
    def on_until_fixed(self, uow, timer):
        fixed = uow.session.execute(sa.text("SELECT 1 FROM fixes WHERE key = :k"),
                                    {"k": timer.key}).first()
        if fixed is None:
            raise ProbeFailure("not fixed yet")
        self._effect(uow, timer)


def _json(value):
    import json
    return json.dumps(value)
