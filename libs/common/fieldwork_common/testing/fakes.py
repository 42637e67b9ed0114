"""Fakes at the boundary for unit tests (with nameko's worker_factory): a
database handle whose units of work record what they would have committed."""
from contextlib import contextmanager
from unittest.mock import MagicMock

from fieldwork_common.db import CallContext


class FakeUnitOfWork:
    def __init__(self):
        self.session = MagicMock(name="session")
        self.events = []
        self.remembered = {}
        self.scheduled = {}     # (kind, key) -> (due_at, payload)
        self.cancelled = []     # (kind, key)
        self.after_commit_actions = []

    def publish(self, event_type, aggregate_id, data, event_version=1):
        self.events.append((event_type, str(aggregate_id), data))

    def claim(self, key, request_hash):
        return None

    def remember(self, key, response):
        self.remembered[key] = response

    def first_time(self, envelope, consumer):
        return True

    def schedule(self, kind, key, due_at, payload=None):
        self.scheduled[(kind, str(key))] = (due_at, dict(payload or {}))
        return len(self.scheduled)

    def cancel_timer(self, kind, key):
        self.cancelled.append((kind, str(key)))
        return self.scheduled.pop((kind, str(key)), None) is not None

    def after_commit(self, action):
        self.after_commit_actions.append(action)

    def run_after_commit(self):
        actions, self.after_commit_actions = self.after_commit_actions, []
        for action in actions:
            action()


class FakeDb:
    def __init__(self, call=None):
        self.call = call or CallContext()
        self.committed = []   # units of work that reached commit
        self.rolled_back = []

    @contextmanager
    def unit_of_work(self):
        uow = FakeUnitOfWork()
        try:
            yield uow
        except BaseException:
            self.rolled_back.append(uow)
            raise
        self.committed.append(uow)
        uow.run_after_commit()

    session = MagicMock(name="session")

    def ping(self):
        return True

    @property
    def published(self):
        return [event for uow in self.committed for event in uow.events]
