"""Emails of a visit's validation (seed 001): a visit of an intervention at
a client's home or site is declared by its worker, validated or disputed by
its client, the dispute accepted or refused by the worker, a refused one
settled by a manager; reminders go to whoever it waits for.

Which event emails whom, in which language: `domain.visits`. The events
carry every name and address the emails need: nothing is asked of another
service. `visit.planned`, `visit.rescheduled`, `visit.cancelled`,
`visit.dispute_accepted` and `visit.validated` send nothing (not
subscribed)."""
from fieldwork_common.consumer import event_handler

from fieldwork_notifications.domain import visits as rules


class Visits:
    """Mixed into the service: needs the email machinery."""

    @event_handler("interventions", "visit.declared")
    def on_visit_declared(self, envelope):
        """Emails the client: the visit declared done, with its times, km and
        the worker's comment, to validate or dispute from its portal; or
        declared cancelled, with the reason."""
        to_send = rules.on_visit_declared(envelope["data"])
        self._record_and_send(envelope, to_send, "notifications.on_visit_declared")

    @event_handler("interventions", "visit.disputed")
    def on_visit_disputed(self, envelope):
        """Emails the technician: the client's refusal reason, its declared
        and the client's corrected values, to accept or refuse."""
        to_send = rules.on_visit_disputed(envelope["data"])
        self._record_and_send(envelope, to_send, "notifications.on_visit_disputed")

    @event_handler("interventions", "visit.dispute_refused")
    def on_visit_dispute_refused(self, envelope):
        """Emails the manager (the company's address): a dispute to settle,
        both sets of values and the worker's comments."""
        to_send = rules.on_visit_dispute_refused(envelope["data"])
        self._record_and_send(envelope, to_send, "notifications.on_visit_dispute_refused")

    @event_handler("interventions", "visit.arbitrated")
    def on_visit_arbitrated(self, envelope):
        """Emails the technician and the client, each in its language: the
        values the manager kept and its reason."""
        to_send = rules.on_visit_arbitrated(envelope["data"])
        self._record_and_send(envelope, to_send, "notifications.on_visit_arbitrated")

    @event_handler("interventions", "visit.reminder")
    def on_visit_reminder(self, envelope):
        """Reminds whoever the visit waits for (`stage`): the technician, the
        client (with the tacit validation date, when there is one) or the
        manager (the company's address)."""
        to_send = rules.on_visit_reminder(envelope["data"])
        self._record_and_send(envelope, to_send, "notifications.on_visit_reminder")
