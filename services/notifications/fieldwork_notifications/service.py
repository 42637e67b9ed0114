"""The notifications service: turns events into emails, and runs the
satisfaction surveys.

One nameko service, made of one mixin per source domain (DESIGN.md §6):

- `handlers.workshop`: the emails of an intervention's life (created,
  awaiting pickup, delivered);
- `handlers.visits`: the emails of a visit's validation at a client's
  (declared, disputed, a dispute to settle, arbitrated, reminders);
- `handlers.incidents`: the emails of the incidents on a visit and of their
  conversations (declared, acknowledged, resolved, closed or cancelled, a
  new message);
- `handlers.requests`: the emails of the customer requests to the end
  customer (received, a message with the status, cancelled by the staff,
  reopened);
- `handlers.surveys`: satisfaction surveys (planned on delivery, cancelled
  by a reopening, sent when due, answered, summarised);
- `handlers.accounts`: the account emails the gateway asks for (RPC);
- `handlers.masterdata`: the local copy of the companies;

on one email machinery (`emails`: record, claim, send, retry, the email
log) and the operators' RPCs every service has (`fieldwork_common.operations`).

Each handled event and the emails it produces are written in one
transaction (inbox + `emails` rows, attachments included), then sent over
SMTP (docs/reliability.md).
"""
# modules, not classes: `nameko run` must see one service in this module
from fieldwork_common import operations
from fieldwork_common.consumer import Topology
from fieldwork_common.db import Database
from fieldwork_common.principal import CurrentPrincipal
from fieldwork_common.rpc import RpcProxy

from fieldwork_notifications import SERVICE_NAME, emails
from fieldwork_notifications.handlers import (accounts, incidents, masterdata, requests, surveys,
                                              visits, workshop)


class NotificationsService(workshop.Workshop, visits.Visits, incidents.Incidents, requests.Requests,
                           surveys.Surveys, accounts.Accounts, masterdata.MasterData,
                           emails.EmailMachinery, operations.Operations):
    name = SERVICE_NAME

    db = Database(SERVICE_NAME, "fieldwork_notifications:migrations")
    principal = CurrentPrincipal()
    topology = Topology()
    interventions = RpcProxy("interventions")
