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
    # sessions: a short access token, a refresh token that rotates at each use
    access_token_ttl: int = field(default_factory=lambda: _int("ACCESS_TOKEN_TTL", 900))
    refresh_token_ttl: int = field(default_factory=lambda: _int("REFRESH_TOKEN_TTL", 30 * 86400))
    # one-time links emailed to set a password
    invitation_ttl: int = field(default_factory=lambda: _int("INVITATION_TTL", 48 * 3600))
    password_reset_ttl: int = field(default_factory=lambda: _int("PASSWORD_RESET_TTL", 3600))
    password_resets_per_hour: int = field(default_factory=lambda: _int("PASSWORD_RESETS_PER_HOUR", 3))
    # where those links point: a page of the gateway, or a portal's own
    password_link_url: str = field(default_factory=lambda: os.environ.get("PASSWORD_LINK_URL")
                                   or config.public_url() + "/password/{token}")
    common_passwords_file: str | None = field(
        default_factory=lambda: os.environ.get("COMMON_PASSWORDS_FILE") or None)
    # login throttling (per account, and per client address)
    login_max_failures: int = field(default_factory=lambda: _int("LOGIN_MAX_FAILURES", 5))
    login_address_max_failures: int = field(
        default_factory=lambda: _int("LOGIN_ADDRESS_MAX_FAILURES", 5))
    login_failure_window: int = field(default_factory=lambda: _int("LOGIN_FAILURE_WINDOW", 900))
    login_lockout: float = field(default_factory=lambda: _float("LOGIN_LOCKOUT", 30))
    login_lockout_max: float = field(default_factory=lambda: _float("LOGIN_LOCKOUT_MAX", 900))
    # X-Forwarded-For hops to trust (the reverse proxies in front of the gateway)
    proxy_hops: int = field(default_factory=lambda: _int("GATEWAY_PROXY_HOPS", 0))
    # browser origins of the portals allowed to call the API (CORS); none by default
    cors_origins: tuple = field(default_factory=lambda: tuple(
        o.strip() for o in os.environ.get("CORS_ORIGINS", "").split(",") if o.strip()))
    rpc_timeout: float = field(default_factory=config.rpc_timeout)
    health_timeout: float = field(default_factory=lambda: float(os.environ.get("HEALTH_TIMEOUT", "3")))
    rpc_pool: bool = field(default_factory=lambda: os.environ.get("GATEWAY_RPC_POOL", "on") != "off")
    admin_email: str = field(default_factory=lambda: os.environ.get("ADMIN_EMAIL", "admin@fieldwork.local"))
    admin_password: str = field(default_factory=lambda: os.environ.get("ADMIN_PASSWORD", "admin-password"))
    # dates on the tracking page; a zone that does not exist stops the start
    tracking_timezone: ZoneInfo = field(
        default_factory=lambda: ZoneInfo(os.environ.get("TRACKING_TIMEZONE") or "Europe/Paris"))

    def __post_init__(self):
        if "{token}" not in self.password_link_url:
            raise ValueError("PASSWORD_LINK_URL must contain {token}")
        if "*" in self.cors_origins and len(self.cors_origins) > 1:
            raise ValueError("CORS_ORIGINS is either * or a list of origins")

    def accounts_policy(self):
        """What the accounts store needs of these settings."""
        from fieldwork_gateway.wings.accounts import rules
        from fieldwork_gateway.wings.accounts.store import Policy
        throttle = dict(window=self.login_failure_window, base=self.login_lockout,
                        cap=self.login_lockout_max)
        return Policy(
            access_ttl=self.access_token_ttl, refresh_ttl=self.refresh_token_ttl,
            invitation_ttl=self.invitation_ttl, reset_ttl=self.password_reset_ttl,
            resets_per_hour=self.password_resets_per_hour,
            throttle=rules.Throttle(max_failures=self.login_max_failures, **throttle),
            address_throttle=rules.Throttle(max_failures=self.login_address_max_failures, **throttle),
            common_passwords=rules.load_common_passwords(self.common_passwords_file))

    def warn_about_defaults(self):
        if self.jwt_secret == DEV_JWT_SECRET:
            log.warning("JWT_SECRET is not set: using a development secret. Set it in production.")
        if "ADMIN_PASSWORD" not in os.environ:
            log.warning("ADMIN_PASSWORD is not set: the first admin gets the default password.")


def _int(name, default):
    value = os.environ.get(name)
    return int(value) if value not in (None, "") else default


def _float(name, default):
    value = os.environ.get(name)
    return float(value) if value not in (None, "") else default
