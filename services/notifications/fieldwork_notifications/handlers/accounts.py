"""Account emails (an invitation to choose a password, a password reset
link), asked for by the gateway, which owns the logins, over RPC
(`send_account_email`), not by an event: their link carries a secret that
no event subscriber may read."""
import sqlalchemy as sa

from fieldwork_common.errors import Forbidden, InvalidInput, Unavailable
from fieldwork_common.rpc import rpc
from fieldwork_common.serialize import is_uuid

from fieldwork_notifications.domain import accounts as account_emails
from fieldwork_notifications.emails import claimed_email
from fieldwork_notifications.models import Company, Email


class Accounts:
    """Mixed into the service: needs `db`, `principal` and the email machinery."""

    @rpc
    def send_account_email(self, link_id, template, recipient, language, context):
        """The gateway, for a login: an invitation to choose a password
        (`account_invitation`) or a password reset link (`password_reset`),
        sent before answering. Once per `link_id`: a repeated call sends
        nothing more. `context`: email, role, company_name (or company_id:
        the name is then read from the local copy of the companies),
        link_url, expires_at. Signed with the company's name, "Fieldwork"
        when there is none."""
        if self.principal is not None and not self.principal.is_admin:
            raise Forbidden("Only the gateway asks for account emails.")
        if not is_uuid(link_id):
            raise InvalidInput("link_id must be a UUID.", {"link_id": link_id})
        if isinstance(context, dict) and not context.get("company_name") \
                and is_uuid(context.get("company_id")):
            context = {**context, "company_name": self._company_name(context["company_id"])}
        try:
            item = account_emails.account_email(template, recipient, language, context)
        except account_emails.UnknownTemplate:
            raise InvalidInput("Unknown account email.", {"template": template,
                                                          "allowed": list(account_emails.TEMPLATES)})
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidInput("The account email's context is incomplete.",
                               {"reason": str(exc)[:200]}) from None
        if self.db.call.expired():
            raise Unavailable("The caller stopped waiting for this request; it was not run.",
                              {"reason": "deadline_passed"})
        with self.db.unit_of_work() as uow:
            known = uow.session.scalar(sa.select(Email.id).where(
                Email.event_id == link_id, Email.recipient == recipient, Email.template == template))
            claimed = None if known else claimed_email(uow.session, link_id, item)
        if claimed is not None:
            self._deliver(*claimed)
        return {"email_id": known or claimed[0]}

    def _company_name(self, company_id):
        with self.db.session() as session:
            return session.scalar(sa.select(Company.name).where(Company.id == str(company_id))) or ""
