"""Configuration from the environment, with defaults that work on a machine
where RabbitMQ and PostgreSQL run locally with their stock settings."""
import os
from urllib.parse import urlsplit, urlunsplit

DEFAULT_AMQP_URI = "amqp://guest:guest@127.0.0.1:5672/"
DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/"

SERVICES = ("requests", "interventions", "timeclock", "notifications", "gateway")


def amqp_uri():
    return os.environ.get("AMQP_URI", DEFAULT_AMQP_URI)


def postgres_url():
    return os.environ.get("POSTGRES_URL", DEFAULT_POSTGRES_URL)


def database_url(service):
    """`<SERVICE>_DATABASE_URL` if set, else `fieldwork_<service>` on the
    server named by `POSTGRES_URL`."""
    explicit = os.environ.get(f"{service.upper()}_DATABASE_URL")
    if explicit:
        return explicit
    return with_database(postgres_url(), f"fieldwork_{service}")


def with_database(url, name):
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, ""))


def rpc_timeout():
    return float(os.environ.get("RPC_TIMEOUT", "10"))


def smtp_settings():
    return {
        "host": os.environ.get("SMTP_HOST", "127.0.0.1"),
        "port": int(os.environ.get("SMTP_PORT", "1025")),
        "sender": os.environ.get("SMTP_FROM", "Fieldwork <no-reply@fieldwork.local>"),
    }


def public_url():
    """The address users reach the gateway at, for links in emails
    (`PUBLIC_URL`, default http://localhost:8000), without a trailing slash."""
    return (os.environ.get("PUBLIC_URL") or "http://localhost:8000").rstrip("/")
