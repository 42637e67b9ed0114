"""The local copy of the interventions service's companies (company.created,
company.updated): what a survey reads when it is due (the survey option)."""
from fieldwork_common.consumer import event_handler
from fieldwork_common.projection import store_copy

from fieldwork_notifications.models import Company


class MasterData:
    """Mixed into the service: needs `db`."""

    @event_handler("interventions", "company.created")
    def on_company_created(self, envelope):
        self._keep_company(envelope, "notifications.on_company_created")

    @event_handler("interventions", "company.updated")
    def on_company_updated(self, envelope):
        """The local copy the survey timer reads (survey option)."""
        self._keep_company(envelope, "notifications.on_company_updated")

    def _keep_company(self, envelope, consumer):
        """Upsert the copy (id, name, survey option, version); an update
        delivered late never undoes a newer one."""
        store_copy(self.db, envelope, Company, consumer, version_column="version")
