"""Emails of a workshop intervention's life (issue 4): registered (with the
tracking link), awaiting pickup (with the date as an ICS invitation),
delivered (the receipt confirmation; the satisfaction survey is planned in
the same transaction, by the surveys mixin's `plan_survey`).

Links point at the gateway (`PUBLIC_URL`): the client's tracking page,
whose token the interventions service issues (RPC `issue_tracking_token`,
asked before the event's transaction; if it does not answer, the handler
fails and the event is retried)."""
from fieldwork_common import config
from fieldwork_common.consumer import event_handler

from fieldwork_notifications.domain import emails as rules


class Workshop:
    """Mixed into the service: needs `interventions` (RPC), the email
    machinery and, for deliveries, `plan_survey` (handlers.surveys)."""

    @event_handler("interventions", "intervention.created")
    def on_intervention_created(self, envelope):
        """Emails the client that its intervention is registered, with the
        link to its tracking page."""
        data = envelope["data"]
        to_send = rules.on_intervention_created(data, self._tracking_url(data["id"]))
        self._record_and_send(envelope, to_send, "notifications.on_intervention_created")

    @event_handler("interventions", "intervention.closed")
    def on_intervention_closed(self, envelope):
        """Awaiting pickup: emails the client, with the pickup or delivery
        date and an ICS invitation when there is a date."""
        data = envelope["data"]
        to_send = rules.on_intervention_closed(data, self._tracking_url(data["id"]))
        self._record_and_send(envelope, to_send, "notifications.on_intervention_closed")

    @event_handler("interventions", "intervention.delivered")
    def on_intervention_delivered(self, envelope):
        """Emails the receipt confirmation; when the company's survey option
        is on, plans a survey due SURVEY_DELAY seconds after delivery."""
        data = envelope["data"]
        to_send = rules.on_intervention_delivered(data, self._tracking_url(data["id"]))
        self._record_and_send(envelope, to_send, "notifications.on_intervention_delivered",
                              also=lambda uow: self.plan_survey(uow, envelope))

    def _tracking_url(self, intervention_id):
        """The client's tracking link. Raises when interventions does not
        answer: the event is then retried (fieldwork_common.consumer)."""
        issued = self.interventions.issue_tracking_token(intervention_id=intervention_id)
        return config.public_url() + issued["url_path"]
