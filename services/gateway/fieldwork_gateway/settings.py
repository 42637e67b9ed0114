"""Gateway settings, from the environment."""
import logging
import os
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from fieldwork_common import config

log = logging.getLogger(__name__)

DEV_JWT_SECRET = "dev-only-secret-change-me-in-production-please"


@dataclass
class Settings:
    amqp_uri: str = field(default_factory=config.amqp_uri)
    database_url: str = field(default_factory=lambda: config.database_url("gateway"))
    jwt_secret: str = field(default_factory=lambda: os.environ.get("JWT_SECRET", DEV_JWT_SECRET))
    token_ttl: int = field(default_factory=lambda: int(os.environ.get("TOKEN_TTL", "3600")))
    rpc_timeout: float = field(default_factory=config.rpc_timeout)
    health_timeout: float = field(default_factory=lambda: float(os.environ.get("HEALTH_TIMEOUT", "3")))
    rpc_pool: bool = field(default_factory=lambda: os.environ.get("GATEWAY_RPC_POOL", "on") != "off")
    admin_email: str = field(default_factory=lambda: os.environ.get("ADMIN_EMAIL", "admin@fieldwork.local"))
    admin_password: str = field(default_factory=lambda: os.environ.get("ADMIN_PASSWORD", "admin-password"))
    # dates on the tracking page; a zone that does not exist stops the start
    tracking_timezone: ZoneInfo = field(
        default_factory=lambda: ZoneInfo(os.environ.get("TRACKING_TIMEZONE") or "Europe/Paris"))

    def warn_about_defaults(self):
        if self.jwt_secret == DEV_JWT_SECRET:
            log.warning("JWT_SECRET is not set: using a development secret. Set it in production.")
        if "ADMIN_PASSWORD" not in os.environ:
            log.warning("ADMIN_PASSWORD is not set: the first admin gets the default password.")
