"""Emails of the customer requests: the end customer reads that its request
is received, the messages the staff write to it with the request's status,
a cancellation by the staff and a reopening.

Which event emails whom, in which language: `domain.requests`. The requests
service's events carry every name and address the emails need: nothing is
asked of another service. `request.updated` sends nothing (not
subscribed)."""
from fieldwork_common.consumer import event_handler

from fieldwork_notifications.domain import requests as rules


class Requests:
    """Mixed into the service: needs the email machinery."""

    @event_handler("requests", "request.created")
    def on_request_created(self, envelope):
        """Emails the client: its request is received under its number, with
        the type, the symptom and the description; it will be kept
        informed."""
        to_send = rules.on_request_created(envelope["data"])
        self._record_and_send(envelope, to_send, "notifications.on_request_created")

    @event_handler("requests", "request.action_added")
    def on_request_action_added(self, envelope):
        """Emails the client: the message the staff wrote to it, with the
        request's status (in progress, planned, closed)."""
        to_send = rules.on_request_action_added(envelope["data"])
        self._record_and_send(envelope, to_send, "notifications.on_request_action_added")

    @event_handler("requests", "request.closed")
    def on_request_closed(self, envelope):
        """Emails the client when the staff cancelled its request, with the
        reason; a closing by an action or a cancellation by the client
        sends nothing."""
        to_send = rules.on_request_closed(envelope["data"])
        self._record_and_send(envelope, to_send, "notifications.on_request_closed")

    @event_handler("requests", "request.reopened")
    def on_request_reopened(self, envelope):
        """Emails the client: its request is reopened, with the reason."""
        to_send = rules.on_request_reopened(envelope["data"])
        self._record_and_send(envelope, to_send, "notifications.on_request_reopened")
