"""RPC methods every service offers: its health, and its dead letters for
operators. A service mixes `Operations` in and has `db`, `principal` and
`topology` dependencies."""
from fieldwork_common.rpc import rpc

from fieldwork_common.errors import Forbidden


class Operations:

    @rpc
    def health(self):
        """Anyone. Answers when the service and its database are up."""
        self.db.ping()
        return {"service": self.name, "status": "ok"}

    @rpc
    def list_dead_letters(self):
        """Platform admins: the events this service gave up on after its retries."""
        _require_admin(self.principal)
        return self.topology.list()

    @rpc
    def replay_dead_letters(self, ids):
        """Platform admins: send dead letters (a list of ids, or "all") back to the
        queue they failed in, once their cause is fixed."""
        _require_admin(self.principal)
        return self.topology.replay(ids)


def _require_admin(principal):
    # they carry every company's events: an admin of one company may not
    if principal is None or not principal.is_platform_admin:
        raise Forbidden("Only an admin of the whole platform handles dead letters.")
