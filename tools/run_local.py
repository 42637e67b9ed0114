"""`make run`: the whole platform as local processes, without Docker.

Starts the four nameko services and the gateway with the commands
docker-compose.yml names, against the RabbitMQ and PostgreSQL given by
AMQP_URI / POSTGRES_URL (default: local servers). With no SMTP_HOST set, an
embedded SMTP sink keeps every email as a file under var/mail/. Ctrl-C
stops everything (SIGTERM: in-flight work finishes).
"""
import os
import signal
import sys
import threading
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "libs" / "common"))

from fieldwork_common import config  # noqa: E402
from fieldwork_common.testing.platform import LocalPlatform  # noqa: E402
from fieldwork_common.testing.smtp import SmtpSink  # noqa: E402


def main():
    env = {}
    sink = None
    if not os.environ.get("SMTP_HOST"):
        port = int(os.environ.get("SMTP_PORT", "1025"))
        sink = SmtpSink(port=port, directory=REPO / "var" / "mail").start()
        env.update(SMTP_HOST="127.0.0.1", SMTP_PORT=str(port))
        print(f"SMTP sink on 127.0.0.1:{port}: emails are kept in {REPO / 'var' / 'mail'}")
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


if __name__ == "__main__":
    sys.exit(main())
