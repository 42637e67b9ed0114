"""The caller of a command, as the gateway authenticated it.

The gateway puts it in nameko's context data (a JSON string under the
`principal` key); nameko forwards context data on every RPC a worker makes, so
a service-to-service call carries the original caller too.
"""
import json
from dataclasses import dataclass, asdict

from nameko.extensions import DependencyProvider

ROLES = ("admin", "manager", "technician", "client")
CONTEXT_KEY = "principal"


@dataclass(frozen=True)
class Principal:
    user_id: str
    role: str
    company_id: str | None = None
    technician_id: str | None = None
    client_id: str | None = None

    @property
    def is_admin(self):
        return self.role == "admin"

    @property
    def is_platform_admin(self):
        """An admin of the whole platform (no company): it sees every company,
        and alone runs the operations (dead letters, the email log)."""
        return self.role == "admin" and self.company_id is None

    def to_json(self):
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text):
        data = json.loads(text)
        return cls(**{k: data.get(k) for k in cls.__dataclass_fields__})


SYSTEM = Principal(user_id="system", role="admin")


class CurrentPrincipal(DependencyProvider):
    """Injects the worker's Principal, or None when the call carried none
    (an event handler, or a caller that is not the gateway)."""

    def get_dependency(self, worker_ctx):
        raw = worker_ctx.data.get(CONTEXT_KEY)
        if not raw:
            return None
        return Principal.from_json(raw)
