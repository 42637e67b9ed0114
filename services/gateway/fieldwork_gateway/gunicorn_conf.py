"""gunicorn settings (`--config python:fieldwork_gateway.gunicorn_conf`).

gthread workers: gunicorn 27 has no eventlet worker, and the RPC pool is
thread-safe per checkout (STACK-NOTES). The master prepares the accounts
database and the first admin once, before forking, and makes sure the
object store's bucket exists (docs/files.md).
"""
import os

bind = f"{os.environ.get('GATEWAY_HOST', '0.0.0.0')}:{os.environ.get('GATEWAY_PORT', '8000')}"
workers = int(os.environ.get("GATEWAY_WORKERS", "2"))
worker_class = "gthread"
threads = int(os.environ.get("GATEWAY_THREADS", "8"))
graceful_timeout = 30
timeout = 60
accesslog = os.environ.get("GATEWAY_ACCESS_LOG") or None
# gunicorn 27's control socket lives at one path per user: several gateways
# on one machine (tests, bench, `make run`) would fight over it.
control_socket_disable = True


def on_starting(server):
    from fieldwork_gateway.wings.accounts.store import Accounts
    from fieldwork_gateway.settings import Settings
    settings = Settings()
    settings.warn_about_defaults()
    accounts = Accounts(settings.database_url, settings.accounts_policy())
    accounts.prepare()
    if accounts.ensure_admin(settings.admin_email, settings.admin_password):
        server.log.info("created the first admin %s", settings.admin_email)
    accounts.engine.dispose()
    ensure_bucket(server)


def ensure_bucket(server, timeout=30):
    """The bucket files go to, created when missing. The store may still be
    starting (compose starts them together): it is asked for `timeout`
    seconds, then the gateway stops, saying why."""
    import time

    from fieldwork_common import files
    store = files.store()
    deadline = time.monotonic() + timeout
    while True:
        try:
            if store.ensure_bucket():
                server.log.info("created the bucket %s", store.settings.bucket)
            return
        except Exception as exc:
            if time.monotonic() >= deadline:
                raise RuntimeError(f"the object store at {store.settings.endpoint_url or 'AWS S3'} "
                                   f"does not answer for bucket {store.settings.bucket!r}: {exc}") from exc
            time.sleep(1)
