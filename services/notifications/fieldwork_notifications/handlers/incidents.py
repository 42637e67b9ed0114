"""Emails of the incidents on a visit and of their conversations (seed 004):
an incident is declared at the start or the end of a visit by its worker,
its client or the provider's staff, then acknowledged, resolved, closed or
cancelled; each one opens a conversation between the client, the worker
and the provider.

Which event emails whom, in which language: `domain.incidents`. The
timeclock service's events carry every name and address the emails need:
nothing is asked of another service."""
from fieldwork_common.consumer import event_handler

from fieldwork_notifications.domain import incidents as rules


class Incidents:
    """Mixed into the service: needs the email machinery."""

    @event_handler("timeclock", "incident.declared")
    def on_incident_declared(self, envelope):
        """Emails the provider (the company's address), and the technician
        and the client unless they declared it: the reason, the moment, the
        description and who declared it, on which visit; a conversation is
        open for it."""
        to_send = rules.on_incident_declared(envelope["data"])
        self._record_and_send(envelope, to_send, "notifications.on_incident_declared")

    @event_handler("timeclock", "incident.updated")
    def on_incident_updated(self, envelope):
        """Emails the declarer (the technician or the client), unless it made
        the change: the incident acknowledged, resolved, closed or
        cancelled, with the reason given."""
        to_send = rules.on_incident_updated(envelope["data"])
        self._record_and_send(envelope, to_send, "notifications.on_incident_updated")

    @event_handler("timeclock", "conversation.message_posted")
    def on_conversation_message_posted(self, envelope):
        """Emails every participant but the author (never the client for an
        internal message): the author's side, the message, its files, the
        incident's reason and the visit's reference."""
        to_send = rules.on_conversation_message_posted(envelope["data"])
        self._record_and_send(envelope, to_send, "notifications.on_conversation_message_posted")
