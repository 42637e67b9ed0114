"""What the notifications unit tests share: one event handler of the
service run through nameko's worker_factory on a fake unit of work, with
the SMTP sending faked at the boundary (`mailer.send`)."""
from dataclasses import dataclass, field

import pytest
from nameko.testing.services import worker_factory

from fieldwork_common.testing.fakes import FakeDb, FakeUnitOfWork
from fieldwork_notifications import mailer
from fieldwork_notifications.models import Email
from fieldwork_notifications.service import NotificationsService


@dataclass
class Handled:
    """What one handler call did: the inbox consumers it claimed, the Email
    rows it recorded, the emails it sent ((args, kwargs) of mailer.send)."""
    consumers: list = field(default_factory=list)
    rows: list = field(default_factory=list)
    sent: list = field(default_factory=list)

    def assert_emailed(self, method, event_id, template, recipients):
        """`method` claimed the event once, recorded one `template` email per
        recipient, in order, and sent each as recorded (text and HTML)."""
        assert self.consumers == [f"notifications.{method}"]
        assert [row.recipient for row in self.rows] == recipients
        assert all(row.template == template and row.event_id == event_id and row.html_body
                   for row in self.rows)
        assert [args[0] for args, _ in self.sent] == recipients
        assert [kwargs["html"] for _, kwargs in self.sent] == [row.html_body for row in self.rows]


@pytest.fixture
def handle(monkeypatch):
    """handle(method, envelope, first_time=True) → Handled."""
    def run(method, envelope, first_time=True):
        done = Handled()
        monkeypatch.setattr(mailer, "send", lambda *args, **kwargs: done.sent.append((args, kwargs)))
        monkeypatch.setattr(FakeUnitOfWork, "first_time",
                            lambda self, env, consumer: done.consumers.append(consumer) or first_time)
        service = worker_factory(NotificationsService, db=FakeDb())
        getattr(service, method)(envelope)
        [uow] = service.db.committed
        done.rows = [c.args[0] for c in uow.session.add.call_args_list
                     if isinstance(c.args[0], Email)]
        if not first_time:
            assert uow.session.add.call_args_list == []
        return done
    return run


@pytest.fixture
def subscriptions():
    """The service's event handlers: {(source service, event type): method name}."""
    import inspect
    found = {}
    for name, method in inspect.getmembers(NotificationsService, inspect.isfunction):
        for entrypoint in getattr(method, "nameko_entrypoints", ()):
            if hasattr(entrypoint, "event_type"):
                found[(entrypoint.source_service, entrypoint.event_type)] = name
    return found
