"""Where the tests' RabbitMQ and PostgreSQL come from.

1. `AMQP_URI` and `POSTGRES_URL` when both are set (CI, a developer's
   machine with local servers);
2. else containers started with testcontainers, when a Docker daemon answers;
3. else the run stops with a message that says what to install or set.
Never a silent skip.

Each run then works in its own RabbitMQ vhost and its own databases, so runs
and their leftovers never collide.
"""
import os
import shutil
import subprocess
import uuid
from dataclasses import dataclass
from urllib.parse import quote, urlsplit, urlunsplit

import requests
import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from fieldwork_common.pg import engine_url

HOW_TO = (
    "Integration tests need RabbitMQ (with the management plugin) and PostgreSQL.\n"
    "Either set AMQP_URI and POSTGRES_URL to servers you run, e.g.\n"
    "  AMQP_URI=amqp://guest:guest@127.0.0.1:5672/ POSTGRES_URL=postgresql://postgres@127.0.0.1:5432/ make test\n"
    "(Debian: apt-get install rabbitmq-server postgresql; rabbitmq-plugins enable rabbitmq_management),\n"
    "or run a Docker daemon so that testcontainers can start them."
)


class ServersUnavailable(RuntimeError):
    pass


@dataclass
class Servers:
    amqp_uri: str          # the server, default vhost
    postgres_url: str      # the server
    management_url: str    # RabbitMQ HTTP API, with credentials
    _containers: tuple = ()

    def stop(self):
        for container in self._containers:
            container.stop()


def resolve():
    amqp, pg = os.environ.get("AMQP_URI"), os.environ.get("POSTGRES_URL")
    if amqp and pg:
        return Servers(amqp, pg, os.environ.get("RABBITMQ_MANAGEMENT_URL") or _management_url(amqp))
    if _docker_answers():
        return _containers()
    raise ServersUnavailable(HOW_TO)


def _management_url(amqp_uri):
    parts = urlsplit(amqp_uri)
    user, password = parts.username or "guest", parts.password or "guest"
    return f"http://{quote(user)}:{quote(password)}@{parts.hostname or '127.0.0.1'}:15672"


def _docker_answers():
    if not shutil.which("docker"):
        return False
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def _containers():
    from testcontainers.postgres import PostgresContainer
    from testcontainers.rabbitmq import RabbitMqContainer
    rabbit = RabbitMqContainer("rabbitmq:3.10-management").with_exposed_ports(5672, 15672)
    postgres = PostgresContainer("postgres:15", username="postgres", password="postgres")
    rabbit.start()
    postgres.start()
    host = rabbit.get_container_host_ip()
    amqp = f"amqp://guest:guest@{host}:{rabbit.get_exposed_port(5672)}/"
    mgmt = f"http://guest:guest@{host}:{rabbit.get_exposed_port(15672)}"
    pg_host = postgres.get_container_host_ip()
    pg = f"postgresql://postgres:postgres@{pg_host}:{postgres.get_exposed_port(5432)}/"
    return Servers(amqp, pg, mgmt, (rabbit, postgres))


@dataclass
class Isolation:
    """A vhost and a database prefix of this run's own."""
    servers: Servers
    run_id: str

    @classmethod
    def create(cls, servers):
        self = cls(servers, uuid.uuid4().hex[:8])
        self._vhost_api("PUT")
        api = self.servers.management_url
        user = urlsplit(self.servers.amqp_uri).username or "guest"
        _request("PUT", f"{api}/api/permissions/{quote(self.vhost, safe='')}/{quote(user)}",
                 json={"configure": ".*", "write": ".*", "read": ".*"})
        return self

    @property
    def vhost(self):
        return f"fieldwork-test-{self.run_id}"

    @property
    def amqp_uri(self):
        parts = urlsplit(self.servers.amqp_uri)
        return urlunsplit((parts.scheme, parts.netloc, "/" + quote(self.vhost, safe=""), "", ""))

    def database_url(self, service):
        parts = urlsplit(self.servers.postgres_url)
        return urlunsplit((parts.scheme, parts.netloc, f"/fw_{self.run_id}_{service}", "", ""))

    def environment(self, services):
        env = {"AMQP_URI": self.amqp_uri, "POSTGRES_URL": self.servers.postgres_url}
        for service in services:
            env[f"{service.upper()}_DATABASE_URL"] = self.database_url(service)
        return env

    def queues(self):
        """The queues of this run's vhost, as the management API lists them
        (it lags declarations by a few seconds)."""
        return list_queues(self.servers, self.vhost)

    def _vhost_api(self, method):
        _request(method, f"{self.servers.management_url}/api/vhosts/{quote(self.vhost, safe='')}")

    def destroy(self):
        try:
            self._vhost_api("DELETE")
        except Exception:
            pass
        engine = sa.create_engine(engine_url(self.servers.postgres_url).set(database="postgres"),
                                  poolclass=NullPool, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            names = conn.execute(sa.text("SELECT datname FROM pg_database WHERE datname LIKE :p"),
                                 {"p": f"fw_{self.run_id}_%"}).scalars().all()
            for name in names:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()


def list_queues(servers, vhost):
    return _request("GET", f"{servers.management_url}/api/queues/{quote(vhost, safe='')}").json()


def _request(method, url, **kwargs):
    parts = urlsplit(url)
    auth = (parts.username, parts.password) if parts.username else None
    clean = urlunsplit((parts.scheme, parts.hostname + (f":{parts.port}" if parts.port else ""),
                        parts.path, parts.query, ""))
    try:
        response = requests.request(method, clean, auth=auth, timeout=10, **kwargs)
    except requests.ConnectionError as exc:
        raise ServersUnavailable(
            f"RabbitMQ's management API does not answer at {clean} ({exc.__class__.__name__}).\n"
            "Enable it: rabbitmq-plugins enable rabbitmq_management") from None
    if response.status_code >= 400 and not (method == "DELETE" and response.status_code == 404):
        raise ServersUnavailable(f"RabbitMQ management API: {method} {clean} -> {response.status_code} {response.text[:200]}")
    return response
