"""A real SMTP server (aiosmtpd) that keeps what it receives: in memory for
tests, and as .eml files for `make run` when no SMTP_HOST is configured."""
import email
import email.policy
import socket
import threading
import time
from pathlib import Path

from aiosmtpd.controller import Controller

from fieldwork_common.testing.waiting import wait_until


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Handler:
    def __init__(self, sink):
        self.sink = sink

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.sink._received(envelope.rcpt_tos, message, envelope.content)
        return "250 OK"


class SmtpSink:
    def __init__(self, port=None, directory=None, host="127.0.0.1"):
        self.host = host
        self.port = port or free_port()
        self.directory = Path(directory) if directory else None
        self.messages = []
        self._lock = threading.Lock()
        self._controller = Controller(_Handler(self), hostname=host, port=self.port)

    def start(self):
        if self.directory:
            self.directory.mkdir(parents=True, exist_ok=True)
        self._controller.start()
        return self

    def stop(self):
        self._controller.stop()

    def _received(self, recipients, message, raw):
        with self._lock:
            self.messages.append((list(recipients), message))
            count = len(self.messages)
        if self.directory:
            name = f"{time.strftime('%Y%m%d-%H%M%S')}-{count:05d}.eml"
            (self.directory / name).write_bytes(raw)

    def to(self, address):
        with self._lock:
            return [m for rcpts, m in self.messages if address in rcpts]

    def wait_for(self, address, count=1, timeout=20):
        """The messages to `address` once there are at least `count` of them."""
        return wait_until(lambda: (found := self.to(address)) and len(found) >= count and found,
                          timeout, message=f"{count} email(s) to {address}")
