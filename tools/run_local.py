"""`make run`: the whole platform as local processes, without Docker.

Starts the four nameko services and the gateway with the commands
docker-compose.yml names, against the RabbitMQ and PostgreSQL given by
AMQP_URI / POSTGRES_URL (default: local servers). With no SMTP_HOST set, an
embedded SMTP sink keeps every email as a file under var/mail/. With no
S3_ENDPOINT_URL set, an embedded SeaweedFS keeps the files under var/s3/
(its key, made at the first run, in var/s3/credentials.json). Ctrl-C stops
everything (SIGTERM: in-flight work finishes).
"""
import json
import os
import secrets
import signal
import sys
import threading
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "libs" / "common"))

from fieldwork_common import config  # noqa: E402
from fieldwork_common.testing.platform import LocalPlatform  # noqa: E402
from fieldwork_common.testing.seaweed import SeaweedFS  # noqa: E402
from fieldwork_common.testing.smtp import SmtpSink  # noqa: E402


def start_seaweedfs():
    """SeaweedFS on 127.0.0.1:$S3_PORT (8333), its data and key in var/s3/."""
    folder = REPO / "var" / "s3"
    folder.mkdir(parents=True, exist_ok=True)
    credentials = folder / "credentials.json"
    if not credentials.exists():
        credentials.write_text(json.dumps({"access_key": "FW" + secrets.token_hex(9).upper(),
                                           "secret_key": secrets.token_urlsafe(30)}))
        os.chmod(credentials, 0o600)
    keys = json.loads(credentials.read_text())
    weed = SeaweedFS(folder, bucket=os.environ.get("S3_BUCKET") or "fieldwork",
                     access_key=keys["access_key"], secret_key=keys["secret_key"],
                     s3_port=int(os.environ.get("S3_PORT", "8333")),
                     log_path=REPO / "var" / "log" / "seaweedfs.log")
    return weed.start()


def main():
    env = {}
    sink = None
    if not os.environ.get("SMTP_HOST"):
        port = int(os.environ.get("SMTP_PORT", "1025"))
        sink = SmtpSink(port=port, directory=REPO / "var" / "mail").start()
        env.update(SMTP_HOST="127.0.0.1", SMTP_PORT=str(port))
        print(f"SMTP sink on 127.0.0.1:{port}: emails are kept in {REPO / 'var' / 'mail'}")
    weed = None
    if not os.environ.get("S3_ENDPOINT_URL"):
        weed = start_seaweedfs()
        env.update(weed.environment())
        print(f"SeaweedFS (S3) on {weed.endpoint_url}: files are kept in {REPO / 'var' / 's3'}, "
              f"its key in {REPO / 'var' / 's3' / 'credentials.json'}")
    port = int(os.environ.get("GATEWAY_PORT", "8000"))
    platform = LocalPlatform(env=env, log_dir=REPO / "var" / "log", gateway_port=port)
    stopping = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    print(f"starting services against {config.amqp_uri()} and {config.postgres_url()} "
          f"(logs in {REPO / 'var' / 'log'})")
    try:
        platform.start(timeout=120)
        print(f"\nFieldwork is up.\n  API:  http://localhost:{port}\n"
              f"  docs: http://localhost:{port}/docs\n"
              f"  first admin: {os.environ.get('ADMIN_EMAIL', 'admin@fieldwork.local')}\n"
              "Ctrl-C to stop.")
        while not stopping.wait(1):
            dead = [p for p in platform.processes.values() if not p.alive]
            if dead:
                for proc in dead:
                    print(f"{proc.name} stopped (exit {proc.popen.returncode}):\n{proc.log_tail()}")
                return 1
        print("stopping…")
        return 0
    finally:
        platform.stop()
        if sink:
            sink.stop()
        if weed:
            weed.stop()


if __name__ == "__main__":
    sys.exit(main())
